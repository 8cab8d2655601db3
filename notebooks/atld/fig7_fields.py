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
# # ATLD Fig. 7 — direction fields of PGD, Feature Scattering and ATLD perturbations
#
# ATLD (ICLR 2021 submission), App. B.6, Fig. 7: over a grid of points, the direction of the adversarial perturbation
# of (a) PGD, (b) Feature Scattering and (c) ATLD, with the boundary of the model trained on clean data. The paper: most
# PGD directions point at the decision boundary (the examples are "biased towards the decision boundary"); FS and ATLD
# directions depend less on it.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
n_grid: int = 20       # arrows per axis
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed of the clean model, and the random start of FS

# %% tags=["keep-output"]
from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/fig7_fields")

# %% tags=["keep-output"]
report.shared("atld_toy")

# %% [markdown]
# Here (`advdist.analysis.toy2d.direction_field`) the clean toy model of Fig. 1; at each grid point the unit ascent
# direction of each scheme's objective — PGD: ∇ CE with the model's own label; FS: ∇ of the batch OT distance (the
# grid is the batch) at a random start; ATLD: ∇ log(1 − D⁰(f(x))) for a discriminator fitted to the clean model. The
# ℓ∞ steps are the signs of these vectors. The table gives the mean cosine between each field and the direction
# straight at the boundary (−∇|margin|), and the share of arrows pointing toward it.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import pandas as pd

from advdist import paths, plots
from advdist.analysis import toy2d
from advdist.experiments import atld

model, run, splits = atld.train_toy(scale, "standard", seed=seed, device=device)
disc = atld.fit_discriminator(model, splits.x_train, splits.y_train, cfg=atld.toy_config(scale, "atld", seed),
                              iters=atld.FIT_ITERS[scale], seed=seed)
xx, yy, pts = toy2d.grid(n_grid, 0.05, 0.95)
fields = {k: toy2d.direction_field(k, model, pts, eps=run.config.eps, disc=disc, seed=seed)
          for k in toy2d.PERTURBATIONS}

# %%
report.this_run(run.config, seeds=seed, extra=f"clean model, hidden layers {run.config.model_kwargs['hidden']}, "
                                              f"{n_grid}×{n_grid} grid")

# %%
cos = {k: toy2d.toward_boundary(model, pts, d) for k, d in fields.items()}
stats = pd.DataFrame([{"field": k, "mean cos to boundary": c.mean().item(),
                       "toward boundary (%)": 100 * (c > 0).float().mean().item()} for k, c in cos.items()])
note = (f"toy 2-D reconstruction ({scale} scale): moons in the unit square, clean {run.config.model} "
        f"{run.config.model_kwargs['hidden']}, {n_grid}x{n_grid} grid")
title = "ATLD Fig. 7: perturbation directions vs the boundary"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig7_fields", title=title, note=note,
                           floatfmt=".3f")
report.show(stats, title=title, note=note, paper="atld", floatfmt=".3f")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, (k, title) in zip(axes, [("PGD", "(a) adversarial training by PGD"), ("FS", "(b) Feature Scattering"),
                                 ("ATLD", "(c) ATLD (ours)")]):
    toy2d.plot_boundary(ax, model, fill=False)
    d = fields[k]
    ax.quiver(pts[:, 0], pts[:, 1], d[:, 0], d[:, 1], angles="xy", scale=1.6 * n_grid, width=0.004)
    ax.set_title(title)
fig.suptitle(f"ATLD Fig. 7 ({scale} scale): perturbation directions; boundary of the clean-trained model")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig7_fields")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/fig7_fields", scale, stats=stats)
