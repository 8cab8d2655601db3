"""RayS: hard-label ℓ∞ ray-search attack (Chen & Gu, KDD 2020, "RayS: A Ray Searching Method for
Hard-label Adversarial Attack"), Alg. 2 (hierarchical sign search) with Alg. 3 (fast check + binary
search), used by ATLD Tables 4–5 (RayS accuracy at ε = 8/255) as a gradient-free sanity check.

The ℓ∞ decision-boundary distance is searched over ray directions d ∈ {−1, +1}ⁿ (RayS's ray-search reformulation):

    g(d) = min { r ≥ 0 : f(clip(x + r·d)) ≠ y },      ADBD = mean over examples of min_d g(d).

Starting from d = 1, stage s splits the flattened input into 2ˢ contiguous blocks and flips each block's
sign in turn; a flip is kept iff it lowers g. Alg. 3: a flipped direction d' can only beat the current
best r* if clip(x + r*·d') is already adversarial (one query: the "fast check"); only then is g(d')
found by binary search on [0, r*] to tolerance ``tol``. After the single-coordinate stage the schedule
restarts at s = 0. Every model evaluation counts as one query; the clean prediction counts too.

Batched over examples: all examples follow the same (deterministic) block schedule in lockstep, the
fast checks of all active examples form one forward pass, and the binary searches of the examples that
passed run together with per-example masks. Examples stop when they run out of ``queries`` or, with
``early_stop`` and an ``eps``, once r* ≤ ε. The official code is CUDA-only and not on PyPI (peers.md
§2.13); this is a device-agnostic re-implementation of the algorithm from the paper.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .core import check_eps, chunked, frozen


class RaysDistance(NamedTuple):
    """Per-example ℓ∞ boundary distance (0 if misclassified, inf if none found) and their mean over the
    correctly classified examples with a finite distance (RayS's ADBD)."""
    distance: torch.Tensor
    adbd: float


def _check_queries(queries: int) -> int:
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
        raise ValueError(f"queries must be an int >= 1, got {queries!r}")
    return queries


def _rays_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float | None, queries: int,
                early_stop: bool, tol: float, batch_size: int | None):
    b = x.shape[0]
    dev, dt = x.device, x.dtype
    xf = x.flatten(1)
    n = xf.shape[1]

    def is_adv(rows: torch.Tensor, d: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pts = (xf[rows] + r[:, None] * d).clamp(0.0, 1.0)
        pred = chunked(lambda z: model(z.view(-1, *x.shape[1:])).argmax(1), pts, batch_size=batch_size)
        used[rows] += 1
        return pred != y[rows], pts

    used = torch.zeros(b, dtype=torch.long, device=dev)
    best_r = torch.full((b,), math.inf, device=dev, dtype=dt)
    best_d = torch.ones(b, n, device=dev, dtype=dt)
    best_pt = xf.clone()
    all_rows = torch.arange(b, device=dev)
    adv0, _ = is_adv(all_rows, torch.zeros(b, n, device=dev, dtype=dt), torch.zeros(b, device=dev, dtype=dt))
    best_r[adv0] = 0.0
    active = ~adv0

    def refresh() -> None:
        active.logical_and_(used < queries)
        if early_stop and eps is not None:
            active.logical_and_(best_r > eps)

    def try_direction(rows: torch.Tensor, d: torch.Tensor) -> None:
        """Alg. 3: fast check at r* (or at r = 1 before any success), then binary search on [0, r*]."""
        r_check = torch.clamp(best_r[rows], max=1.0)
        adv, pts = is_adv(rows, d, r_check)
        rows, d, hi, pts = rows[adv], d[adv], r_check[adv], pts[adv]
        lo = torch.zeros_like(hi)
        while rows.numel() > 0:
            go = ((hi - lo) > tol) & (used[rows] < queries)
            if not go.any():
                break
            sr, sd, mid = rows[go], d[go], (lo[go] + hi[go]) / 2
            a, p = is_adv(sr, sd, mid)
            gi = go.nonzero().squeeze(1)
            hi[gi[a]] = mid[a]
            pts[gi[a]] = p[a]
            lo[gi[~a]] = mid[~a]
        better = hi < best_r[rows]
        rows = rows[better]
        best_r[rows], best_d[rows], best_pt[rows] = hi[better], d[better], pts[better]

    refresh()
    rows = active.nonzero().squeeze(1)
    if rows.numel():
        try_direction(rows, best_d[rows].clone())                 # initial direction d = 1
    s, i = 0, 0
    while True:
        refresh()
        rows = active.nonzero().squeeze(1)
        if rows.numel() == 0:
            break
        block = math.ceil(n / 2 ** s)
        a, z = i * block, min((i + 1) * block, n)
        d = best_d[rows].clone()
        d[:, a:z] *= -1
        try_direction(rows, d)
        i += 1
        if i * block >= n:                                          # stage done: finer blocks
            s, i = (0 if block == 1 else s + 1), 0
    return best_r, best_d, best_pt, used


def _rays_all(model, x, y, eps, queries, early_stop, tol, batch_size):
    x = x.detach()
    with frozen(model), torch.no_grad():
        return _rays_batch(model, x, y, eps, queries, early_stop, tol, batch_size)


def rays(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, queries: int = 10000,
         early_stop: bool = True, tol: float = 1e-3, batch_size: int | None = None) -> torch.Tensor:
    """RayS ℓ∞ attack (Chen & Gu 2020, Alg. 2–3) at budget ``eps`` with ``queries`` per example.

    Returns the adversarial point found on the best ray where its distance r* ≤ ε, and otherwise the
    point at distance ε on the best ray found (inside the ball, generally not adversarial). Uses only
    hard-label queries (argmax of the model's output). ``batch_size`` caps rows per forward pass.
    """
    eps = check_eps(eps, "linf")
    _check_queries(queries)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    best_r, best_d, best_pt, _ = _rays_all(model, x, y, eps, queries, early_stop, tol, batch_size)
    xf = x.detach().flatten(1)
    inside = (best_r <= eps)[:, None]
    fallback = (xf + eps * best_d).clamp(0.0, 1.0)
    return torch.where(inside, best_pt, fallback).view_as(x)


def rays_boundary_distance(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, queries: int = 10000,
                           tol: float = 1e-3, batch_size: int | None = None) -> RaysDistance:
    """Per-example ℓ∞ decision-boundary distance found by RayS within ``queries`` (an upper bound on the
    true distance, to ``tol``) and its average ADBD over correctly classified examples (RayS §5)."""
    _check_queries(queries)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    best_r, _, _, _ = _rays_all(model, x, y, None, queries, False, tol, batch_size)
    with frozen(model), torch.no_grad():
        correct = chunked(lambda z: model(z).argmax(1), x.detach(), batch_size=batch_size) == y
    keep = correct & torch.isfinite(best_r)
    adbd = best_r[keep].mean().item() if keep.any() else math.nan
    return RaysDistance(best_r, adbd)
