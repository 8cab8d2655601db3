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
# # ADT Table 11 — L2L against the amortised ADT methods (CIFAR-10, ε = 8/255)
#
# Dong et al., NeurIPS 2020, App. D.5, Table 11: L2L (Jiang, Chen et al., *Learning to defend by learning to attack*)
# trains the classifier against a *deterministic* generator attacker; ADT_EXP-AM and ADT_IMP-AM learn a
# *distribution* of perturbations with the same generator network. As in the paper (which could not reproduce L2L's
# own recipe), L2L is trained with ADT's configuration and generator (`advdist.methods.l2l`). The paper's text
# shows A_nat, FGSM, PGD-20, PGD-100 and MIM; we also report C&W, FeaAttack and A_rob.
#
# At `mini` scale: `mini-cnn`s on Fashion-MNIST (ε = 0.1; the EXP-AM and IMP-AM models are Table 1's, not
# retrained), generators of width 8; at `smoke`, MLPs on digits.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0

# %% tags=["keep-output"]
from advdist import config, report
from advdist.experiments import core

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "adt/table11_l2l")

# %% tags=["nbval-ignore-output"]

ours, missing, matrices, info = core.evaluate_table("adt-table11", scale=scale, n_eval=n_eval or None,
                                                    device=device, seed=seed)

# %%
report.this_run(info, n=int(ours["n"].iloc[0]), seeds=seed)

# %%
core.write_report("adt-table11", ours, info, missing, "table11")

# %% [markdown]
# ### Do the ADT methods beat L2L?

# %%
report.bullets([line for col in ("PGD-20", "A_rob")
                for line in core.compare_rows(ours, ["adt_expam", "adt_impam"], "l2l", column=col)], paper="adt")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("adt/table11_l2l", scale, table11=ours)
