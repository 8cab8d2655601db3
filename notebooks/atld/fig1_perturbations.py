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
# # ATLD Fig. 1 — how PGD, Feature Scattering and ATLD perturb a 2-D data set
#
# ATLD (ICLR 2021 submission), Sec. 1, Fig. 1: the same points (a) unperturbed and perturbed by (b) PGD, a supervised
# attack, (c) Feature Scattering (FS, unsupervised optimal transport between the batch's logits) and (d) ATLD's
# manifold adversarial examples (one ℓ∞ step on the discriminator's manifold loss, Eq. (6)-(7), no labels). The
# overlaid boundary is the model trained on clean data. The paper's point: PGD pushes points onto the decision boundary
# and corrupts the data manifold; FS less so; ATLD least.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
n_points: int = 400    # training points shown and perturbed
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed of the clean model, and the perturbation seed

# %% tags=["keep-output"]
from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/fig1_perturbations")

# %% tags=["keep-output"]
report.shared("atld_toy")

# %% [markdown]
# Here the perturbations of the clean model's training points: PGD = 10 steps of ε/4 from a random start; FS = one ε
# step from a random start (FS Alg. 1); ATLD = one ε LMAE step on a discriminator fitted to the *clean* model's
# latents (ATLD Eq. (7) with the classifier frozen). The table quantifies the figure: the clean model's accuracy on
# each point set and the mean absolute logit margin (small = close to the boundary).

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from advdist import paths, plots
from advdist.analysis import toy2d
from advdist.experiments import atld

model, run, splits = atld.train_toy(scale, "standard", seed=seed, device=device)
cfg = run.config
x, y = splits.x_train[:n_points], splits.y_train[:n_points]
disc = atld.fit_discriminator(model, splits.x_train, splits.y_train, cfg=atld.toy_config(scale, "atld", seed),
                              iters=atld.FIT_ITERS[scale], seed=seed)
perturbed = {k: toy2d.perturb(k, model, x, y, eps=cfg.eps, disc=disc, seed=seed) for k in toy2d.PERTURBATIONS}

# %%
report.this_run(cfg, seeds=seed, extra=f"hidden layers {cfg.model_kwargs['hidden']}, {len(y)} training points")

# %%
stats = toy2d.perturbation_stats(model, x, y, perturbed)
note = (f"toy 2-D reconstruction ({scale} scale): moons in the unit square, {cfg.model} {cfg.model_kwargs['hidden']}, "
        f"ε = {cfg.eps}, {len(y)} points")
title = "ATLD Fig. 1: the clean model on perturbed points"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig1_perturbations", title=title, note=note,
                           floatfmt=".3f")
report.show(stats, title=title, note=note, paper="atld", floatfmt=".3f")

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
toy2d.plot_boundary(axes[0], model)
toy2d.plot_points(axes[0], x, y)
axes[0].set_title("(a) original data")
for ax, (k, title) in zip(axes[1:], [("PGD", "(b) PGD"), ("FS", "(c) Feature Scattering"),
                                     ("ATLD", "(d) ATLD (ours)")]):
    toy2d.plot_boundary(ax, model)
    toy2d.plot_points(ax, perturbed[k], y)
    ax.set_title(title)
fig.suptitle(f"ATLD Fig. 1 ({scale} scale): perturbations of the same points; boundary of the clean-trained model")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig1_perturbations")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/fig1_perturbations", scale, stats=stats)
