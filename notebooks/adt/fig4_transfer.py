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
# # ADT Fig. 4 — transfer-based black-box attacks (CIFAR-10, ε = 8/255)
#
# Dong et al., NeurIPS 2020, Sec. 5.2, Fig. 4: adversarial examples crafted with PGD-20 and MIM on a *source* model
# are classified by a *target* model; the heatmaps show the target's accuracy (%) for every pair (the diagonal is
# the white-box accuracy). The paper's claim: accuracy under transfer attacks is higher than under white-box
# attacks, i.e. the defences do not rely on gradient masking. The paper's matrix is a figure only (not transcribed).
#
# Models: the rows of Table 1 (trained through the run store; at `mini` scale they are Table 1's models, no
# retraining). `mini`: Fashion-MNIST, ε = 0.1, 500 test images (Table 1's subset); `smoke`: digits MLPs, 100 images.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
rows: str = "standard,at_pgd,alp,adt_exp,adt_expam,adt_impam"  # comma-separated Table 1 rows (sources = targets)
attacks: str = "PGD-20,MIM"  # attacks crafted on each source
n_eval: int = 0        # test examples; 0 = Table 1's default (smoke 100, mini 500, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report
from advdist.experiments import adt, core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/fig4_transfer")

# %% tags=["nbval-ignore-output"]
from advdist import paths, plots

df = adt.transfer_matrix("adt-table1", scale=scale, rows=[r for r in rows.split(",") if r],
                         attacks=tuple(attacks.split(",")), n_eval=n_eval or None, device=device, seed=seed)

# %%
cfg = core.table("adt-table1").config("at_pgd", scale)
report.this_run(cfg, paper_dataset="cifar10", n=int(df["n"].iloc[0]), seeds=seed)

# %%
out = paths.figures_dir(scale, "adt") / "fig4_transfer"
fig = plots.transfer_heatmaps(df, title=f"ADT Fig. 4 — transfer attacks ({scale} scale)")
files = plots.savefig(fig, out)

# %%
wide = df.pivot_table(index=["attack", "source"], columns="target", values="acc", sort=False).reset_index()
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}; {int(df['n'].iloc[0])} test images; rows: source, columns: target")
title = "ADT Fig. 4: accuracy (%) under transfer attacks"
report.write_table(wide, out, title=title, note=note)
report.show(wide, title=title, note=note, paper="adt")

# %% [markdown]
# ### Are transfer attacks weaker than white-box ones?
# For each target, the white-box accuracy (diagonal) against its lowest accuracy under an attack crafted on another
# model:

# %%
report.bullets(adt.transfer_summary(df), paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/fig4_transfer", scale, transfer=df)
