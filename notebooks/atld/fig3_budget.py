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
# # ATLD Fig. 3 — accuracy against the attack budget (PGD-20 and CW-20)
#
# ATLD (ICLR 2021 submission), App. B.1, Fig. 3: accuracy of AT, FS and ATLD-IMT under PGD-20 and CW-20 as ε grows from
# 4 to 20 (/255), on CIFAR-10, CIFAR-100 and SVHN (the paper gives the curves only, no numbers, so nothing is
# transcribed). Here: one dataset per scale (Fashion-MNIST at `mini`, digits at `smoke`), budgets 0.5–2.5 × the
# training ε (= 4–20/255 at paper scale), and ATLD without IMT and ATLD-IMT under both the paper's *non-adaptive*
# protocol and the *adaptive* one (below). Steps given relative to ε (mini/smoke: ε/4) follow the budget; the paper's
# absolute 2/255 step stays fixed at paper scale.

# %% tags=["parameters"]
scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"    # auto = CUDA when present
seed: int = 0
adaptive: bool = True   # also the adaptive protocol for ATLD-IMT

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report
from advdist.experiments import atld

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atld/fig3_budget")

# %% tags=["keep-output"]
display(report.shared("atld_imt_protocols"))
report.shared("atld_scales")

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from advdist import paths, plots

sweep = atld.eps_sweep("atld-table1", scale=scale, n_eval=n_eval or None, device=device, seed=seed,
                       adaptive=adaptive)

# %%
info = atld.table_info("atld-table1", scale, seed)
report.this_run(info, n=int(sweep["n"].iloc[0]), seeds=seed, extra="budgets 0.5–2.5 × the training ε")

# %%
wide = sweep.assign(row=sweep["model"] + sweep["protocol"].map(lambda p: "" if p == "—" else f" ({p})"))
wide = wide.pivot_table(index=["attack", "row"], columns="eps", values="acc", sort=False).reset_index()
wide.columns = [c if isinstance(c, str) else f"eps={c:.3g}" for c in wide.columns]
note = atld.caption(info, "PGD-20 and CW-20 at budgets 0.5–2.5 × the training ε on the bare classifiers; "
                                "ATLD-IMT non-adaptive (the paper's) and adaptive",
                                int(sweep['n'].iloc[0])) + "; accuracy in %"
title = "ATLD Fig. 3: accuracy vs ε"
files = report.write_table(wide, paths.figures_dir(scale, "atld") / "fig3_budget", title=title, note=note)
report.show(wide.rename(columns={"row": "model"}), title=title, note=note, paper="atld")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, attack in zip(axes, ["PGD-20", "CW-20"]):
    sub = sweep[sweep["attack"] == attack]
    for (model, protocol), g in sub.groupby(["model", "protocol"], sort=False):
        ax.plot(g["eps"], g["acc"], marker="o", label=model if protocol == "—" else f"{model} ({protocol})")
    ax.set_xlabel("attack budget ε")
    ax.set_title(f"{attack} ({scale} scale)")
axes[0].set_ylabel("accuracy (%)")
axes[1].legend(fontsize=8)
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig3_budget")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atld/fig3_budget", scale, sweep=sweep)
