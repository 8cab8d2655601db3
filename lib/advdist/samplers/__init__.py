"""Adversarial distributions, used both to train (``advdist.methods``) and as attacks (ADT Table 4).

- :mod:`~advdist.samplers.tanh_gaussian` — :class:`TanhGaussian`, ADT's explicit distribution δ = ε·tanh(u),
  u ~ N(μ, σ²) (ADT Eq. 8), with its exact log-density (Eq. 11).
- :mod:`~advdist.samplers.explicit` — :func:`fit_explicit`, the per-example inner maximisation of ADT_EXP
  (Eq. 9-10, Alg. 2), and the EXP attack built on it (:func:`explicit_attack`, :func:`explicit_samples`,
  :func:`explicit_robust`; ADT Sec. 5.3, Table 4, App. D.3 Fig. 6).
"""

from .explicit import (
    ENTROPIES,
    INIT_SCALE_CODE,
    INIT_SCALE_DEV,
    ExplicitFit,
    Objective,
    check_entropy,
    explicit_attack,
    explicit_objective,
    explicit_robust,
    explicit_samples,
    fit_explicit,
    sample_adversarial,
)
from .langevin import ema_weights, langevin_attack, langevin_chain, ou_stationary  # ATENT Eq. 9, 14; Alg. 1-2
from .tanh_gaussian import TanhGaussian, log_one_minus_tanh_sq, max_entropy

__all__ = [
    "TanhGaussian", "log_one_minus_tanh_sq", "max_entropy", "ENTROPIES", "check_entropy",
    "fit_explicit", "explicit_objective", "explicit_samples", "explicit_attack", "explicit_robust",
    "sample_adversarial", "ExplicitFit", "Objective", "INIT_SCALE_CODE", "INIT_SCALE_DEV",
    "ema_weights", "langevin_attack", "langevin_chain", "ou_stationary",
]
