"""Feature Scattering adversarial training (Zhang & Wang, NeurIPS 2019), ADT's "FeaScatter" baseline.

Feature Scattering (FS) perturbs a whole batch at once, without labels, so that the perturbed batch's
features are far from the natural batch's features in optimal-transport distance (FS Sec. 3, Eq. (4)-(6)):

    D(μ, ν) = min_{T ∈ Π(u, v)} Σ_ij T_ij·c(f(x_i), f(x'_j)),   c(a, b) = max(1 − cos(a, b), 0),

with uniform marginals u = 1/n, v = 1/n over the n batch elements, the "feature" f being the logits (FS Sec. 5;
official code), and T computed by entropic (Sinkhorn; Cuturi 2013) iterations. FS Alg. 1 then takes ascent
steps x' ← Π_{B(x,ε)}(x' + α·sign(∇_{x'} D)) from x' = x + U(−ε, ε), and trains on the perturbed batch only:

    min_θ (1/n)·Σ_i CE_ls(f(x'_i), y_i),

CE against labels smoothed with δ = 0.5 (true class 1 − δ, every other class δ/(C − 1); FS Sec. 5, code
``ls_factor``). Official settings (atld-atent-baselines.md §(b)): 1 step of size α = ε (8/255), entropic
regulariser 0.01, at most 100 Sinkhorn iterations, the classifier in eval mode for the attack (natural logits
from an eval-mode copy) and in train mode for the update. Reused by ATLD (its Fig. 1 compares FS perturbations).

Choices (paper vs official code):

- Sinkhorn runs a fixed number of iterations (``sinkhorn_iters`` = 100, the code's cap); the code also stops
  early once Σ_i |u_i − u_i^prev| < 0.1 — ``sinkhorn_tol=0.1`` reproduces that.
- The gradient of D w.r.t. the input flows through the plan T as well as the cost (the code does not detach T).
- The random start is clipped to [0, 1] (library convention for attack iterates; the code feeds the unclipped
  start, in [−1, 1] units, to the network). The final point is always in the ε-ball and [0, 1], as in both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from advdist.attacks.core import check_eps, frozen, input_grad, normalize_step, project, random_start as _random_start
from advdist.methods.base import Method, register
from advdist.runtime import accuracy

LAYERS = ("logits", "features")


def sinkhorn(cost: torch.Tensor, eps_reg: float = 0.01, iters: int = 100, *, a: torch.Tensor | None = None,
             b: torch.Tensor | None = None, tol: float | None = None) -> torch.Tensor:
    """Entropic optimal-transport plan by log-domain Sinkhorn iterations (Cuturi 2013; FS Sec. 3, Eq. (5)).

    Solves min_T ⟨T, C⟩ − ε_reg·H(T) s.t. T·1 = a, Tᵀ·1 = b with dual potentials f, g (both start at 0):

        f ← ε_reg·(log a − LSE_j((g_j − C_ij)/ε_reg)),   g ← ε_reg·(log b − LSE_i((f_i − C_ij)/ε_reg)),
        T_ij = exp((f_i + g_j − C_ij)/ε_reg).

    ``cost``: (..., n, m), leading dimensions are independent problems. ``a``/``b``: marginals (..., n) / (..., m),
    default uniform 1/n and 1/m. ``iters`` fixed iterations; with ``tol``, stop early once
    max over problems of Σ_i |f_i − f_i^prev| < tol (the FS code's criterion, tol 0.1). The column marginals are
    exact after every iteration, the row marginals converge. Differentiable w.r.t. ``cost`` (unrolled
    iterations; the plan is not detached). Computed in at least fp32; exponents are floored at −80 before ``exp``
    (see ``_EXP_FLOOR``: plan entries under e^-80 ≈ 2e-35 read as that, a CPU speed-up of ~2× on FS batches).
    """
    if not torch.is_tensor(cost) or cost.dim() < 2:
        raise ValueError(f"cost must be a tensor of shape (..., n, m), got {tuple(getattr(cost, 'shape', ()))}")
    if not (isinstance(eps_reg, (int, float)) and eps_reg > 0 and math.isfinite(eps_reg)):
        raise ValueError(f"eps_reg must be a finite number > 0, got {eps_reg!r}")
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ValueError(f"iters must be an integer >= 1, got {iters!r}")
    c = cost if cost.dtype in (torch.float32, torch.float64) else cost.float()
    n, m = c.shape[-2], c.shape[-1]
    lead = c.shape[:-2]
    log_a = (a.to(c.dtype).log() if a is not None
             else torch.full((*lead, n), -math.log(n), dtype=c.dtype, device=c.device))
    log_b = (b.to(c.dtype).log() if b is not None
             else torch.full((*lead, m), -math.log(m), dtype=c.dtype, device=c.device))
    # potentials in units of eps_reg (f/ε, g/ε): two subtractions and one log-sum-exp per half-iteration
    cs = c / eps_reg
    f = torch.zeros((*lead, n), dtype=c.dtype, device=c.device)
    g = torch.zeros((*lead, m), dtype=c.dtype, device=c.device)
    for _ in range(iters):
        f_prev = f
        f = log_a - _logsumexp(g.unsqueeze(-2) - cs, dim=-1)
        g = log_b - _logsumexp(f.unsqueeze(-1) - cs, dim=-2)
        if tol is not None and eps_reg * (f - f_prev).detach().abs().sum(-1).max().item() < tol:
            break
    return (f.unsqueeze(-1) + g.unsqueeze(-2) - cs).clamp_min(_EXP_FLOOR).exp()


#: exponents below this are clamped before ``exp``: e^-80 ≈ 2e-35 is far below fp32/fp64 resolution relative to the
#: leading term, and on CPU ``exp`` of arguments under ≈ −87 (fp32 underflow) takes a slow path (~100× slower;
#: with ε_reg = 0.01 most entries of C/ε_reg are there).
_EXP_FLOOR = -80.0


def _logsumexp(a: torch.Tensor, dim: int) -> torch.Tensor:
    """log Σ exp(a) along ``dim``, max-shifted, with the shifted exponents floored at ``_EXP_FLOOR``."""
    m = a.detach().amax(dim=dim, keepdim=True)
    return (a - m).clamp_min(_EXP_FLOOR).exp().sum(dim).log() + m.squeeze(dim)


def cosine_cost(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Pairwise cost C_ij = max(1 − cos(z1_i, z2_j), 0) between rows of (flattened) features (FS Eq. (4))."""
    u = F.normalize(z1.flatten(1).float(), dim=1, eps=1e-6)
    v = F.normalize(z2.flatten(1).float(), dim=1, eps=1e-6)
    return (1.0 - u @ v.T).clamp_min(0.0)


def ot_distance(z_nat: torch.Tensor, z_adv: torch.Tensor, *, eps_reg: float = 0.01, iters: int = 100,
                tol: float | None = None) -> torch.Tensor:
    """FS feature-matching distance D = Σ_ij T_ij·C_ij between two batches (FS Eq. (5)-(6)), T = Sinkhorn plan
    under uniform marginals and the cosine cost; differentiable w.r.t. both batches (through C and T)."""
    cost = cosine_cost(z_nat, z_adv)
    plan = sinkhorn(cost, eps_reg, iters, tol=tol)
    return (plan * cost).sum()


def _feature_fn(model, layer: str):
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; valid: {', '.join(LAYERS)}")
    return model if layer == "logits" else model.features


def scatter_perturb(model: torch.nn.Module, x: torch.Tensor, *, eps: float, alpha: float | None = None,
                    steps: int = 1, norm: str = "linf", eps_reg: float = 0.01, iters: int = 100,
                    tol: float | None = None, random_start: bool = True, layer: str = "logits") -> torch.Tensor:
    """Feature-scattering perturbation of a batch (FS Alg. 1): ascend the OT distance to the natural batch.

    x' ← x + U(ball) (``random_start``, global torch RNG, clipped to [0, 1]); then ``steps`` times
    x' ← Π_{B(x,ε) ∩ [0,1]}(x' + α·sign(∇_{x'} D(f(x), f(x')))) (ℓ2: α·g/‖g‖₂ and radial projection), with
    D = :func:`ot_distance` on the logits (``layer="logits"``, FS) or on ``model.features`` (``"features"``).
    ``alpha`` defaults to ε (FS code: one step of 8/255). Unsupervised: no labels. The model is frozen in eval
    mode (mode and ``requires_grad`` restored); the natural features are computed once and held fixed.
    """
    eps = check_eps(eps, norm)
    alpha = eps if alpha is None else float(alpha)
    x = x.detach()
    with frozen(model):
        feat = _feature_fn(model, layer)
        with torch.no_grad():
            z_nat = feat(x)
        x_adv = _random_start(x, eps, norm) if random_start else x.clone()
        for _ in range(int(steps)):
            xg = x_adv.detach().requires_grad_(True)
            with torch.enable_grad():
                d = ot_distance(z_nat, feat(xg), eps_reg=eps_reg, iters=iters, tol=tol)
                g = input_grad(d, xg)
            x_adv = project(xg.detach() + alpha * normalize_step(g, norm), x, eps, norm)
    return x_adv.detach()


def smooth_labels(y: torch.Tensor, num_classes: int, delta: float) -> torch.Tensor:
    """FS label smoothing: 1 − δ on the true class, δ/(C − 1) on each other class (FS Sec. 5; code ``ls_factor``)."""
    onehot = F.one_hot(y, num_classes).float()
    return onehot * (1.0 - delta) + (1.0 - onehot) * (delta / (num_classes - 1))


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(1/B)·Σ_i −Σ_k t_ik·log softmax(z_i)_k, cross-entropy against a soft target distribution."""
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


@register("feature_scattering")
class FeatureScattering(Method):
    """Feature Scattering AT (Zhang & Wang 2019, Alg. 1; ADT baseline FeaScatter). Hyper-parameters:

    - ``steps`` (1) and ``alpha_ratio`` (1.0): attack steps and step size α = alpha_ratio·ε (FS code: 1 step of ε).
    - ``label_smoothing`` δ (0.5): smoothed-label CE on the perturbed batch.
    - ``eps_reg`` (0.01), ``sinkhorn_iters`` (100), ``sinkhorn_tol`` (None = fixed iterations; 0.1 = FS code).
    """

    defaults = {"steps": 1, "alpha_ratio": 1.0, "label_smoothing": 0.5, "eps_reg": 0.01, "sinkhorn_iters": 100,
                "sinkhorn_tol": None}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        if not 0 <= self.hp["label_smoothing"] < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.hp['label_smoothing']!r}")

    def adversarial(self, model, x, y=None):
        """The feature-scattered batch (labels are not used)."""
        eps = self.cfg.eps
        return scatter_perturb(model, x, eps=eps, alpha=eps * self.hp["alpha_ratio"], steps=self.hp["steps"],
                               norm=self.cfg.norm, eps_reg=self.hp["eps_reg"], iters=self.hp["sinkhorn_iters"],
                               tol=self.hp["sinkhorn_tol"])

    def loss(self, model, x, y):
        x_adv = self.adversarial(model, x, y)
        logits_adv = model(x_adv)
        loss = soft_cross_entropy(logits_adv, smooth_labels(y, logits_adv.shape[1], self.hp["label_smoothing"]))
        with torch.no_grad():
            logs = {"train_adv_acc": accuracy(logits_adv, y)}
        return loss, logs
