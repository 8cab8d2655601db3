"""DeepFool (Moosavi-Dezfooli, Fawzi & Frossard, CVPR 2016): multi-class Alg. 2 (ℓ2) and the paper's
ℓp extension (dual norm q = p/(p−1); q = 1 for p = ∞).

At the current iterate x_i, with original class k̂ = argmax f(x₀) and candidate classes k:

    w_k = ∇f_k(x_i) − ∇f_k̂(x_i),   f'_k = f_k(x_i) − f_k̂(x_i),
    l̂ = argmin_k |f'_k| / ‖w_k‖_q               (q = 2 for ℓ2, q = 1 for ℓ∞: the dual norm),
    r_i = |f'_l̂| / ‖w_l̂‖₂² · w_l̂          (ℓ2, Alg. 2)
    r_i = |f'_l̂| / ‖w_l̂‖₁ · sign(w_l̂)    (ℓ∞: the ℓp step with p = ∞, q = 1),
    x_{i+1} = clip(x₀ + (1 + η) Σ_j r_j),   η = overshoot = 0.02,

until x_{i+1} is misclassified (per example) or ``steps`` is reached. Candidates are the ``candidates``
classes with the largest clean logits (foolbox's top-k design; the original class is the top one).
Numerics follow foolbox 3.3.4's ``DeepFoolAttack`` (1e-8 in denominators, a 1e-4 margin added to the
step length), so both agree to float precision — tested. The per-class gradients come from one forward
pass and one batched (vmapped) backward over the candidate classes.

ATENT Table 3 reports ℓ∞ DeepFool (foolbox) accuracy *at* ε = 8/255: foolbox's minimisation attacks
clip the found perturbation to the ε-ball (ℓ∞: clamp; ℓ2: rescale) and count success on the clipped
point. ``eps`` does exactly that.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from advdist.threat import Norm

from .core import check_eps, chunked, frozen, project


def _candidate_grads(model: nn.Module, x: torch.Tensor, classes: torch.Tensor):
    """Logits, f'_k = z_k − z_k̂ (B, K−1) and their input gradients (B, K−1, *x.shape[1:])."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        z = logits.gather(1, classes)
        diff = z[:, 1:] - z[:, :1]                                   # (B, K-1)
        k1 = diff.shape[1]
        eye = torch.eye(k1, dtype=diff.dtype, device=diff.device)
        go = eye[:, None, :].expand(k1, diff.shape[0], k1)            # one class per vmapped backward
        try:
            (grads,) = torch.autograd.grad(diff, x, grad_outputs=go, is_grads_batched=True,
                                           retain_graph=True)
        except RuntimeError:                                          # op without a batching rule
            grads = torch.stack([torch.autograd.grad(diff[:, k].sum(), x, retain_graph=True)[0]
                                 for k in range(k1)])
    return logits.detach(), diff.detach(), grads.transpose(0, 1).detach()


def _deepfool_batch(model: nn.Module, x0: torch.Tensor, y: torch.Tensor, norm: str | Norm, steps: int,
                    overshoot: float, candidates: int | None) -> torch.Tensor:
    norm = Norm.parse(norm)
    with torch.no_grad():
        logits = model(x0)
    n_cls = logits.shape[1]
    k = n_cls if candidates is None else min(candidates, n_cls)
    classes = logits.argsort(dim=1, descending=True)[:, :k]
    x = x0.clone()
    p_total = torch.zeros_like(x0)
    active = logits.argmax(1) == y                               # misclassified inputs stay as they are
    shape = (-1,) + (1,) * (x0.dim() - 1)
    for _ in range(steps):
        rows = active.nonzero().squeeze(1)
        if rows.numel() == 0:
            break
        lg, f, w = _candidate_grads(model, x[rows], classes[rows])
        still = lg.argmax(1) == y[rows]
        active[rows[~still]] = False
        rows, f, w = rows[still], f[still], w[still]
        if rows.numel() == 0:
            break
        wf = w.flatten(2)
        dual = wf.norm(dim=2) if norm is Norm.L2 else wf.abs().sum(dim=2)   # (b, K-1): the dual norm
        dist = f.abs() / (dual + 1e-8)
        best = dist.argmin(dim=1)
        ar = torch.arange(rows.numel(), device=x.device)
        dist, wb = dist[ar, best] + 1e-4, w[ar, best]
        if norm is Norm.L2:
            step = (dist / (wb.flatten(1).norm(dim=1) + 1e-8)).view(shape) * wb
        else:
            step = dist.view(shape) * wb.sign()
        p_total[rows] += step
        x[rows] = (x0[rows] + (1.0 + overshoot) * p_total[rows]).clamp(0.0, 1.0)
    return x


def _check(norm: str | Norm, steps: int, overshoot: float, candidates: int | None) -> Norm:
    norm = Norm.parse(norm)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not overshoot >= 0:
        raise ValueError(f"overshoot must be >= 0, got {overshoot!r}")
    if candidates is not None and (not isinstance(candidates, int) or candidates < 2):
        raise ValueError(f"candidates must be None or an int >= 2, got {candidates!r}")
    return norm


def deepfool(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, norm: str = "l2", steps: int = 50,
             overshoot: float = 0.02, candidates: int | None = 10, eps: float | None = None,
             batch_size: int | None = None) -> torch.Tensor:
    """DeepFool (Moosavi-Dezfooli et al. 2016, Alg. 2 and its ℓ∞ extension), batched over examples.

    Returns the DeepFool point (minimal perturbation, overshoot included) for every example; examples
    already misclassified are returned unchanged. With ``eps`` the perturbation is clipped to the
    ε-ball of ``norm`` (foolbox semantics, as used for ATENT Table 3), so accuracy on the output is
    the accuracy under DeepFool at budget ε. ``candidates=None`` uses all classes.
    """
    norm = _check(norm, steps, overshoot, candidates)
    if eps is not None:
        eps = check_eps(eps, norm)
    x = x.detach()
    with frozen(model):
        x_adv = chunked(lambda xx, yy: _deepfool_batch(model, xx, yy, norm, steps, overshoot, candidates),
                        x, y, batch_size=batch_size)
    if eps is not None:
        x_adv = project(x_adv, x, eps, norm)
    return x_adv


def deepfool_boundary_distance(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, norm: str = "l2",
                               steps: int = 50, overshoot: float = 0.02, candidates: int | None = 10,
                               batch_size: int | None = None) -> torch.Tensor:
    """Per-example norm ‖x_DF − x‖_p of DeepFool's minimal perturbation (ρ of Moosavi-Dezfooli et al.).

    0 for inputs that are already misclassified, ``inf`` where DeepFool did not reach a
    misclassification within ``steps``.
    """
    x = x.detach()
    x_adv = deepfool(model, x, y, norm=norm, steps=steps, overshoot=overshoot, candidates=candidates,
                     batch_size=batch_size)
    dist = Norm.parse(norm).size(x_adv - x)
    with frozen(model), torch.no_grad():
        pred = chunked(lambda z: model(z).argmax(1), x_adv, batch_size=batch_size)
    return torch.where(pred == y, torch.full_like(dist, math.inf), dist)
