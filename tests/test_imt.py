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
    """On a trained smoke ATLD model, an IMT step raises the discriminator's P(natural) of PGD examples and stays in the
    ball. The step is ε/4: a sign step is a first-order move, and on this model a full ε step (64 coordinates at
    once) overshoots — the IMT controls of ``advdist.analysis.discriminator`` measure how P(natural) changes with s."""
    model, run, splits = trained
    imt = build_imt(run, model)
    x, y = splits.x_test[:200], splits.y_test[:200]
    x_adv = pgd(model, x, y, eps=EPS, alpha=EPS / 4, steps=10)
    x_t, p0 = imt_transform(model, imt.disc, x_adv, eps=EPS, step=EPS / 4)
    _, p1 = imt_transform(model, imt.disc, x_t, eps=EPS)
    assert p1.mean() > p0.mean() + 0.02
    assert (p1 > p0).float().mean() > 0.6  # a random sign step raises it for about half
    x_t, _ = imt_transform(model, imt.disc, x_adv, eps=EPS)
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
    assert set(res) == {f"{r}/{p}" for r in ("atld_imt", "atld_imt_plus")
                        for p in ("non-adaptive", "end-to-end", "adaptive")}
    for a in ("PGD-20", "FGSM"):
        assert not (ad[a] & ~na[a]).any() and ad[a].mean() < ad["clean"].mean()


def test_table_helpers_place_paper_numbers_and_cited_rows():
    """with_paper: the paper's protocol only (plain rows and non-adaptive IMT rows) beside the paper's values, the union
    A_rob labelled as such, cited-only rows (TLA, LAT, Bilateral) appended and marked; adaptive_table: the end-to-end
    and adaptive rows apart, with no paper column; transfer_beside_paper: paper cell per (defense, source, attack);
    imt_gain / imt_columns: the plain-language comparisons; caption: dataset, model, ε and protocol."""
    import pandas as pd

    from advdist import atld_experiments as E

    ours = pd.DataFrame([
        {"model": "atld", "protocol": "—", "A_nat": 90.0, "PGD-20": 50.0, "A_rob": 40.0, "n": 10},
        {"model": "atld_imt", "protocol": "non-adaptive", "A_nat": 88.0, "PGD-20": 60.0, "A_rob": 50.0, "n": 10},
        {"model": "atld_imt", "protocol": "adaptive", "A_nat": 88.0, "PGD-20": 45.0, "A_rob": 42.0, "n": 10}])
    info = {"scale": "mini", "dataset": "fashion_mnist", "paper_dataset": "cifar10", "model": "mini-cnn", "eps": 0.1,
            "paper_eps": 8 / 255}
    t = E.with_paper("atld-table1", ours, info)
    assert list(t.columns[:2]) == ["model", "protocol"] and not any(c.endswith("Δ") for c in t.columns)
    assert "A_rob" not in t.columns and E.AROB_LABEL in t.columns
    assert "worst case over separately generated attacks" in E.AROB_LABEL
    imt = t[t["model"] == "atld_imt"]
    assert list(imt["protocol"]) == ["non-adaptive"] and (imt["PGD-20 (paper)"] == 79.48).all()
    assert "adaptive" not in set(t["protocol"]) and "end-to-end" not in set(t["protocol"])
    cited = t[t["protocol"] == "cited, not reproduced"]
    assert set(cited["model"]) == {"tla", "lat", "bilateral"} and cited["PGD-20"].isna().all()
    assert cited.set_index("model").loc["lat", "PGD-20 (paper)"] == 53.84
    a = E.adaptive_table(ours)
    assert list(a["protocol"]) == ["—", "non-adaptive", "adaptive"] and not any("paper" in c for c in a.columns)
    lines = E.imt_gain(ours)
    assert lines == ["atld_imt: worst case over separately generated attacks 50.00 non-adaptive vs 40.00 without IMT "
                     "(+10.00 pp); 42.00 under the adaptive attack (+2.00 pp, 20 % of the gain kept)"]
    assert E.imt_columns(ours, ("A_nat", "PGD-20")) == [
        "atld_imt (non-adaptive) vs ATLD− per column: A_nat 88.00 vs 90.00 (-2.00 pp); PGD-20 60.00 vs 50.00 "
        "(+10.00 pp) — IMT raises 1 of 2 columns"]
    cap = E.caption(info, E.PAPER_PROTOCOL, 10)
    for part in ("fashion_mnist", "mini-cnn", "ε = 0.1 (paper: 8/255)", "non-adaptive", "10 test examples"):
        assert part in cap
    df = pd.DataFrame([{"attack": "FGSM", "source": "standard", "defense": "atld", "acc": 70.0, "n": 5},
                       {"attack": "FGSM", "source": "atld", "defense": "atld", "acc": 60.0, "n": 5}])
    w = E.transfer_beside_paper("atld-table3", df, info)
    row = w.set_index("defense").loc["atld"]
    assert row["standard / FGSM"] == 70.0 and row["standard / FGSM (paper)"] == 88.11
    assert row["atld / FGSM (paper)"] == 84.47


