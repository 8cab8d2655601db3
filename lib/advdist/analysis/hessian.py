"""Dominant eigenvalue of the input Hessian of the classification loss (ADT Sec. 5.3, Fig. 2(f)).

ADT measures the smoothness of a model's loss surface around natural inputs by "the dominant eigenvalue of
the Hessian matrix of the classification loss w.r.t. the input", mean ± std over the first 1000 CIFAR-10 test
images (Fig. 2(f)). For one example (x, y) that Hessian is

    H(x) = ∇²ₓ CE(f(x), y)        (d × d, d = C·H·W)

- :func:`top_eigenvalues` — the fast method: batched Hessian-vector products (double backward through
  ``torch.autograd.grad`` on the *summed* per-example losses; with the model in eval mode the examples of a
  batch are independent, so one HVP returns every example's own ``H_i v_i``) driving a Lanczos iteration with
  full re-orthogonalisation per example, vectorised over examples, each example stopping at its own
  convergence. ``method="power"``: shifted power iteration instead.
- :func:`full_hessian_eigvalsh` — the official ``cal_hessian.py`` method (adt-official.md §5): the full d × d
  input Hessian of every example (one backward per input coordinate), then ``eigvalsh``. Slow, exact: the
  reference that tests and benchmarks compare against.

Paper vs code (adt-official.md §5, "Dominant Hessian eigenvalue"):

- "dominant" is read as the largest *algebraic* eigenvalue, as ``cal_hessian.py`` takes ``max(eigvalsh(H))``
  (``which="algebraic"``, default). ``which="magnitude"`` gives the eigenvalue of largest absolute value
  (signed) — the other reading of "dominant".
- ``cal_hessian.py`` differentiates the CE *mean* over its batches of 100 images, so each reported eigenvalue
  is 1/100 of the per-example Hessian's. The paper speaks of the Hessian of the classification loss of an
  input, i.e. per example (default); ``code_scale=True`` multiplies by 1/100 to reproduce the code's numbers.

The model is frozen (eval mode, parameters without ``requires_grad``) during the computation and restored;
no ``.grad`` is left on its parameters. Never ``torch.compile`` a model used here (double backward).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from advdist.attacks.core import check_inputs, check_positive, frozen
from advdist.attacks.gradient import resolve_loss

#: ``cal_hessian.py`` differentiates the CE mean over batches of this many test images (adt-official.md §5).
CODE_BATCH = 100
WHICH = ("algebraic", "magnitude")
METHODS = ("lanczos", "power")


class _InputHVP:
    """Per-example input Hessian-vector products ``H_i v_i`` for a chunk of examples (ADT Sec. 5.3).

    Holds the graph of ``g = ∇ₓ Σᵢ L(f(xᵢ), yᵢ)`` (built once with ``create_graph=True``); each product is one
    double backward ``∇ₓ ⟨g, v⟩``. Because examples are independent in eval mode, row i of that result is
    ``H_i v_i``. When the rows still being iterated fall to half of those in the graph, the graph is rebuilt on
    the active rows only, so converged examples stop costing compute.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable):
        self.model, self.x, self.y, self.loss_fn = model, x, y, loss_fn
        self.d = x[0].numel()
        self._build(torch.arange(x.shape[0], device=x.device))

    def _build(self, rows: torch.Tensor) -> None:
        xr = self.x[rows].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            loss = self.loss_fn(self.model(xr), self.y[rows]).sum()
            (g,) = torch.autograd.grad(loss, xr, create_graph=True)
        self.rows, self.xr, self.g = rows, xr, g
        self.pos = torch.full((self.x.shape[0],), -1, dtype=torch.long, device=self.x.device)
        self.pos[rows] = torch.arange(rows.numel(), device=rows.device)

    def __call__(self, v: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """``H_i v_i`` for the chunk rows ``act`` (indices into the chunk), ``v`` of shape (len(act), d)."""
        if act.numel() <= self.rows.numel() // 2 or bool((self.pos[act] < 0).any()):
            self._build(act)
        p = self.pos[act]
        if not self.g.requires_grad:  # loss with no second-order dependence on x (e.g. piecewise linear)
            return torch.zeros_like(v)
        go = torch.zeros(self.rows.numel(), self.d, dtype=v.dtype, device=v.device)
        go[p] = v
        (hv,) = torch.autograd.grad(self.g, self.xr, grad_outputs=go.view_as(self.g), retain_graph=True,
                                    allow_unused=True)
        if hv is None:
            return torch.zeros_like(v)
        return hv.flatten(1)[p]


def _pick(evals: torch.Tensor, which: str) -> torch.Tensor:
    """Index (per row) of the wanted eigenvalue in ascending ``evals``: the last, or the larger in |·|."""
    last = torch.full(evals.shape[:1], evals.shape[1] - 1, dtype=torch.long, device=evals.device)
    if which == "algebraic":
        return last
    return torch.where(evals[:, 0].abs() > evals[:, -1].abs(), torch.zeros_like(last), last)


def _lanczos(hvp: _InputHVP, v0: torch.Tensor, iters: int, tol: float, which: str):
    """Lanczos with full re-orthogonalisation, one Krylov space per row of ``v0`` (B, d), vectorised.

    Golub & Van Loan, *Matrix Computations*, Alg. 10.1.1 (+ complete re-orthogonalisation, §10.3): after j
    steps the Ritz values of the tridiagonal T_j approximate the extreme eigenvalues of H, and the residual
    ‖H u − θ u‖ of the Ritz pair (θ, u = V s) equals β_j·|s_j| (the last entry of s). A row stops when that
    residual is ≤ ``tol``·‖T_j‖₂ or its Krylov space is exhausted (β_j ≈ 0, then θ is exact).
    """
    B, d = v0.shape
    m = min(iters, d)
    dtype, dev = v0.dtype, v0.device
    V = torch.zeros(B, m + 1, d, dtype=dtype, device=dev)
    V[:, 0] = v0 / v0.norm(dim=1, keepdim=True)
    alpha = torch.zeros(B, m, dtype=dtype, device=dev)
    beta = torch.zeros(B, m, dtype=dtype, device=dev)
    theta = torch.zeros(B, dtype=dtype, device=dev)
    resid = torch.full((B,), float("inf"), dtype=dtype, device=dev)
    n_iter = torch.zeros(B, dtype=torch.long, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    tiny = torch.finfo(dtype).eps
    for j in range(m):
        act = (~done).nonzero().squeeze(1)
        if act.numel() == 0:
            break
        Va = V[act, : j + 1]                                        # (A, j+1, d)
        w = hvp(Va[:, j], act)                                     # (A, d)
        a = (w * Va[:, j]).sum(1)
        w = w - a[:, None] * Va[:, j]
        if j > 0:
            w = w - beta[act, j - 1, None] * Va[:, j - 1]
        for _ in range(2):                                         # full re-orthogonalisation, twice
            w = w - torch.einsum("akd,ak->ad", Va, torch.einsum("akd,ad->ak", Va, w))
        b = w.norm(dim=1)
        alpha[act, j], beta[act, j] = a, b
        T = torch.diag_embed(alpha[act, : j + 1])
        if j > 0:
            off = beta[act, :j]
            T = T + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
        evals, evecs = torch.linalg.eigh(T)
        k = _pick(evals, which)
        ar = torch.arange(act.numel(), device=dev)
        th = evals[ar, k]
        r = b * evecs[ar, j, k].abs()
        scale = evals.abs().amax(1)
        theta[act], resid[act], n_iter[act] = th, r, j + 1
        stop = (r <= tol * scale) | (b <= 10 * tiny * scale) | (scale == 0)
        done[act] = stop
        if j + 1 < m:
            keep = ~stop
            V[act[keep], j + 1] = w[keep] / b[keep, None]
    converged = done | (n_iter >= d)
    return theta, {"iterations": n_iter, "converged": converged, "residual": resid}


def _power(hvp: _InputHVP, v0: torch.Tensor, iters: int, tol: float, which: str):
    """Shifted power iteration per row, vectorised (Golub & Van Loan §7.3.1, with a spectral shift).

    Phase 1 finds the eigenvalue of largest magnitude λ₁ (Rayleigh quotient of the iterate, stopping when the
    residual ‖Hv − θv‖ ≤ ``tol``·|θ|). If the largest *algebraic* eigenvalue is wanted and λ₁ < 0, phase 2
    iterates on H − λ₁I, whose eigenvalues λᵢ − λ₁ ≥ 0 have λ_max − λ₁ as the dominant one. ``iters`` bounds
    each phase. Converges linearly (ratio of the two largest magnitudes); Lanczos is far faster.
    """
    B, d = v0.shape
    dev = v0.device
    n_iter = torch.zeros(B, dtype=torch.long, device=dev)

    def run(v, shift, rows):
        v = v / v.norm(dim=1, keepdim=True)
        theta = torch.zeros(rows.numel(), dtype=v.dtype, device=dev)
        resid = torch.full_like(theta, float("inf"))
        done = torch.zeros(rows.numel(), dtype=torch.bool, device=dev)
        for _ in range(iters):
            a = (~done).nonzero().squeeze(1)
            if a.numel() == 0:
                break
            hv = hvp(v[a], rows[a]) - shift[a, None] * v[a]
            th = (hv * v[a]).sum(1)
            r = (hv - th[:, None] * v[a]).norm(dim=1)
            theta[a], resid[a] = th, r
            n_iter[rows[a]] += 1
            nrm = hv.norm(dim=1)
            stop = (r <= tol * th.abs()) | (nrm == 0)
            done[a] = stop
            upd = ~stop
            v[a[upd]] = hv[upd] / nrm[upd, None]
        return theta, resid, done

    rows = torch.arange(B, device=dev)
    zero = torch.zeros(B, dtype=v0.dtype, device=dev)
    theta, resid, done = run(v0.clone(), zero, rows)
    if which == "algebraic":
        neg = (theta < 0).nonzero().squeeze(1)
        if neg.numel():
            mu, r2, d2 = run(v0[neg].clone(), theta[neg], neg)
            theta[neg], resid[neg], done[neg] = mu + theta[neg], r2, d2
    return theta, {"iterations": n_iter, "converged": done, "residual": resid}


def _start_vector(d: int, seed: int, dtype, device) -> torch.Tensor:
    """Gaussian start vector from a private generator: the same for every example (so an example's result does
    not depend on which batch it is in) and the global RNG untouched."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(d, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)


def top_eigenvalues(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, iters: int = 100, tol: float = 1e-5,
                    batch_size: int | None = 128, loss="ce", which: str = "algebraic", method: str = "lanczos",
                    code_scale: bool = False, seed: int = 0, return_info: bool = False):
    """Dominant eigenvalue of each example's input Hessian ∇²ₓ L(f(xᵢ), yᵢ) (ADT Sec. 5.3, Fig. 2(f)).

    Args:
        model: classifier on [0, 1] inputs; frozen (eval, no parameter grads) during the call and restored.
        x, y: inputs (B, ...) and integer labels (B,).
        iters: maximum Lanczos steps (the Krylov dimension, capped at d) — or power iterations per phase.
        tol: stop an example when its Ritz residual ``β_j|s_j|`` ≤ ``tol``·‖T_j‖₂ (Lanczos; the eigenvalue
            error is then far smaller, ≈ residual²/gap) or ``‖Hv − θv‖ ≤ tol·|θ|`` (power).
        batch_size: examples per chunk (one graph each; ``None`` = all at once).
        loss: ``"ce"`` (the paper's classification loss), ``"cw"`` or a callable ``loss(logits, y) -> (B,)``.
        which: ``"algebraic"`` (default; ``cal_hessian.py`` takes ``max(eigvalsh(H))``) or ``"magnitude"``
            (the signed eigenvalue of largest |λ|).
        method: ``"lanczos"`` (default) or ``"power"`` (power iteration, shifted by the dominant-magnitude
            eigenvalue when that one is negative).
        code_scale: ``False`` (paper, default): per-example Hessians. ``True``: multiply by 1/100, the scale of
            ``cal_hessian.py``'s numbers (it differentiates the CE *mean* over 100 images; adt-official.md §5).
        seed: seed of the start vector (a private generator; one vector shared by all examples, so results do
            not depend on batch composition and the global RNG is not consumed).
        return_info: also return ``{"iterations", "converged", "residual"}`` tensors of shape (B,).

    Returns:
        (B,) tensor of eigenvalues in the dtype of ``x`` (and the info dict when ``return_info``). Fig. 2(f)
        reports their mean ± std over 1000 test images.
    """
    check_inputs(x, y)
    check_positive("iters", iters, integer=True)
    check_positive("tol", tol)
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    if which not in WHICH:
        raise ValueError(f"unknown which={which!r}; valid: {', '.join(WHICH)}")
    if method not in METHODS:
        raise ValueError(f"unknown method={method!r}; valid: {', '.join(METHODS)}")
    loss_fn = resolve_loss(loss)
    solver = _lanczos if method == "lanczos" else _power
    d = x[0].numel()
    v0 = _start_vector(d, seed, x.dtype, x.device)
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    vals, infos = [], []
    with frozen(model):
        for i in range(0, n, bs):
            xb, yb = x[i:i + bs].detach(), y[i:i + bs]
            hvp = _InputHVP(model, xb, yb, loss_fn)
            th, info = solver(hvp, v0.expand(xb.shape[0], d).clone(), iters, tol, which)
            del hvp
            vals.append(th.detach())
            infos.append(info)
    out = torch.cat(vals) if vals else x.new_zeros(0)
    if code_scale:
        out = out / CODE_BATCH
    if not return_info:
        return out
    info = {k: torch.cat([f[k] for f in infos]) if infos else x.new_zeros(0) for k in
            ("iterations", "converged", "residual")}
    return out, info


def input_hessian(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss="ce") -> torch.Tensor:
    """Full input Hessians ∇²ₓ L(f(xᵢ), yᵢ), shape (B, d, d), as ``cal_hessian.py`` builds them (ADT Sec. 5.3).

    One double backward per input coordinate k: ``∇ₓ Σᵢ gᵢ[k]`` is row k of every example's Hessian at once
    (the cross-example terms vanish in eval mode). Model frozen and restored; d backward passes, B·d² floats.
    """
    check_inputs(x, y)
    loss_fn = resolve_loss(loss)
    B, d = x.shape[0], x[0].numel()
    H = torch.zeros(B, d, d, dtype=x.dtype, device=x.device)
    with frozen(model), torch.enable_grad():
        xr = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_fn(model(xr), y).sum(), xr, create_graph=True)
        if not g.requires_grad:
            return H
        g = g.flatten(1)
        for k in range(d):
            (row,) = torch.autograd.grad(g[:, k].sum(), xr, retain_graph=k < d - 1, allow_unused=True)
            if row is not None:
                H[:, k] = row.flatten(1)
    return H


def full_hessian_eigvalsh(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss="ce",
                          batch_size: int | None = 16, code_scale: bool = False) -> torch.Tensor:
    """All eigenvalues (ascending, shape (B, d)) of each example's full input Hessian: ``cal_hessian.py``'s method.

    ADT Sec. 5.3 / Fig. 2(f) via the official development script (adt-official.md §5): exact d × d Hessian per
    example (:func:`input_hessian`), symmetrised, then ``torch.linalg.eigvalsh``. ``[:, -1]`` is the value the
    script reports (largest algebraic). ``code_scale=True`` divides by 100 like the script's batch-mean loss.
    The slow reference for :func:`top_eigenvalues` (d backward passes and B·d² memory per chunk).
    """
    check_inputs(x, y)
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    bs = x.shape[0] if batch_size is None else batch_size
    out = []
    for i in range(0, x.shape[0], bs):
        H = input_hessian(model, x[i:i + bs], y[i:i + bs], loss=loss)
        out.append(torch.linalg.eigvalsh(0.5 * (H + H.transpose(1, 2))))
    ev = torch.cat(out) if out else x.new_zeros(0, x[0].numel())
    return ev / CODE_BATCH if code_scale else ev
