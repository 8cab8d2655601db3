"""Input-space loss surfaces around natural inputs (ADT Sec. 5.3, "Loss landscape analysis", Fig. 2(a)-(e)).

ADT plots the cross-entropy loss of a model on the plane ``x + a·d_g + b·d_r`` through a natural input x,
spanned by "the gradient direction (d_g) and a random direction (d_r)". The paper gives no further detail;
the official development script ``plot_loss_surface.py`` (adt-official.md §5, "Loss surfaces") fixes it:

- d_g = sign(∇ₓ CE(f(x), y)) (the ℓ∞ steepest-ascent direction) — ``"sign_grad"``, default;
- d_r = a Rademacher (±1) vector *exactly orthogonal* to d_g (the script rejection-samples until the inner
  product vanishes; here an exactly equivalent direct draw) — ``"random"`` with ``orthogonal=True``, default;
- both have ℓ∞ norm 1 and the coefficients a, b run over ±10ε (``np.arange(-1, 1, 0.01)`` times 10ε, 200 × 200
  points) — ``span=10.0`` (in units of ε), default; the paper figure may show only a sub-range;
- the points are *not* clamped to [0, 1] — ``clamp=False``, default;
- rows of the saved matrix follow the random direction, columns the gradient direction — as here.

The whole grid (examples × steps × steps points) is evaluated as one batch cut into chunks of ``batch_size``
rows, the points built chunk by chunk (never the full grid of images in memory). :func:`surface_rises` measures how
much the loss can rise on the plane inside the threat model (a number per panel of Fig. 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from advdist.attacks.core import check_eps, check_inputs, check_positive, frozen, input_grad
from advdist.attacks.gradient import resolve_loss

DIRECTIONS = ("sign_grad", "grad", "random", "gaussian")
REDUCTIONS = ("none", "mean")


@dataclass
class LossSurface:
    """A loss grid on the plane x + a·d1 + b·d2 (ADT Fig. 2(a)-(e)).

    ``losses[..., i, j]`` is the loss at ``a = alphas[j]`` (first direction, columns) and ``b = betas[i]``
    (second direction, rows): shape (B, len(betas), len(alphas)) per example or (len(betas), len(alphas))
    for ``reduction="mean"``. ``d1``/``d2`` (shape of x) have ℓ∞ norm 1, so ``alphas / eps`` are the
    coordinates in units of ε.
    """

    alphas: torch.Tensor
    betas: torch.Tensor
    losses: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    eps: float
    names: tuple[str, str]


def _unit_linf(v: torch.Tensor) -> torch.Tensor:
    """Rescale each row to ℓ∞ norm 1 (rows that are all zero stay zero)."""
    m = v.flatten(1).abs().amax(1).clamp_min(torch.finfo(v.dtype).tiny)
    return v / m.view(-1, *([1] * (v.dim() - 1)))


def _gram_schmidt(r: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
    """Remove from each row of ``r`` its component along the same row of ``d1`` (flattened)."""
    rf, df = r.flatten(1), d1.flatten(1)
    c = (rf * df).sum(1) / (df * df).sum(1).clamp_min(torch.finfo(r.dtype).tiny)
    return (rf - c[:, None] * df).view_as(r)


def orthogonal_rademacher(d1: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform Rademacher (±1) rows exactly orthogonal to the sign rows of ``d1`` (ADT Fig. 2's d_r).

    ``plot_loss_surface.py`` rejection-samples ±1 vectors until ⟨r, d1⟩ = 0 (adt-official.md §5), i.e. draws
    uniformly among the ±1 vectors that agree with d1 on exactly half of its m non-zero coordinates. Here that
    set is sampled directly: a uniformly random half of those coordinates agree, the rest disagree; coordinates
    where d1 = 0 get an independent random sign. If m is odd (exact orthogonality impossible) or d1 is not a
    sign vector, a Rademacher draw is Gram–Schmidt-orthogonalised against d1 and rescaled to ℓ∞ norm 1.
    """
    f = d1.flatten(1)
    dev, dt = d1.device, d1.dtype

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device="cpu" if generator is not None else dev,
                          dtype=torch.float64).to(dev)

    keys = rand(*f.shape)
    free_sign = torch.where(rand(*f.shape) < 0.5, -1.0, 1.0).to(dt)
    nz = f != 0
    m = nz.sum(1)
    keys = keys.masked_fill(~nz, float("inf"))
    rank = keys.argsort(1).argsort(1)                      # uniformly random order of the non-zero coordinates
    agree = rank < (m // 2)[:, None]
    r = torch.where(nz, torch.where(agree, f.sign(), -f.sign()), free_sign)
    is_sign = ((f.abs() == 1) | ~nz).all(1)
    bad = (m % 2 == 1) | ~is_sign
    if bad.any():
        g = _gram_schmidt(free_sign[bad], f[bad])
        r[bad] = _unit_linf(g)
    return r.view_as(d1)


def _direction(name, model, x, y, loss_fn, generator, d1=None) -> torch.Tensor:
    """One direction per example, ℓ∞ norm 1 (ADT Fig. 2: d_g = sign-gradient, d_r = random)."""
    if torch.is_tensor(name):
        v = name.to(dtype=x.dtype, device=x.device)
        v = v.expand_as(x) if v.shape != x.shape else v
        return _unit_linf(v.clone())
    if name in ("sign_grad", "grad"):
        xr = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            g = input_grad(loss_fn(model(xr), y).sum(), xr)
        return g.sign() if name == "sign_grad" else _unit_linf(g)
    if name == "random":
        if d1 is not None:
            return orthogonal_rademacher(d1, generator)
        u = torch.rand(x.shape, generator=generator, dtype=torch.float64).to(x.device) if generator is not None \
            else torch.rand(x.shape, device=x.device, dtype=torch.float64)
        return torch.where(u < 0.5, -1.0, 1.0).to(x.dtype)
    if name == "gaussian":
        n = torch.randn(x.shape, generator=generator, dtype=torch.float64).to(x.device) if generator is not None \
            else torch.randn(x.shape, device=x.device, dtype=torch.float64)
        n = n.to(x.dtype)
        return _unit_linf(_gram_schmidt(n, d1) if d1 is not None else n)
    raise ValueError(f"unknown direction {name!r}; valid: {', '.join(DIRECTIONS)} or a tensor shaped like x")


@torch.no_grad()
def loss_surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                 directions=("sign_grad", "random"), steps: int = 41, span: float = 10.0,
                 orthogonal: bool = True, clamp: bool = False, reduction: str = "none", loss="ce",
                 batch_size: int | None = 1024, generator: torch.Generator | None = None) -> LossSurface:
    """Loss on the grid x + a·d1 + b·d2, a, b ∈ [−span·ε, span·ε] (ADT Sec. 5.3, Fig. 2(a)-(e)).

    Args:
        model: classifier on [0, 1] inputs; frozen (eval, no parameter grads) during the call and restored.
        x, y: natural inputs (B, ...) and labels (B,).
        eps: the threat model's ℓ∞ budget (the grid unit).
        directions: two of ``"sign_grad"`` (sign of ∇ₓ loss; the paper's d_g as in ``plot_loss_surface.py``),
            ``"grad"`` (the raw gradient), ``"random"`` (Rademacher; the paper's d_r), ``"gaussian"``, or tensors
            shaped like x (or like one example). Every direction is rescaled to ℓ∞ norm 1 per example.
        steps: grid points per axis (odd keeps a = b = 0 on the grid). The script used 200.
        span: half-width of the grid in units of ε. Default 10 = the script's ±10ε (the paper gives no range).
        orthogonal: make the second direction exactly orthogonal to the first (default, as the script does).
        clamp: clip grid points to [0, 1]. Default ``False``, as the script (the paper is silent).
        reduction: ``"none"`` (per example, as the paper plots one input) or ``"mean"`` over the examples.
        loss: ``"ce"`` (the paper's), ``"cw"`` or a callable ``loss(logits, y) -> (B,)``.
        batch_size: grid points per forward pass (``None`` = all).
        generator: optional ``torch.Generator`` for the random direction (default: torch's global RNG).

    Returns:
        :class:`LossSurface` (losses: rows = second direction, columns = first direction).
    """
    check_inputs(x, y)
    eps = check_eps(eps, "linf")
    check_positive("steps", steps, integer=True)
    check_positive("span", span)
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    if len(directions) != 2:
        raise ValueError(f"directions must be two names or tensors, got {len(directions)}")
    loss_fn = resolve_loss(loss)
    B = x.shape[0]
    coef = torch.linspace(-span * eps, span * eps, steps, dtype=torch.float64).to(dtype=x.dtype, device=x.device)
    with frozen(model):
        d1 = _direction(directions[0], model, x, y, loss_fn, generator)
        d2 = _direction(directions[1], model, x, y, loss_fn, generator, d1=d1 if orthogonal else None)
        if orthogonal and torch.is_tensor(directions[1]):
            d2 = _unit_linf(_gram_schmidt(d2, d1))
        S = steps * steps
        total = B * S
        bs = total if batch_size is None else batch_size
        tail = (1,) * (x.dim() - 1)
        out = torch.empty(total, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32,
                          device=x.device)
        for start in range(0, total, bs):
            k = torch.arange(start, min(start + bs, total), device=x.device)
            i, r = k // S, k % S
            a, b = coef[r % steps].view(-1, *tail), coef[r // steps].view(-1, *tail)
            pts = x[i] + a * d1[i] + b * d2[i]
            if clamp:
                pts = pts.clamp(0.0, 1.0)
            out[start:start + k.numel()] = loss_fn(model(pts), y[i]).to(out.dtype)
    losses = out.view(B, steps, steps)
    if reduction == "mean":
        losses = losses.mean(0)
    names = tuple(n if isinstance(n, str) else "tensor" for n in directions)
    return LossSurface(alphas=coef.clone(), betas=coef.clone(), losses=losses, d1=d1, d2=d2, eps=eps,
                       names=names)


def plot_surface(grid, ax=None, *, index: int = 0, kind: str = "surface", cmap: str = "viridis",
                 title: str | None = None):
    """Draw one loss surface as ADT Fig. 2(a)-(e): a 3-D surface (default) or filled contours (``kind="contour"``).

    ``grid``: a :class:`LossSurface` (``index`` picks the example when losses are per example) or a 2-D array
    of losses (rows = second direction). Axes are in units of ε. ``ax``: a matplotlib axis (3-D for
    ``kind="surface"``); one is created when ``None``. Returns the axis.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if kind not in ("surface", "contour"):
        raise ValueError(f"unknown kind {kind!r}; valid: surface, contour")
    if isinstance(grid, LossSurface):
        L = grid.losses if grid.losses.dim() == 2 else grid.losses[index]
        a = (grid.alphas / grid.eps).cpu().numpy()
        b = (grid.betas / grid.eps).cpu().numpy()
        xl, yl = f"{grid.names[0]} (×ε)", f"{grid.names[1]} (×ε)"
        L = L.detach().cpu().numpy()
    else:
        L = grid.detach().cpu().numpy() if torch.is_tensor(grid) else np.asarray(grid)
        if L.ndim != 2:
            raise ValueError(f"a loss grid must be 2-D, got shape {L.shape}")
        a, b = np.linspace(-1, 1, L.shape[1]), np.linspace(-1, 1, L.shape[0])
        xl, yl = "d1", "d2"
    A, Bm = np.meshgrid(a, b)
    if ax is None:
        fig = plt.figure(figsize=(4.2, 3.6))
        ax = fig.add_subplot(projection="3d" if kind == "surface" else None)
    if kind == "surface":
        if getattr(ax, "name", "") != "3d":
            raise ValueError("kind='surface' needs a 3-D axis: fig.add_subplot(projection='3d')")
        ax.plot_surface(A, Bm, L, cmap=cmap, linewidth=0, antialiased=True)
        ax.set_zlabel("loss")
    else:
        cs = ax.contourf(A, Bm, L, levels=20, cmap=cmap)
        ax.figure.colorbar(cs, ax=ax, label="loss")
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    if title:
        ax.set_title(title)
    return ax


# ---- flatness of surfaces (numbers for ADT Fig. 2 (a)-(e)) ------------------------------------------------------

def grid_parts(s: LossSurface, radius: float):
    """(losses (B, S, S) float64 on the CPU, clean-point losses (B,), losses on the ±radius·ε sub-grid)."""
    L = (s.losses if s.losses.dim() == 3 else s.losses.unsqueeze(0)).double().cpu()
    steps = s.alphas.numel()
    if steps % 2 == 0:
        raise ValueError("surface statistics need an odd number of grid steps (the clean input on the grid)")
    c = steps // 2
    tol = 1e-6 * max(s.eps, 1e-12)
    inside_a = (s.alphas.abs() <= radius * s.eps + tol).cpu()
    inside_b = (s.betas.abs() <= radius * s.eps + tol).cpu()
    return L, L[:, c, c], L[:, inside_b][:, :, inside_a]


def surface_rises(surfaces: dict[str, LossSurface], *, radius: float = 1.0) -> dict[str, torch.Tensor]:
    """Per model, (B,) max of L − L(x) over the grid points with |a|, |b| ≤ ``radius``·ε: how much the loss can
    rise on the plotted plane inside the threat model (a number per panel of ADT Fig. 2 (a)-(e))."""
    out = {}
    for name, s in surfaces.items():
        _, center, sub = grid_parts(s, radius)
        out[name] = sub.flatten(1).amax(1) - center
    return out
