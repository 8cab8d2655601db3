"""Randomized-smoothing certification (Cohen, Rosenfeld & Kolter, ICML 2019, Alg. "CERTIFY"), ATENT Table 5.

The smoothed classifier g(x) = argmax_c P(f(x + δ) = c), δ ~ N(0, σ²I) (ATENT Eq. 11). CERTIFY draws n0 noisy
copies to guess ĉ_A, then n fresh copies; with n_A the count of ĉ_A, p_A is lower-bounded by the one-sided
(1 − α) Clopper–Pearson bound p̲_A = Beta(α; n_A, n − n_A + 1) quantile (= ``proportion_confint(n_A, n,
alpha=2α, method="beta")[0]`` of the official code). If p̲_A < 1/2 it abstains; otherwise it certifies ĉ_A with
ℓ2 radius R = σ·Φ⁻¹(p̲_A) (Cohen et al. Thm. 1). Noise is added in [0, 1] pixel space (normalisation, if any,
lives inside the model, as in Cohen's code); the model is put in eval mode. ATENT Table 5: σ = 0.12, n0 = 100,
n = 100 000, α = 0.001.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import beta as beta_dist
from scipy.stats import norm as normal_dist
from torch import nn

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
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            c = num_classes or model(x[:1]).shape[1]
        guess = _counts(model, x, n0, sigma, batch, c).argmax(1)
        counts = _counts(model, x, n, sigma, batch, c).gather(1, guess[:, None]).squeeze(1)
    finally:
        model.train(was)
    p_lo = clopper_pearson_lower(counts.cpu().numpy(), n, alpha)
    certified = p_lo >= 0.5
    radius = np.where(certified, sigma * normal_dist.ppf(np.clip(p_lo, 0.5, 1.0)), 0.0)
    pred = torch.where(torch.as_tensor(certified, device=guess.device), guess, torch.full_like(guess, ABSTAIN))
    return Certificate(prediction=pred, radius=torch.as_tensor(radius, dtype=torch.float32, device=guess.device),
                       p_lower=torch.as_tensor(p_lo, dtype=torch.float64), counts=counts)


#: certification budget per scale: (n0, n, examples certified); paper = Cohen et al.'s protocol (500 CIFAR images)
CERTIFY_BUDGET = {"smoke": (32, 400, 40), "mini": (100, 100_000, 100), "paper": (100, 100_000, 500)}


def max_radius(sigma: float, n: int, alpha: float = 0.001) -> float:
    """Largest radius CERTIFY can return with n draws: σ·Φ⁻¹(α^{1/n}) (all n draws agree; Cohen et al. Thm. 1)."""
    return float(sigma * normal_dist.ppf(clopper_pearson_lower(n, n, alpha)))


def smoothing_rows(sigma: float = 0.12, step_ratio: float = 0.2) -> dict[str, tuple[str, dict]]:
    """ATENT Table 5's trained rows: TRADES, and ℓ2-ATENT with its noise tuned so that the Langevin noise
    √(2η')·ε has standard deviation σ (App. A.2: η' = 0.02 ≈ 0.2·ε2 with K = 10, ε = σ/√(2η'))."""
    return {"trades": ("trades", {}),
            "atent_l2": ("atent_l2", {"steps": 10, "step_ratio": step_ratio, "noise_std": sigma})}


def certified_table(scale: str, *, sigma: float = 0.12, radii=(0.0, 0.435), setting: str = "atent-cifar10-l2",
                    device: str = "auto", seed: int = 0, budget: tuple[int, int, int] | None = None,
                    alpha: float = 0.001, batch: int = 1000, progress: bool = False):
    """ATENT Table 5: certified accuracy (%) at ``radii`` of the smoothed rows of :func:`smoothing_rows`, trained in
    ``setting`` at ``scale`` (the run store caches them), certified with CERTIFY on a stratified test subset."""
    import pandas as pd

    from advdist import config, data, store
    from advdist.experiments import eval_subset

    n0, n, n_ex = budget or CERTIFY_BUDGET[scale]
    out = []
    for label, (method, kw) in smoothing_rows(sigma).items():
        kw = dict(kw)
        if "noise_std" in kw:  # ε = σ / √(2η'), η' = step_ratio·ε2 of the setting
            eps = config.resolve(scale, setting, method=method).eps
            kw["noise"] = kw.pop("noise_std") / math.sqrt(2 * kw["step_ratio"] * eps)
        cfg = config.resolve(scale, setting, method=method, seed=seed, method_kwargs=kw)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        model, _ = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
        x, y = eval_subset(splits, scale, n_ex)
        dev = next(model.parameters()).device
        torch.manual_seed(seed)
        cert = certify(model, x.to(dev), sigma=sigma, n0=n0, n=n, alpha=alpha, batch=batch)
        acc = cert.certified_accuracy(y.to(dev), radii)
        out.append({"model": label, **{f"r={r:g}": 100 * a for r, a in zip(radii, acc)},
                    "abstain": 100 * float((cert.prediction == ABSTAIN).float().mean()), "n": len(y)})
    return pd.DataFrame(out)
