"""Gradient attacks (FGSM, PGD, MIM, C&W-ℓ∞), FeaAttack, transfer and the named settings.

What is proved: ε-ball and [0, 1] invariants and model-state hygiene for every attack; the analytic optimum on
linear models (ℓ∞ with and without the box active, ℓ2 in the interior; two classes and a multi-class family whose
optimum is known in closed form); agreement with foolbox's LinfPGD / L2PGD from the same start; agreement with
plain one-example-at-a-time reference loops for MIM, C&W and FeaAttack; batched restarts = best of the individual
runs; early stop never un-breaks an example; a trained digits MLP collapses under PGD; bad arguments fail in one
line; every named setting resolves, binds to its function and carries the papers' numbers.
"""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import advdist.samplers  # noqa: F401  (registers the samplers used as attacks: ATENT-20)
from advdist.attacks import (
    cw_linf,
    feature_attack,
    fgsm,
    mim,
    pgd,
    predict,
    settings,
    transfer,
    transfer_accuracy,
)
from advdist.attacks.core import random_start
from advdist.attacks.feature import draw_targets

pytestmark = pytest.mark.usefixtures("one_thread")


# ---- models and data ---------------------------------------------------------------------------------------

class MLP(nn.Module):
    def __init__(self, d=64, h=64, c=10):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(d, h), nn.ReLU())
        self.head = nn.Linear(h, c)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


class SmallCNN(nn.Module):
    """Tiny conv net on 1×8×8 inputs, with BN (eval-mode check) and dropout (train-mode would change outputs)."""

    def __init__(self, c=10):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                  nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8 * 4 * 4, c)
        self.fc = self.head  # advdist.models contract: eval-mode forward == fc(features(x))

    def features(self, x):
        return self.conv(x)

    def forward(self, x):
        return self.head(self.drop(self.conv(x)))


