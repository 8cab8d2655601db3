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
# # ADT Table 6 — against the AT_PGD of Rice et al. (2020) in its own setting (CIFAR-10, WRN-34-10)
#
# Dong et al., NeurIPS 2020, Sec. 5.4, Table 6: AT_PGD with the settings of Rice et al., *Overfitting in adversarially
# robust deep learning* (ICML 2020) — WRN-34-10, PGD-10 training (step 2/255), lr 0.1 decayed ×0.1 at epochs 100 and
# 150 of 200, weight decay 5e-4, and **early stopping**: the model kept is the epoch with the best PGD-10 test
# robustness — and the three ADT methods trained with the same settings. Evaluation: PGD-10, PGD-20, PGD-100.
#
# Early stopping here evaluates PGD-10 (α = ε/4, random start) on a fixed stratified subset of 1000 test images
# after every epoch (`advdist.train.early_stop_accuracy`); the selected epoch is in each run's `meta.json`. At
# `mini` scale: `mini-cnn`s on Fashion-MNIST (ε = 0.1, 12k images, 6 epochs, decays at 3 and 5); at `smoke`, MLPs
# on digits.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/table6_rice")

# %% tags=["nbval-ignore-output"]

ours, missing, matrices, info = core.evaluate_table("adt-table6", scale=scale, n_eval=n_eval or None,
                                                    device=device, seed=seed)

# %%
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed)

# %%
display(core.write_report("adt-table6", ours, info, missing, "table6"))
best = core.best_epochs("adt-table6", scale=scale, seed=seed)
report.Prose("Early stopping kept epoch " + ", ".join(f"{e} of {report.method_name(m, 'adt')}" for m, e in best.items())
             + f" (of {info['epochs']}).")

# %% [markdown]
# ### Does ADT beat Rice et al.'s AT_PGD under PGD-20?

# %%
report.bullets(core.compare_rows(ours, ["adt_exp", "adt_expam", "adt_impam"], "at_pgd", column="PGD-20"),
               paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/table6_rice", scale, table6=ours)
