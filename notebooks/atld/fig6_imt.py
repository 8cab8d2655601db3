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
# # ATLD Fig. 6 — clean, PGD-perturbed and IMT-adjusted points under the ATLD boundary
#
# ATLD (ICLR 2021 submission), App. B.5, Fig. 6: with the decision boundary of an ATLD-trained model in all panels,
# (a) clean data, (b) the data perturbed by PGD, which pushes points toward or across the boundary, and (c) the PGD
# points adjusted by IMT (Inference with Manifold Transformation, Sec. 4.2, Eq. (8)): one ε step that lowers the
# discriminator's "adversarial" score, which the paper says moves the points back toward the natural manifold.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
n_points: int = 300    # test points shown
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed, and the PGD seed

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import atld

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/fig6_imt")

# %% tags=["keep-output"]
report.shared("atld_toy")

# %% [markdown]
# Here the toy ATLD model of Fig. 4 with its own trained discriminator; PGD = 10 steps of ε/4 against the ATLD
# classifier (non-adaptive, as the paper), IMT = one ε step. The table gives the ATLD model's accuracy on each set,
# the mean absolute logit margin, the discriminator's mean P(natural) and its ROC-AUC for the clean points against
# each set (0.5 = it cannot tell them apart). The controls below repeat the IMT step with a random and with the
# flipped sign, at steps 0 to ε (`advdist.analysis.discriminator.imt_controls`): if a random step does as well as
# D's, the discriminator's direction carries nothing.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from advdist import paths, plots
from advdist.analysis import discriminator as disc_analysis, toy2d
from advdist.methods.atld import load_discriminator

model, run, splits = atld.train_toy(scale, "atld", seed=seed, device=device)
disc = load_discriminator(run, model)
x, y = splits.x_test[:n_points], splits.y_test[:n_points]
points = toy2d.imt_points(model, disc, x, y, eps=run.config.eps, seed=seed)

# %%
report.this_run(run.config, n=len(y), seeds=seed,
                extra=f"ATLD-trained, hidden layers {run.config.model_kwargs['hidden']}")

# %%
stats = toy2d.perturbation_stats(model, x, y, {"PGD": points["PGD"], "PGD + IMT": points["IMT"]}, disc=disc)
note = (f"toy 2-D reconstruction ({scale} scale): moons in the unit square, ATLD-trained {run.config.model} "
        f"{run.config.model_kwargs['hidden']}, ε = {run.config.eps}, {len(y)} test points")
title = "ATLD Fig. 6: IMT on the toy ATLD model"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig6_imt", title=title, note=note, floatfmt=".3f")
display(report.show(stats, title=title, note=note, paper="atld", floatfmt=".3f"))
controls = disc_analysis.imt_controls(model, disc, y, {"clean": x, "PGD": points["PGD"]}, eps=run.config.eps, seed=seed)
title = "ATLD Fig. 6, IMT controls: one step of D's sign / a random sign / the flipped sign"
report.write_table(controls, paths.figures_dir(scale, "atld") / "fig6_imt_controls", title=title,
                   note=note + "; PGD on the bare classifier (non-adaptive)", floatfmt=".3f")
wide = controls.pivot_table(index=["direction", "step/eps"], columns="input", values=["acc", "dP_nat"], sort=False)
wide.columns = [f"{value} ({inputs})" for value, inputs in wide.columns]
report.show(wide.reset_index(), title=title, note="acc: accuracy (%); dP_nat: mean change of D's P(natural)",
            floatfmt=".3f")

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, (k, title) in zip(axes, [("clean", "(a) clean data"), ("PGD", "(b) perturbed by PGD"),
                                 ("IMT", "(c) adjusted by ATLD-IMT")]):
    toy2d.plot_boundary(ax, model)
    toy2d.plot_points(ax, points[k], y, legend=(k == "clean"))
    ax.set_title(title)
fig.suptitle(f"ATLD Fig. 6 ({scale} scale): the ATLD model's boundary in every panel")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig6_imt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/fig6_imt", scale, stats=stats, imt_controls=controls)