class Linear(nn.Module):
    def __init__(self, w: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.lin = nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            self.lin.weight.copy_(w)
            self.lin.bias.copy_(b)

    def features(self, x):
        return x.flatten(1)

    def forward(self, x):
        return self.lin(x.flatten(1))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16
    y = torch.tensor(d.target, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    return x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]


@pytest.fixture(scope="module")
def mlp(digits):
    """An MLP trained on sklearn digits for ~0.5 s (full-batch Adam)."""
    torch.manual_seed(0)
    xtr, ytr, _, _ = digits
    m = MLP()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        F.cross_entropy(m(xtr), ytr).backward()
        opt.step()
    m.zero_grad(set_to_none=True)
    return m


@pytest.fixture(scope="module")
def cnn64(digits):
    """A briefly trained SmallCNN in float64 (sign steps then cannot flip on rounding noise across implementations)."""
    torch.manual_seed(1)
    xtr, ytr, _, _ = digits
    m = SmallCNN()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(25):  # trained in fp32 (fast), attacked in fp64
        opt.zero_grad()
        F.cross_entropy(m(xtr[:500]), ytr[:500]).backward()
        opt.step()
    m.zero_grad(set_to_none=True)
    return m.double().eval()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


EPS, ALPHA = 0.1, 0.025

ATTACKS = {
    "fgsm": lambda m, x, y, p: fgsm(m, x, y, eps=EPS),
    "fgsm-ll": lambda m, x, y, p: fgsm(m, x, y, eps=EPS, targeted=True),
    "fgsm-rs": lambda m, x, y, p: fgsm(m, x, y, eps=EPS, random_start=True, generator=gen()),
    "fgm-l2": lambda m, x, y, p: fgsm(m, x, y, eps=0.8, norm="l2"),
    "pgd-linf": lambda m, x, y, p: pgd(m, x, y, eps=EPS, alpha=ALPHA, steps=5, generator=gen()),
    "pgd-l2": lambda m, x, y, p: pgd(m, x, y, eps=0.8, alpha=0.3, steps=5, norm="l2", generator=gen()),
    "pgd-restarts-es": lambda m, x, y, p: pgd(m, x, y, eps=EPS, alpha=ALPHA, steps=5, restarts=3, early_stop=True,
                                              generator=gen(), batch_size=16),
    "mim": lambda m, x, y, p: mim(m, x, y, eps=EPS, alpha=ALPHA, steps=5, generator=gen()),
    "cw_linf": lambda m, x, y, p: cw_linf(m, x, y, eps=EPS, alpha=ALPHA, steps=5, generator=gen()),
    "feature": lambda m, x, y, p: feature_attack(m, x, y, eps=EPS, alpha=ALPHA / 2, steps=4, n_targets=3,
                                                 target_pool=p, generator=gen(), batch_size=20),
}


# ---- invariants --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ATTACKS))
def test_invariants_ball_box_and_model_state(name, digits):
    torch.manual_seed(2)
    xtr, ytr, x, y = digits
    x, y = x[:24].clone(), y[:24]
    x[0] = 0.0  # box active everywhere
    x[1] = 1.0
    m = SmallCNN()
    m.train()
    m.head.bias.requires_grad_(False)  # mixed flags must come back as they were
    flags = [p.requires_grad for p in m.parameters()]
    buffers = [b.clone() for b in m.buffers()]
    x_before = x.clone()
    out = ATTACKS[name](m, x, y, (xtr, ytr))
    assert out.shape == x.shape and out.dtype == x.dtype and not out.requires_grad
    assert torch.equal(x, x_before), "input modified in place"
    assert out.min() >= 0 and out.max() <= 1
    d = (out - x).flatten(1)
    if "l2" in name:
        assert (d.norm(dim=1) <= 0.8 + 1e-5).all()
    else:
        assert (d.abs().amax(1) <= EPS + 1e-6).all()
    assert (d != 0).any(), "attack did not move"
    assert m.training, "training flag not restored"
    assert [p.requires_grad for p in m.parameters()] == flags
    assert all(p.grad is None for p in m.parameters()), "gradients left on parameters"
    assert all(torch.equal(a, b) for a, b in zip(buffers, m.buffers())), "BN buffers changed (attack ran in train mode)"


def test_eps_zero_is_identity(digits):
    _, _, x, y = digits
    m = SmallCNN()
    for name in ("pgd-linf", "mim", "cw_linf", "fgsm"):
        out = {"pgd-linf": lambda: pgd(m, x[:8], y[:8], eps=0, alpha=0.1, steps=3),
               "mim": lambda: mim(m, x[:8], y[:8], eps=0, alpha=0.1, steps=3),
               "cw_linf": lambda: cw_linf(m, x[:8], y[:8], eps=0, alpha=0.1, steps=3),
               "fgsm": lambda: fgsm(m, x[:8], y[:8], eps=0)}[name]()
        assert torch.equal(out, x[:8]), name


# ---- linear models: analytic optima ------------------------------------------------------------------------

def _sign_family(d, c, y_cls, g):
    """W with w_j − w_y = s ∘ a_j (a_j > 0) for all j ≠ y: every CE / margin gradient has sign pattern s, so the
    ℓ∞ maximiser of CE (and of the margin) over the box ∩ ball is exactly clip(x + ε·s, 0, 1)."""
    s = torch.randint(0, 2, (d,), generator=g).double() * 2 - 1
    w = torch.randn(c, d, generator=g, dtype=torch.float64)
    for j in range(c):
        if j != y_cls:
            w[j] = w[y_cls] + s * (0.2 + torch.rand(d, generator=g, dtype=torch.float64))
    b = torch.randn(c, generator=g, dtype=torch.float64)
    return w, b, s


@pytest.mark.parametrize("classes", [2, 5])
@pytest.mark.parametrize("box_active", [False, True])
def test_linear_linf_optimum(classes, box_active):
    g = gen(3)
    d, n, eps = 12, 16, 0.3
    w, b, s = _sign_family(d, classes, 0, g)
    model = Linear(w, b)
    x = (torch.rand(n, d, generator=g, dtype=torch.float64) if box_active
         else 0.35 + 0.3 * torch.rand(n, d, generator=g, dtype=torch.float64))
    y = torch.zeros(n, dtype=torch.long)
    if classes == 2:  # the brief's form: x* = clip(x − ε·sign(w_y − w_other))
        expected = (x - eps * torch.sign(w[0] - w[1])).clamp(0, 1)
    else:
        expected = (x + eps * s).clamp(0, 1)
    assert box_active == bool(((x + eps * s) > 1).any() or ((x + eps * s) < 0).any())
    results = {
        "fgsm": fgsm(model, x, y, eps=eps),
        "pgd": pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, generator=gen(4)),
        "pgd-no-rs": pgd(model, x, y, eps=eps, alpha=eps / 4, steps=4, random_start=False),
        "pgd-cw": pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, loss="cw", generator=gen(5)),
        "pgd-restarts": pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, restarts=3, generator=gen(6)),
        "pgd-es": pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, early_stop=True, random_start=False),
        "mim": mim(model, x, y, eps=eps, alpha=eps / 4, steps=10, generator=gen(7)),
        "cw_linf": cw_linf(model, x, y, eps=eps, alpha=eps / 4, steps=10, generator=gen(8)),
    }
    for name, out in results.items():
        if name == "pgd-es":  # stops at the first misclassified iterate: optimum only where still correct
            still = predict(model, out) == y
            assert torch.allclose(out[still], expected[still], atol=1e-9), name
            continue
        assert torch.allclose(out, expected, atol=1e-9), name
    # FGSM's optimum is the worst case: no point of the box ∩ ball has a higher CE (random probes)
    probe = (x[None] + eps * (2 * torch.rand(64, n, d, generator=g, dtype=torch.float64) - 1)).clamp(0, 1)
    def ce(z):
        return F.cross_entropy(model(z), y, reduction="none")
    assert (torch.stack([ce(p) for p in probe]) <= ce(expected) + 1e-12).all()


