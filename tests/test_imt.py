"""IMT / IMT+ inference wrappers (ATLD Sec. 4.2, Eq. (8); Sec. 5.1) and the end-to-end (adaptive) attack."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advdist import config, data, store
from advdist.attacks import pgd
from advdist.defenses import IMT, IMT_PLUS_BAND, build_imt, eot_wrap, imt_transform

pytestmark = pytest.mark.usefixtures("one_thread")

EPS = 0.1


class _Identity(nn.Module):
    """Classifier stub: features(x) = x, logits = fc(x)."""

    def __init__(self, d=4, c=3):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(d, c)

    def features(self, x):
        return x.flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


class _LinearDisc(nn.Module):
    """Discriminator stub: manifold logit = z·w + b, so ∇_x(−log D⁰) = −(1 − D⁰)·w and IMT moves x by +s·sign(w)."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))
        self.b = nn.Parameter(torch.tensor(float(b)))

    def forward(self, z):
        return z @ self.w + self.b, torch.zeros(z.shape[0], 3)


def test_imt_step_direction_and_ball():
    """x_t = x + ε·sign(w) for the linear discriminator: toward the natural side, exactly on the ε-ball."""
    w = torch.tensor([1.0, -2.0, 0.5, -0.1])
    clf, disc = _Identity(), _LinearDisc(w, b=-3.0)  # P(natural) < 0.3 everywhere below: full step even for IMT+
    x = torch.full((5, 4), 0.5)
    x_t, p = imt_transform(clf, disc, x, eps=EPS)
    assert torch.allclose(x_t - x, EPS * w.sign().expand_as(x), atol=1e-6)
    p_t = torch.sigmoid(disc(x_t)[0])
    assert (p_t > p).all()
    # step larger than ε: projected back onto the ε-ball; inputs near the box edge stay in [0, 1]
    x_t, _ = imt_transform(clf, disc, x, eps=EPS, step=4 * EPS)
    assert torch.allclose((x_t - x).abs(), torch.full_like(x, EPS), atol=1e-6)
    x_edge = torch.tensor([[0.98, 0.02, 0.5, 0.5]])
    x_t, _ = imt_transform(clf, disc, x_edge, eps=EPS)
    assert x_t.min() >= 0 and x_t.max() <= 1 and torch.allclose(x_t[0, :2], torch.tensor([1.0, 0.0]))


def test_imt_plus_halves_exactly_inside_band():
    """IMT+: the step is ε/2 where lo ≤ D⁰ ≤ hi and ε elsewhere; plain IMT always takes ε."""
    w = torch.tensor([1.0, 0.0, 0.0, 0.0])
    clf, disc = _Identity(), _LinearDisc(w)
    # choose x[:, 0] so that P(natural) = sigmoid(x0) spans the band and both sides
    targets = torch.tensor([0.1, 0.29, 0.31, 0.5, 0.69, 0.71, 0.9])
    logits = torch.log(targets / (1 - targets))
    x = torch.full((7, 4), 0.5)
    # x0 must stay in [0, 1] with room for a step: shift the bias instead of x
    disc.b.data = torch.tensor(0.0)
    rows = []
    for lg in logits:
        disc.b.data = lg - 0.5 * w[0]
        x_t, p = imt_transform(clf, disc, x[:1], eps=EPS, band=IMT_PLUS_BAND)
        x_full, _ = imt_transform(clf, disc, x[:1], eps=EPS)
        rows.append(((x_t - x[:1])[0, 0].item(), p.item(), (x_full - x[:1])[0, 0].item()))
    for (step, p, full), t in zip(rows, targets.tolist()):
        assert abs(p - t) < 1e-5
        inside = IMT_PLUS_BAND[0] <= t <= IMT_PLUS_BAND[1]
        assert step == pytest.approx(EPS / 2 if inside else EPS, abs=1e-6)
        assert full == pytest.approx(EPS, abs=1e-6)


