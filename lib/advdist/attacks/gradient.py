"""White-box gradient attacks: FGSM, PGD (ℓ∞ / ℓ2), MIM and C&W-ℓ∞ (PGD on the C&W margin loss).

- FGSM — Goodfellow et al. 2015: x' = x + ε·sign(∇ₓ CE(f(x), y)). Targeted "step l.l." — Kurakin et al. 2017:
  x' = x − ε·sign(∇ₓ CE(f(x), y_LL)), y_LL = argmin_k p(k | x).
- PGD — Madry et al. 2018; ADT Eq. (2): δ^{t+1} = Π_S(δ^t + α·sign(∇ₓ L(f(x + δ^t), y))), δ^0 ~ U(S).
  ℓ2: the step is α·g/‖g‖₂ and Π_S rescales δ onto the ℓ2 ball; both followed by a clip to [0, 1].
- MIM — Dong et al. 2018 (CVPR), Alg. 1: g^{t+1} = μ·g^t + ∇/‖∇‖₁, x^{t+1} = Π(x^t + α·sign(g^{t+1})). As in ADT's
  evaluation code the gradient is divided by its per-example *mean* absolute value (‖∇‖₁ / d: the same direction,
  only the scale of the momentum differs) and the attack starts from a uniform random point (original MIM: none).
- C&W — Carlini & Wagner 2017, margin loss f₆ used as in ADT §5.1 ("C&W ... margin-based loss ... using PGD") and
  ADT's ``CWLoss(margin=50)``: L = −max(z_y − max_{j≠y} z_j + κ, 0), maximised by PGD (30 steps in ADT).

Engine conventions (DESIGN.md): model in eval mode with frozen parameters (``frozen``), input gradients only
(``torch.autograd.grad``), restarts run as one batch of R·B rows (restart-major: row r·B + i is restart r of
example i) cut into chunks of ``batch_size`` rows, per-example worst iterate kept over steps and restarts
("worst" = misclassified first, then highest loss), optional per-example early stop.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .core import (
    check_eps,
    check_inputs,
    check_positive,
    chunked,
    frozen,
    input_grad,
    logit_margin,
    normalize_step,
    project,
    random_start as _random_start,
)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES = ("ce", "cw")
CW_KAPPA = 50.0  # ADT evaluate_attacks.py: CWLoss(margin=50); also ATLD's CW-k attacks and ADT's SPSA


def at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """At least fp32 (losses of bf16/fp16 logits are computed in fp32; fp64 stays fp64)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def ce_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy, computed in (at least) fp32."""
    return F.cross_entropy(at_least_fp32(logits), y, reduction="none")


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """z_y − max_{j≠y} z_j per example, at least fp32 (negative ⇔ misclassified); ``core.logit_margin``."""
    return logit_margin(at_least_fp32(logits), y)


def cw_margin_loss(logits: torch.Tensor, y: torch.Tensor, kappa: float = CW_KAPPA) -> torch.Tensor:
    """C&W margin loss to be *maximised*: −max(z_y − max_{j≠y} z_j + κ, 0), per example (at least fp32).

    Carlini & Wagner 2017, objective f₆; the hinge form and κ = 50 follow ADT's ``CWLoss(margin=50)``, where the
    large κ keeps the hinge active so the attack effectively minimises z_y − max_{j≠y} z_j.
    """
    return -(margin(logits, y) + kappa).clamp_min(0)


def resolve_loss(loss: str | LossFn, kappa: float = CW_KAPPA) -> LossFn:
    """Map ``"ce"`` / ``"cw"`` / a callable ``loss(logits, y) -> (B,)`` to a per-example loss function."""
    if callable(loss):
        def checked(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            out = loss(logits, y)
            if not torch.is_tensor(out) or out.shape != y.shape:
                raise ValueError(f"a callable loss must return per-example losses of shape {tuple(y.shape)}, "
                                 f"got {tuple(getattr(out, 'shape', ()))}")
            return at_least_fp32(out)
        return checked
    if loss == "ce":
        return ce_loss
    if loss == "cw":
        return lambda logits, y: cw_margin_loss(logits, y, kappa)
    raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)} or a callable loss(logits, y) -> (B,)")


def _per_example_abs_mean(g: torch.Tensor) -> torch.Tensor:
    return g.abs().flatten(1).mean(1).clamp_min(1e-12).view(-1, *([1] * (g.dim() - 1)))


def _unscored(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss −inf, wrong False) per row of ``x``: the score of an iterate that was never evaluated."""
    n = x.shape[0]
    return (torch.full((n,), float("-inf"), device=x.device, dtype=torch.promote_types(x.dtype, torch.float32)),
            torch.zeros(n, dtype=torch.bool, device=x.device))


