"""Shared machinery for every attack: frozen-model context, projections, input gradients, chunking.

Conventions (DESIGN.md): inputs and outputs in [0, 1]; the model is put in eval mode and restored;
parameters are frozen during the attack and no ``.grad`` is left on them; attacks take input
gradients with ``torch.autograd.grad`` (never ``loss.backward()``, which also fills weight grads).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

import torch
from torch import nn

from advdist import threat as _threat
from advdist.models import grad_view
from advdist.runtime import eval_mode
from advdist.threat import Norm

#: norm names (``advdist.threat``: norms are parsed case-insensitively, e.g. "Linf", "l_inf", "L2")
NORMS = _threat.NORMS
#: validate an ε budget and a norm name; one-line ``ValueError`` on bad input (``advdist.threat.check_eps``)
check_eps = _threat.check_eps


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and ``requires_grad=False`` on every parameter for the duration; both restored.

    Yields the module to call for input gradients: ``model`` itself, or inside :func:`fast_input_grad` its
    input-gradient view (``models.grad_view.input_grad_view``: same logits, cheaper backward on a CPU).
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    with eval_mode(model):
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield grad_model(model)
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)


_FAST_GRAD: contextvars.ContextVar[bool] = contextvars.ContextVar("advdist_fast_input_grad", default=False)


@contextlib.contextmanager
def fast_input_grad(enabled: bool = True) -> Iterator[None]:
    """Within the block, the attacks and samplers that call the module ``frozen(model)`` yields (PGD, MIM, C&W-ℓ∞,
    the ADT_EXP fit, the eval-mode Langevin chain) run the model's input-gradient view (``models.grad_view``:
    ReLU→max-pool swapped, cheaper conv input gradients, in-place ReLUs) — the same logits, input gradients equal
    up to float summation order, faster on a CPU. ``--fast-grad`` of ``python -m advdist.train``
    (``Runtime.fast_grad``) sets it."""
    token = _FAST_GRAD.set(bool(enabled))
    try:
        yield
    finally:
        _FAST_GRAD.reset(token)


def grad_model(model: nn.Module) -> nn.Module:
    """``model``, or its input-gradient view inside :func:`fast_input_grad` (call in eval mode)."""
    if not _FAST_GRAD.get():
        return model
    return grad_view.input_grad_view(model)


def input_grad(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of a scalar ``loss`` w.r.t. the input ``x`` only."""
    (g,) = torch.autograd.grad(loss, x)
    return g


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str | Norm = "linf") -> torch.Tensor:
    """Project ``x_adv`` onto the ε-ball around ``x`` intersected with [0, 1] (``ThreatModel.project`` without the
    validation of ε, for inner loops)."""
    return (x + Norm.parse(norm).clip(x_adv - x, eps)).clamp(0.0, 1.0)


def normalize_step(g: torch.Tensor, norm: str | Norm = "linf") -> torch.Tensor:
    """Steepest-ascent direction of unit norm: sign(g) for ℓ∞, g/‖g‖₂ for ℓ2 (:meth:`advdist.threat.Norm.direction`)."""
    return Norm.parse(norm).direction(g)


def random_start(x: torch.Tensor, eps: float, norm: str | Norm = "linf",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform point in the ε-ball (ℓ∞: uniform per coordinate; ℓ2: uniform in the ball), clipped to [0, 1]."""
    return (x + Norm.parse(norm).random_delta(x, eps, generator)).clamp(0.0, 1.0)


def chunked(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor, batch_size: int | None) -> torch.Tensor:
    """Apply ``fn`` to aligned slices of ``tensors`` of at most ``batch_size`` rows; concatenate."""
    n = tensors[0].shape[0]
    if batch_size is None or n <= batch_size:
        return fn(*tensors)
    return torch.cat([fn(*(t[i:i + batch_size] for t in tensors)) for i in range(0, n, batch_size)])


def logit_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example margin ``z_y − max_{j≠y} z_j`` (negative ⇔ misclassified).

    The true class is masked with −inf before the max, so the margin is right for negative logits too
    (the ``max((1 − onehot)·z)`` form is wrong there; peers.md, torchattacks CW).
    """
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), float("-inf"))
    return z_y - other.amax(dim=1)


class RowAdam:
    """Adam (Kingma & Ba 2015) on a tensor whose rows are independent problems (one per example).

    ``step(rows, grad)`` updates only ``param[rows]`` with its own step count, so attacks can freeze
    examples that stopped early (SPSA early stop, C&W abort-early) without touching their state.
    The update *descends*: ``param[rows] -= lr · m̂ / (√v̂ + eps)``.
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = torch.zeros(param.shape[0], dtype=param.dtype, device=param.device)

    def step(self, rows: torch.Tensor, grad: torch.Tensor) -> None:
        b1, b2 = self.betas
        shape = (-1,) + (1,) * (self.param.dim() - 1)
        t = self.t[rows] + 1
        self.t[rows] = t
        m = self.m[rows].mul_(b1).add_(grad, alpha=1 - b1)
        v = self.v[rows].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        self.m[rows], self.v[rows] = m, v
        m_hat = m / (1 - b1 ** t).view(shape)
        v_hat = v / (1 - b2 ** t).view(shape)
        self.param[rows] = self.param[rows] - self.lr * m_hat / (v_hat.sqrt() + self.eps)


def check_inputs(x: torch.Tensor, y: torch.Tensor) -> None:
    """Validate an attack's inputs: images in [0, 1] with a batch dimension, integer labels of shape (B,)."""
    if not torch.is_tensor(x) or x.dim() < 2:
        raise ValueError(f"x must be a tensor of shape (B, ...), got {type(x).__name__} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if not torch.is_tensor(y) or y.shape != (x.shape[0],) or y.is_floating_point():
        raise ValueError(f"y must be an integer tensor of shape ({x.shape[0]},), got {tuple(getattr(y, 'shape', ()))}")
    if x.numel() and not (x.min() >= 0 and x.max() <= 1):
        raise ValueError("inputs must lie in [0, 1] (normalise inside the model, not before the attack)")


def check_positive(name: str, value: float, *, integer: bool = False, allow_zero: bool = False) -> None:
    """One-line ``ValueError`` unless ``value`` is a finite number > 0 (>= 0 with ``allow_zero``)."""
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    ok = ok and not isinstance(value, bool) and value == value and value != float("inf")
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind} {'>=' if allow_zero else '>'} 0, got {value!r}")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
    """Predicted labels ``argmax model(x)`` in eval mode (mode restored), chunked to ``batch_size`` rows."""
    with frozen(model):
        return chunked(lambda xb: model(xb).argmax(1), x, batch_size=batch_size)