@pytest.mark.parametrize("classes", [2, 5])
def test_linear_l2_optimum(classes):
    """ℓ2, box inactive: w_j − w_y = c_j·u (c_j > 0) ⇒ argmax CE over the ε-ball is x + ε·u/‖u‖."""
    g = gen(9)
    d, n, eps = 16, 10, 0.5
    u = (0.5 + 0.5 * torch.rand(d, generator=g, dtype=torch.float64)) * (torch.randint(0, 2, (d,), generator=g) * 2 - 1)
    w = torch.randn(classes, d, generator=g, dtype=torch.float64)
    for j in range(1, classes):
        w[j] = w[0] + (0.5 + torch.rand(1, generator=g, dtype=torch.float64)) * u
    model = Linear(w, torch.randn(classes, generator=g, dtype=torch.float64))
    x = 0.3 + 0.4 * torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.zeros(n, dtype=torch.long)
    expected = x + eps * u / u.norm()
    assert ((expected > 0) & (expected < 1)).all()
    out_pgd = pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, norm="l2", random_start=False)
    out_fgm = fgsm(model, x, y, eps=eps, norm="l2")
    assert torch.allclose(out_pgd, expected, atol=1e-9)
    assert torch.allclose(out_fgm, expected, atol=1e-9)
    # from a random start PGD approaches the optimum (projection of x0 + t·u converges to it)
    out_rs = pgd(model, x, y, eps=eps, alpha=eps / 4, steps=200, norm="l2", generator=gen(10))
    assert torch.allclose(out_rs, expected, atol=1e-3)


def test_fgsm_least_likely_two_class_equals_untargeted():
    g = gen(11)
    w, b, _ = _sign_family(10, 2, 0, g)
    model = Linear(w, b)
    x = torch.rand(20, 10, generator=g, dtype=torch.float64)
    y = predict(model, x)  # the least-likely class is the other one
    assert torch.allclose(fgsm(model, x, y, eps=0.2, targeted=True), fgsm(model, x, y, eps=0.2), atol=1e-12)
    t = 1 - y  # explicit target = the other class: the same step
    assert torch.allclose(fgsm(model, x, y, eps=0.2, targeted=True, target=t), fgsm(model, x, y, eps=0.2), atol=1e-12)


# ---- foolbox oracle ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("start", ["clean", "random"])
def test_pgd_matches_foolbox(norm, start, digits, cnn64):
    fb = pytest.importorskip("foolbox")
    import eagerpy as ep
    _, _, x, y = digits
    x, y = x[:32].double(), y[:32]
    eps, alpha, steps = (0.1, 0.02, 12) if norm == "linf" else (1.0, 0.2, 12)
    base = fb.attacks.LinfPGD if norm == "linf" else fb.attacks.L2PGD
    x0 = random_start(x, eps, norm, gen(12)) if start == "random" else None

    class FixedStart(base):  # foolbox's random start replaced by ours; its steps and projections are untouched
        def get_random_start(self, x_clean, epsilon):
            return ep.astensor(x0)

    attack = FixedStart(abs_stepsize=alpha, steps=steps, random_start=start == "random")
    fmodel = fb.PyTorchModel(cnn64, bounds=(0, 1), device="cpu")
    _, ref, _ = attack(fmodel, x, y, epsilons=eps)
    ours = pgd(cnn64, x, y, eps=eps, alpha=alpha, steps=steps, norm=norm, use_best=False,
               random_start=start == "random", generator=gen(12))
    moved = (ref - x).flatten(1).norm(dim=1) if norm == "l2" else (ref - x).abs().flatten(1).amax(1)
    assert (moved > eps / 2).float().mean() > 0.9  # the comparison is not vacuous
    assert (ours - ref).abs().max() < 1e-5


# ---- reference loops (one example at a time) ---------------------------------------------------------------

def _ref_iterative(model, x, y, x0, eps, alpha, steps, loss_fn, decay=None, best=False):
    """Plain loop: one example at a time; optional momentum (MIM) and worst-iterate tracking."""
    outs = []
    for i in range(len(x)):
        xi, yi, xa = x[i:i + 1], y[i:i + 1], x0[i:i + 1].clone()
        m = torch.zeros_like(xi)
        best_x, best_key = None, None
        for t in range(steps + 1):
            xa = xa.detach().requires_grad_(True)
            logits = model(xa)
            loss = loss_fn(logits, yi)
            key = (bool(logits.argmax(1).item() != yi.item()), loss.item())
            if best_x is None or key > best_key:
                best_x, best_key = xa.detach().clone(), key
            if t == steps:
                break
            (grad,) = torch.autograd.grad(loss.sum(), xa)
            if decay is not None:
                m = decay * m + grad / grad.abs().mean().clamp_min(1e-12)
                grad = m
            with torch.no_grad():
                xa = torch.min(torch.max(xa + alpha * grad.sign(), xi - eps), xi + eps).clamp(0, 1)
        outs.append(best_x if best else xa.detach())
    return torch.cat(outs)


