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
# # ATENT Table 3 — ℓ∞ robustness on CIFAR-10 (WRN-34-10, ε = 8/255)
#
# Jagatap et al., *Adversarially robust learning via entropic regularization*, Table 3 (§4.2): PGD-AT, TRADES,
# MART and ℓ∞-ATENT (Alg. 2; K = 10 Langevin steps of η' = 0.007, noise 10⁻³, projection onto the ε-ball at the
# K-th step) under PGD-20 (step 0.003), ℓ∞ C&W (here PGD-20 on the C&W margin) and ℓ∞ DeepFool (foolbox
# semantics: robust if the minimal perturbation found exceeds ε). **A_rob** is the per-example worst case.
#
# Substitutes: at `mini` scale `mini-cnn` models on a 10 000-image subset of Fashion-MNIST (ε = 0.1, 5 epochs; Table 2
# runs on real MNIST at mini, so the two no longer share models); at `smoke` scale MLPs on scikit-learn digits. The
# paper's early-stopped PGD-AT (E) row is cited, not run.
# The paper's numbers are shown for orientation (no Δ: the data differ).

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
rows: str = ""         # comma-separated row labels; "" = every implemented row of the paper's table
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atent/table3_cifar10_linf")

# %% tags=["nbval-ignore-output"]

ours, missing, matrices, info = core.evaluate_table(
    "atent-table3", scale=scale, rows=[r for r in rows.split(",") if r] or None, n_eval=n_eval or None,
    device=device, seed=seed)

# %%
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed, norm="ℓ∞")

# %%
display(core.write_report("atent-table3", ours, info, missing, "table3_cifar10_linf"))
paper = report.paper_table("atent_table3")
report.show(paper[paper["cited"] == "yes"].drop(columns=["cited", "label"]),
            title="Cited from the paper (not reproduced here)", paper="atent")

# %% [markdown]
# ### Is ATENT among the two best defenses here?
# The paper's claim (Table 3): ℓ∞-ATENT is consistently among the top two under every attack.

# %%
report.bullets(core.compare_rows(ours, ["atent_linf"], "at_pgd")
               + core.compare_rows(ours, ["atent_linf"], "trades")
               + core.compare_rows(ours, ["atent_linf"], "mart"), paper="atent")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atent/table3_cifar10_linf", scale, table3=ours)
