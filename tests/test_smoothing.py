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


# ---- ATENT Table 5's trained rows (issue 15) ------------------------------------------------------------------------
def _l2_cfg(method, **kw):
    from advdist import config

    return config.resolve("smoke", "atent-cifar10-smooth", method=method, method_kwargs=kw)


def _mlp(seed=0):
    from advdist import models

    torch.manual_seed(seed)
    return models.build("mlp", num_classes=10, in_channels=1, hidden=(32,), input_shape=(1, 8, 8))


@pytest.fixture(scope="module")
def digits():
    from advdist import data

    return data.load("digits")


def test_trades_smooth_with_zero_noise_is_trades(digits):
    """σ = 0: TRADES smoothing is TRADES (same inner maximiser, same loss) — Blum et al.'s special case."""
    from advdist.methods import build

    x, y = digits.x_train[:48], digits.y_train[:48]
    model = _mlp()
    smooth = build("trades_smooth", _l2_cfg("trades_smooth", noise_sd=0.0), model)
    plain = build("trades", _l2_cfg("trades", alpha_ratio=0.2), model)
    torch.manual_seed(7)
    a, _ = smooth.loss(model, x, y)
    torch.manual_seed(7)
    torch.randn_like(x)  # the noise draw TRADES smoothing makes first (σ = 0 scales it away)
    b, _ = plain.loss(model, x, y)
    assert torch.allclose(a, b, atol=1e-6)


def test_trades_smooth_shares_one_noise_draw_and_maximises_the_noisy_kl(digits):
    """loss = CE(f(x + η), y) + β·KL(p(x + η) ‖ p(x' + η)) with one η for both inputs; x' stays in the ℓ2 ball and
    [0, 1] and raises that KL above the start's."""
    from advdist.methods import build
    from advdist.methods.trades import kl_div
    from advdist.methods.trades_smooth import trades_smooth_adversarial

    x, y = digits.x_train[:48], digits.y_train[:48]
    model = _mlp(1)
    cfg = _l2_cfg("trades_smooth", beta=3.0)
    method = build("trades_smooth", cfg, model)
    eta = 0.12 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    method.noise = lambda xb: eta
    torch.manual_seed(3)
    loss, logs = method.loss(model, x, y)
    torch.manual_seed(3)
    x_adv = trades_smooth_adversarial(model, x, eta, eps=cfg.eps, alpha=0.2 * cfg.eps, steps=10, norm="l2")
    with torch.no_grad():
        ln, la = model(x + eta), model(x_adv + eta)
        expect = torch.nn.functional.cross_entropy(ln, y) + 3.0 * kl_div(ln, la)
        kl_start = kl_div(ln, model(x + 0.001 * torch.randn_like(x) + eta))
    assert torch.allclose(loss.detach(), expect, atol=1e-5)
    assert kl_div(ln, la) > 10 * kl_start
    assert ((x_adv - x).flatten(1).norm(dim=1) <= cfg.eps + 1e-5).all() and x_adv.min() >= 0 and x_adv.max() <= 1
    with pytest.raises(ValueError, match="noise_sd"):
        build("trades_smooth", _l2_cfg("trades_smooth", noise_sd=-1.0), model)


def test_table5_rows_are_the_papers_smoothing_setting():
    """ATENT App. A.2: K = 10, η' = 0.02, γ = 0.05 with the code's pull, √(2η')·ε = σ; TRADES (smooth) at σ; the setting
    trains at ε₂ = 0.435 at every scale; the radii are the paper's."""
    import math

    from advdist import config
    from advdist.analysis import smoothing as S

    rows = S.smoothing_rows(0.12, 0.435)
    assert set(rows) == {"trades_smooth", "atent_l2"} and rows["trades_smooth"] == ("trades_smooth", {"noise_sd": 0.12})
    kw = rows["atent_l2"][1]
    eta = kw["step_ratio"] * 0.435
    assert eta == pytest.approx(0.02) and kw["steps"] == 10 and kw["gamma"] == 0.05 and kw["pull"] == "code"
    assert math.sqrt(2 * eta) * kw["noise"] == pytest.approx(0.12)
    assert kw["noise"] == pytest.approx(0.6)
    assert eta / kw["gamma"] == pytest.approx(0.4)  # where the code's pull settles the chain: ≈ ε₂
    for scale in ("smoke", "mini", "paper"):
        cfg = config.resolve(scale, S.SETTING, method="atent_l2", method_kwargs=kw)
        assert cfg.eps == 0.435 and cfg.norm == "l2" and cfg.method_kwargs["step_ratio"] == kw["step_ratio"]
    assert config.resolve("paper", S.SETTING).model == "resnet-20" and S.RADII == (0.0, 0.435)
