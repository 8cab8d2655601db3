"""Threat models: a norm, an ε-ball around each input, its projection and its steepest-ascent step.

    tm = ThreatModel(eps=8 / 255, norm="Linf")      # norm parsed case-insensitively: linf, Linf, l_inf, l2, L2, ...
    x_adv = tm.project(x_adv + alpha * tm.step(g), x)

- :class:`Norm` — ``Norm.LINF`` / ``Norm.L2`` (a ``str`` enum, so ``Norm.LINF == "linf"``); ``Norm.parse`` turns
  any accepted spelling into a member and anything else into a one-line ``ValueError``. Its methods are the
  per-example ball operations without validation: :meth:`Norm.clip` (onto the ε-ball around 0), :meth:`Norm.direction`
  (steepest-ascent direction of unit norm: sign(g) for ℓ∞, g/‖g‖₂ for ℓ2), :meth:`Norm.size` (per-example norm),
  :meth:`Norm.random_delta` (uniform in the ε-ball).
- :class:`ThreatModel` — a frozen (ε, norm, clamp): validated once, then ``project``, ``step``, ``random_start``.
  ``clamp`` is the valid input range ((0, 1) for images; ``None`` for unbounded data such as 2-D toy coordinates).

Public functions across the package keep taking norm strings and parse them here, at the boundary. The formulas are
those the attacks always used (``advdist.attacks.core``; tests/test_threat.py checks them bitwise against the
previous implementation). This module imports torch only when a random start is drawn, so ``config`` can import it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: added to per-example ℓ2 norms before dividing (all-zero rows stay zero)
TINY = 1e-12


class Norm(str, enum.Enum):
    """The norm of a threat model. A ``str`` enum: members compare equal to their value (``Norm.L2 == "l2"``)."""

    LINF = "linf"
    L2 = "l2"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    #: hash like the plain string, so a member finds the entries of ``{"linf": ...}`` (``==`` is already str's)
    __hash__ = str.__hash__

    @classmethod
    def parse(cls, value: Any) -> Norm:
        """``value`` as a member: a member, or a string naming one in any case, with or without ``_``/``-``/space
        ("linf", "Linf", "l_inf", "L-inf", "inf", "ℓ∞"; "l2", "L2", "l_2", "ℓ2"). One-line ``ValueError`` otherwise."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("_", "").replace("-", "").replace(" ", "").replace("ℓ", "l")
            norm = _ALIASES.get(key)
            if norm is not None:
                return norm
        raise ValueError(f"unknown norm {value!r}; valid: {', '.join(NORMS)} (any case; e.g. 'Linf', 'l_inf', 'L2')")

    # -- per-example ball operations on tensors shaped (B, ...) ------------------------------------------------
    def size(self, v: torch.Tensor) -> torch.Tensor:
        """Per-example norm of ``v`` (shape (B,)): max |v| for ℓ∞, ‖v‖₂ for ℓ2."""
        flat = v.flatten(1)
        return flat.abs().amax(1) if self is Norm.LINF else flat.norm(dim=1)

    def clip(self, delta: torch.Tensor, eps: Any) -> torch.Tensor:
        """``delta`` projected onto the ε-ball around 0: clipped per coordinate (ℓ∞), rescaled radially when longer
        than ε (ℓ2)."""
        if self is Norm.LINF:
            return delta.clamp(-eps, eps)
        return delta * (eps / (_l2(delta) + TINY)).clamp(max=1.0)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """Steepest-ascent direction of unit norm for a gradient ``g``: sign(g) (ℓ∞), g/‖g‖₂ per example (ℓ2)."""
        if self is Norm.LINF:
            return g.sign()
        return g / (_l2(g) + TINY)

    def random_delta(self, x: torch.Tensor, eps: Any, generator: torch.Generator | None = None) -> torch.Tensor:
        """A point uniform in the ε-ball around 0, shaped like ``x`` (ℓ∞: uniform per coordinate; ℓ2: uniform in the
        ball: a uniform direction and radius ε·U^{1/d})."""
        import torch

        if self is Norm.LINF:
            u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return (2 * u - 1) * eps
        d = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        d = d / (_l2(d) + TINY)
        r = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), generator=generator,
                       device=x.device, dtype=x.dtype) ** (1.0 / x[0].numel())
        return d * r * eps


