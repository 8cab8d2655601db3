"""ADT baselines AT_FGSM, ALP, TRADES and Feature Scattering: each does what its paper says.

Checked against independent computations (autograd by hand, ``advdist.attacks.pgd``, torch's KL and
label-smoothed CE, ``scipy.optimize.linear_sum_assignment``), plus the reductions the papers state
(ALP β = 0 → 0.5/0.5 AT; TRADES β = 0 → clean CE) and trained-model robustness on the smoke scale.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from advdist import data, methods
from advdist.attacks import pgd
from advdist.attacks.core import project, random_start
from advdist.config import resolve
from advdist.methods.alp import logit_pairing
from advdist.methods.feature_scattering import (
    cosine_cost,
    ot_distance,
    scatter_perturb,
    sinkhorn,
    smooth_labels,
)
from advdist.methods.trades import kl_div, trades_adversarial
from advdist.store import get_or_train

pytestmark = pytest.mark.usefixtures("one_thread")

EPS = 0.2
BASELINES = ("at_fgsm", "alp", "trades", "feature_scattering")
EPOCHS = {"feature_scattering": 4}  # its 100 Sinkhorn iterations per batch make it the slowest here


@pytest.fixture(scope="module")
def trained(one_thread, tmp_path_factory):
    """Smoke models (digits, MLP, ε = 0.2) of Standard and the four baselines, trained once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADVDIST_RUNS", str(tmp_path_factory.mktemp("runs")))
        splits = data.load("digits")
        runs = {m: get_or_train(resolve("smoke", method=m, epochs=EPOCHS.get(m, 6), eps=EPS), progress=False,
                                splits=splits)
                for m in ("standard", *BASELINES)}
        yield splits, runs


@pytest.fixture(scope="module")
def batch(trained):
    splits, runs = trained
    model = runs["standard"][0]
    return model, splits.x_test[:64], splits.y_test[:64]


def _build(method, model, **kw):
    return methods.build(method, resolve("smoke", method=method, eps=EPS, method_kwargs=kw), model)


# ---------------------------------------------------------------------------------------------- registry
def test_registered_and_options_validated():
    assert set(BASELINES) <= set(methods.names())
    with pytest.raises(ValueError, match="unknown trades option 'betta'; valid: alpha_ratio, beta, start_std, steps"):
        _build("trades", torch.nn.Linear(2, 2), betta=1.0)
    with pytest.raises(ValueError, match="unknown pairing_reduction 'max'; valid: sum, mean"):
        _build("alp", torch.nn.Linear(2, 2), pairing_reduction="max")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        _build("feature_scattering", torch.nn.Linear(2, 2), label_smoothing=1.0)


# ---------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("method", BASELINES)
def test_training_lowers_the_methods_own_objective(trained, method):
    _, runs = trained
    log = runs[method][1].log
    loss = log["train_loss"].to_numpy()
    assert len(loss) == EPOCHS.get(method, 6) and np.isfinite(loss).all()
    assert loss[-1] < 0.97 * loss[0], loss
    assert (np.diff(loss) < 0).sum() >= len(loss) - 2, loss
    assert log["test_acc"].iloc[-1] > 0.7  # it learned the task, not just the regulariser