# ---- measuring D and IMT's direction (issue 15; advdist.analysis.discriminator) -----------------------------------
def test_roc_auc_is_the_pairwise_probability_with_ties_half():
    from sklearn.metrics import roc_auc_score

    from advdist.analysis.discriminator import roc_auc

    g = torch.Generator().manual_seed(0)
    pos = torch.randint(0, 6, (37,), generator=g).float()  # many ties
    neg = torch.randint(0, 5, (41,), generator=g).float()
    pairs = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    assert roc_auc(pos, neg) == pytest.approx(pairs.mean().item(), abs=1e-12)
    labels = [1] * len(pos) + [0] * len(neg)
    assert roc_auc(pos, neg) == pytest.approx(roc_auc_score(labels, torch.cat([pos, neg]).numpy()), abs=1e-12)
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0 and roc_auc([0.0], [1.0]) == 0.0 and roc_auc([1.0], [1.0]) == 0.5
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([], [1.0])


def test_discriminator_auc_of_a_known_linear_discriminator():
    """features(x) = x, D⁰ logit = z·w: clean scores N(0, 1), attacked N(−Δ, 1) along w, so the AUC is Φ(Δ/√2); the
    flipped discriminator gives 1 − AUC; the mean P(natural) of each set is reported."""
    from scipy.stats import norm

    from advdist.analysis.discriminator import discriminator_auc

    w = torch.tensor([1.0, 0.0, 0.0, 0.0])
    clf = _Identity()
    g = torch.Generator().manual_seed(0)
    n, delta = 4000, 1.0
    x_clean = torch.randn(n, 4, generator=g)
    x_adv = torch.randn(n, 4, generator=g) - delta * w
    res = discriminator_auc(clf, _LinearDisc(w), x_clean, x_adv, batch_size=512)
    assert res["auc"] == pytest.approx(norm.cdf(delta / 2 ** 0.5), abs=0.015) and res["n"] == n
    assert res["p_nat_clean"] > res["p_nat_adv"] + 0.1
    flipped = discriminator_auc(clf, _LinearDisc(-w), x_clean, x_adv)
    assert flipped["auc"] == pytest.approx(1 - res["auc"], abs=1e-9)