_ALIASES = {"linf": Norm.LINF, "inf": Norm.LINF, "l∞": Norm.LINF, "∞": Norm.LINF, "l2": Norm.L2}
#: the norm names, canonical spelling
NORMS = tuple(n.value for n in Norm)


def _l2(v: torch.Tensor) -> torch.Tensor:
    """Per-example ℓ2 norm, shaped for broadcasting against ``v``."""
    n = v.flatten(1).norm(dim=1)
    return n.view(-1, *([1] * (v.dim() - 1)))


def check_eps(eps: Any, norm: Any = Norm.LINF, *, pixels: bool = True) -> float:
    """Validate an ε budget (and parse ``norm``); one-line ``ValueError`` on bad input. With ``pixels`` (inputs in
    [0, 1]) an ℓ∞ ε above 1 is an error (a budget given in /255 units by mistake)."""
    norm = Norm.parse(norm)
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"eps must be a number, got {eps!r}") from None
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if pixels and norm is Norm.LINF and eps > 1:
        raise ValueError(f"linf eps={eps} exceeds the [0, 1] pixel range; did you mean {eps}/255?")
    return eps


@dataclass(frozen=True)
class ThreatModel:
    """The ε-ball of ``norm`` around each input, intersected with the valid input range ``clamp``.

    ``norm`` accepts any spelling :meth:`Norm.parse` does and is stored as a :class:`Norm`; ``eps`` is validated by
    :func:`check_eps` (an ℓ∞ ε above 1 is an error when ``clamp`` is the pixel range (0, 1)).
    """

    eps: float
    norm: Norm = Norm.LINF
    clamp: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self) -> None:
        norm = Norm.parse(self.norm)
        clamp = self.clamp
        if clamp is not None:
            try:
                lo, hi = (float(c) for c in clamp)
            except (TypeError, ValueError):
                raise ValueError(f"clamp must be None or a pair (lo, hi), got {clamp!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"clamp must be finite with lo < hi, got {clamp!r}")
            clamp = (lo, hi)
        object.__setattr__(self, "norm", norm)
        object.__setattr__(self, "clamp", clamp)
        object.__setattr__(self, "eps", check_eps(self.eps, norm, pixels=clamp == (0.0, 1.0)))

    @classmethod
    def of(cls, spec: Any, eps: float | None = None) -> ThreatModel:
        """``spec`` if it is a ThreatModel (with ``eps`` replacing its budget when given), else ``ThreatModel(eps,
        spec)`` for a norm name."""
        if isinstance(spec, cls):
            return spec if eps is None else cls(eps, spec.norm, spec.clamp)
        if eps is None:
            raise ValueError(f"a threat model needs eps; got norm {spec!r} without one")
        return cls(eps, spec)

    def _clamp(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.clamp is None else x.clamp(*self.clamp)

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x_adv`` projected onto the ε-ball around ``x`` (clip for ℓ∞, radial rescale for ℓ2), then into
        ``clamp``."""
        return self._clamp(x + self.norm.clip(x_adv - x, self.eps))

    def step(self, g: torch.Tensor) -> torch.Tensor:
        """Steepest-ascent direction of unit norm for the gradient ``g`` (:meth:`Norm.direction`); a step of length
        α is ``alpha * tm.step(g)``."""
        return self.norm.direction(g)

    def random_start(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A point uniform in the ε-ball around ``x``, then into ``clamp``."""
        return self._clamp(x + self.norm.random_delta(x, self.eps, generator))

    def distance(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-example distance ‖x_adv − x‖ in this norm (shape (B,))."""
        return self.norm.size(x_adv - x)

    def __str__(self) -> str:
        return f"{self.norm.value} ε={self.eps:g}"
