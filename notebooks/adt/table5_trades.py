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
# # ADT Table 5 (and Table 10) — ADT with the TRADES loss (CIFAR-10, WRN-34-10, ε = 8/255)
#
# Dong et al., NeurIPS 2020, Sec. 5.4 and App. D.2: TRADES (Zhang et al. 2019) and the three ADT methods trained with
# the TRADES loss CE(f(x), y) + β·KL(f(x) ‖ f(x + δ)) for β = 1 and β = 6, in TRADES' own setting (WRN-34-10,
# batch 128, ε = 0.031), under all white-box attacks of Table 1. The paper's claim: each ADT variant beats TRADES
# on A_rob for both β.
#
# At `mini` scale the models are `mini-cnn`s on Fashion-MNIST (ε = 0.1, 12k training images, 12 epochs with the lr
# drop in the last), at `smoke` scale MLPs on digits. Row labels carry β.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
rows: str = ""         # comma-separated row labels (e.g. "trades β=6,adt_exp β=6"); "" = all eight
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/table5_trades")

# %% tags=["nbval-ignore-output"]

ours, missing, matrices, info = core.evaluate_table(
    "adt-table5", scale=scale, rows=[r for r in rows.split(",") if r] or None, n_eval=n_eval or None,
    device=device, seed=seed)

# %%
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed)

# %%
core.write_report("adt-table5", ours, info, missing, "table5")

# %% [markdown]
# ### Does ADT+TRADES beat TRADES on A_rob for each β?

# %%
report.bullets([line for b in ("β=1", "β=6") for line in core.compare_rows(
    ours, [f"adt_exp {b}", f"adt_expam {b}", f"adt_impam {b}"], f"trades {b}")], paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/table5_trades", scale, table5=ours)
