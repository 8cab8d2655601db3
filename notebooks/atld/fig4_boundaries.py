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
# # ATLD Fig. 4 — decision boundaries after standard, PGD, Feature Scattering and ATLD training
#
# ATLD (ICLR 2021 submission), App. B.4, Fig. 4: the decision boundary of (a) a model trained on clean data, and after
# adversarial training with (b) PGD, (c) Feature Scattering and (d) ATLD. The paper's reading: PGD and FS move the
# original boundary a lot (PGD "corrupts the data manifold completely", FS's boundary is non-smooth), ATLD changes it
# only slightly.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed of every model

# %% tags=["keep-output"]
from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/fig4_boundaries")

# %% tags=["keep-output"]
report.shared("atld_toy")

# %% [markdown]
# Here each method is trained through the run store with its paper defaults except the two above (FS also uses
# δ = 0.2); PGD training uses 7 steps of ε/4 (Madry et al.). The table gives each model's clean test accuracy and how
# much of the plane changes class relative to the clean model.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from advdist import paths, plots
from advdist.analysis import toy2d
from advdist.experiments import atld

trained = {m: atld.train_toy(scale, m, seed=seed, device=device) for m in atld.FIG4_METHODS}

# %%
cfg = trained["standard"][1].config
report.this_run(cfg, n=len(trained["standard"][2].y_test), seeds=seed,
                extra=f"hidden layers {cfg.model_kwargs['hidden']}; methods "
                      + ", ".join(report.method_name(m, "atld") for m in trained))

# %%
stats = toy2d.boundary_stats({m: t[0] for m, t in trained.items()}, trained["standard"][2], reference="standard")
note = (f"toy 2-D reconstruction ({scale} scale): moons in the unit square, {cfg.model} {cfg.model_kwargs['hidden']}, "
        f"ε = {cfg.eps}")
title = "ATLD Fig. 4: models after each training method"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig4_boundaries", title=title, note=note,
                           floatfmt=".2f")
report.show(stats, title=title, note=note, paper="atld")

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
titles = {"standard": "(a) original", "at_pgd": "(b) adversarial training (PGD)",
          "feature_scattering": "(c) Feature Scattering", "atld": "(d) ATLD (ours)"}
for ax, (m, (model, run, splits)) in zip(axes, trained.items()):
    toy2d.plot_boundary(ax, model)
    if m != "standard":
        toy2d.plot_boundary(ax, trained["standard"][0], fill=False, color="0.6")
    toy2d.plot_points(ax, splits.x_train, splits.y_train, s=3, alpha=0.5)
    ax.set_title(titles[m])
fig.suptitle(f"ATLD Fig. 4 ({scale} scale): decision boundaries after training (grey: the clean model's)")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig4_boundaries")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/fig4_boundaries", scale, stats=stats)
