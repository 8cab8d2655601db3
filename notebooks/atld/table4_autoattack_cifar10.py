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
# # ATLD Table 4 — AutoAttack and RayS (paper: CIFAR-10, WRN-28-10, ε = 8/255)
#
# ATLD (ICLR 2021 submission), App. B.2, Table 4: clean, CW-100, AutoAttack (standard, Croce & Hein 2020) and RayS
# (Chen & Gu 2020, hard-label) accuracy of FS, ATLD-IMT and ATLD-IMT+; the other defences (AT, TRADES,
# Robust-overfitting, Pretraining, WAR, RTS, Gowal et al.) are shown from the paper, marked cited. The paper applies
# IMT after AutoAttack (non-adaptive); AutoAttack's own flags warn that a defence like IMT needs an adaptive attack,
# which the *end-to-end* and *adaptive* rows provide. Smoke: 4 test examples (AutoAttack is slow).

# %% tags=["parameters"]
scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the table's default for the scale
adaptive: bool = True   # also attack the IMT-wrapped models end to end
device: str = "auto"    # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import atld

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/table4_autoattack_cifar10")

# %% tags=["keep-output"]
display(report.shared("atld_imt_protocols"))
report.shared("atld_scales")

# %% tags=["nbval-ignore-output"]

results = {key: atld.evaluate_atld_table(key, scale=scale, n_eval=n_eval or None, device=device,
                                         seed=seed, adaptive=adaptive)
           for key in ['atld-table4']}

# %%
ours, info = results['atld-table4']
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed, norm="ℓ∞")

# %%
atld.write_atld_tables('atld-table4', ours, info, 'table4')

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/table4_autoattack_cifar10", scale, table4=results["atld-table4"][0])