def _run(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x0: torch.Tensor, *, eps: float, alpha: float,
         steps: int, norm: str, loss_fn: LossFn, decay: float | None, use_best: bool, early_stop: bool,
         score_last: bool = True):
    """Iterate projected steps on one chunk (rows independent). Returns (x_out, loss_out, wrong_out).

    ``decay=None``: PGD step α·normalize(∇); else MIM: m ← decay·m + ∇/mean|∇|, step α·normalize(m).
    Iterates x^0 … x^steps are all scored; the worst (misclassified first, then highest loss) is returned with
    ``use_best``, else the last one. ``early_stop`` freezes an example at its first misclassified iterate.
    ``score_last=False`` skips the forward pass at x^steps when nobody needs its score (last iterate, one start).
    Without ``early_stop`` every row moves at every step, so the loop runs on whole tensors (``_run_dense``).
    """
    if not early_stop:
        return _run_dense(model, x, y, x0, eps=eps, alpha=alpha, steps=steps, norm=norm, loss_fn=loss_fn,
                          decay=decay, use_best=use_best, score_last=score_last)
    n = x.shape[0]
    x_adv = x0.detach().clone()
    cur_loss, cur_wrong = _unscored(x)
    best_x, best_loss, best_wrong = (x_adv.clone(), cur_loss.clone(), cur_wrong.clone()) if use_best else (None,) * 3
    momentum = torch.zeros_like(x_adv) if decay is not None else None
    active = torch.ones(n, dtype=torch.bool, device=x.device)
    for t in range(steps + 1):
        idx = active.nonzero(as_tuple=True)[0]
        if idx.numel() == 0:
            break
        last = t == steps
        if last and not (use_best or score_last):
            break
        with torch.enable_grad():
            xa = x_adv[idx].requires_grad_(not last)
            logits = model(xa)
            losses = loss_fn(logits, y[idx])
        with torch.no_grad():
            wrong = logits.argmax(1) != y[idx]
            ld = losses.detach()
            cur_loss[idx], cur_wrong[idx] = ld, wrong
            if use_best:
                bw, bl = best_wrong[idx], best_loss[idx]
                better = (wrong & ~bw) | ((wrong == bw) & (ld > bl))
                upd = idx[better]
                best_x[upd], best_loss[upd], best_wrong[upd] = xa.detach()[better], ld[better], wrong[better]
        if last:
            break
        g = input_grad(losses.sum(), xa)
        with torch.no_grad():
            move = ~wrong if early_stop else torch.ones_like(wrong)
            if early_stop:
                active[idx[wrong]] = False
            rows = idx[move]
            if rows.numel() == 0:
                continue
            g = g[move]
            if momentum is not None:
                m = decay * momentum[rows] + g / _per_example_abs_mean(g)
                momentum[rows] = m
                g = m
            step = normalize_step(g, norm)
            x_adv[rows] = project(xa.detach()[move] + alpha * step, x[rows], eps, norm)
    if use_best:
        return best_x, best_loss, best_wrong
    return x_adv, cur_loss, cur_wrong


def _run_dense(model, x, y, x0, *, eps, alpha, steps, norm, loss_fn, decay, use_best, score_last):
    """``_run`` when no row ever stops: the same iterates on whole tensors, with no row indexing and no host
    synchronisation inside the loop (fixed shapes; on a GPU the host queues the steps ahead of the device)."""
    x_adv = x0.detach().clone()
    cur_loss = cur_wrong = None
    if use_best:
        best_x = x_adv.clone()
        best_loss, best_wrong = _unscored(x)
    momentum = torch.zeros_like(x_adv) if decay is not None else None
    for t in range(steps + 1):
        last = t == steps
        if last and not (use_best or score_last):
            break
        with torch.enable_grad():
            xa = x_adv.requires_grad_(not last)
            logits = model(xa)
            losses = loss_fn(logits, y)
        with torch.no_grad():
            cur_wrong, cur_loss = logits.argmax(1) != y, losses.detach()
            if use_best:
                better = (cur_wrong & ~best_wrong) | ((cur_wrong == best_wrong) & (cur_loss > best_loss))
                best_x = torch.where(better.view(-1, *([1] * (x.dim() - 1))), xa.detach(), best_x)
                best_loss = torch.where(better, cur_loss, best_loss)
                best_wrong = torch.where(better, cur_wrong, best_wrong)
        if last:
            break
        g = input_grad(losses.sum(), xa)
        with torch.no_grad():
            if momentum is not None:
                momentum = decay * momentum + g / _per_example_abs_mean(g)
                g = momentum
            x_adv = project(xa.detach() + alpha * normalize_step(g, norm), x, eps, norm)
    if use_best:
        return best_x, best_loss, best_wrong
    if cur_loss is None:  # steps = 0 and nothing scored: x0 as it is
        cur_loss, cur_wrong = _unscored(x)
    return x_adv.detach(), cur_loss, cur_wrong