def _ref_cw(logits, y, kappa=50.0):
    z = logits[0]
    other = max(z[j] for j in range(len(z)) if j != y.item())
    return -torch.clamp(z[y.item()] - other + kappa, min=0).reshape(1)


def _ref_ce(logits, y):
    return -torch.log_softmax(logits, 1)[0, y.item()].reshape(1)


@pytest.mark.parametrize("best", [False, True])
def test_mim_matches_reference_loop(best, digits, cnn64):
    _, _, x, y = digits
    x, y = x[:12].double(), y[:12]
    eps, alpha, steps = 0.1, 0.02, 8
    x0 = random_start(x, eps, "linf", gen(13))
    ref = _ref_iterative(cnn64, x, y, x0, eps, alpha, steps, _ref_ce, decay=0.9, best=best)
    ours = mim(cnn64, x, y, eps=eps, alpha=alpha, steps=steps, decay=0.9, use_best=best, generator=gen(13))
    assert (ours - ref).abs().max() < 1e-5


@pytest.mark.parametrize("best", [False, True])
def test_cw_linf_matches_reference_loop(best, digits, cnn64):
    _, _, x, y = digits
    x, y = x[:12].double(), y[:12]
    eps, alpha, steps = 0.1, 0.02, 8
    x0 = random_start(x, eps, "linf", gen(14))
    ref = _ref_iterative(cnn64, x, y, x0, eps, alpha, steps, _ref_cw, best=best)
    ours = cw_linf(cnn64, x, y, eps=eps, alpha=alpha, steps=steps, use_best=best, generator=gen(14))
    assert (ours - ref).abs().max() < 1e-5


def test_pgd_ce_matches_reference_loop_with_worst_iterate(digits, cnn64):
    _, _, x, y = digits
    x, y = x[:12].double(), y[:12]
    x0 = random_start(x, 0.1, "linf", gen(15))
    ref = _ref_iterative(cnn64, x, y, x0, 0.1, 0.02, 8, _ref_ce, best=True)
    ours = pgd(cnn64, x, y, eps=0.1, alpha=0.02, steps=8, generator=gen(15))
    assert (ours - ref).abs().max() < 1e-5


def test_feature_attack_matches_reference_loop(digits, cnn64):
    xtr, ytr, x, y = digits
    x, y = x.double(), y
    wrong0 = (predict(cnn64, x) != y).nonzero().flatten()[:2]  # all copies misclassified at x⁰: pick rule matters
    assert len(wrong0) == 2
    keep = torch.cat([torch.arange(4), wrong0])
    x, y = x[keep], y[keep]
    pool = (xtr[:100].double(), ytr[:100])
    eps, alpha, steps, k = 0.2, 0.03, 6, 5
    # the attack consumes the generator as: targets first, then one random start for all B·K rows
    g = gen(16)
    idx = draw_targets(y, pool[1], k, g)
    starts = random_start(x.repeat_interleave(k, 0), eps, "linf", g)
    ours, broken = feature_attack(cnn64, x, y, eps=eps, alpha=alpha, steps=steps, n_targets=k, target_pool=pool,
                                  generator=gen(16), batch_size=7, return_success=True)
    ref_out, ref_broken = [], []
    with torch.no_grad():
        tfeat = [[cnn64.features(pool[0][idx[i, j]][None]) for j in range(k)] for i in range(len(x))]
    for i in range(len(x)):
        xi, yi = x[i:i + 1], y[i].item()
        copies = [starts[i * k + j:i * k + j + 1].clone() for j in range(k)]
        found = None
        for t in range(steps + 1):
            with torch.no_grad():
                logits = [cnn64(c)[0] for c in copies]
            margins = [(z[yi] - max(z[c] for c in range(len(z)) if c != yi)).item() for z in logits]
            wrong = [z.argmax().item() != yi for z in logits]
            if any(wrong):
                j = min((mj, j) for j, (mj, wj) in enumerate(zip(margins, wrong)) if wj)[1]
                found = copies[j]
                break
            if t == steps:
                break
            for j in range(k):
                c = copies[j].detach().requires_grad_(True)
                f, ft = cnn64.features(c)[0], tfeat[i][j][0]
                loss = torch.clamp(1 - (f @ ft) / (f.norm() * ft.norm()), min=0)
                (grad,) = torch.autograd.grad(loss, c)
                with torch.no_grad():
                    copies[j] = torch.min(torch.max(c - alpha * grad.sign(), xi - eps), xi + eps).clamp(0, 1)
        ref_broken.append(found is not None)
        if found is None:
            found = copies[min((mj, j) for j, mj in enumerate(margins))[1]]
        ref_out.append(found)
    assert broken.tolist() == ref_broken
    assert (ours - torch.cat(ref_out)).abs().max() < 1e-5
    # explicit features= disables the one-pass fc shortcut: same result on the two-pass path
    two_pass = feature_attack(cnn64, x, y, eps=eps, alpha=alpha, steps=steps, n_targets=k, target_pool=pool,
                              generator=gen(16), batch_size=7, features=cnn64.features)
    assert (two_pass - ours).abs().max() < 1e-9
    assert 2 < sum(ref_broken) < len(x)


