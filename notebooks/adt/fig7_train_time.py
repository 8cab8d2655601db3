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
# # ADT Fig. 7 — training time per epoch
#
# Dong et al., NeurIPS 2020, App. D.4, Fig. 7: the one-epoch training time of Standard, AT_PGD, ADT_EXP, ADT_EXP-AM
# and ADT_IMP-AM on CIFAR-10. The paper's claim: ADT_EXP is about 5× slower than AT_PGD (k = 5 MC samples per
# step), while the amortised ADT_EXP-AM and ADT_IMP-AM are about 2× faster than AT_PGD.
#
# Times come from the per-epoch logs of the Table 1 runs (`time_s`: the training pass only; the fastest epoch is
# reported to discount load from other processes). Nothing is retrained when the models exist; set `train = True`
# to train the missing ones. At `mini` scale: `mini-cnn`s on 12k Fashion-MNIST images with generators of width 8
# (the paper's are 256) — the amortised methods' relative cost differs from the paper's for that reason; at
# `smoke`, digits MLPs.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
rows: str = "standard,at_pgd,adt_exp,adt_expam,adt_impam"  # Table 1 rows to time
train: bool = True     # train rows whose model is missing (False: show only the existing runs)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/fig7_train_time")

# %% tags=["nbval-ignore-output"]
from advdist import paths, plots

labels = [r for r in rows.split(",") if r]
if train:
    core.train_rows("adt-table1", scale=scale, rows=labels, device=device, seed=seed)
times = core.train_times("adt-table1", scale=scale, rows=labels, seed=seed)

# %%
cfg = core.table("adt-table1").config("at_pgd", scale)
device_used = times["device"].iloc[0] if len(times) else "?"
report.this_run(cfg, paper_dataset="cifar10", seeds=seed,
                extra=f"{cfg.n_train or 'all'} training images, device {device_used}")

# %%
out = paths.figures_dir(scale, "adt") / "fig7_train_time"
files = plots.savefig(plots.bars(times, "model", "min s/epoch", "seconds per epoch",
                                 title=f"ADT Fig. 7 — training time per epoch ({scale} scale)"), out)

# %%
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}; device {device_used}")
title = "ADT Fig. 7: training time per epoch"
report.write_table(times, out, title=title, note=note, floatfmt=".1f")
report.show(times, title=title, note=note, paper="adt", floatfmt=".1f")

# %% [markdown]
# Relative cost against AT_PGD (the paper: ADT_EXP ≈ 5×, the amortised methods ≈ 0.5×). Timings vary from
# machine to machine, so the nbval golden checks only which models were timed:

# %% tags=["nbval-ignore-output"]
ref = times.set_index("model")["min s/epoch"]
report.bullets([f"{m}: {t:.2f} s/epoch = {t / ref.get('at_pgd', float('nan')):.2f}× AT_PGD" for m, t in ref.items()],
               paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/fig7_train_time", scale, timed_models=times[["model"]])
