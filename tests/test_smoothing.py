"""Randomized-smoothing CERTIFY (Cohen et al. 2019; ATENT Table 5): exact Clopper–Pearson, abstention, radius."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, norm

from advdist.analysis import certify, clopper_pearson_lower

pytestmark = pytest.mark.usefixtures("one_thread")


class Threshold(torch.nn.Module):
    """Class 1 iff x₀ > 0 (2 classes): P(f(x + σN) = 1) = Φ(x₀/σ) exactly."""

    def forward(self, x):
        s = x[:, :1] * 1e3
        return torch.cat([-s, s], 1)


@pytest.mark.parametrize("k,n", [(0, 50), (7, 50), (50, 50), (990, 1000), (512, 1000)])
def test_clopper_pearson_lower_bound_is_exact(k, n):
    alpha = 0.001
    lo = float(clopper_pearson_lower(k, n, alpha))
    # the exact one-sided bound: the p at which P(Bin(n, p) >= k) = α (scipy's two-sided CI at level 1 − 2α)
    ref = binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact").low if k else 0.0
    assert lo == pytest.approx(ref, abs=1e-9)
    if 0 < k:
        from scipy.stats import binom
        assert binom.sf(k - 1, n, lo) == pytest.approx(alpha, rel=1e-6)


def test_certify_radius_and_abstention():
    torch.manual_seed(0)
    sigma, n = 0.5, 2000
    x = torch.tensor([[1.0, 0.0], [-1.5, 0.0], [0.01, 0.0]])
    cert = certify(Threshold(), x, sigma=sigma, n0=100, n=n, alpha=0.001, batch=500)
    counts = cert.counts.numpy()
    lo = clopper_pearson_lower(counts, n, 0.001)
    np.testing.assert_allclose(cert.p_lower.numpy(), lo)
    for i in range(3):
        if lo[i] < 0.5:                                     # abstain exactly when the bound is below 1/2
            assert cert.prediction[i] == -1 and cert.radius[i] == 0
        else:
            assert cert.radius[i].item() == pytest.approx(sigma * norm.ppf(lo[i]), rel=1e-5)
    assert cert.prediction.tolist()[:2] == [1, 0] and cert.prediction[2] == -1    # x₀ = 0.01: p ≈ 0.51
    # the true p_A = Φ(|x₀|/σ): the count is binomial around it and the radius below σ·|x₀|/σ = |x₀|
    assert counts[0] / n == pytest.approx(norm.cdf(1.0 / sigma), abs=0.02)
    assert 0 < cert.radius[0] < 1.0 and 0 < cert.radius[1] < 1.5
    # radii ≈ 0.5·Φ⁻¹(0.96) ≈ 0.9 and 0.5·Φ⁻¹(0.995) ≈ 1.3
    assert cert.certified_accuracy(torch.tensor([1, 0, 1]), [0.0, 0.5, 1.1, 2.0]) == pytest.approx(
        [2 / 3, 2 / 3, 1 / 3, 0.0])


def test_abstains_exactly_at_the_half_threshold(monkeypatch):
    import advdist.analysis.smoothing as S
    n, alpha = 1000, 0.001
    k_star = next(k for k in range(n + 1) if clopper_pearson_lower(k, n, alpha) >= 0.5)
    for k in (k_star - 1, k_star):
        # n0 draws all vote class 1; of the n draws, k vote class 1
        monkeypatch.setattr(S, "_counts", lambda model, x, num, *a, k=k: torch.tensor([[num - k, k]]) if num == n
                            else torch.tensor([[0, num]]))
        cert = S.certify(Threshold(), torch.zeros(1, 2), sigma=0.25, n0=10, n=n, alpha=alpha)
        assert (cert.prediction.item() == -1) == (k == k_star - 1)


def test_max_radius_is_the_all_agree_bound():
    from advdist.analysis.smoothing import max_radius
    assert max_radius(0.12, 1000, 0.001) == pytest.approx(0.12 * norm.ppf(0.001 ** (1 / 1000)), rel=1e-9)
    assert max_radius(0.12, 400) < 0.435 < max_radius(0.12, 100_000)