def chunked_tuple(fn, *tensors: torch.Tensor, batch_size: int | None):
    """``fn(*tensors)`` (a tuple of tensors) over chunks of ``batch_size`` rows, each output concatenated."""
    n = tensors[0].shape[0]
    if batch_size is None or n <= batch_size:
        return fn(*tensors)
    parts = [fn(*(t[i:i + batch_size] for t in tensors)) for i in range(0, n, batch_size)]
    return tuple(torch.cat(p) for p in zip(*parts))


def select_restarts(x_adv: torch.Tensor, loss: torch.Tensor, wrong: torch.Tensor, restarts: int):
    """Per example, the worst of R restart-major results: misclassified first, then highest loss."""
    b = x_adv.shape[0] // restarts
    loss, wrong = loss.view(restarts, b), wrong.view(restarts, b)
    among_wrong = torch.where(wrong, loss, torch.full_like(loss, float("-inf"))).argmax(0)
    r = torch.where(wrong.any(0), among_wrong, loss.argmax(0))
    cols = torch.arange(b, device=x_adv.device)
    return x_adv.view(restarts, b, *x_adv.shape[1:])[r, cols], loss[r, cols], wrong[r, cols]


def _iterative(model, x, y, *, eps, alpha, steps, norm, loss, kappa, decay, random_start, restarts, early_stop,
               use_best, x_init, generator, batch_size):
    eps = check_eps(eps, norm)
    check_inputs(x, y)
    loss_fn = resolve_loss(loss, kappa)
    check_positive("alpha", alpha)
    check_positive("steps", steps, integer=True, allow_zero=True)
    check_positive("restarts", restarts, integer=True)
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    b = x.shape[0]
    xt = x.repeat(restarts, *([1] * (x.dim() - 1))) if restarts > 1 else x
    yt = y.repeat(restarts) if restarts > 1 else y
    if x_init is not None:
        if x_init.shape != xt.shape:
            raise ValueError(f"x_init must have shape {tuple(xt.shape)} (restart-major R·B rows), "
                             f"got {tuple(x_init.shape)}")
        x0 = project(x_init.detach().to(x.dtype), xt, eps, norm)
    elif random_start:
        x0 = _random_start(xt, eps, norm, generator)
    elif restarts > 1:
        raise ValueError("restarts > 1 needs random_start=True or x_init (identical starts give identical runs)")
    else:
        x0 = xt
    with frozen(model) as net:
        def run(xc, yc, x0c):
            return _run(net, xc, yc, x0c, eps=eps, alpha=alpha, steps=steps, norm=norm,
                        loss_fn=loss_fn, decay=decay, use_best=use_best, early_stop=early_stop,
                        score_last=restarts > 1)

        out, out_loss, out_wrong = chunked_tuple(run, xt.detach(), yt, x0, batch_size=batch_size)
    if restarts > 1:
        out = select_restarts(out, out_loss, out_wrong, restarts)[0]
    assert out.shape[0] == b
    return out.detach()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str = "linf",
         targeted: bool = False, target: torch.Tensor | str | None = None, random_start: bool = False,
         generator: torch.Generator | None = None, batch_size: int | None = None) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015, Eq. (3)): x' = clip(x + ε·sign(∇ₓ CE(f(x), y))).

    ``targeted=True`` steps *towards* a target class: x' = clip(x − ε·sign(∇ₓ CE(f(x), t))); ``target`` is a
    label tensor or ``"least_likely"`` (default when targeted) — the "step l.l." attack of Kurakin, Goodfellow &
    Bengio 2017 (ICLR), t = argmin_k f(x)_k, used to train ADT's AT_FGSM baseline. ``norm="l2"`` gives the
    fast gradient method x + ε·∇/‖∇‖₂. ``random_start`` starts from U(ball) and then takes the ε step with
    projection, as ATLD's evaluation code does for its FGSM column.
    """
    eps = check_eps(eps, norm)
    check_inputs(x, y)
    if target is not None and not targeted:
        raise ValueError("target given but targeted=False; pass targeted=True")
    if targeted and target is None:
        target = "least_likely"
    if isinstance(target, str) and target != "least_likely":
        raise ValueError(f"unknown target {target!r}; valid: 'least_likely' or a label tensor")
    if torch.is_tensor(target) and target.shape != y.shape:
        raise ValueError(f"target must have shape {tuple(y.shape)}, got {tuple(target.shape)}")
    x0 = _random_start(x, eps, norm, generator) if random_start else x.detach()
    sign = -1.0 if targeted else 1.0

    def one(xc, yc, x0c):
        with torch.enable_grad():
            xg = x0c.clone().requires_grad_(True)
            logits = model(xg)
            if target == "least_likely":
                clean = logits if not random_start else model(xc)
                tc = clean.detach().argmin(1)
            else:
                tc = yc
            g = input_grad(ce_loss(logits, tc).sum(), xg)
        return project(x0c + sign * eps * normalize_step(g, norm), xc, eps, norm)

    tgt = target if torch.is_tensor(target) else y
    with frozen(model):
        out = chunked(one, x.detach(), tgt, x0, batch_size=batch_size)
    return out.detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float, steps: int,
        norm: str = "linf", loss: str | LossFn = "ce", kappa: float = CW_KAPPA, random_start: bool = True,
        restarts: int = 1, early_stop: bool = False, use_best: bool = True, x_init: torch.Tensor | None = None,
        generator: torch.Generator | None = None, batch_size: int | None = None) -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018; ADT Eq. (2)): δ ← Π_S(δ + α·sign(∇ₓ L)), δ⁰ ~ U(S).

    ``norm="l2"`` steps α·∇/‖∇‖₂ and projects radially onto the ℓ2 ball; every iterate is clipped to [0, 1].
    ``loss``: ``"ce"``, ``"cw"`` (``cw_margin_loss`` with ``kappa``) or ``loss(logits, y) -> (B,)`` to maximise.
    ``restarts`` random starts run as one batch of R·B rows (``batch_size`` rows at a time); the result is the
    per-example worst over all iterates and restarts (misclassified first, then highest loss); ``use_best=False``
    returns the last iterate instead (foolbox / Madry semantics; restarts still pick the worst last iterate).
    ``early_stop`` stops updating an example once misclassified (returns that misclassified iterate).
    ``x_init`` (R·B rows, restart-major) replaces the random start.
    """
    return _iterative(model, x, y, eps=eps, alpha=alpha, steps=steps, norm=norm, loss=loss, kappa=kappa, decay=None,
                      random_start=random_start, restarts=restarts, early_stop=early_stop, use_best=use_best,
                      x_init=x_init, generator=generator, batch_size=batch_size)