def test_feature_attack_breaks_digits_mlp_and_uses_other_class_targets(digits, mlp):
    xtr, ytr, x, y = digits
    idx = draw_targets(y[:50], ytr, 30, gen(17))
    assert (ytr[idx] != y[:50, None]).all()
    x_adv, broken = feature_attack(mlp, x[:50], y[:50], eps=0.2, alpha=0.025, steps=15, n_targets=8,
                                   target_pool=(xtr, ytr), generator=gen(18), return_success=True)
    assert torch.equal(broken, predict(mlp, x_adv) != y[:50])  # the returned example is the successful one
    assert broken.float().mean() > 0.8
    same = feature_attack(mlp, x[:50], y[:50], eps=0.2, alpha=0.025, steps=15, n_targets=8,
                          target_pool=(xtr, ytr), generator=gen(18), early_stop=False)
    assert torch.allclose(same, x_adv)  # early stop only saves compute


# ---- restarts, chunking, early stop ------------------------------------------------------------------------

def test_restarts_batch_equals_best_of_individual_runs(digits, mlp):
    _, _, x, y = digits
    x, y = x[:40], y[:40]
    r, kw = 4, dict(eps=0.06, alpha=0.015, steps=6)
    starts = random_start(x.repeat(r, 1, 1, 1), kw["eps"], "linf", gen(19))
    batched = pgd(mlp, x, y, restarts=r, generator=gen(19), **kw)
    chunked_run = pgd(mlp, x, y, restarts=r, generator=gen(19), batch_size=13, **kw)
    assert torch.equal(batched, chunked_run)
    singles = [pgd(mlp, x, y, x_init=starts[i * 40:(i + 1) * 40], **kw) for i in range(r)]

    def key(xa):
        with torch.no_grad():
            logits = mlp(xa)
        return logits.argmax(1) != y, F.cross_entropy(logits, y, reduction="none")

    wb, lb = key(batched)
    for s in singles:
        ws, ls = key(s)
        assert (wb | ~ws).all(), "a restart broke an example the batch did not"
        same = wb == ws
        assert (lb[same] >= ls[same] - 1e-6).all(), "batch loss below a single restart's"
    # and it is exactly one of the individual results
    assert all(any(torch.allclose(batched[i], s[i]) for s in singles) for i in range(len(y)))
    assert not all(torch.equal(singles[0], s) for s in singles[1:])


@pytest.mark.parametrize("attack", [pgd, mim])
def test_early_stop_never_weaker_on_broken_examples(attack, digits, mlp):
    _, _, x, y = digits
    kw = dict(eps=0.08, alpha=0.02, steps=10, generator=gen(20))
    full = attack(mlp, x, y, **kw)
    kw["generator"] = gen(20)
    es = attack(mlp, x, y, early_stop=True, **kw)
    broken_full, broken_es = predict(mlp, full) != y, predict(mlp, es) != y
    assert 0.1 < broken_full.float().mean() < 0.95
    assert torch.equal(broken_full, broken_es)
    assert torch.equal(full[~broken_full], es[~broken_full])  # unbroken examples ran the same trajectory
    assert ((es - x).abs().amax((1, 2, 3)) <= 0.08 + 1e-6).all()


def test_select_restarts_prefers_misclassified():
    from advdist.attacks import select_restarts
    x = torch.arange(6.0).view(6, 1)  # R = 3 restarts × B = 2 examples, restart-major
    loss = torch.tensor([5.0, 1.0, 2.0, 3.0, 9.0, 2.0])
    wrong = torch.tensor([False, False, True, True, False, True])
    out, best, w = select_restarts(x, loss, wrong, 3)
    # example 0: restarts (5, ok) (2, wrong) (9, ok) -> the misclassified one;
    # example 1: (1, ok) (3, wrong) (2, wrong) -> 3
    assert out.flatten().tolist() == [2.0, 3.0] and best.tolist() == [2.0, 3.0] and w.tolist() == [True, True]


def test_worst_iterate_prefers_misclassified_over_higher_loss(digits, mlp):
    """Loss = CE − 10·[misclassified]: same gradient as CE, but a misclassified iterate scores lower; the worst
    iterate must still be a misclassified one wherever the CE trajectory crossed the boundary."""
    _, _, x, y = digits
    kw = dict(eps=0.08, alpha=0.02, steps=8)
    ce = pgd(mlp, x, y, generator=gen(29), **kw)
    tricky = pgd(mlp, x, y, generator=gen(29), **kw,
                 loss=lambda z, t: F.cross_entropy(z, t, reduction="none") - 10 * (z.argmax(1) != t).float())
    broken = predict(mlp, ce) != y
    assert broken.float().mean() > 0.2
    assert torch.equal(predict(mlp, tricky) != y, broken)