def test_bpda_gradient_is_gradient_at_transformed_point():
    """grad="bpda": ∂f(x_t)/∂x = (∂f/∂x)(x_t) away from clipping (the sign step is piecewise constant)."""
    torch.manual_seed(0)
    clf = _Identity()
    disc = _LinearDisc(torch.tensor([0.3, -1.0, 2.0, 0.7]), b=-1.0)
    imt = IMT(clf, disc, eps=EPS)
    x = (0.3 + 0.4 * torch.rand(6, 4)).requires_grad_(True)
    out = imt(x)[:, 1].sum()
    g, = torch.autograd.grad(out, x)
    x_t = imt.transform(x.detach()).requires_grad_(True)
    g_ref, = torch.autograd.grad(clf(x_t)[:, 1].sum(), x_t)
    assert torch.allclose(g, g_ref, atol=1e-6)
    # grad="none" cuts every path from x to the output
    x2 = x.detach().requires_grad_(True)
    out = imt.with_grad("none")(x2)[:, 1].sum()
    assert torch.autograd.grad(out, x2, allow_unused=True)[0] is None


def test_tanh_surrogate_keeps_second_order_path():
    clf, disc = _Identity(), _LinearDisc(torch.tensor([0.3, -1.0, 2.0, 0.7]), b=-1.0)
    imt = IMT(clf, disc, eps=EPS, grad="tanh")
    x = (0.3 + 0.4 * torch.rand(6, 4)).requires_grad_(True)
    x_t = imt.transform(x)
    assert x_t.requires_grad and (x_t - x).abs().max() <= EPS + 1e-6


