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
# # Train one model
#
# Trains (or loads from the run store, `data/runs/`) one model of the paper settings at the chosen scale,
# then shows its training curves. Every other notebook gets its models the same way, through
# `advdist.store.get_or_train`, so a model is trained once and shared.
#
# Run it from JupyterLab, or with papermill:
# `papermill notebooks/train.ipynb out.ipynb -p scale mini -p method standard`.

# %% tags=["parameters"]
scale: str = "smoke"          # smoke | mini | paper
setting: str = "base"         # paper setting the scale adapts (advdist.config.SETTINGS)
method: str = "standard"      # training method (advdist.methods.names())
dataset: str = ""             # "" = the scale's dataset (smoke: digits, mini: fashion_mnist)
model: str = ""               # "" = the scale's architecture
epochs: int = 0               # 0 = the scale's number of epochs
seed: int = 0                 # training seed
device: str = "auto"          # auto = CUDA when present, else CPU

# %% tags=["keep-output"]
from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "train")

# %%
from advdist import plots, store

cfg = config.resolve(scale, setting, method=method, dataset=dataset or None, model=model or None,
                     epochs=epochs or None, seed=seed)
cfg

# %% tags=["nbval-ignore-output"]
model, run = store.get_or_train(cfg, device=device)  # one line: trained, or loaded from the run store
run.path.name

# %%
report.this_run(cfg, n=run.meta["data"]["n_test"], seeds=seed, extra=f"method `{cfg.method}`, {cfg.epochs} epochs")

# %%
plots.training_curves(run.log, title=f"{cfg.name} ({cfg.scale} scale)");

# %%
final = run.meta["final"]
report.Prose(f"{cfg.name} on {report.dataset_name(cfg.dataset)} ({cfg.scale} scale, {cfg.epochs} epochs): clean test "
             f"accuracy {final['test_acc']:.3f} after the last epoch.")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("train", scale, final={"test_acc": final["test_acc"]})
