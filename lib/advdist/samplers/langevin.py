"""ATENT's Langevin (SGLD) sampler on inputs, in ℓ2 and ℓ∞ form (Jagatap et al., ATENT Eq. 8-9, 13-14, Alg. 1-2).

The sampler draws adversarial inputs x' from the Gibbs-like density of ATENT Assumption 2 (ℓ2),

    p(x' | x) ∝ exp( L(f(x'), y) − (γ/2)·‖x' − x‖² ),                                  (ATENT Eq. 4)

by the Euler discretisation of Langevin dynamics (ATENT Eq. 8-9, Alg. 1 lines 7-8):

    x'_{k+1} = x'_k + η'·( d(∇_{x'} L(x'_k)) + γ·(x − x'_k) ) + √(2η')·ε·N(0, I),

and, for ℓ∞ (Assumption 3, Eq. 14, Alg. 2 line 8), by the same step without the pull term, followed by the
clipping projection P_γ onto the ℓ∞ ball of radius 1/γ around x — at the K-th step only (paper; the default) or
at every step (``projection="every"``, the variant the paper also tried and the MNIST-ℓ∞ notebook uses).

Choices where the paper is ambiguous or its code differs (atld-atent-baselines.md §C.1-C.3); every one is an
option of :func:`langevin_chain`:

- ``direction``: the paper writes the raw gradient ∇L; its step sizes (η' = 0.01 at ε∞ = 0.3 "consistent with
  the configuration in [TRADES]", η' = 0.25 at ε2 = 2 "consistent with [MMA]") are steepest-ascent step
  lengths, and the official code takes sign(g) (ℓ∞) and g/‖g‖₂ per example (ℓ2). Default ``"steepest"``
  (= the code); ``"raw"`` uses the per-example gradient of the summed loss literally.
- ``pull`` (ℓ2): the paper multiplies the pull by η' (Eq. 9, ``"paper"``, default); the code adds γ·(x − x')
  without η' (``"code"``).
- ``init``: the paper starts from "a random normal perturbation ... within approximately 1/γ radius"
  (``"normal"``, default: ℓ2 δ = r·N(0, I)/√d, so ‖δ‖ ≈ r; ℓ∞ δ = clip((r/3)·N(0, I), ±r) [our reading]);
  the code uses a random corner r·sign(N) for ℓ∞ (``"corner"``) and N(0, I) radially projected onto the
  r-ball for ℓ2 (``"sphere"``); ``"none"`` starts at x (the Fig. 1 toy). r = ``radius``.
- ``projection``: ``"last"`` (Alg. 2, default for ℓ∞), ``"every"``, or ``"never"`` (ℓ2 default: Alg. 1 has no
  projection; the code's CIFAR-ℓ2 run never projects). Projection is onto the ``radius`` ball around x.
- ``clamp``: the valid input range (default (0, 1); ``None`` for unbounded data such as t-SNE coordinates).
- The model is put in eval mode with frozen parameters during sampling (the project's convention for inner
  maximisation, DESIGN.md); the code samples in train mode (dropout and BatchNorm active), which the caller
  can reproduce with ``model_mode="train"``.
- The code's ℓ2 early exit (‖g‖ < 5e-4 over the batch) is not implemented.

:func:`langevin_attack` returns the last sample: ATENT Table 6's "ATENT-20" attack.
:func:`ema_weights` gives the closed-form weights of ATENT's exponential averaging of the per-step losses.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from advdist.attacks.core import check_eps, frozen, input_grad
from advdist.attacks.settings import register_attack
from advdist.threat import Norm, ThreatModel
from advdist.validate import choice

INITS = ("normal", "corner", "sphere", "none")
PROJECTIONS = ("last", "every", "never")
DIRECTIONS = ("steepest", "raw")
PULLS = ("paper", "code")




def ema_weights(steps: int, alpha: float = 0.9) -> torch.Tensor:
    """Weights w_k of μ = Σ_k w_k·μ_k after ATENT Alg. 1-2 lines 5 and 10 (μ ← (1 − α)·μ + α·μ_k, μ₀ = 0).

    Closed form: w_k = α·(1 − α)^{K − k} for k = 1 … K (the newest sample gets α); Σ_k w_k = 1 − (1 − α)^K.
    """
    k = torch.arange(1, int(steps) + 1, dtype=torch.float64)
    return (alpha * (1.0 - alpha) ** (int(steps) - k)).float()


def _init(x: torch.Tensor, init: str, norm: str | Norm, radius: float) -> torch.Tensor:
    if init == "none" or radius == 0:
        return x.clone()
    z = torch.randn_like(x)
    if Norm.parse(norm) is Norm.LINF:
        delta = radius * z.sign() if init == "corner" else (radius / 3.0 * z).clamp(-radius, radius)
    else:
        if init == "sphere":
            delta = Norm.L2.clip(z, radius)
        else:
            delta = radius * z / math.sqrt(x[0].numel())
    return x + delta


def langevin_chain(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, norm: str = "linf", steps: int = 40,
                   step_size: float = 0.01, noise: float = 1e-3, gamma: float = 0.0, radius: float = 0.3,
                   projection: str | None = None, init: str = "normal", direction: str = "steepest",
                   pull: str = "paper", clamp: tuple[float, float] | None = (0.0, 1.0), model_mode: str = "eval",
                   loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                   use_loss: bool = True) -> list[torch.Tensor]:
    """K SGLD steps on the inputs (ATENT Eq. 9 / Alg. 1 lines 6-8 for ℓ2; Eq. 14 / Alg. 2 lines 6-8 for ℓ∞).

    Returns the K samples [x'_1, …, x'_K] (detached), the ones whose losses ATENT averages (Alg. 1-2 line 9).

    ``step_size`` = η', ``noise`` = ε (the noise is √(2η')·ε·N(0, I)), ``gamma`` = γ of the ℓ2 pull (ignored for
    ℓ∞, whose γ enters only as the projection radius 1/γ = ``radius``). ``loss_fn(logits, y)`` returns per-example
    losses (default CE). ``use_loss=False`` switches the loss term off (pure Ornstein-Uhlenbeck / random walk;
    used by the tests). See the module docstring for ``direction``, ``pull``, ``init``, ``projection``,
    ``clamp`` and ``model_mode``.
    """
    norm = Norm.parse(norm)
    choice("init", init, INITS)
    choice("direction", direction, DIRECTIONS)
    choice("pull", pull, PULLS)
    choice("model_mode", model_mode, ("eval", "train"))
    projection = projection or ("last" if norm is Norm.LINF else "never")
    choice("projection", projection, PROJECTIONS)
    if norm is Norm.LINF and clamp == (0.0, 1.0):
        check_eps(radius, norm)
    # the ball of the projection onto the radius ball around x (clip for ℓ∞, radial rescale for ℓ2), then clamp
    ball = ThreatModel(radius, norm, clamp) if projection != "never" else None
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    loss_fn = loss_fn or (lambda logits, t: F.cross_entropy(logits, t, reduction="none"))
    x = x.detach()
    lo_hi = clamp
    xp = _init(x, init, norm, radius)
    if lo_hi is not None:
        xp = xp.clamp(*lo_hi)
    sd = math.sqrt(2.0 * step_size) * noise
    out = []
    with frozen(model) as net:  # eval mode (each module's mode restored afterwards), parameters frozen
        if model_mode == "train":  # BN on batch statistics; the plain module (a view is traced in eval mode)
            model.train()
            net = model
        for k in range(steps):
            if use_loss:
                xg = xp.detach().requires_grad_(True)
                with torch.enable_grad():
                    g = input_grad(loss_fn(net(xg), y).sum(), xg)
                drift = norm.direction(g) if direction == "steepest" else g
            else:
                drift = torch.zeros_like(xp)
            step = step_size * drift
            if norm is Norm.L2 and gamma:
                step = step + (step_size * gamma if pull == "paper" else gamma) * (x - xp)
            xp = xp.detach() + step + sd * torch.randn_like(xp)
            if projection == "every" or (projection == "last" and k == steps - 1):
                xp = ball.project(xp, x)
            elif lo_hi is not None:
                xp = xp.clamp(*lo_hi)
            out.append(xp.detach())
    return out


@register_attack  # the "ATENT-20" setting of advdist.attacks.settings
def langevin_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float = 0.003,
                    steps: int = 20, norm: str = "linf", noise: float = 1e-3, gamma: float = 0.0,
                    projection: str = "last", init: str = "normal", direction: str = "steepest",
                    batch_size: int | None = None, **kw) -> torch.Tensor:
    """The "ATENT-20" attack of ATENT Table 6 / App. A.3: the last sample x'_K of :func:`langevin_chain`.

    "We keep the same configuration as that of PGD-20": ``steps`` = 20 steps of ``alpha`` = η' (0.003 at
    CIFAR-10 ε = 8/255), noise ε = 1e-3 (the code's ``ATENT_as_attack``), projection onto the ε-ball at the
    last step (Alg. 2), so the returned x' lies in the ε-ball and in [0, 1]. Extra ``kw`` go to the chain.
    """
    eps = check_eps(eps, norm)

    def one(xb, yb):
        return langevin_chain(model, xb, yb, norm=norm, steps=steps, step_size=alpha, noise=noise, gamma=gamma,
                              radius=eps, projection=projection, init=init, direction=direction, **kw)[-1]

    if batch_size is None or len(x) <= batch_size:
        return one(x, y)
    return torch.cat([one(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def ou_stationary(step_size: float, noise: float, gamma: float, pull: str = "paper") -> tuple[float, float]:
    """Stationary (mean offset, variance) per coordinate of the ℓ2 chain with the loss term off.

    With c = η'γ (``pull="paper"``) or γ (``"code"``), s = √(2η')·ε: z_{k+1} = (1 − c)·z_k + s·N(0, 1) for
    z = x' − x, an AR(1) process with mean 0 and variance s² / (1 − (1 − c)²) (= ε²/γ as η' → 0, the Gaussian
    exp(−γ‖z‖²/(2ε²)) of ATENT Eq. 4 at temperature ε²).
    """
    c = step_size * gamma if pull == "paper" else gamma
    s2 = 2.0 * step_size * noise ** 2
    return 0.0, s2 / (1.0 - (1.0 - c) ** 2)
