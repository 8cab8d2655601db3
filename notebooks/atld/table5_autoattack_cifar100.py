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
# # ATLD Table 5 — AutoAttack and RayS (paper: CIFAR-100, WRN-28-10, ε = 8/255)
#
# ATLD (ICLR 2021 submission), App. B.2, Table 5: clean, CW-100, AutoAttack and RayS accuracy of ATLD-IMT and
# ATLD-IMT+ (and, here, FS and ATLD without IMT); Robust-overfitting, Pretraining and Gowal et al. from the paper
# (cited). Smoke: 4 test examples.

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
report.smoke_banner(scale, "atld/table5_autoattack_cifar100")

# %% tags=["keep-output"]
display(report.shared("atld_imt_protocols"))
report.shared("atld_scales")

# %% tags=["nbval-ignore-output"]

results = {key: atld.evaluate_atld_table(key, scale=scale, n_eval=n_eval or None, device=device,
                                         seed=seed, adaptive=adaptive)
           for key in ['atld-table5']}

# %%
ours, info = results['atld-table5']
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed, norm="ℓ∞")

# %%
atld.write_atld_tables('atld-table5', ours, info, 'table5')

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/table5_autoattack_cifar100", scale, table5=results["atld-table5"][0])
