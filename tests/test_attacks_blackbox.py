"""Tests for SPSA, DeepFool, CW-ℓ2, RayS and the AutoAttack adapter (advdist.attacks.*).

What is proven: ε-ball and [0, 1] contracts; eval mode during the attack and flags restored; no grads on
parameters; analytic optima on linear models (DeepFool ℓ2/ℓ∞ exact, CW-ℓ2 and RayS close to the exact
boundary distance); DeepFool equal to foolbox's (test-only oracle); the SPSA estimator points along the
true gradient (and is taken at x, not 2x); SPSA's projection holds for every query; every attack beats
random noise of the same size on a small MLP trained on sklearn digits; AutoAttack's install hint and
RNG hygiene.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch
from torch import nn

from advdist.attacks.autoattack import autoattack
from advdist.attacks.cw_l2 import cw_l2
from advdist.attacks.deepfool import deepfool, deepfool_boundary_distance
from advdist.attacks.rays import rays, rays_boundary_distance
from advdist.attacks.spsa import spsa, spsa_gradient

# ----------------------------------------------------------------------------------------- fixtures

pytestmark = pytest.mark.usefixtures("one_thread")


class ModeProbe(nn.Module):
    """Identity layer that records the module's training flag at every forward pass."""

    def __init__(self):
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, x):
        self.seen.append(self.training)
        return x


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(ModeProbe(), nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.0),
                         nn.Linear(64, 10))


