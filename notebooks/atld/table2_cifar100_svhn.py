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
# # ATLD Table 2 — white-box robustness (paper: CIFAR-100 and SVHN, WRN-28-10, ε = 8/255)
#
# ATLD (ICLR 2021 submission), Sec. 5.1, Table 2: Standard, AT, FS, ATLD, ATLD-IMT and ATLD-IMT+ under FGSM, PGD-20/100
# and CW-20/100; LAT and Bilateral shown from the paper (cited). The paper-protocol rows and the attacks that know IMT
# are written as separate tables (as in the Table 1 notebook).

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
report.smoke_banner(scale, "atld/table2_cifar100_svhn")

# %% tags=["keep-output"]
display(report.shared("atld_imt_protocols"))
report.shared("atld_scales")

# %% tags=["nbval-ignore-output"]

keys = ["atld-table2-cifar100", "atld-table2-svhn"]
shared = atld.shared_runs(keys, scale=scale, seed=seed)
results = {key: atld.evaluate_atld_table(key, scale=scale, n_eval=n_eval or None, device=device,
                                         seed=seed, adaptive=adaptive)
           for key in (keys[:1] if shared else keys)}

# %%
for key, (ours, info) in results.items():
    display(report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed, norm="ℓ∞",
                            extra="both halves of the table" if shared else key.removeprefix("atld-table2-")))

# %%
if shared:
    ours, info = results[keys[0]]
    display(report.Prose(f"At {scale} scale both halves of Table 2 resolve to the same models: one "
                         f"{report.dataset_name(info['dataset'])} run (`{info['model']}`, ε = {info['eps']:.4g}), "
                         "shown once beside the paper's CIFAR-100 and SVHN columns."))
    display(atld.write_atld_tables(keys[0], ours, info, "table2", papers=tuple(keys)))
else:
    for key, (ours, info) in results.items():
        display(atld.write_atld_tables(key, ours, info, key.removeprefix("atld-").replace("-", "_")))

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/table2_cifar100_svhn", scale, **({"table2": results[keys[0]][0]} if shared else
                                                    {k.removeprefix("atld-").replace("-", "_"): r[0] for k, r in results.items()}))