def mim(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float, steps: int,
        decay: float = 1.0, norm: str = "linf", loss: str | LossFn = "ce", kappa: float = CW_KAPPA,
        random_start: bool = True, restarts: int = 1, early_stop: bool = False, use_best: bool = True,
        x_init: torch.Tensor | None = None, generator: torch.Generator | None = None,
        batch_size: int | None = None) -> torch.Tensor:
    """Momentum iterative method (Dong et al. 2018, Alg. 1), as in ADT's evaluation (20 steps, μ = 1, α = ε/4).

    m ← μ·m + ∇ / mean(|∇|) (per example, over all input dims, as ADT's code), x ← Π(x + α·sign(m)), clip to
    [0, 1]; uniform random start as in ADT's code. Other options as in :func:`pgd`.
    """
    check_positive("decay", decay, allow_zero=True)
    return _iterative(model, x, y, eps=eps, alpha=alpha, steps=steps, norm=norm, loss=loss, kappa=kappa,
                      decay=float(decay), random_start=random_start, restarts=restarts, early_stop=early_stop,
                      use_best=use_best, x_init=x_init, generator=generator, batch_size=batch_size)


def cw_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float, steps: int = 30,
            kappa: float = CW_KAPPA, **kwargs) -> torch.Tensor:
    """ADT's "C&W" (§5.1): ℓ∞ PGD on the C&W margin loss −max(z_y − max_{j≠y} z_j + κ, 0), κ = 50, 30 steps.

    Also ATLD's CW-20/40/100. Remaining keyword arguments as in :func:`pgd` (``norm``, ``restarts``, …).
    """
    if "loss" in kwargs:
        raise ValueError("cw_linf fixes loss='cw'; use pgd(loss=...) for another loss")
    return pgd(model, x, y, eps=eps, alpha=alpha, steps=steps, loss="cw", kappa=kappa, **kwargs)