def test_imt_controls_directions_and_steps():
    """Linear D⁰ (logit z·w − 1, so P(natural) < ½ on the inputs): D's sign raises P(natural) for every input, the
    flipped sign lowers it for every input, a random sign moves it by little on average and up for about half; step 0
    changes nothing; accuracy at step 0 is the classifier's own."""
    from advdist.analysis.discriminator import imt_controls

    w = torch.tensor([1.0, -2.0, 0.5, -0.1, 0.3, -0.7, 1.5, -0.4])
    clf, disc = _Identity(d=8), _LinearDisc(w, b=-1.0)
    g = torch.Generator().manual_seed(0)
    x = 0.3 + 0.4 * torch.rand(400, 8, generator=g)
    y = torch.randint(0, 3, (400,), generator=g)
    df = imt_controls(clf, disc, y, {"clean": x, "shifted": (x + 0.05).clamp(0, 1)}, eps=EPS, batch_size=150)
    assert len(df) == 2 * 3 * 5 and set(df["direction"]) == {"discriminator", "random", "flipped"}
    c = df.set_index(["input", "direction", "step/eps"])
    with torch.no_grad():
        acc0 = 100 * (clf(x).argmax(1) == y).float().mean().item()
    for d in ("discriminator", "random", "flipped"):
        assert c.loc[("clean", d, 0.0), "dP_nat"] == 0 and c.loc[("clean", d, 0.0), "acc"] == pytest.approx(acc0)
    for inp in ("clean", "shifted"):
        up, down, rnd = (c.loc[(inp, d, 1.0)] for d in ("discriminator", "flipped", "random"))
        assert up["raised"] == 100 and down["raised"] == 0
        assert up["dP_nat"] > 0.05 and down["dP_nat"] < -0.05
        assert abs(rnd["dP_nat"]) < 0.25 * up["dP_nat"] and 30 <= rnd["raised"] <= 70
        steps = [c.loc[(inp, "discriminator", r), "dP_nat"] for r in (0.125, 0.25, 0.5, 1.0)]
        assert steps == sorted(steps)  # a longer step along D's sign raises P(natural) more
    with pytest.raises(ValueError, match="unknown IMT direction"):
        imt_controls(clf, disc, y, {"clean": x}, eps=EPS, directions=("sideways",))


def test_imt_transform_direction_options():
    w = torch.tensor([1.0, -2.0, 0.5, -0.1])
    clf, disc = _Identity(), _LinearDisc(w, b=-3.0)
    x = torch.full((3, 4), 0.5)
    up, _ = imt_transform(clf, disc, x, eps=EPS)
    down, _ = imt_transform(clf, disc, x, eps=EPS, direction="flipped")
    assert torch.allclose(up - x, -(down - x), atol=1e-6)
    r1, _ = imt_transform(clf, disc, x, eps=EPS, direction="random", generator=torch.Generator().manual_seed(3))
    r2, _ = imt_transform(clf, disc, x, eps=EPS, direction="random", generator=torch.Generator().manual_seed(3))
    assert torch.equal(r1, r2) and torch.allclose((r1 - x).abs(), torch.full_like(x, EPS), atol=1e-6)
    with pytest.raises(ValueError, match="unknown IMT direction"):
        imt_transform(clf, disc, x, eps=EPS, direction="up")
    with pytest.raises(ValueError, match="grad='tanh'"):
        imt_transform(clf, disc, x, eps=EPS, direction="random", grad="tanh")


def test_discriminator_report_on_a_trained_smoke_model(trained):
    """The library path the ATLD Table 1 notebook uses: AUC rows per attack and the controls grid, numbers in range."""
    from advdist.atld_experiments import controls_wide, discriminator_report, discriminator_sentences

    model, run, splits = trained
    auc, ctrl = discriminator_report(model, run, (splits.x_test[:120], splits.y_test[:120]), scale="smoke",
                                     dataset="digits")
    assert list(auc["attack"]) == ["PGD-20", "CW-20"] and auc["auc"].between(0, 1).all()
    assert {"dP_nat_imt_clean", "dP_nat_imt_adv"} <= set(auc.columns)
    assert len(ctrl) == 3 * 3 * 5 and ctrl["acc"].between(0, 100).all()
    ctrl.insert(0, "variant", "atld")
    auc.insert(0, "variant", "atld")
    wide = controls_wide(ctrl, "atld")
    assert list(wide.columns) == ["direction", "step", "clean", "PGD-20", "CW-20"] and len(wide) == 15
    assert list(wide["step"][:5]) == ["0", "ε/8", "ε/4", "ε/2", "ε"]
    lines = discriminator_sentences(auc, ctrl)
    assert len(lines) == 1 and lines[0].startswith("atld: D's ROC-AUC clean vs PGD-20 latents")


