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
# # ADT Table 3 — query-based black-box robustness under SPSA (CIFAR-10, ε = 8/255)
#
# Dong et al., NeurIPS 2020, Sec. 5.2, Table 3: SPSA (Uesato et al. 2018) with 256, 512, 1024 and 2048 samples per
# gradient estimate, perturbation size 0.001, Adam lr 0.01, 100 iterations, stopping early once an example is
# misclassified; an example counts as robust if it survives the attack. A black-box attack that is much weaker
# than the white-box ones (Table 1) is evidence against gradient masking.
#
# Scales: at `paper` scale the paper's settings on the CIFAR-10 test set; at `mini` (Fashion-MNIST, the Table 1
# models, no retraining) 1/16 of the samples (16-128) for the same 100 iterations on 200 test images — the paper's
# 2048 × 100 queries per image would take hours per model on 2 cores; at `smoke`, a few iterations on 50 digits.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
n_eval: int = 0        # test examples attacked; 0 = the table's default (smoke 50, mini 200, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/table3_spsa")

# %% tags=["nbval-ignore-output"]

ours, missing, matrices, info = core.evaluate_table("adt-table3", scale=scale, n_eval=n_eval or None,
                                                    device=device, seed=seed)

# %%
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed)

# %%
core.write_report("adt-table3", ours, info, missing, "table3")

# %% [markdown]
# ### Is SPSA weaker than the white-box attacks, and does ADT beat AT_PGD under it?

# %%
report.bullets(core.compare_rows(ours, ["adt_exp", "adt_expam", "adt_impam"], "at_pgd", column="SPSA-2048"),
               paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/table3_spsa", scale, table3=ours)
