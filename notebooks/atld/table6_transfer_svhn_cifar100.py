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
# # ATLD Table 6 — transfer (black-box) attacks (paper: SVHN and CIFAR-100, WRN-28-10, ε = 8/255)
#
# ATLD (ICLR 2021 submission), App. B.3, Table 6: Table 3's transfer attacks on the SVHN and CIFAR-100 models.

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
report.smoke_banner(scale, "atld/table6_transfer_svhn_cifar100")

# %% tags=["keep-output"]
display(report.shared("atld_transfer"))
report.shared("atld_scales")

# %% tags=["nbval-ignore-output"]
from advdist import paths

keys = ["atld-table6-svhn", "atld-table6-cifar100"]
shared = atld.shared_runs(keys, scale=scale, seed=seed)
results = {key: atld.atld_transfer(key, scale=scale, n_eval=n_eval or None, device=device, seed=seed)
           for key in (keys[:1] if shared else keys)}

# %%
for key, (df, info) in results.items():
    display(report.this_run(info, n=int(df["n"].iloc[0]), seeds=seed, norm="ℓ∞",
                            extra="both halves of the table" if shared else key.removeprefix("atld-table6-")))

# %%
if shared:
    df, info = results[keys[0]]
    display(report.Prose(f"At {scale} scale both halves of Table 6 resolve to the same models: one "
                         f"{report.dataset_name(info['dataset'])} run (`{info['model']}`, ε = {info['eps']:.4g}), "
                         "shown once beside the paper's SVHN and CIFAR-100 columns."))
    tables = {"table6": atld.transfer_beside_papers(keys, df, info)}
    title = "ATLD Table 6: transfer attacks (paper: SVHN and CIFAR-100, ε = 8/255)"
else:
    tables = {key.removeprefix("atld-").replace("-", "_"): atld.transfer_beside_paper(key, *results[key])
              for key in keys}
    title = None
for name, table in tables.items():
    df, info = results[keys[0]] if shared else results["atld-" + name.replace("_", "-")]
    info = atld.joint_info(keys, info) if shared else info
    note = atld.caption(info, atld.TRANSFER_PROTOCOL, int(df['n'].iloc[0]))
    shown_title = title or core.table("atld-" + name.replace("_", "-")).title
    report.write_table(table, paths.figures_dir(scale, "atld") / name, title=shown_title, note=note)
    display(report.show(table, title=shown_title, note=note, paper="atld"))

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/table6_transfer_svhn_cifar100", scale, **({"table6": results[keys[0]][0]} if shared else
                                                            {k.removeprefix("atld-").replace("-", "_"): r[0] for k, r in results.items()}))
