"""Randomized-smoothing certification (Cohen, Rosenfeld & Kolter, ICML 2019, Alg. "CERTIFY"), ATENT Table 5.

The smoothed classifier g(x) = argmax_c P(f(x + δ) = c), δ ~ N(0, σ²I) (ATENT Eq. 11). CERTIFY draws n0 noisy
copies to guess ĉ_A, then n fresh copies; with n_A the count of ĉ_A, p_A is lower-bounded by the one-sided
(1 − α) Clopper–Pearson bound p̲_A = Beta(α; n_A, n − n_A + 1) quantile (= ``proportion_confint(n_A, n,
alpha=2α, method="beta")[0]`` of the official code). If p̲_A < 1/2 it abstains; otherwise it certifies ĉ_A with
ℓ2 radius R = σ·Φ⁻¹(p̲_A) (Cohen et al. Thm. 1). Noise is added in [0, 1] pixel space (normalisation, if any,
lives inside the model, as in Cohen's code); the model is put in eval mode. ATENT Table 5: σ = 0.12, n0 = 100,
n = 100 000, α = 0.001, radii 0 and 0.435; its trained rows (:func:`smoothing_rows`) are "TRADES (smooth)" and
ℓ2-ATENT in the paper's smoothing setting (trained and certified by :func:`advdist.experiments.atent.certified_table`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import beta as beta_dist, norm as normal_dist
from torch import nn

from advdist.runtime import eval_mode

ABSTAIN = -1


def clopper_pearson_lower(n_a, n, alpha: float) -> np.ndarray:
    """One-sided (1 − α) Clopper–Pearson lower bound on a binomial proportion (0 when n_A = 0)."""
    n_a = np.asarray(n_a, dtype=float)
    with np.errstate(invalid="ignore"):
        lo = beta_dist.ppf(alpha, n_a, n - n_a + 1)
    return np.where(n_a > 0, lo, 0.0)


@dataclass
class Certificate:
    """Per example: ``prediction`` (class, or ``ABSTAIN`` = −1), ``radius`` (0 when abstaining),
    ``p_lower`` (Clopper–Pearson bound), ``counts`` (n_A)."""

    prediction: torch.Tensor
    radius: torch.Tensor
    p_lower: torch.Tensor
    counts: torch.Tensor

    def certified_accuracy(self, y: torch.Tensor, radii) -> list[float]:
        """Fraction of examples predicted correctly with certified radius ≥ r, for each r (Cohen et al. Fig. 1)."""
        ok = self.prediction == y
        return [float((ok & (self.radius >= r)).float().mean()) for r in radii]


@torch.no_grad()
def _counts(model: nn.Module, x: torch.Tensor, num: int, sigma: float, batch: int, num_classes: int) -> torch.Tensor:
    """Class counts of f(x_i + σ·N(0, I)) over ``num`` draws per example, batched over (examples × draws)."""
    out = torch.zeros(len(x), num_classes, dtype=torch.long, device=x.device)
    per = max(1, batch // max(1, len(x)))  # draws per example in one forward pass when few examples
    left = num
    while left > 0:
        m = min(per, left)
        xs = x.repeat_interleave(m, 0) if m > 1 else x
        chunks = []
        for i in range(0, len(xs), batch):
            xb = xs[i:i + batch]
            chunks.append(model(xb + sigma * torch.randn_like(xb)).argmax(1))
        pred = torch.cat(chunks).view(len(x), m)
        out += torch.nn.functional.one_hot(pred, num_classes).sum(1)
        left -= m
    return out


def certify(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, sigma: float, n0: int = 100,
            n: int = 100_000, alpha: float = 0.001, batch: int = 1000, num_classes: int | None = None) -> Certificate:
    """Cohen et al. (2019) CERTIFY for every row of ``x``; returns a :class:`Certificate` (ATENT Table 5).

    ``y`` is not used by the procedure (it is accepted so the call reads like the other evaluations); score
    with :meth:`Certificate.certified_accuracy`. Noise draws run ``batch`` images per forward pass.
    """
    with eval_mode(model):
        with torch.no_grad():
            c = num_classes or model(x[:1]).shape[1]
        guess = _counts(model, x, n0, sigma, batch, c).argmax(1)
        counts = _counts(model, x, n, sigma, batch, c).gather(1, guess[:, None]).squeeze(1)
    p_lo = clopper_pearson_lower(counts.cpu().numpy(), n, alpha)
    certified = p_lo >= 0.5
    radius = np.where(certified, sigma * normal_dist.ppf(np.clip(p_lo, 0.5, 1.0)), 0.0)
    pred = torch.where(torch.as_tensor(certified, device=guess.device), guess, torch.full_like(guess, ABSTAIN))
    return Certificate(prediction=pred, radius=torch.as_tensor(radius, dtype=torch.float32, device=guess.device),
                       p_lower=torch.as_tensor(p_lo, dtype=torch.float64), counts=counts)


#: the ℓ2 radii of ATENT Table 5: 0 (clean accuracy of the smoothed classifier) and 0.435 (= ℓ∞ 2/255 on CIFAR-10)
RADII = (0.0, 0.435)
#: the config setting of ATENT Table 5's trained rows (ResNet-20, CIFAR-10, ℓ2 ε₂ = 0.435; config.SETTINGS)
SETTING = "atent-cifar10-smooth"
#: ATENT App. A.2 smoothing setting of ℓ2-ATENT: K = 10 Langevin steps of η' = 0.02, γ = 0.05
ATENT_SMOOTH = {"steps": 10, "step": 0.02, "gamma": 0.05}


def max_radius(sigma: float, n: int, alpha: float = 0.001) -> float:
    """Largest radius CERTIFY can return with n draws: σ·Φ⁻¹(α^{1/n}) (all n draws agree; Cohen et al. Thm. 1)."""
    return float(sigma * normal_dist.ppf(clopper_pearson_lower(n, n, alpha)))


def smoothing_rows(sigma: float = 0.12, eps: float = 0.435) -> dict[str, tuple[str, dict]]:
    """ATENT Table 5's trained rows at training budget ε₂ = ``eps`` (the setting's ε), as (method, method_kwargs):

    - ``trades_smooth``: "TRADES (smooth)" (ATENT Table 4: ε₂ = 0.435, σ = 0.12; Blum et al. 2020's TRADES on inputs
      with Gaussian noise of std σ, :mod:`advdist.methods.trades_smooth`);
    - ``atent_l2``: ℓ2-ATENT in its smoothing setting (App. A.2): K = 10, η' = 0.02, γ = 0.05, and the Langevin
      noise scale ε chosen so that √(2η')·ε = σ, i.e. ε = σ/√(2η') = 0.12/√0.04 = 0.6. The pull is the code's
      γ·(x − x'): with it the chain settles where the unit gradient step η' balances γ·d, at d = η'/γ = 0.4 ≈ ε₂
      (App. A.2: "γ such that ‖X'^K − X‖ ≈ ε₂"); with Eq. 9's η'·γ·(x − x') it would settle at 1/γ = 20
      (:class:`advdist.methods.atent.ATENTL2`). ``step_ratio`` = η'/ε₂ = 0.02/0.435 = 0.046.
    """
    step = ATENT_SMOOTH["step"]
    return {"trades_smooth": ("trades_smooth", {"noise_sd": sigma}),
            "atent_l2": ("atent_l2", {"steps": ATENT_SMOOTH["steps"], "step_ratio": step / eps,
                                      "gamma": ATENT_SMOOTH["gamma"], "pull": "code",
                                      "noise": sigma / math.sqrt(2 * step)})}
