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
# # ATLD Table 3 — transfer (black-box) attacks (paper: CIFAR-10, WRN-28-10, ε = 8/255)
#
# ATLD (ICLR 2021 submission), Sec. 5.2, Table 3: each defence's accuracy on adversarial examples crafted on another
# model.

# %% tags=["parameters"]
scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"    # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import atld, core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/table3_transfer_cifar10")

# %% tags=["keep-output"]
display(report.shared("atld_transfer"))
report.shared("atld_scales")

# %% tags=["nbval-ignore-output"]
from advdist import paths

results = {key: atld.atld_transfer(key, scale=scale, n_eval=n_eval or None, device=device, seed=seed)
           for key in ['atld-table3']}

# %%
df, info = results['atld-table3']
report.this_run(info, n=int(df["n"].iloc[0]), seeds=seed, norm="ℓ∞")

# %%
table = atld.transfer_beside_paper('atld-table3', df, info)
note = atld.caption(info, atld.TRANSFER_PROTOCOL, int(df['n'].iloc[0]))
title = core.table('atld-table3').title
files = report.write_table(table, paths.figures_dir(scale, "atld") / 'table3', title=title, note=note)
report.show(table, title=title, note=note, paper="atld")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/table3_transfer_cifar10", scale, table3=results["atld-table3"][0])
