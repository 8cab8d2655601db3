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
# # ATENT Table 5 — certified accuracy of smoothed classifiers (paper: CIFAR-10, ResNet-20, σ = 0.12)
#
# Jagatap et al., *Adversarially robust learning via entropic regularization*, Table 5 (App. A.2): randomized
# smoothing (Cohen et al. 2019, CERTIFY: n0 = 100 selection draws, n = 100 000 estimation draws, α = 0.001,
# one-sided Clopper–Pearson bound, abstain when it is below 1/2, radius σ·Φ⁻¹(p̲_A); `advdist.analysis.certify`)
# of ResNet-20s trained on CIFAR-10, certified at ℓ2 radius 0 and 0.435 (≈ ℓ∞ 2/255), σ = 0.12. The two trained
# rows are trained as the paper says (`advdist.analysis.smoothing.smoothing_rows`, config setting
# `atent-cifar10-smooth`, ε₂ = 0.435):
#
# - **TRADES (smooth)** (Table 4: ε₂ = 0.435, σ = 0.12): Blum et al.'s TRADES smoothing — TRADES (β = 6, 10 ℓ2 steps
#   of 2ε₂/10) on inputs with one Gaussian noise draw of std σ per batch shared by x and x'
#   (`advdist.methods.trades_smooth`);
# - **ℓ2-ATENT** in its smoothing setting: K = 10 Langevin steps of η' = 0.02, γ = 0.05 (the code's pull γ·(x − x'),
#   which settles the chain at η'/γ = 0.4 ≈ ε₂), Langevin noise scale ε = σ/√(2η') = 0.6 so that √(2η')·ε = σ.
#
# Substitutes: at `mini` scale `mini-cnn`s on a 10 000-image subset of **Fashion-MNIST** (5 epochs; ε₂, σ and the
# radii are the paper's pixel-space values), Cohen's n = 100 000 draws on 100 test images (Cohen's protocol certifies
# 500; the cost of 500 on this machine is computed below from the measured time); at `smoke`, digits MLPs, n = 400
# on 40 images — with so few draws no radius above σ·Φ⁻¹(α^{1/n}) ≈ 0.25 can be certified (computed below), so the
# r = 0.435 column is 0 by construction. The ResNet-110 rows are the paper's citations of other work and are shown
# from the paper only.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
sigma: float = 0.12    # smoothing noise (TRADES (smooth)'s training noise and the ATENT row's Langevin noise std)
n_images: int = 0      # test images certified; 0 = the scale's default (smoke 40, mini 100, paper 500)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atent/table5_smoothing")

# %% tags=["nbval-ignore-output"]
from advdist import paths
from advdist.analysis import smoothing
from advdist.experiments import atent

n0, n, n_ex = atent.CERTIFY_BUDGET[scale]
n_ex = n_images or n_ex
ours = atent.certified_table(scale, sigma=sigma, radii=smoothing.RADII, device=device, seed=seed,
                             budget=(n0, n, n_ex))
cfg = config.resolve(scale, smoothing.SETTING)

# %%
report.this_run(cfg, paper_dataset="cifar10", n=n_ex, seeds=seed, extra=f"σ = {sigma:g}, n0 = {n0}, n = {n} draws")

# %%
table = report.beside_paper(ours.drop(columns="s/image"), report.paper_table("atent_table5"), comparable=False)
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}, trained at ℓ2 ε₂ = {cfg.eps:g}; protocol: CERTIFY with σ = {sigma:g}, "
                           f"n0 = {n0}, n = {n}, α = 0.001, {n_ex} test images")
title = "ATENT Table 5: certified accuracy (%) of smoothed classifiers"
report.write_table(table, paths.figures_dir(scale, "atent") / "table5_smoothing", title=title, note=note)
display(report.show(table, title=title, note=note, paper="atent"))
per_image = ours.set_index("model")["s/image"]
display(report.Prose(
    f"Largest certifiable radius with n = {n}: {smoothing.max_radius(sigma, n):.3f}. Certification time per image "
    f"(n0 + n = {n0 + n} forward passes): " + ", ".join(f"{report.method_name(m, 'atent')} {t:.2f} s"
                                                        for m, t in per_image.items())
    + f"; Cohen's 500 images at n = {n} would take {500 * per_image.sum() / 60:.1f} min for both rows on this "
      "machine."))
paper = report.paper_table("atent_table5")
report.show(paper[paper["cited"] == "yes"].drop(columns=["cited", "label"]),
            title="Cited from the paper (not reproduced here)", paper="atent")

# %% [markdown]
# ### Is ATENT's certificate competitive with TRADES smoothing?
# The paper's claim (Table 5): ℓ2-ATENT, unmodified, certifies a little less than TRADES smoothing on ResNet-20
# (55.41 vs 58.1 % at radius 0.435).

# %%
r = ours.set_index("model")["r=0.435"]
report.Prose(f"Certified accuracy at r = 0.435 on {int(ours['n'].iloc[0])} images: ℓ2-ATENT {r['atent_l2']:.1f} % vs "
             f"TRADES (smooth) {r['trades_smooth']:.1f} % ({r['atent_l2'] - r['trades_smooth']:+.1f} pp).")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atent/table5_smoothing", scale, table5=ours.drop(columns="s/image"))
