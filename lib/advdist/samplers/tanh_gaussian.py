"""ADT's explicit adversarial distribution: a tanh-squashed, ε-scaled diagonal Gaussian (ADT Eq. (8), (11)).

δ = ε·tanh(u),  u ~ N(μ, diag(σ²))                                             (ADT Eq. 8)

so every sample lies in the ℓ∞ ball of radius ε by construction. The density of one coordinate follows from
the change of variables δ = ε·tanh(u) (ADT App. B.2):

−log p(δ) = r²/2 + ½·log 2π + log σ + log(1 − tanh²(μ + σr)) + log ε,   r = (u − μ)/σ   (ADT Eq. 11)

summed over the coordinates for the joint density. :class:`TanhGaussian` is a ``torch.distributions``
distribution over independent coordinates (``event_shape == ()``, like ``Normal``): ``log_prob`` returns one
value per coordinate; sum over the coordinates of an example for its joint log-density.

Two forms of the reparameterised negative log-density (the entropy estimate of ADT Eq. (10)) are offered:

- ``form="paper"`` — Eq. (11) exactly, all constants kept, ``log(1 − tanh²u)`` evaluated stably as
  ``2·(log 2 − |u| − softplus(−2|u|))`` (finite for any u);
- ``form="code"`` — what the official ``adt_exp.py`` computes: ``r²/2 + log(σ + 1e-8) + log(1 − tanh²u + 1e-8)``,
  i.e. the constants ½·log 2π and log ε dropped and 1e-8 added inside both logarithms (reference note
  adt-official.md §1). It differs from the paper form by the constant ½·log 2π + log ε except where
  σ < ~1e-6 or tanh²u rounds to 1, where the 1e-8 terms bound it.

(How the per-coordinate terms are *reduced* — summed over the d coordinates as Eq. (11) is printed, or averaged
as the official code does — is the training objective's choice: ``advdist.samplers.explicit``.)

:func:`max_entropy` gives the largest entropy per coordinate any tanh-Gaussian reaches (μ = 0, σ ≈ 0.874; for
ε = 0.1 it is −1.6189 nats, a little below the uniform density's log 2ε = −1.6094): a fitted distribution whose
σ sits there ignores the loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Distribution, constraints
from torch.distributions.utils import broadcast_all

from advdist.validate import choice

FORMS = ("paper", "code")
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG2 = math.log(2.0)


def max_entropy(eps: float) -> tuple[float, float]:
    """``(h_max, sigma_star)``: the largest entropy per coordinate of δ = ε·tanh(u), u ~ N(μ, σ²) (ADT Eq. 8, 11,
    all constants kept), and the σ that reaches it (μ = 0).

    H(σ) = ½·log(2πeσ²) + log ε + E_r[log(1 − tanh²(σr))], r ~ N(0, 1), by 200-point Gauss–Hermite quadrature,
    maximised over log σ (bounded scalar search). h_max − log ε does not depend on ε; σ* ≈ 0.874.
    """
    import numpy as np
    from scipy.optimize import minimize_scalar

    eps = float(eps)
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / weights.sum()

    def entropy(log_sigma: float) -> float:
        u = np.abs(math.exp(log_sigma) * nodes)
        log_jac = 2.0 * (_LOG2 - u - np.log1p(np.exp(-2.0 * u)))
        return 0.5 * math.log(2 * math.pi * math.e) + log_sigma + math.log(eps) + float((weights * log_jac).sum())

    res = minimize_scalar(lambda v: -entropy(v), bounds=(-5.0, 5.0), method="bounded",
                          options={"xatol": 1e-9})
    return -float(res.fun), math.exp(float(res.x))


def safe_log(scale: torch.Tensor) -> torch.Tensor:
    """log σ with σ floored at the dtype's smallest normal number: identical to ``torch.log`` for every σ that is
    representable as a normal float, and finite (≈ −87 in float32) where softplus has underflowed to 0 — which
    happens to EXP-AM's σ without an entropy term (λ = 0): the distribution collapses to a point, and its logged
    entropy must stay a (very negative) number, not −inf (a non-finite log would stop training as diverged)."""
    return torch.log(scale.clamp_min(torch.finfo(scale.dtype).tiny))


def log_one_minus_tanh_sq(u: torch.Tensor) -> torch.Tensor:
    """log(1 − tanh²u) = log sech²u = 2·(log 2 − |u| − softplus(−2|u|)), finite for every u (ADT Eq. 11 term)."""
    a = u.abs()
    return 2.0 * (_LOG2 - a - F.softplus(-2.0 * a))


class TanhGaussian(Distribution):
    """δ = ε·tanh(u), u ~ N(loc, scale²) independently per coordinate — ADT Sec. 3.1, Eq. (8).

    ``loc`` (μ) and ``scale`` (σ > 0) broadcast to the batch shape; ``eps`` is the ℓ∞ budget ε. Sampling is
    reparameterised (:meth:`rsample`, or :meth:`rsample_from` with caller-supplied standard-normal noise r, the
    form used in ADT Eq. (10)). :meth:`log_prob` is the exact log-density of Eq. (11) given δ alone;
    :meth:`neg_log_prob_from_noise` / :meth:`entropy_estimate` give the same quantity for reparameterised
    samples from their noise r (stable for any u, and with the official code's constant-free ``form="code"``).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    has_rsample = True

    def __init__(self, loc, scale, eps: float, validate_args=None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        eps = float(eps)
        if not (eps > 0 and math.isfinite(eps)):
            raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
        self.eps = eps
        super().__init__(self.loc.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(-self.eps, self.eps)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(TanhGaussian, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.eps = self.eps
        super(TanhGaussian, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    # -- sampling (Eq. 8, reparameterised as in Eq. 10) --------------------------------------------
    def rsample_from(self, r: torch.Tensor) -> torch.Tensor:
        """δ = ε·tanh(μ + σ·r) for given standard-normal noise ``r`` (shape ``sample_shape + batch_shape``)."""
        return self.eps * torch.tanh(self.loc + self.scale * r)

    def rsample(self, sample_shape=torch.Size()) -> torch.Tensor:
        """Reparameterised sample: draws r ~ N(0, I) from torch's global RNG, returns :meth:`rsample_from` (r)."""
        shape = self._extended_shape(sample_shape)
        r = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.rsample_from(r)

    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        """A sample without gradient to ``loc``/``scale`` (same RNG draws as :meth:`rsample`)."""
        with torch.no_grad():
            return self.rsample(sample_shape)

    # -- densities (Eq. 11) --------------------------------------------------------------------------
    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Exact per-coordinate log-density of δ (ADT Eq. 11 / App. B.2), from δ alone.

        log p(δ) = log N(atanh(δ/ε); μ, σ²) − log ε − log(1 − (δ/ε)²). Near ±ε, δ/ε is clipped to
        ±(1 − machine epsilon of the dtype), so ``log_prob(±ε)`` is large but finite (a float32 sample with
        |u| ≳ 9 rounds to exactly ±ε); ``log(1 − z²)`` is computed as ``log1p(−z) + log1p(z)``.
        """
        if self._validate_args:
            self._validate_sample(value)
        z = value / self.eps
        lim = 1.0 - torch.finfo(z.dtype).eps
        z = z.clamp(-lim, lim)
        u = torch.atanh(z)
        r = (u - self.loc) / self.scale
        log_normal = -0.5 * r ** 2 - safe_log(self.scale) - _HALF_LOG_2PI
        return log_normal - math.log(self.eps) - (torch.log1p(-z) + torch.log1p(z))

    def neg_log_prob_from_noise(self, r: torch.Tensor, form: str = "paper") -> torch.Tensor:
        """−log p(δ) per coordinate for the reparameterised sample δ = ε·tanh(μ + σr) (ADT Eq. 11).

        ``form="paper"``: Eq. (11) with every constant, stable for any u = μ + σr. ``form="code"``: the official
        code's ``r²/2 + log(σ + 1e-8) + log(1 − tanh²u + 1e-8)`` (constants dropped). Differentiable in μ, σ.
        """
        choice("entropy form", form, FORMS)
        u = self.loc + self.scale * r
        if form == "paper":
            return (0.5 * r ** 2 + _HALF_LOG_2PI + safe_log(self.scale) + log_one_minus_tanh_sq(u)
                    + math.log(self.eps))
        t = torch.tanh(u)
        return 0.5 * r ** 2 + torch.log(self.scale + 1e-8) + torch.log(1.0 - t ** 2 + 1e-8)

    def entropy_estimate(self, r: torch.Tensor, form: str = "paper") -> torch.Tensor:
        """Monte-Carlo entropy per coordinate, H ≈ mean_s −log p(δ(r_s)) (ADT Eq. 10's entropy term, Eq. 11).

        ``r`` has shape ``sample_shape + batch_shape``; the mean runs over the leading sample dimensions, so the
        result has the batch shape. Sum over an example's coordinates for the entropy of its joint distribution
        (the coordinates are independent). Unbiased for ``form="paper"``; ``form="code"`` is the code's
        constant-free version (entropy − ½·log 2π − log ε).
        """
        nlp = self.neg_log_prob_from_noise(r, form)
        n_sample = nlp.dim() - len(self.batch_shape)
        return nlp.mean(dim=tuple(range(n_sample))) if n_sample > 0 else nlp

    def __repr__(self) -> str:
        return f"TanhGaussian(batch_shape={tuple(self.batch_shape)}, eps={self.eps:g})"