def test_one_run_is_shown_once_beside_both_papers():
    """ATLD Table 2's CIFAR-100 and SVHN halves (and Table 6's) resolve to the same models at mini (both Fashion-MNIST):
    shared_runs says so, and with_papers puts one result beside both papers' columns; at paper scale they differ."""
    import pandas as pd

    from advdist import atld_experiments as E

    keys = ("atld-table2-cifar100", "atld-table2-svhn")
    assert E.shared_runs(keys, scale="mini")
    assert E.shared_runs(("atld-table6-svhn", "atld-table6-cifar100"), scale="mini")
    assert not E.shared_runs(keys, scale="paper")
    ours = pd.DataFrame([{"model": "atld", "protocol": "—", "A_nat": 90.0, "PGD-20": 50.0, "A_rob": 40.0, "n": 10},
                         {"model": "atld_imt", "protocol": "adaptive", "A_nat": 88.0, "PGD-20": 45.0, "A_rob": 42.0,
                          "n": 10}])
    info = {"scale": "mini", "dataset": "fashion_mnist", "paper_dataset": "cifar100"}
    t = E.with_papers(keys, ours, info)
    assert list(t.columns[:5]) == ["model", "protocol", "A_nat", "A_nat (paper, cifar100)", "A_nat (paper, svhn)"]
    row = t[t["model"] == "atld"].iloc[0]
    assert row["A_nat (paper, cifar100)"] == 74.90 and row["A_nat (paper, svhn)"] == 96.90
    assert "adaptive" not in set(t["protocol"]) and E.AROB_LABEL in t.columns
    assert E.joint_info(keys, info)["paper_dataset"] == "cifar100 and svhn"


def test_probe_auc_measures_separability():
    """A mean shift of ‖μ‖ = 2 in 8-D: the linear probe's held-out AUC is Φ(‖μ‖/√2) = 0.921 (the best rule); two sets
    that differ only in their radius defeat the linear probe (≈ 0.5) but not the MLP probe."""
    from scipy.stats import norm

    from advdist.analysis.discriminator import probe_auc

    g = torch.Generator().manual_seed(0)
    mu = torch.full((8,), 2.0 / 8 ** 0.5)
    pos = lambda n: torch.randn(n, 8, generator=g)  # noqa: E731
    a = probe_auc(pos(1500), pos(1500) + mu, pos(2000), pos(2000) + mu)
    # positives are the unshifted set: P(score_pos > score_neg) with the shift along −w
    assert a == pytest.approx(norm.cdf(2.0 / 2 ** 0.5), abs=0.02)
    inner = lambda n: 0.5 * torch.randn(n, 8, generator=g)  # noqa: E731
    outer = lambda n: 1.5 * torch.randn(n, 8, generator=g)  # noqa: E731
    lin = probe_auc(inner(800), outer(800), inner(600), outer(600), probe="linear")
    mlp = probe_auc(inner(800), outer(800), inner(600), outer(600), probe="mlp")
    assert abs(lin - 0.5) < 0.1 and mlp > 0.9
    with pytest.raises(ValueError, match="unknown probe"):
        probe_auc(pos(4), pos(4), pos(4), pos(4), probe="forest")


def test_latent_separability_on_a_trained_smoke_model(trained):
    from advdist.atld_experiments import latent_separability, separability_sentences

    model, run, splits = trained
    df = latent_separability(model, run, splits, scale="smoke", dataset="digits", n_fit=200, n_eval=100)
    assert list(df["scorer"]) == ["D (trained discriminator)", "linear probe", "linear probe", "mlp probe", "mlp probe"]
    assert list(df["fitted on"]) == ["LMAE (training)", "PGD-20", "LMAE", "PGD-20", "LMAE"]
    assert df["auc"].between(0, 1).all() and (df["n_fit"] == 200).all() and (df["n"] == 100).all()
    # a probe fitted on the very attack it is scored on separates at least as well as chance
    assert df[df["fitted on"] == "PGD-20"]["auc"].max() > 0.5
    df.insert(0, "variant", "atld")
    (line,) = separability_sentences(df)
    assert line.startswith("atld: clean vs PGD-20 latents — D ")
