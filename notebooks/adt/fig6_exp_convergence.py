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
# # ADT Fig. 6 — convergence of the EXP attack
#
# Dong et al., *Adversarial Distributional Training for Robust Deep Learning*, NeurIPS 2020, App. D.3, Fig. 6.
# The explicit adversarial distributions of ADT_EXP (tanh-Gaussian per example, Eq. 8-11) are fitted against
# fixed AT_PGD and ADT_EXP models for 0…100 iterations (lr 0.3, betas (0, 0), k = 10 MC samples per step); the
# figure shows the classification loss (cross-entropy) and the accuracy of the samples against the iteration.
# The paper's claim: learning the explicit adversarial distributions converges within a few iterations. The entropy
# weight is the one of Table 4's EXP column and of ADT_EXP's training (λ = 0.01 on the entropy averaged over
# pixels, cumulative inner gradients: the authors' code, the default since issue 14).
#
# Accuracy is shown two ways: per sample (the fraction of the k samples classified correctly; solid) and per
# example with all k samples correct (dashed). At `mini` scale the models are `mini-cnn`s on Fashion-MNIST
# (ε = 0.1), 500 test images, the paper's 100 iterations; at `smoke` scale MLPs on scikit-learn digits, 10
# iterations on 50 images. The paper's curves are not transcribed (figure only): compare the shape.

# %% tags=["parameters"]
scale: str = "smoke"          # smoke | mini | paper
rows: str = "at_pgd,adt_exp"  # comma-separated methods whose models are attacked (paper: AT_PGD, ADT_EXP)
n_eval: int = 0               # test images; 0: the scale's default (smoke 50, mini 500, paper 1000)
steps: int = 0                # attack iterations; 0: the scale's default (smoke 10, mini/paper 100)
device: str = "auto"          # "auto": CUDA when present, else CPU
seed: int = 0                 # training seed of the models and seed of the attack

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import adt

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/fig6_exp_convergence")

# %% tags=["nbval-ignore-output"]
from advdist import paths, plots

curves, skipped, info = adt.convergence_curves(scale=scale, rows=[r for r in rows.split(",") if r] or None,
                                               n_eval=n_eval or None, steps=steps or None, device=device, seed=seed)

# %%
report.this_run({**info, "eps": config.resolve(scale, adt.SETTING).eps}, seeds=seed,
                n=n_eval or adt.CONVERGENCE[scale]["n_eval"],
                extra=f"EXP attack, k = {adt.CONVERGENCE[scale]['k']}, {int(curves['step'].max())} iterations")

# %%
fig = adt.plot_convergence(curves, title=f"ADT Fig. 6 — EXP attack convergence ({info['dataset']}, {scale} scale)")
files = plots.savefig(fig, paths.figures_dir(scale, "adt") / "fig6_exp_convergence")

# %%
note = report.header(scale=scale, dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                     extra=f"model {info['model']}; EXP attack, k = {adt.CONVERGENCE[scale]['k']}, lr 0.3, "
                           f"betas (0, 0), {int(curves['step'].max())} iterations")
summary = adt.convergence_summary(curves).rename(columns=adt.SUMMARY_LABELS)
title = "ADT Fig. 6: EXP attack loss and accuracy against iterations"
report.write_table(summary, paths.figures_dir(scale, "adt") / "fig6_exp_convergence", title=title, note=note,
                   floatfmt=".3f")
curves.to_csv(paths.figures_dir(scale, "adt") / "fig6_exp_convergence_curves.csv", index=False, float_format="%.5f")
display(report.show(summary, title=title, note=note, paper="adt", floatfmt=".3f"))
report.Prose("Rows left out (method not implemented): " + ", ".join(skipped)) if skipped else None

# %% [markdown]
# ### Does the EXP attack converge within a few iterations?
# The first iteration after which the per-sample accuracy stays within 1 pp of its final value:

# %%
lines = []
for m, t in adt.converged_by(curves, tol=1.0).items():
    last = curves[curves.model == m].iloc[-1]
    lines.append(f"{m}: within 1 pp of its final accuracy ({100 * last.acc:.2f} %) from iteration {t} "
                 f"of {int(last.step)}")
report.bullets(lines, paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/fig6_exp_convergence", scale, summary=summary)
