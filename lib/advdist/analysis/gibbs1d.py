"""ATENT Fig. 2: the 1-D picture of the sampling distribution of Assumption 2 at fixed weights.

p(x' | x) ∝ exp( L(x') − (γ/2)·(x' − x)² )   (ATENT Eq. 4, β = 1), drawn by the Langevin update of Eq. 9 with the
raw gradient, x' ← x' + η'·(L'(x') + γ·(x − x')) + √(2η')·ε·N(0, 1), whose stationary density is p^{1/ε²}
(ε = 1: exactly Eq. 4). The data-entropy loss (Eq. 5) is the mean of L under p: it is large when L rises near x,
so minimising it seeks weights where L is flat around x. The loss curve is illustrative (the paper's figure shows
a generic curve at x = 0.4).
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def example_loss(x: torch.Tensor) -> torch.Tensor:
    """An illustrative 1-D loss L(x; w) (Fig. 2): a gentle slope plus a sharp high-loss bump right of x = 0.4."""
    return 0.5 * x + 2.5 * torch.exp(-((x - 0.6) ** 2) / (2 * 0.05 ** 2))


def gibbs_density(loss: Callable[[torch.Tensor], torch.Tensor], x0: float, gamma: float, grid: torch.Tensor,
                  temperature: float = 1.0) -> torch.Tensor:
    """exp((L(x') − γ/2·(x' − x0)²)/T) normalised on ``grid`` (trapezoid rule): ATENT Eq. 4 (T = ε² = 1)."""
    logp = (loss(grid) - 0.5 * gamma * (grid - x0) ** 2) / temperature
    p = torch.exp(logp - logp.max())
    return p / torch.trapezoid(p, grid)


def langevin_1d(loss: Callable[[torch.Tensor], torch.Tensor], x0: float, *, gamma: float, step: float = 2e-4,
                noise: float = 1.0, steps: int = 4000, chains: int = 1000, burn_in: int = 1000,
                thin: int = 10, seed: int = 0) -> torch.Tensor:
    """Samples of the Eq. 9 chain (raw gradient, pull γ·(x0 − x') inside the η' step) started at x0:
    ``chains`` parallel chains, every ``thin``-th state after ``burn_in``. Flattened 1-D tensor."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((chains,), float(x0), dtype=torch.float64)
    sd = math.sqrt(2 * step) * noise
    keep = []
    for k in range(steps):
        xg = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(xg).sum(), xg)
        x = x + step * (grad + gamma * (x0 - x)) + sd * torch.randn(chains, generator=g, dtype=torch.float64)
        if k >= burn_in and (k - burn_in) % thin == 0:
            keep.append(x.detach())
    return torch.cat(keep)


def plot_fig2(loss=example_loss, x0: float = 0.4, gammas=(100.0, 25.0), samples: dict | None = None):
    """L(x') (top) and p(x' | x0) for each γ with a histogram of Langevin samples (bottom); returns the figure."""
    import matplotlib.pyplot as plt

    grid = torch.linspace(x0 - 1.0, x0 + 1.0, 2001, dtype=torch.float64)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    a1.plot(grid, loss(grid), "k")
    a1.axvline(x0, color="gray", ls="--")
    a1.set_ylabel("loss L(x'; w)")
    for gm in gammas:
        p = gibbs_density(loss, x0, gm, grid)
        line, = a2.plot(grid, p, label=f"p(x' | x = {x0:g}), γ = {gm:g}")
        if samples and gm in samples:
            a2.hist(samples[gm].numpy(), bins=120, density=True, alpha=0.3, color=line.get_color())
        mean_loss = float(torch.trapezoid(p * loss(grid), grid))
        a1.axhline(mean_loss, color=line.get_color(), lw=1, label=f"E_p[L] (Eq. 5), γ = {gm:g}")
    a2.axvline(x0, color="gray", ls="--")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    a2.set_xlabel("x'")
    a2.set_ylabel("density")
    fig.tight_layout()
    return fig