class Counting(nn.Module):
    """Wraps a model and counts the rows it is asked to evaluate."""

    def __init__(self, inner, with_fc=False):
        super().__init__()
        self.inner, self.rows = inner, 0
        if with_fc:
            self.fc = inner.fc

    def features(self, x):
        self.rows += x.shape[0]
        return self.inner.features(x)

    def forward(self, x):
        self.rows += x.shape[0]
        return self.inner(x)


def test_early_stop_saves_compute(digits, mlp):
    xtr, ytr, x, y = digits
    counted = Counting(mlp)
    for es in (False, True):
        counted.rows = 0
        pgd(counted, x, y, eps=0.2, alpha=0.05, steps=10, early_stop=es, generator=gen(30))
        rows = counted.rows
        if not es:
            assert rows == 11 * len(y)
    assert rows < 0.5 * 11 * len(y)
    fea = {}
    for es in (False, True):
        counted.rows = 0
        feature_attack(counted, x[:40], y[:40], eps=0.2, alpha=0.025, steps=10, n_targets=4, early_stop=es,
                       target_pool=(xtr, ytr), generator=gen(31))
        fea[es] = counted.rows
    assert fea[True] < 0.5 * fea[False]
    # a model with the models contract (forward == fc ∘ features) needs one pass per step, not two
    cnn = SmallCNN()
    runs = {}
    for name, model in (("fc", Counting(cnn, with_fc=True)), ("no-fc", Counting(cnn))):
        feature_attack(model, x[:10], y[:10], eps=0.05, alpha=0.01, steps=5, n_targets=3, early_stop=False,
                       target_pool=(xtr, ytr), generator=gen(32))
        runs[name] = model.rows
    assert runs["fc"] < 0.7 * runs["no-fc"]


def test_worst_iterate_not_worse_than_last(digits, mlp):
    _, _, x, y = digits
    kw = dict(eps=0.1, alpha=0.06, steps=8)  # big steps: the last iterate is often not the worst
    best = pgd(mlp, x, y, generator=gen(21), **kw)
    last = pgd(mlp, x, y, generator=gen(21), use_best=False, **kw)
    with torch.no_grad():
        lb, ll = (F.cross_entropy(mlp(z), y, reduction="none") for z in (best, last))
    wb, wl = predict(mlp, best) != y, predict(mlp, last) != y
    assert (wb | ~wl).all()
    assert (lb[wb == wl] >= ll[wb == wl] - 1e-6).all()


# ---- a trained model collapses under PGD -------------------------------------------------------------------

def test_trained_digits_mlp_under_attack(digits, mlp):
    _, _, x, y = digits
    def acc(z):
        return (predict(mlp, z) == y).float().mean().item()
    clean = acc(x)
    a_fgsm = acc(fgsm(mlp, x, y, eps=0.1))
    a_pgd = acc(pgd(mlp, x, y, eps=0.1, alpha=0.025, steps=10, generator=gen(22)))
    a_pgd_strong = acc(pgd(mlp, x, y, eps=0.2, alpha=0.05, steps=20, generator=gen(23)))
    a_mim = acc(mim(mlp, x, y, eps=0.1, alpha=0.025, steps=10, generator=gen(24)))
    a_cw = acc(cw_linf(mlp, x, y, eps=0.1, alpha=0.025, steps=10, generator=gen(25)))
    assert clean > 0.9
    assert a_pgd < 0.5 * clean and a_mim < 0.5 * clean and a_cw < 0.5 * clean
    assert a_fgsm >= a_pgd
    assert a_pgd_strong < 0.02  # a standard model's accuracy under PGD ≈ 0


def test_callable_loss_equals_named(digits, mlp):
    _, _, x, y = digits
    named = pgd(mlp, x[:30], y[:30], eps=0.1, alpha=0.02, steps=4, generator=gen(26))
    func = pgd(mlp, x[:30], y[:30], eps=0.1, alpha=0.02, steps=4, generator=gen(26),
               loss=lambda z, t: F.cross_entropy(z, t, reduction="none"))
    assert torch.allclose(named, func)


