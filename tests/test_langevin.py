"""ATENT's Langevin sampler (ATENT Eq. 9, 14; Alg. 1-2): stationary law, projection, drift, EMA weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advdist.samplers import ema_weights, langevin_attack, langevin_chain, ou_stationary

pytestmark = pytest.mark.usefixtures("one_thread")


class Linear(torch.nn.Module):
    def __init__(self, d=16, c=3, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(d, c, generator=g))

    def forward(self, x):
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("pull", ["paper", "code"])
def test_l2_chain_without_loss_has_the_gaussian_stationary_mean_and_variance(pull):
    torch.manual_seed(0)
    x = torch.rand(400, 50) * 3.0                       # unbounded: clamp=None
    eta, noise, gamma = 0.1, 0.5, (1.0 if pull == "paper" else 0.1)
    xs = langevin_chain(Linear(50), x, torch.zeros(400, dtype=torch.long), norm="l2", steps=400, step_size=eta,
                        noise=noise, gamma=gamma, radius=1.0, init="none", pull=pull, clamp=None, use_loss=False)
    z = torch.stack(xs[200::20]) - x                    # thinned samples after burn-in
    _, var = ou_stationary(eta, noise, gamma, pull)
    c = eta * gamma if pull == "paper" else gamma       # AR(1) coefficient 1 − c, by hand
    assert var == pytest.approx(2 * eta * noise ** 2 / (1 - (1 - c) ** 2))
    assert z.mean().item() == pytest.approx(0.0, abs=0.01)
    assert z.var().item() == pytest.approx(var, rel=0.04)
    # small-step limit: the Gibbs density exp(−γ‖z‖²/(2ε²)) of ATENT Eq. 4 at temperature ε²
    assert ou_stationary(1e-4, noise, gamma)[1] == pytest.approx(noise ** 2 / gamma, rel=1e-3)


def test_linf_projection_keeps_the_last_sample_in_the_ball_only_when_asked():
    torch.manual_seed(1)
    model, x, y = Linear(16), torch.rand(64, 16), torch.randint(0, 3, (64,))
    eps = 0.1
    last = langevin_chain(model, x, y, norm="linf", steps=10, step_size=0.05, noise=0.1, radius=eps, projection="last")
    dev = [(s - x).abs().amax().item() for s in last]
    assert max(dev[:-1]) > eps + 0.05                   # unprojected steps leave the ball (10 × 0.05 sign steps)
    assert dev[-1] <= eps + 1e-6 and 0 <= last[-1].min() and last[-1].max() <= 1
    every = langevin_chain(model, x, y, norm="linf", steps=10, step_size=0.05, noise=0.1, radius=eps,
                           projection="every")
    assert all((s - x).abs().amax().item() <= eps + 1e-6 for s in every)
    adv = langevin_attack(model, x, y, eps=eps, alpha=0.05, steps=5, batch_size=16)
    assert (adv - x).abs().amax() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1


def test_one_noiseless_step_is_the_steepest_ascent_step_or_the_raw_gradient():
    model, x, y = Linear(16), torch.rand(8, 16) * 0.5 + 0.25, torch.randint(0, 3, (8,))
    xg = x.clone().requires_grad_(True)
    g = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)[0]
    (s,) = langevin_chain(model, x, y, norm="linf", steps=1, step_size=0.01, noise=0.0, radius=0.3, init="none",
                          projection="never")
    torch.testing.assert_close(s, x + 0.01 * g.sign())
    (s,) = langevin_chain(model, x, y, norm="l2", steps=1, step_size=0.2, noise=0.0, gamma=0.0, radius=1.0,
                          init="none")
    torch.testing.assert_close(s, x + 0.2 * g / g.norm(dim=1, keepdim=True))
    (s,) = langevin_chain(model, x, y, norm="l2", steps=1, step_size=0.01, noise=0.0, radius=1.0, init="none",
                          direction="raw")
    torch.testing.assert_close(s, x + 0.01 * g)


def test_l2_pull_term_paper_vs_code():
    model, y = Linear(4), torch.zeros(2, dtype=torch.long)
    x = torch.full((2, 4), 0.5)
    start = torch.full((2, 4), 0.9)

    def one(pull):
        # a chain whose first point is `start`: zero loss gradient (use_loss=False), no noise
        import advdist.samplers.langevin as L
        orig = L._init
        L._init = lambda x_, *a: start.clone()
        try:
            return langevin_chain(model, x, y, norm="l2", steps=1, step_size=0.5, noise=0.0, gamma=0.2, radius=1.0,
                                  pull=pull, use_loss=False)[0]
        finally:
            L._init = orig

    torch.testing.assert_close(one("paper"), start + 0.5 * 0.2 * (x - start))
    torch.testing.assert_close(one("code"), start + 0.2 * (x - start))


def test_ema_weights_match_the_recursion_and_closed_form():
    K, a = 7, 0.9
    mu = torch.zeros(K)
    for k in range(K):                                   # μ ← (1 − α)μ + α·e_k, ATENT Alg. 1 line 10
        mu = (1 - a) * mu + a * torch.eye(K)[k]
    torch.testing.assert_close(ema_weights(K, a), mu)
    assert ema_weights(K, a)[-1].item() == pytest.approx(0.9) and ema_weights(K, a)[-2].item() == pytest.approx(0.09)
    assert ema_weights(K, a).sum().item() == pytest.approx(1 - 0.1 ** K)


def test_inits_and_bad_options():
    torch.manual_seed(0)
    x = torch.full((32, 100), 0.5)
    import advdist.samplers.langevin as L
    corner = L._init(x, "corner", "linf", 0.1)
    torch.testing.assert_close((corner - x).abs(), torch.full_like(x, 0.1))
    sphere = L._init(x, "sphere", "l2", 0.5)
    torch.testing.assert_close((sphere - x).norm(dim=1), torch.full((32,), 0.5))
    normal = L._init(x, "normal", "l2", 0.5)
    assert (normal - x).norm(dim=1).mean().item() == pytest.approx(0.5, rel=0.1)
    assert (L._init(x, "normal", "linf", 0.1) - x).abs().max() <= 0.1 + 1e-6
    with pytest.raises(ValueError, match="unknown projection 'first'; valid: last, every, never"):
        langevin_chain(Linear(100), x, torch.zeros(32, dtype=torch.long), projection="first")


# ---------------------------------------------------------------------------------------------- ATENT Fig. 2 (1-D)
def test_1d_langevin_samples_follow_the_assumption_2_density():
    from advdist.analysis.gibbs1d import example_loss, gibbs_density, langevin_1d

    grid = torch.linspace(-0.6, 1.4, 4001, dtype=torch.float64)
    for gamma in (100.0, 25.0):
        p = gibbs_density(example_loss, 0.4, gamma, grid)
        mean = torch.trapezoid(p * grid, grid)
        var = torch.trapezoid(p * (grid - mean) ** 2, grid)
        s = langevin_1d(example_loss, 0.4, gamma=gamma, step=2e-4, steps=3000, chains=1000, burn_in=1000, thin=20)
        assert s.mean().item() == pytest.approx(mean.item(), abs=0.01)
        assert s.var().item() == pytest.approx(var.item(), rel=0.1)
    # the bump right of x = 0.4 pulls the samples (and the Eq. 5 loss) towards high loss: mean > x
    assert mean.item() > 0.45
    # no loss term: the Gaussian N(x, 1/γ) exactly
    flat = gibbs_density(lambda t: 0 * t, 0.4, 25.0, grid)
    assert torch.trapezoid(flat * (grid - 0.4) ** 2, grid).item() == pytest.approx(1 / 25, rel=1e-4)