@pytest.fixture(scope="module")
def digits():
    """A 64-64-10 MLP trained for a fraction of a second on sklearn digits (8×8, [0, 1]), plus 48
    correctly classified held-out test images."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(d.target, dtype=torch.long)
    model = _mlp()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        perm = torch.randperm(1500, generator=g)
        for i in range(0, 1500, 100):
            idx = perm[i:i + 100]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()
    xt, yt = x[1500:], y[1500:]
    with torch.no_grad():
        ok = model(xt).argmax(1) == yt
    assert ok.float().mean() > 0.85
    model.train()                      # attacks must switch to eval themselves and restore this
    return model, xt[ok][:48], yt[ok][:48]


def _linear(n_cls: int = 5, seed: int = 0, n: int = 32):
    """Linear classifier on 1×4×5 inputs and n points in [0.35, 0.65], labelled by the model itself,
    kept only where the nearest boundary is neither too close (ℓ2 ≥ 0.03) nor far enough for [0, 1]
    clipping to matter (ℓ2 ≤ 0.25)."""
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(20, n_cls)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(n_cls, 20, generator=g))
        # centre the logits at x = ½ so that boundaries pass close to the data
        lin.bias.copy_(-0.5 * lin.weight.sum(1) + 0.1 * torch.randn(n_cls, generator=g))
    model = nn.Sequential(nn.Flatten(), lin)
    x = 0.35 + 0.3 * torch.rand(8 * n, 1, 4, 5, generator=g)
    with torch.no_grad():
        y = model(x).argmax(1)
    d2 = _analytic(lin.weight.detach(), lin.bias.detach(), x, y, "l2")[0]
    keep = ((d2 >= 0.03) & (d2 <= 0.25)).nonzero().squeeze(1)[:n]
    assert len(keep) == n
    return model, lin.weight.detach(), lin.bias.detach(), x[keep], y[keep]


def _analytic(weight, bias, x, y, dual: str):
    """Per example: nearest class k and distance |f_y − f_k| / ‖w_y − w_k‖_q to its linear boundary."""
    xf = x.flatten(1)
    f = xf @ weight.T + bias
    gap = f.gather(1, y[:, None]) - f                                   # (n, C) ≥ 0
    dw = weight[None, :, :] - weight[y][:, None, :]                     # w_k − w_y, (n, C, d)
    q = dw.norm(dim=2) if dual == "l2" else dw.abs().sum(dim=2)
    dist = torch.where(torch.arange(weight.shape[0])[None] == y[:, None], math.inf, gap / q)
    d, k = dist.min(dim=1)
    return d, k, dw[torch.arange(len(y)), k], q[torch.arange(len(y)), k]


def _accuracy(model, x, y):
    model_was = model.training
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    model.train(model_was)
    return acc


def _noise(x, eps, norm, seed=1):
    g = torch.Generator().manual_seed(seed)
    if norm == "linf":
        u = torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1
        return (x + eps * u).clamp(0, 1)
    u = torch.randn(x.shape, generator=g)
    u = u / u.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    return (x + eps * u).clamp(0, 1)


# ----------------------------------------------------------------------------------------- contracts

def _run(name, model, x, y, eps):
    if name == "spsa":
        return spsa(model, x, y, eps=eps, samples=32, iterations=5, generator=torch.Generator().manual_seed(0))
    if name == "deepfool_l2":
        return deepfool(model, x, y, norm="l2", eps=eps * 8)
    if name == "deepfool_linf":
        return deepfool(model, x, y, norm="linf", eps=eps)
    if name == "cw_l2":
        return cw_l2(model, x, y, eps=eps * 8, steps=30, binary_search_steps=3)
    if name == "rays":
        return rays(model, x, y, eps=eps, queries=200)
    if name == "autoattack":
        pytest.importorskip("pyautoattack")
        return autoattack(model, x, y, eps=eps, batch_size=16)
    raise AssertionError(name)


ATTACKS = ["spsa", "deepfool_l2", "deepfool_linf", "cw_l2", "rays", "autoattack"]


@pytest.mark.parametrize("name", ATTACKS)
def test_contract_ball_range_mode_grads(name, digits):
    model, x, y = digits
    x, y = x[:8], y[:8]
    eps = 0.05
    model.train()
    frozen_param = model[2].bias
    frozen_param.requires_grad_(False)
    probe = model[0]
    probe.seen.clear()
    try:
        x_adv = _run(name, model, x, y, eps)
    finally:
        assert model.training and all(m.training for m in model.modules())
        assert not frozen_param.requires_grad
        frozen_param.requires_grad_(True)
    assert all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())
    assert probe.seen and not any(probe.seen), "attack ran the model in train mode"
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    d = (x_adv - x).flatten(1)
    if name in ("deepfool_l2", "cw_l2"):
        assert d.norm(dim=1).max() <= eps * 8 + 1e-5
    else:
        assert d.abs().max() <= eps + 1e-6


@pytest.mark.parametrize("call", [
    lambda m, x, y: spsa(m, x, y, eps=-0.1),
    lambda m, x, y: spsa(m, x, y, eps=float("nan")),
    lambda m, x, y: spsa(m, x, y, eps=8),                      # ℓ∞ eps on the 0–255 scale
    lambda m, x, y: spsa(m, x, y, eps=0.1, samples=3),
    lambda m, x, y: deepfool(m, x, y, norm="l3"),
    lambda m, x, y: deepfool(m, x, y, norm="linf", eps=-1.0),
    lambda m, x, y: deepfool(m, x, y, candidates=1),
    lambda m, x, y: cw_l2(m, x, y, eps="big"),
    lambda m, x, y: cw_l2(m, x, y, c=0.0),
    lambda m, x, y: rays(m, x, y, eps=2.0),
    lambda m, x, y: rays(m, x, y, eps=0.1, queries=0),
    lambda m, x, y: rays_boundary_distance(m, x, y, queries=-5),
    lambda m, x, y: autoattack(m, x, y, eps=0.1, norm="L3"),
    lambda m, x, y: autoattack(m, x, y, eps=-0.1),
    lambda m, x, y: autoattack(m, x, y, eps=0.1, version="fast"),
])
def test_bad_arguments_raise_one_line_valueerror(call):
    model, _, _, x, y = _linear()
    with pytest.raises(ValueError) as err:
        call(model, x[:2], y[:2])
    assert "\n" not in str(err.value) and str(err.value)


def test_eps_zero_returns_input(digits):
    model, x, y = digits
    assert torch.equal(spsa(model, x[:4], y[:4], eps=0.0, samples=8, iterations=3), x[:4])
    assert torch.equal(deepfool(model, x[:4], y[:4], norm="linf", eps=0.0), x[:4])
    assert torch.equal(rays(model, x[:4], y[:4], eps=0.0, queries=50, early_stop=False), x[:4])


# ----------------------------------------------------------------------------------------- DeepFool

def test_deepfool_l2_linear_exact():
    """On f(x) = Wx + b one DeepFool step lands (1+η)·(d + 1e-4) beyond x along the unit normal of the
    nearest boundary, d = |f_y − f_k| / ‖w_y − w_k‖₂ (Moosavi-Dezfooli et al. Eq. 10 / Alg. 2)."""
    model, w, b, x, y = _linear()
    os_ = 0.02
    d, _, dw, q = _analytic(w, b, x, y, "l2")
    expected = x.flatten(1) + ((1 + os_) * (d + 1e-4) / q)[:, None] * dw
    assert expected.min() > 0 and expected.max() < 1
    x_adv = deepfool(model, x, y, norm="l2", overshoot=os_, candidates=None)
    torch.testing.assert_close(x_adv.flatten(1), expected, atol=1e-5, rtol=0)
    assert _accuracy(model, x_adv, y) == 0
    dist = deepfool_boundary_distance(model, x, y, norm="l2", candidates=None)
    torch.testing.assert_close(dist, (1 + os_) * (d + 1e-4), atol=1e-5, rtol=0)


def test_deepfool_linf_linear_exact():
    """ℓ∞ analogue (Eq. 11, p = ∞): step (1+η)·(d + 1e-4)·sign(w_k − w_y), d = |f_y − f_k| / ‖w_y − w_k‖₁."""
    model, w, b, x, y = _linear(seed=1)
    os_ = 0.02
    d, _, dw, _ = _analytic(w, b, x, y, "l1")
    expected = x.flatten(1) + ((1 + os_) * (d + 1e-4))[:, None] * dw.sign()
    assert expected.min() > 0 and expected.max() < 1
    x_adv = deepfool(model, x, y, norm="linf", overshoot=os_, candidates=None)
    torch.testing.assert_close(x_adv.flatten(1), expected, atol=1e-5, rtol=0)
    assert _accuracy(model, x_adv, y) == 0


def test_deepfool_misclassified_untouched_and_distance_zero():
    model, _, _, x, y = _linear()
    y_wrong = (y + 1) % 5
    assert torch.equal(deepfool(model, x, y_wrong), x)
    assert torch.all(deepfool_boundary_distance(model, x, y_wrong) == 0)


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("candidates", [3, 10])
def test_deepfool_matches_foolbox(digits, norm, candidates):
    fb = pytest.importorskip("foolbox")
    model, x, y = digits
    model.eval()
    try:
        fmodel = fb.PyTorchModel(model, bounds=(0, 1))
        cls = fb.attacks.L2DeepFoolAttack if norm == "l2" else fb.attacks.LinfDeepFoolAttack
        ref, _, _ = cls(steps=50, candidates=candidates, overshoot=0.02)(fmodel, x, y, epsilons=None)
    finally:
        model.train()
        model.zero_grad(set_to_none=True)
    ours = deepfool(model, x, y, norm=norm, steps=50, candidates=candidates, overshoot=0.02)
    assert (ours - ref).abs().max() < 1e-5
    assert _accuracy(model, ours, y) < 0.1


# ----------------------------------------------------------------------------------------- SPSA

def _cos(a, b):
    return nn.functional.cosine_similarity(a.flatten(1), b.flatten(1), dim=1)


def test_spsa_gradient_matches_true_gradient():
    """Smooth f(z) = Σ sin(3z) + (z − ½)²: the SPSA estimate at x aligns with ∇f(x) (cos > 0.9), and not
    with ∇f(2x), which points the other way here (the cleverhans #1249 bug)."""
    g = torch.Generator().manual_seed(0)
    x = 0.25 + 0.1 * torch.rand(4, 2, 8, generator=g)

    def f(z):                                                        # (B, S, ...) -> (B, S)
        return (torch.sin(3 * z) + (z - 0.5) ** 2).flatten(2).sum(-1)

    true = 3 * torch.cos(3 * x) + 2 * (x - 0.5)
    at_2x = 3 * torch.cos(6 * x) + 2 * (2 * x - 0.5)
    assert torch.all(_cos(true, at_2x) < 0)
    est = spsa_gradient(f, x, 1e-3, 2000, generator=g)
    assert est.shape == x.shape
    assert torch.all(_cos(est, true) > 0.9)
    est_small = spsa_gradient(f, x, 1e-3, 2000, generator=torch.Generator().manual_seed(1), pairs_per_chunk=7)
    assert torch.all(_cos(est_small, true) > 0.9)


def test_spsa_gradient_exact_for_linear_and_reproducible():
    """For a linear f each antithetic pair gives (w·v)v exactly; the mean converges to w. Same generator
    seed, same estimate."""
    w = torch.randn(3, 10, generator=torch.Generator().manual_seed(2))
    x = torch.rand(3, 10)

    def f(z):
        return (z * w[:, None]).sum(-1)

    a = spsa_gradient(f, x, 0.5, 4000, generator=torch.Generator().manual_seed(3))
    b = spsa_gradient(f, x, 0.5, 4000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.all(_cos(a, w) > 0.95)


def test_spsa_every_query_in_ball():
    """Every point SPSA queries lies within ε + δ of x (iterates in the ε-ball, ± δ probes), and the
    projection is active: with lr ≫ ε the final perturbation sits on the ε-box boundary."""
    model, _, _, x, y = _linear(n=1)
    seen = []
    net = nn.Sequential(nn.Identity(), model)
    net[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))
    eps, delta = 0.02, 1e-3
    x_adv = spsa(net, x, y, eps=eps, lr=0.1, delta=delta, samples=16, iterations=6, early_stop=False,
                 generator=torch.Generator().manual_seed(0), batch_size=5)
    assert len(seen) >= 6 * 4                                         # 16 rows in chunks of ≤ 5
    assert max(z.shape[0] for z in seen) <= 5
    allq = torch.cat(seen)
    assert (allq - x).abs().max() <= eps + delta + 1e-6
    delta_adv = (x_adv - x).abs()
    assert delta_adv.max() <= eps + 1e-6
    assert (delta_adv > eps - 1e-6).float().mean() > 0.5              # clipped at the box: projection ran


def test_spsa_beats_noise_and_is_seeded(digits):
    model, x, y = digits
    eps = 0.1
    kw = dict(eps=eps, samples=64, iterations=20, batch_size=1024)
    a = spsa(model, x, y, generator=torch.Generator().manual_seed(0), **kw)
    b = spsa(model, x, y, generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(a, b)
    noise_acc = _accuracy(model, _noise(x, eps, "linf"), y)
    acc = _accuracy(model, a, y)
    assert acc < noise_acc - 0.3, (acc, noise_acc)


def test_spsa_early_stop_leaves_misclassified_alone(digits):
    model, x, y = digits
    y_wrong = (y[:4] + 1) % 10
    out = spsa(model, x[:4], y_wrong, eps=0.1, samples=8, iterations=5)
    assert torch.equal(out, x[:4])


# ----------------------------------------------------------------------------------------- CW-ℓ2

def test_cw_l2_linear_reaches_minimal_distance():
    """C&W on a linear model: an adversarial point with ‖δ‖₂ within 5 % of the exact minimal distance."""
    model, w, b, x, y = _linear(seed=2, n=16)
    d, *_ = _analytic(w, b, x, y, "l2")
    x_adv = cw_l2(model, x, y, steps=300, binary_search_steps=10)
    assert _accuracy(model, x_adv, y) == 0
    norms = (x_adv - x).flatten(1).norm(dim=1)
    assert torch.all(norms >= d * (1 - 1e-4))
    assert torch.all(norms <= d * 1.05), (norms / d)


def test_cw_l2_eps_budget_and_beats_noise(digits):
    model, x, y = digits
    x, y = x[:24], y[:24]
    eps = 1.0
    free = cw_l2(model, x, y, steps=100, binary_search_steps=6)
    norms = (free - x).flatten(1).norm(dim=1)
    model.eval()
    with torch.no_grad():
        fooled = model(free).argmax(1) != y
    model.train()
    x_eps = cw_l2(model, x, y, steps=100, binary_search_steps=6, eps=eps)
    assert (x_eps - x).flatten(1).norm(dim=1).max() <= eps + 1e-5
    within = fooled & (norms <= eps)
    model.eval()
    with torch.no_grad():
        fooled_eps = model(x_eps).argmax(1) != y
    model.train()
    assert torch.all(fooled_eps[within])                              # found within ε ⇒ counted
    noise_acc = _accuracy(model, _noise(x, eps, "l2"), y)
    assert fooled_eps.float().mean() > (1 - noise_acc) + 0.3


# ----------------------------------------------------------------------------------------- RayS

def test_rays_linear_recovers_linf_boundary_distance():
    """Hard-label RayS on a two-class linear model (one boundary: the sign search has no local optima)
    finds the exact ℓ∞ boundary distance |f_y − f_k| / ‖w_y − w_k‖₁ to 1 %."""
    model, w, b, x, y = _linear(n_cls=2, seed=3, n=16)
    d, *_ = _analytic(w, b, x, y, "l1")
    res = rays_boundary_distance(model, x, y, queries=2000, tol=1e-5)
    assert torch.all(res.distance >= d * (1 - 1e-3))
    assert torch.all(res.distance <= d * 1.01), (res.distance / d)
    assert res.adbd == pytest.approx(res.distance.mean().item())


def test_rays_linear_multiclass_upper_bound():
    """With five classes the greedy block search can stop at a local optimum (it is a heuristic), but
    every distance is a true upper bound (an adversarial point at that ℓ∞ radius) and most are exact."""
    model, w, b, x, y = _linear(n_cls=5, seed=4, n=16)
    d, *_ = _analytic(w, b, x, y, "l1")
    res = rays_boundary_distance(model, x, y, queries=1000, tol=1e-5)
    ratio = res.distance / d
    assert torch.all(ratio >= 1 - 1e-3)
    assert ratio.median() <= 1.01 and res.adbd <= 1.1 * d.mean()
    x_adv = rays(model, x, y, eps=0.5, queries=1000, early_stop=False, tol=1e-5)
    assert _accuracy(model, x_adv, y) == 0
    torch.testing.assert_close((x_adv - x).flatten(1).abs().amax(1), res.distance, atol=1e-6, rtol=0)


def test_rays_attack_budget_and_beats_noise(digits):
    model, x, y = digits
    eps = 0.1
    x_adv = rays(model, x, y, eps=eps, queries=400)
    assert (x_adv - x).abs().max() <= eps + 1e-6
    noise_acc = _accuracy(model, _noise(x, eps, "linf"), y)
    acc = _accuracy(model, x_adv, y)
    assert acc < noise_acc - 0.3, (acc, noise_acc)
    res = rays_boundary_distance(model, x[:8], (y[:8] + 1) % 10, queries=50)
    assert torch.all(res.distance == 0) and math.isnan(res.adbd)


# ----------------------------------------------------------------------------------------- DeepFool / digits

@pytest.mark.parametrize("norm,eps", [("l2", 1.0), ("linf", 0.1)])
def test_deepfool_beats_noise(digits, norm, eps):
    model, x, y = digits
    acc = _accuracy(model, deepfool(model, x, y, norm=norm, eps=eps), y)
    noise_acc = _accuracy(model, _noise(x, eps, norm), y)
    assert acc < noise_acc - 0.3, (acc, noise_acc)


# ----------------------------------------------------------------------------------------- AutoAttack

def test_autoattack_missing_package_one_line_importerror(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyautoattack", None)            # import now raises ImportError
    model, _, _, x, y = _linear()
    with pytest.raises(ImportError) as err:
        autoattack(model, x[:2], y[:2], eps=0.1)
    msg = str(err.value)
    assert "\n" not in msg and "pip install -e '.[autoattack]'" in msg


def test_autoattack_reference_runs_and_keeps_rng(digits):
    pytest.importorskip("pyautoattack")
    model, x, y = digits
    x, y = x[:12], y[:12]
    eps = 0.1
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    x_adv = autoattack(model, x, y, eps=eps, batch_size=8)
    assert torch.equal(torch.get_rng_state(), state)
    assert model.training
    assert (x_adv - x).abs().max() <= eps + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    acc = _accuracy(model, x_adv, y)
    assert acc < _accuracy(model, _noise(x, eps, "linf"), y) - 0.3
    again = autoattack(model, x, y, eps=eps, batch_size=8)            # seed=0 → repeatable
    assert torch.equal(x_adv, again)


def test_autoattack_budget_overrides_reach_the_reference_attacks(monkeypatch):
    """The smoke scale's cheaper AutoAttack (n_iter / n_queries / n_target_classes) sets the reference objects."""
    aa = pytest.importorskip("pyautoattack")
    seen = {}

    def record(self, x, y, batch_size=250, **kw):
        seen.update(apgd=self.apgd.n_iter, apgd_t=self.apgd_targeted.n_iter, fab=self.fab.n_iter,
                    square=self.square.n_queries, t_apgd=self.apgd_targeted.n_target_classes,
                    t_fab=self.fab.n_target_classes, attacks=list(self.attacks_to_run))
        return x, y

    monkeypatch.setattr(aa.AutoAttack, "run_standard_evaluation", record)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10))
    x, y = torch.rand(4, 1, 4, 4), torch.randint(0, 10, (4,))
    autoattack(model, x, y, eps=0.1, n_iter=5, n_queries=100, n_target_classes=2)
    assert seen == dict(apgd=5, apgd_t=5, fab=5, square=100, t_apgd=2, t_fab=2,
                        attacks=["apgd-ce", "apgd-t", "fab-t", "square"])
    autoattack(model, x, y, eps=0.1)  # no override: the standard protocol's budgets
    assert (seen["apgd"], seen["square"], seen["t_apgd"]) == (100, 5000, 9)
    with pytest.raises(ValueError, match="n_queries must be an int >= 1"):
        autoattack(model, x, y, eps=0.1, n_queries=0)