# ---- argument errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), float("inf"), "a"])
@pytest.mark.parametrize("name", ["fgsm", "pgd", "mim", "cw_linf", "feature"])
def test_bad_eps(name, eps, digits, mlp):
    _, _, x, y = digits
    call = {"fgsm": lambda: fgsm(mlp, x[:4], y[:4], eps=eps),
            "pgd": lambda: pgd(mlp, x[:4], y[:4], eps=eps, alpha=0.01, steps=1),
            "mim": lambda: mim(mlp, x[:4], y[:4], eps=eps, alpha=0.01, steps=1),
            "cw_linf": lambda: cw_linf(mlp, x[:4], y[:4], eps=eps, alpha=0.01, steps=1),
            "feature": lambda: feature_attack(mlp, x[:4], y[:4], eps=eps, alpha=0.01, steps=1, n_targets=2)}[name]
    with pytest.raises(ValueError) as e:
        call()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kw,match", [
    (dict(norm="l1"), "unknown norm"),
    (dict(loss="hinge"), "unknown loss"),
    (dict(alpha=0.0), "alpha"),
    (dict(steps=-1), "steps"),
    (dict(restarts=0), "restarts"),
    (dict(restarts=2, random_start=False), "restarts"),
    (dict(loss=lambda z, t: z), "per-example"),
])
def test_bad_arguments(kw, match, digits, mlp):
    _, _, x, y = digits
    args = dict(eps=0.1, alpha=0.01, steps=1) | kw
    with pytest.raises(ValueError, match=match) as e:
        pgd(mlp, x[:4], y[:4], **args)
    assert "\n" not in str(e.value)


def test_bad_inputs(digits, mlp):
    _, _, x, y = digits
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pgd(mlp, x[:4] * 2 - 1, y[:4], eps=0.1, alpha=0.01, steps=1)
    with pytest.raises(ValueError, match="y must"):
        pgd(mlp, x[:4], y[:3], eps=0.1, alpha=0.01, steps=1)
    with pytest.raises(ValueError, match="target"):
        fgsm(mlp, x[:4], y[:4], eps=0.1, target="most_likely", targeted=True)
    with pytest.raises(ValueError, match="features"):
        feature_attack(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), x[:4], y[:4], eps=0.1, alpha=0.01, steps=1)


# ---- transfer ----------------------------------------------------------------------------------------------

def test_transfer_crafts_on_source_and_scores_on_target(digits, mlp):
    _, _, x, y = digits
    target = MLP()
    kw = dict(eps=0.1, alpha=0.025, steps=5)
    x_t = transfer(pgd, mlp, target, x[:40], y[:40], generator=gen(27), **kw)
    assert torch.equal(x_t, pgd(mlp, x[:40], y[:40], generator=gen(27), **kw))
    acc, correct = transfer_accuracy(pgd, mlp, target, x[:40], y[:40], generator=gen(27), **kw)
    assert torch.equal(correct, predict(target, x_t) == y[:40]) and acc == correct.float().mean().item()
    by_name = transfer(settings.get("PGD-20", scale="smoke"), mlp, target, x[:40], y[:40], generator=gen(28))
    assert ((by_name - x[:40]).abs().amax((1, 2, 3)) <= 0.1 + 1e-6).all()


# ---- named settings ----------------------------------------------------------------------------------------

def _all_specs():
    for paper in settings.PAPERS:
        for scale in settings.SCALES:
            for ds in settings.datasets(paper=paper, scale=scale):
                for name in settings.names(paper=paper, scale=scale, dataset=ds):
                    yield settings.get(name, paper=paper, scale=scale, dataset=ds)


def test_every_setting_resolves_and_binds():
    specs = list(_all_specs())
    required = {"FGSM", "PGD-20", "PGD-100", "MIM", "C&W", "FeaAttack", "CW-20", "CW-40", "CW-100", "PGD-40",
                "SPSA-256", "SPSA-512", "SPSA-1024", "SPSA-2048", "DeepFool", "CW-L2", "RayS", "AA"}
    assert required <= {s.name for s in specs}
    for spec in specs:
        fn = spec.resolve()
        inspect.signature(fn).bind(None, None, None, **spec.kwargs)  # every kwarg is one the function takes
        assert spec.eps > 0 and spec.norm in ("linf", "l2")