@pytest.mark.parametrize("method", BASELINES)
def test_one_sgd_step_lowers_the_objective_at_the_same_random_draws(trained, method):
    """Same seed before and after one small SGD step: the method's loss (inner max re-run) goes down."""
    splits, runs = trained
    model = runs["standard"][0].train()
    x, y = splits.x_train[:128], splits.y_train[:128]
    m = _build(method, model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        torch.manual_seed(11)
        before, logs = m.loss(model, x, y)
        assert all(math.isfinite(v) for v in logs.values())
        opt.zero_grad(set_to_none=True)
        before.backward()
        opt.step()
        torch.manual_seed(11)
        after, _ = m.loss(model, x, y)
        assert after.item() < before.item() - 1e-3, (before.item(), after.item())
    finally:
        model.load_state_dict(state)
        model.zero_grad(set_to_none=True)
        model.eval()


def test_trades_and_alp_are_more_robust_than_standard(trained):
    splits, runs = trained
    x, y = splits.x_test, splits.y_test
    robust = {}
    for m in ("standard", "trades", "alp"):
        model = runs[m][0]
        torch.manual_seed(0)
        x_adv = pgd(model, x, y, eps=EPS, alpha=0.05, steps=10)
        with torch.no_grad():
            robust[m] = (model(x_adv).argmax(1) == y).float().mean().item()
    assert robust["trades"] > robust["standard"] + 0.1, robust
    assert robust["alp"] > robust["standard"] + 0.1, robust


# ---------------------------------------------------------------------------------------------- AT_FGSM
def test_at_fgsm_examples_are_least_likely_targeted_fgsm_points(batch):
    model, x, y = batch
    m = _build("at_fgsm", model)
    model.train()
    x_adv = m.adversarial(model, x, y)
    assert model.training and all(p.grad is None and p.requires_grad for p in model.parameters())

    model.eval()  # independent: x − ε·sign(∇ₓ CE(f(x), argmin f(x))), clipped to [0, 1]
    xr = x.clone().requires_grad_(True)
    logits = model(xr)
    ll = logits.argmin(1)
    (g,) = torch.autograd.grad(F.cross_entropy(logits, ll, reduction="sum"), xr)
    expected = (x - EPS * g.sign()).clamp(0, 1)
    torch.testing.assert_close(x_adv, expected, rtol=0, atol=1e-6)
    assert (ll != y).all()
    with torch.no_grad():  # the step moved towards the least-likely class
        p0 = F.softmax(model(x), 1).gather(1, ll[:, None])
        p1 = F.softmax(model(x_adv), 1).gather(1, ll[:, None])
    assert (p1 > p0).float().mean() > 0.9

    model.train()
    loss, logs = m.loss(model, x, y)
    ref = 0.5 * F.cross_entropy(model(x), y) + 0.5 * F.cross_entropy(model(expected), y)
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    assert 0 <= logs["train_adv_acc"] <= 1
    model.eval()


# ---------------------------------------------------------------------------------------------- ALP
def test_alp_is_mixed_at_plus_logit_pairing(batch):
    model, x, y = batch
    model.train()
    torch.manual_seed(5)
    x_ref = pgd(model, x, y, eps=EPS, alpha=EPS / 4, steps=7, random_start=True, use_best=False)
    z, z_adv = model(x), model(x_ref)
    mixed_at = 0.5 * F.cross_entropy(z, y) + 0.5 * F.cross_entropy(z_adv, y)
    sq = ((z - z_adv) ** 2).sum(1).mean()
    for kw, ref in (({"beta": 0.0}, mixed_at),
                    ({}, mixed_at + 0.5 * sq),                                        # paper: β = 0.5, ‖·‖²
                    ({"beta": 6.0, "pairing_reduction": "mean"}, mixed_at + 6.0 * sq / z.shape[1])):  # ADT code
        torch.manual_seed(5)
        loss, logs = _build("alp", model, **kw).loss(model, x, y)
        torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(logs["logit_pairing"], sq.item() if not kw.get("pairing_reduction") else
                                   sq.item() / z.shape[1], rtol=1e-5, atol=1e-7)
    assert sq.item() > 0.01  # the pairing term is not vacuous here
    torch.testing.assert_close(logit_pairing(z, z_adv, "mean"), F.mse_loss(z, z_adv))
    model.eval()


# ---------------------------------------------------------------------------------------------- TRADES
def test_trades_beta_zero_is_clean_cross_entropy(batch):
    model, x, y = batch
    model.train()
    loss, _ = _build("trades", model, beta=0.0).loss(model, x, y)
    ref = F.cross_entropy(model(x), y)
    torch.testing.assert_close(loss, ref, rtol=0, atol=0)
    g = torch.autograd.grad(loss, list(model.parameters()))
    g_ref = torch.autograd.grad(ref, list(model.parameters()))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)
    model.eval()


