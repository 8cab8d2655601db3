# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (advdist)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ATENT Fig. 3 — training curves of ℓ∞-ATENT
#
# Jagatap et al., *Adversarially robust learning via entropic regularization*, Fig. 3 (App. A.3): benign and robust
# accuracy, on training and test data, of ℓ∞-ATENT (WRN-34-10, CIFAR-10) per epoch; the learning rate decays at
# epoch 76, where robust test accuracy peaks — the reported (early-stopped) number.
#
# Here: the ℓ∞-ATENT run of setting `atent-cifar10-linf` with Rice et al.'s early stopping switched on
# (`early_stop="pgd-10"`: PGD-10 accuracy on 1 000 fixed test images after every epoch). "Robust train" is the
# accuracy on the Langevin samples the model trains on; "benign train" the clean accuracy of the same batches (both
# averaged over the epoch, as the weights change). Substitutes: at `mini`, the Fashion-MNIST `mini-cnn`
# (ε = 0.1, 10 000 images, 5 epochs, decay at epoch 4); at `smoke`, the digits MLP.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atent/fig3_training_curves")

# %% tags=["nbval-ignore-output"]
from advdist import paths, plots
from advdist.analysis import curves
from advdist.experiments import core

cfg = config.resolve(scale, "atent-cifar10-linf", method="atent_linf", seed=seed, early_stop="pgd-10")
t = core.trained(cfg, device=device)
model, run = t.model, t.run
log = curves.accuracy_curves(run.log)

# %%
report.this_run(cfg, paper_dataset="cifar10", seeds=seed,
                extra=f"{cfg.epochs} epochs, lr decay at {list(cfg.milestones)}")

# %%
report.show(log, title="ℓ∞-ATENT: accuracy per epoch",
            note=report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                               extra=f"model {cfg.model}, ε = {cfg.eps:.4g}, {cfg.epochs} epochs, lr decay at "
                                     f"{list(cfg.milestones)}; best robust test epoch (kept): "
                                     f"{run.meta.get('best_epoch')}"),
            floatfmt=".3g")

# %%
fig = curves.plot_accuracy_curves(log, milestones=cfg.milestones, title=f"ℓ∞-ATENT on {cfg.dataset} ({scale})")
files = plots.savefig(fig, paths.figures_dir(scale, "atent") / "fig3_training_curves")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atent/fig3_training_curves", scale, curves=log)
