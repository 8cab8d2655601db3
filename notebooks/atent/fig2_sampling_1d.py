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
# # ATENT Fig. 2 — the sampling distribution of Assumption 2 in one dimension
#
# Jagatap et al., *Adversarially robust learning via entropic regularization*, Fig. 2: at fixed weights w, the
# distribution p(x' | x = 0.4) ∝ exp(L(x'; w) − (γ/2)(x' − x)²) (Assumption 2, Eq. 4) puts its mass near x where the
# loss is high; ATENT minimises the average loss under it (Eq. 5), which is large unless L is flat around x.
# Samples come from the Langevin update of Eq. 9 in 1-D (`advdist.analysis.gibbs1d`). The loss curve is
# illustrative, as in the paper. Nothing here depends on the scale (no data, no training).

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper (the same figure at every scale)
x0: float = 0.4        # the data point x
gammas: str = "100,25" # comma-separated γ values (sharper to wider)
seed: int = 0

# %% tags=["keep-output"]
from IPython.display import display

from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "atent/fig2_sampling_1d")

# %%
import torch

from advdist import paths, plots
from advdist.analysis import gibbs1d

gs = [float(g) for g in gammas.split(",") if g]
samples = {g: gibbs1d.langevin_1d(gibbs1d.example_loss, x0, gamma=g, seed=seed) for g in gs}
grid = torch.linspace(x0 - 1.0, x0 + 1.0, 4001, dtype=torch.float64)
lines = []
for g in gs:
    p = gibbs1d.gibbs_density(gibbs1d.example_loss, x0, g, grid)
    lines.append(f"γ = {g:g}: E_p[x'] = {torch.trapezoid(p * grid, grid):.3f} (Langevin {samples[g].mean():.3f}), "
                 f"E_p[L] = {torch.trapezoid(p * gibbs1d.example_loss(grid), grid):.3f} vs L(x) = "
                 f"{gibbs1d.example_loss(torch.tensor(x0)):.3f}")
display(report.Prose(f"> **This run:** the illustrative 1-D loss at x = {x0:g}, γ = {', '.join(f'{g:g}' for g in gs)}, "
                     f"seed {seed}"))
report.bullets(lines)

# %%
fig = gibbs1d.plot_fig2(gibbs1d.example_loss, x0, gs, samples)
files = plots.savefig(fig, paths.figures_dir(scale, "atent") / "fig2_sampling_1d")

# %% [markdown]
# ### Checks

# %% tags=["keep-output"]
report.shared("checks")

# %% tags=["nbval-check-output"]
from advdist import goldens

goldens.check("atent/fig2_sampling_1d", scale, langevin_mean={f"gamma={g:g}": float(samples[g].mean()) for g in gs})