def test_trades_loss_and_inner_maximisation(batch):
    model, x, y = batch
    model.train()
    torch.manual_seed(9)
    loss, logs = _build("trades", model).loss(model, x, y)
    torch.manual_seed(9)
    x_adv = trades_adversarial(model, x, eps=EPS, alpha=EPS * 0.007 / 0.031, steps=10)
    assert model.training
    z = model(x)
    kl_ref = F.kl_div(F.log_softmax(model(x_adv), 1), F.softmax(z, 1), reduction="batchmean")
    torch.testing.assert_close(kl_div(z, model(x_adv)), kl_ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(loss, F.cross_entropy(z, y) + 6.0 * kl_ref, rtol=1e-5, atol=1e-6)
    # the inner max stays in the ε-ball and [0, 1] and finds far larger KL than random corners of the ball
    assert (x_adv - x).abs().max() <= EPS + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        torch.manual_seed(1)
        corner = project(x + EPS * torch.randn_like(x).sign(), x, EPS)
        kl_adv, kl_rand = kl_div(z, model(x_adv)).item(), kl_div(z, model(corner)).item()
    assert kl_adv > 3 * kl_rand, (kl_adv, kl_rand)
    assert logs["train_kl"] == pytest.approx(kl_adv, rel=1e-4)
    model.eval()


# ---------------------------------------------------------------------------------------------- Sinkhorn
def test_sinkhorn_marginals_batched_rectangular_and_weighted():
    g = torch.Generator().manual_seed(0)
    cost = torch.rand(3, 7, 5, generator=g, dtype=torch.float64)
    plan = sinkhorn(cost, 0.05, 300)
    assert plan.shape == (3, 7, 5) and (plan >= 0).all()
    torch.testing.assert_close(plan.sum(-1), torch.full((3, 7), 1 / 7, dtype=torch.float64), rtol=0, atol=1e-4)
    torch.testing.assert_close(plan.sum(-2), torch.full((3, 5), 1 / 5, dtype=torch.float64), rtol=0, atol=1e-4)
    for i in range(3):  # batched = one problem at a time
        torch.testing.assert_close(plan[i], sinkhorn(cost[i], 0.05, 300))
    a = torch.rand(7, generator=g, dtype=torch.float64) + 0.1
    b = torch.rand(5, generator=g, dtype=torch.float64) + 0.1
    a, b = a / a.sum(), b / b.sum()
    plan = sinkhorn(cost[0], 0.05, 300, a=a, b=b)
    torch.testing.assert_close(plan.sum(1), a, rtol=0, atol=1e-4)
    torch.testing.assert_close(plan.sum(0), b, rtol=0, atol=1e-4)
    # the code's early stop gives the same plan once converged, in fewer iterations
    torch.testing.assert_close(sinkhorn(cost[0], 0.05, 300, tol=1e-12), sinkhorn(cost[0], 0.05, 300))


def _assignment_gap(c: np.ndarray) -> float:
    """Second-best minus best permutation cost (brute force; small n)."""
    totals = sorted(c[np.arange(len(c)), list(p)].sum() for p in itertools.permutations(range(len(c))))
    return totals[1] - totals[0]


def test_sinkhorn_tends_to_the_optimal_permutation_as_the_regulariser_shrinks():
    from scipy.optimize import linear_sum_assignment

    n, seed = 6, 0
    while True:  # a random cost whose optimal assignment is unique with a clear margin
        cost = torch.rand(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        if _assignment_gap(cost.numpy()) > 0.05:
            break
        seed += 1
    rows, cols = linear_sum_assignment(cost.numpy())
    perm = torch.zeros(n, n, dtype=torch.float64)
    perm[rows, cols] = 1.0 / n
    plans = [sinkhorn(cost, reg, 1000) for reg in (0.1, 0.02, 0.004)]
    errs = [(plan - perm).abs().max().item() * n for plan in plans]
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[0] > 0.1 and errs[2] < 1e-2, errs
    plan = plans[-1]
    assert (plan.argmax(1).numpy() == cols).all()
    assert (plan * cost).sum().item() == pytest.approx(cost.numpy()[rows, cols].mean(), abs=1e-3)


def test_sinkhorn_is_differentiable_in_the_cost():
    cost = torch.rand(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: sinkhorn(c, 0.3, 30), (cost,))
    (g,) = torch.autograd.grad((sinkhorn(cost, 0.3, 30) * cost).sum(), cost)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_cosine_cost():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 0.0], [-1.0, 0.0], [1.0, 1.0]])
    expected = torch.tensor([[0.0, 2.0, 1 - 2 ** -0.5], [1.0, 1.0, 1 - 2 ** -0.5]])
    torch.testing.assert_close(cosine_cost(a, b), expected)