def test_paper_values():
    g = settings.get
    e = 8 / 255
    pgd20 = g("PGD-20", paper="adt", dataset="cifar10")
    assert pgd20.fn == "pgd" and pgd20.kwargs == {"eps": e, "alpha": 2 / 255, "steps": 20}
    assert g("PGD-100").kwargs["steps"] == 100 and g("PGD-100").kwargs["alpha"] == e / 4
    assert g("MIM").kwargs == {"eps": e, "alpha": e / 4, "steps": 20, "decay": 1.0}
    assert g("C&W").fn == "cw_linf" and g("C&W").kwargs == {"eps": e, "alpha": e / 4, "steps": 30, "kappa": 50.0}
    assert g("FGSM").kwargs == {"eps": e}
    fea = g("FeaAttack").kwargs
    assert (fea["alpha"], fea["steps"], fea["n_targets"]) == (e / 8, 50, 200)
    assert g("SPSA-2048").kwargs["samples"] == 2048 and g("SPSA-256").kwargs["iterations"] == 100
    svhn = g("PGD-20", dataset="svhn").kwargs
    assert svhn["eps"] == 4 / 255 and svhn["alpha"] == 1 / 255
    assert g("FeaAttack", dataset="svhn").kwargs["eps"] == 4 / 255
    assert g("PGD-20", dataset="cifar100").kwargs["eps"] == e
    for k in (20, 40, 100):
        assert g(f"PGD-{k}", paper="atld").kwargs == {"eps": e, "alpha": 2 / 255, "steps": k}
        assert g(f"CW-{k}", paper="atld").kwargs == {"eps": e, "alpha": 2 / 255, "steps": k, "kappa": 50.0}
    assert g("FGSM", paper="atld").kwargs == {"eps": e, "random_start": True}
    assert g("AA", paper="atld").kwargs["version"] == "standard"
    m = g("PGD-20", paper="atent", dataset="mnist").kwargs
    assert m == {"eps": 0.3, "alpha": 0.01, "steps": 20}
    l2 = g("L2-PGD-40", paper="atent", dataset="mnist").kwargs
    assert l2 == {"eps": 2.0, "norm": "l2", "alpha": 0.25, "steps": 40, "restarts": 10}
    assert g("PGD-20", paper="atent", dataset="cifar10").kwargs == {"eps": e, "alpha": 0.003, "steps": 20}
    # mini: Fashion-MNIST, ε = 0.1, the papers' step counts
    mini = g("PGD-100", scale="mini")
    assert mini.dataset == "fashion_mnist" and mini.kwargs == {"eps": 0.1, "alpha": 0.025, "steps": 100}
    assert g("CW-40", paper="atld", scale="mini").kwargs["steps"] == 40
    assert g("PGD-20", scale="smoke").kwargs["steps"] < 20 and g("PGD-20", scale="smoke").dataset == "digits"
    # ε sweeps: relative steps follow ε, absolute ones stay
    assert g("PGD-20", eps=4 / 255).kwargs["alpha"] == 1 / 255
    assert g("PGD-20", paper="atld", eps=16 / 255).kwargs["alpha"] == 2 / 255


@pytest.mark.parametrize("kw,match", [
    (dict(name="PGD-7"), "valid: FGSM, PGD-10"),
    (dict(name="PGD-20", scale="huge"), "valid: paper, mini, smoke"),
    (dict(name="PGD-20", paper="trades"), "valid: adt, atld, atent"),
    (dict(name="PGD-20", dataset="imagenet"), "valid: cifar10"),
    (dict(name="SPSA-256", dataset="svhn"), "unknown attack"),
])
def test_settings_errors(kw, match):
    with pytest.raises(ValueError, match=match) as e:
        settings.get(kw.pop("name"), **kw)
    assert "\n" not in str(e.value)


def test_smoke_settings_run(digits, mlp):
    xtr, ytr, x, y = digits
    x, y = x[:6], y[:6]
    for paper in settings.PAPERS:
        for name in settings.names(paper=paper, scale="smoke"):
            spec = settings.get(name, paper=paper, scale="smoke")
            if spec.fn == "autoattack":
                continue  # reference AutoAttack is an optional extra, tested with its adapter
            extra = {"target_pool": (xtr, ytr)} if spec.fn == "feature_attack" else {}
            out = spec(mlp, x, y, **extra)
            d = (out - x).flatten(1)
            bound = d.norm(dim=1) if spec.norm == "l2" else d.abs().amax(1)
            assert (bound <= spec.eps + 1e-5).all() and out.min() >= 0 and out.max() <= 1, spec


@pytest.mark.parametrize("use_best,decay", [(True, None), (False, None), (True, 1.0)])
def test_dense_loop_equals_the_row_indexed_loop_when_nobody_stops(use_best, decay):
    """Without early stopping the attack loop runs on whole tensors (``_run_dense``); with ``early_stop`` it indexes
    the active rows. On a model that never misclassifies (a bias keeps class 0 on top) nobody stops, so the two
    loops must give the same iterates, scores and losses, bit for bit."""
    from advdist.attacks import gradient as G

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with torch.no_grad():
        net[1].bias.copy_(torch.tensor([10.0, 0.0, 0.0]))  # |Wx| < 4 here: class 0 always wins, CE > 0
    x, y = torch.rand(12, 1, 4, 4), torch.zeros(12, dtype=torch.long)
    x0 = (x + 0.05 * (2 * torch.rand_like(x) - 1)).clamp(0, 1)
    kw = dict(eps=0.1, alpha=0.025, steps=6, norm="linf", loss_fn=G.resolve_loss("ce", 0.0), decay=decay,
              use_best=use_best, score_last=True)
    with G.frozen(net):
        dense = G._run(net, x, y, x0, early_stop=False, **kw)
        indexed = G._run(net, x, y, x0, early_stop=True, **kw)
    assert not indexed[2].any()  # really nobody stopped
    for a, b in zip(dense, indexed):
        assert torch.equal(a, b)
    assert not torch.equal(dense[0], x0)  # and the iterates moved
