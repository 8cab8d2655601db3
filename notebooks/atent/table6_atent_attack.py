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
# # ATENT Table 6 — PGD-20 vs the ATENT-20 (Langevin) attack across radii
#
# Jagatap et al., *Adversarially robust learning via entropic regularization*, Table 6 (App. A.3): the ℓ∞-ATENT
# WRN-34-10 on CIFAR-10 attacked by PGD-20 and by ℓ∞-ATENT's own Langevin sampler used as an attack ("the same
# configuration as PGD-20": 20 steps of 0.003, noise 10⁻³, projected onto the ε-ball at the last step;
# `advdist.samplers.langevin_attack`) at radii 2, 4, 8, 12 /255 — 0.25, 0.5, 1 and 1.5 × the training ε.
#
# The model is the early-stopped one (the paper reports its best robust epoch, Fig. 3): the same run as Fig. 3's.
# Substitutes: at `mini` a Fashion-MNIST `mini-cnn` (ε = 0.1, 10 000 training images, 5 epochs), attacked on 1 000
# test images with steps of ε/4 for both attacks (radii 0.025 … 0.15); at `smoke`, the digits MLP with 3 steps. The
# paper's numbers are shown below ours for orientation (different data, model and step sizes: no Δ).

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atent/table6_atent_attack")

# %% tags=["nbval-ignore-output"]
from advdist import paths
from advdist.analysis.radius_sweep import radius_sweep

cfg = config.resolve(scale, "atent-cifar10-linf", method="atent_linf", seed=seed, early_stop="pgd-10")
t = core.trained(cfg, device=device, n_eval=n_eval or None)
model, run, x, y = t.model, t.run, t.x, t.y
ours = radius_sweep(model, x, y, ["PGD-20", "ATENT-20"], eps=cfg.eps, scale=scale, dataset=cfg.dataset, seed=seed)

# %%
report.this_run(cfg, paper_dataset="cifar10", n=len(y), seeds=seed, extra=f"early-stopped model (epoch "
                                                                          f"{run.meta.get('best_epoch')})")

# %%
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"ℓ∞-ATENT {cfg.model}, training ε = {cfg.eps:.4g}; protocol: white-box PGD-20 and the "
                           f"ATENT-20 Langevin attack on the model at each radius; {len(y)} test examples")
title = "ATENT Table 6: accuracy (%) under PGD-20 and ATENT-20 across radii"
report.write_table(ours, paths.figures_dir(scale, "atent") / "table6_atent_attack", title=title, note=note)
display(report.show(ours, title=title, note=note, paper="atent"))
report.show(report.paper_table("atent_table6"),
            title="The paper (CIFAR-10, WRN-34-10, ε = 8/255; radii 2, 4, 8, 12 /255)", paper="atent")

# %% [markdown]
# ### Is the Langevin sampler as strong an attack as PGD?
# The paper's reading (Table 6): ATENT-20 is about as strong as PGD-20 at small radii and weaker at large ones.

# %%
r = ours.set_index("attack")
report.bullets([f"{col}: ATENT-20 leaves {r.loc['ATENT-20', col] - r.loc['PGD-20', col]:+.1f} pp more accuracy than "
                "PGD-20" for col in r.columns])

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atent/table6_atent_attack", scale, table6=ours)