# ---------------------------------------------------------------------------------------------- Feature Scattering
def test_scatter_perturbation_ascends_the_ot_distance_within_the_ball(batch):
    model, x, _ = batch
    eps = 0.1
    model.train()
    torch.manual_seed(4)
    x_fs = scatter_perturb(model, x, eps=eps)
    assert model.training and all(p.grad is None and p.requires_grad for p in model.parameters())
    assert (x_fs - x).abs().max() <= eps + 1e-6 and x_fs.min() >= 0 and x_fs.max() <= 1
    assert ((x_fs - x).abs() > eps - 1e-6).float().mean() > 0.5  # a full ε sign step, not a no-op
    torch.manual_seed(4)
    x0 = random_start(x, eps)  # the same random start
    model.eval()
    with torch.no_grad():
        z_nat = model(x)
        def ot(xx):
            return ot_distance(z_nat, model(xx)).item()
    x0g = x0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(ot_distance(z_nat, model(x0g)), x0g)
    descent = project(x0 - eps * g.sign(), x, eps)
    torch.manual_seed(2)
    rand_step = project(x0 + eps * torch.randn_like(x).sign(), x, eps)
    d_fs, d_clean, d0, d_desc, d_rand = ot(x_fs), ot(x), ot(x0), ot(descent), ot(rand_step)
    assert d_fs > 5 * d_clean and d_fs > 5 * d0, (d_fs, d_clean, d0)
    assert d_fs > 3 * d_rand and d_fs > d_desc, (d_fs, d_rand, d_desc)
    # ascent on the explicit sign step: identical to x0 + ε·sign(∇ D) projected
    torch.testing.assert_close(x_fs, project(x0 + eps * g.sign(), x, eps), rtol=0, atol=1e-6)
    # the "features" layer option scatters the penultimate features instead
    torch.manual_seed(4)
    x_feat = scatter_perturb(model, x, eps=eps, layer="features")
    with torch.no_grad():
        f_nat = model.features(x)
        assert ot_distance(f_nat, model.features(x_feat)) > 3 * ot_distance(f_nat, model.features(x0))


def test_feature_scattering_loss_is_label_smoothed_ce_on_the_scattered_batch(batch):
    model, x, y = batch
    lab = smooth_labels(y, 10, 0.5)
    torch.testing.assert_close(lab.sum(1), torch.ones(len(y)))
    assert (lab.gather(1, y[:, None]) == 0.5).all() and lab.min() == pytest.approx(0.5 / 9)
    model.train()
    for delta in (0.5, 0.0):
        torch.manual_seed(8)
        loss, _ = _build("feature_scattering", model, label_smoothing=delta).loss(model, x, y)
        torch.manual_seed(8)
        x_fs = scatter_perturb(model, x, eps=EPS, alpha=EPS, steps=1, eps_reg=0.01, iters=100)
        # torch's smoothing ε puts ε/C on every class: the FS form (1 − δ, δ/(C − 1)) is ε = δ·C/(C − 1)
        ref = F.cross_entropy(model(x_fs), y, label_smoothing=delta * 10 / 9)
        torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    model.eval()