def test_eot_wrap_averages_calls():
    calls = []

    class Noisy(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x + len(calls)

    out = eot_wrap(Noisy(), samples=4)(torch.zeros(2, 3))
    assert len(calls) == 4 and torch.allclose(out, torch.full((2, 3), 2.5))
    with pytest.raises(ValueError):
        eot_wrap(Noisy(), samples=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os

    old = os.environ.get("ADVDIST_RUNS")
    os.environ["ADVDIST_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    try:
        splits = data.load("digits")
        cfg = config.resolve("smoke", "atld-cifar10", method="atld", method_kwargs={"lr_d": 0.05})
        model, run = store.get_or_train(cfg, progress=False, splits=splits)
        yield model, run, splits
    finally:
        if old is None:
            os.environ.pop("ADVDIST_RUNS")
        else:
            os.environ["ADVDIST_RUNS"] = old


def test_imt_moves_trained_inputs_toward_natural(trained):
    """On a trained smoke ATLD model, IMT raises the discriminator's P(natural) of PGD examples and stays in the ball."""
    model, run, splits = trained
    imt = build_imt(run, model)
    x, y = splits.x_test[:200], splits.y_test[:200]
    x_adv = pgd(model, x, y, eps=EPS, alpha=EPS / 4, steps=10)
    x_t, p0 = imt_transform(model, imt.disc, x_adv, eps=EPS)
    _, p1 = imt_transform(model, imt.disc, x_t, eps=EPS)
    assert p1.mean() > p0.mean() + 0.02
    assert (p1 > p0).float().mean() > 0.6  # a random sign step raises it for about half
    assert (x_t - x_adv).abs().max() <= EPS + 1e-6 and x_t.min() >= 0 and x_t.max() <= 1


def test_exact_gradient_vanishes_where_the_box_clips():
    """grad="exact" differentiates the projection: 0 on coordinates IMT pushes out of [0, 1]; "bpda" passes them."""
    clf, disc = _Identity(), _LinearDisc(torch.tensor([-1.0, 1.0, 1.0, 1.0]), b=-2.0)  # step −ε on coordinate 0
    x = torch.tensor([[0.0, 0.5, 0.5, 0.5]], requires_grad=True)
    g_exact, = torch.autograd.grad(IMT(clf, disc, eps=EPS, grad="exact")(x)[:, 0].sum(), x)
    g_bpda, = torch.autograd.grad(IMT(clf, disc, eps=EPS)(x)[:, 0].sum(), x)
    assert g_exact[0, 0] == 0 and g_bpda[0, 0] != 0
    assert torch.allclose(g_exact[0, 1:], g_bpda[0, 1:])


@pytest.mark.parametrize("plus", [False, True])
def test_end_to_end_attack_at_least_as_strong(trained, plus):
    """PGD through IMT warm-started at the paper's non-adaptive example (PGD on the bare classifier, then IMT) breaks
    every example that one breaks, and more; the table's adaptive protocol is never weaker than the paper's."""
    from advdist.atld_experiments import imt_robustness

    model, run, splits = trained
    imt = build_imt(run, model, plus=plus)
    x, y = splits.x_test[:300], splits.y_test[:300]
    torch.manual_seed(0)
    x_na = pgd(model, x, y, eps=EPS, alpha=EPS / 4, steps=20)
    torch.manual_seed(0)
    x_ad = pgd(imt, x, y, eps=EPS, alpha=EPS / 4, steps=20, x_init=x_na)
    assert (x_ad - x).abs().max() <= EPS + 1e-6
    with torch.no_grad():
        ok_na = imt(x_na).argmax(1) == y
        ok_ad = imt(x_ad).argmax(1) == y
    assert not (ok_ad & ~ok_na).any()        # nothing the non-adaptive attack broke is repaired
    assert (ok_na & ~ok_ad).sum() >= 1        # and the gradient through IMT breaks more
    res = imt_robustness(model, run, (x[:100], y[:100]), ["PGD-20", "FGSM"], scale="smoke", dataset="digits")
    row = "atld_imt_plus" if plus else "atld_imt"
    na, ad = res[f"{row}/non-adaptive"], res[f"{row}/adaptive"]
    assert set(res) == {f"{r}/{p}" for r in ("atld_imt", "atld_imt_plus") for p in ("non-adaptive", "end-to-end", "adaptive")}
    for a in ("PGD-20", "FGSM"):
        assert not (ad[a] & ~na[a]).any() and ad[a].mean() < ad["clean"].mean()


def test_table_helpers_place_paper_numbers_and_cited_rows():
    """with_paper: our (model, protocol) rows beside the paper's values, the paper's IMT numbers beside every protocol,
    cited-only rows (TLA, LAT, Bilateral) appended and marked; transfer_beside_paper: paper cell per (defense, source,
    attack); imt_gain: the plain-language comparison."""
    import pandas as pd

    from advdist import atld_experiments as E

    ours = pd.DataFrame([
        {"model": "atld", "protocol": "—", "A_nat": 90.0, "PGD-20": 50.0, "A_rob": 40.0, "n": 10},
        {"model": "atld_imt", "protocol": "non-adaptive", "A_nat": 88.0, "PGD-20": 60.0, "A_rob": 50.0, "n": 10},
        {"model": "atld_imt", "protocol": "adaptive", "A_nat": 88.0, "PGD-20": 45.0, "A_rob": 42.0, "n": 10}])
    info = {"scale": "mini", "dataset": "fashion_mnist", "paper_dataset": "cifar10"}
    t = E.with_paper("atld-table1", ours, info)
    assert list(t.columns[:2]) == ["model", "protocol"] and not any(c.endswith("Δ") for c in t.columns)
    imt = t[t["model"] == "atld_imt"]
    assert (imt["PGD-20 (paper)"] == 79.48).all() and len(imt) == 2
    cited = t[t["protocol"] == "cited, not reproduced"]
    assert set(cited["model"]) == {"tla", "lat", "bilateral"} and cited["PGD-20"].isna().all()
    assert cited.set_index("model").loc["lat", "PGD-20 (paper)"] == 53.84
    lines = E.imt_gain(ours)
    assert lines == ["atld_imt: A_rob 50.00 non-adaptive vs 40.00 without IMT (+10.00 pp); 42.00 under the adaptive "
                     "attack (+2.00 pp, 20 % of the gain kept)"]
    df = pd.DataFrame([{"attack": "FGSM", "source": "standard", "defense": "atld", "acc": 70.0, "n": 5},
                       {"attack": "FGSM", "source": "atld", "defense": "atld", "acc": 60.0, "n": 5}])
    w = E.transfer_beside_paper("atld-table3", df, info)
    row = w.set_index("defense").loc["atld"]
    assert row["standard / FGSM"] == 70.0 and row["standard / FGSM (paper)"] == 88.11
    assert row["atld / FGSM (paper)"] == 84.47
