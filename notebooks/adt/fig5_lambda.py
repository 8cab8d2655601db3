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
# # ADT Fig. 5 — the impact of the entropy weight λ (ADT_EXP-AM, CIFAR-10)
#
# Dong et al., NeurIPS 2020, Sec. 5.3, Fig. 5: ADT_EXP-AM trained with λ = 0, 0.001, 0.01, 0.1 and 1 (Eq. A.1);
# accuracy under white-box attacks and the average entropy of the learned adversarial distributions. The paper's
# claim: a larger λ gives a larger entropy and better robustness, but a too large λ reduces robustness. The
# paper's curves are a figure only (not transcribed).
#
# Two curves, one per normalisation of the entropy term (issue 14): **per-coordinate mean** (solid; the method's
# default and the official code's, so λ is in the paper's units) and **summed** (dashed; Eq. 11 as printed, λ in
# per-image units, i.e. d = 784 times the weight at `mini`, 3072 on CIFAR-10). λ = 0 does not depend on the form
# (one run, in both curves); the default's λ = 0.01 model is Table 1's.
#
# The table reports, per λ and form, the fitted distributions' average entropy per coordinate (−log p of the
# training samples, Eq. 11 with all constants) and mean σ over the last training epoch (the `entropy` and `sigma`
# columns of each run's log), beside the tanh-Gaussian's maximum entropy per coordinate (reached at μ = 0,
# σ ≈ 0.874): an entropy at that maximum means noise that ignores the input. `mini`: `mini-cnn`s on Fashion-MNIST
# (ε = 0.1, the mini ADT schedule, generator width 8), attacks FGSM, PGD-20, MIM and C&W on 1000 test images;
# `smoke`: digits MLPs.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
lams: str = "0,0.001,0.01,0.1,1"  # comma-separated entropy weights λ
forms: str = "mean,sum"  # entropy normalisations: mean (default, paper units) and/or sum (literal Eq. 11)
attacks: str = "FGSM,PGD-20,MIM,C&W"  # white-box attacks (A_rob = worst case over them)
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report
from advdist.experiments import adt

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/fig5_lambda")

# %% tags=["nbval-ignore-output"]
from advdist import paths, plots
from advdist.samplers import max_entropy

atk = tuple(attacks.split(","))
df = adt.lambda_sweep([float(v) for v in lams.split(",")], scale=scale, attacks=atk,
                      forms=tuple(forms.split(",")), n_eval=n_eval or None, device=device, seed=seed)
cfg = config.resolve(scale, "adt-cifar10", method="adt_expam")
h_max, sigma_star = max_entropy(cfg.eps)

# %%
report.this_run(cfg, paper_dataset="cifar10", n=int(df["n"].iloc[0]), seeds=seed,
                extra=f"ADT_EXP-AM at λ = {lams.replace(',', ', ')} (forms: {forms.replace(',', ', ')})")

# %%
out = paths.figures_dir(scale, "adt") / "fig5_lambda"
files = plots.savefig(plots.lambda_sweep(df, atk, title=f"ADT Fig. 5 — λ sweep of ADT_EXP-AM ({scale} scale)",
                                         h_max=h_max), out)

# %%
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}; {int(df['n'].iloc[0])} test images; form mean = λ on the entropy "
                           f"averaged per coordinate (default), sum = Eq. 11 summed over the coordinates; "
                           f"tanh-Gaussian maximum entropy {h_max:.3f} per coordinate at σ = {sigma_star:.3f}")
title = "ADT Fig. 5: accuracy (%), average entropy per coordinate and σ against λ (ADT_EXP-AM)"
report.write_table(df, out, title=title, note=note, floatfmt=".3f")
report.show(df, title=title, note=note, paper="adt", floatfmt=".3f")

# %% [markdown]
# ### Does a larger λ give a larger entropy, and which λ is most robust?

# %%
lines = []
for form, d in df.groupby("form", sort=False):
    mono = bool((d["entropy"].diff().dropna() >= 0).all())
    best = d.loc[d["A_rob"].idxmax()]
    top = d[d["lam"] > 0]["entropy"].max()
    lines.append(f"{form}: entropy {'increases' if mono else 'does not increase'} with λ; most robust: "
                 f"λ = {best.lam:g} (A_rob {best.A_rob:.2f} %), λ = 0: {d.A_rob.iloc[0]:.2f} %; highest entropy "
                 f"{top:.3f} vs the maximum {h_max:.3f}")
report.bullets(lines)

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/fig5_lambda", scale, lambda_sweep=df)
