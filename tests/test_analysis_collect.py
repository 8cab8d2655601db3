"""advdist.analysis.collect: the data collection behind ADT Fig. 1 (PGD restarts vs ADT_EXP samples) and
Fig. 2 (loss surfaces, input-Hessian eigenvalues)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advdist import report
from advdist.analysis import collect, full_hessian_eigvalsh, loss_surface, pairwise_l2
from advdist.analysis.landscape import LossSurface
from advdist.attacks import pgd
from advdist.attacks.core import random_start
from advdist.samplers import fit_explicit, sample_adversarial

pytestmark = pytest.mark.usefixtures("one_thread")

EPS = 0.1


def _mlp(seed=0, dtype=torch.float32) -> nn.Module:
    """Curved 1×6×6 → 3 classifier (tanh), with dropout so that eval mode matters."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 24), nn.Tanh(), nn.Dropout(0.5), nn.Linear(24, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(4.0)
    return net.to(dtype).train()


def _linear2(dtype=torch.float64) -> nn.Module:
    """Two-class linear model: ∇ₓ CE = p_other·(w_other − w_y) has a constant sign, so PGD has one optimum."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 2)).to(dtype).eval()


def _data(b=5, seed=1, dtype=torch.float32, classes=3):
    g = torch.Generator().manual_seed(seed)
    x = 0.2 + 0.6 * torch.rand(b, 1, 6, 6, generator=g, dtype=dtype)   # away from the [0, 1] borders
    return x, torch.randint(0, classes, (b,), generator=g)


def _in_ball(s: torch.Tensor, x: torch.Tensor, eps: float) -> bool:
    d = s - x.unsqueeze(1)
    return bool((d.abs() <= eps + 1e-6).all() and (s >= 0).all() and (s <= 1).all())


# ------------------------------------------------------------------------------------------------- Fig. 1

def test_pgd_restart_samples_keep_every_restart_in_its_own_slot():
    """Sample [i, r] is PGD from restart r's own start on example i alone (restart-major layout undone)."""
    net, (x, y) = _mlp(), _data()
    n, b = 4, x.shape[0]
    out = collect.pgd_restart_samples(net, x, y, eps=EPS, alpha=EPS / 4, steps=5, n=n,
                                      generator=torch.Generator().manual_seed(7))
    assert out.shape == (b, n, 1, 6, 6) and _in_ball(out, x, EPS)
    x0 = random_start(x.repeat(n, 1, 1, 1), EPS, "linf", torch.Generator().manual_seed(7))
    for i in (0, 3):
        for r in (0, 2, 3):
            one = pgd(net, x[i:i + 1], y[i:i + 1], eps=EPS, alpha=EPS / 4, steps=5, use_best=False,
                      x_init=x0[r * b + i:r * b + i + 1])
            torch.testing.assert_close(out[i, r], one[0], rtol=0, atol=1e-6)
    # distinct restarts, not n copies of one worst restart
    assert pairwise_l2(out, batched=True).min() > 0
    assert net.training


def test_pgd_restarts_collapse_on_a_linear_model_but_distribution_samples_do_not():
    """The Fig. 1 phenomenon in closed form: on a 2-class linear model every PGD restart ends at the same
    vertex clip(x + ε·sign(w_other − w_y)) (pairwise distance 0); the ADT_EXP samples stay spread out."""
    net = _linear2()
    x, y = _data(3, dtype=torch.float64, classes=2)
    pg = collect.pgd_restart_samples(net, x, y, eps=EPS, alpha=EPS / 4, steps=10, n=8)
    w = net[1].weight.detach()
    vertex = (x + EPS * (w[1 - y] - w[y]).sign().view_as(x)).clamp(0, 1)
    torch.testing.assert_close(pg, vertex.unsqueeze(1).expand_as(pg), rtol=0, atol=1e-12)
    assert torch.all(pairwise_l2(pg, batched=True) == 0)
    torch.manual_seed(0)
    ex = collect.explicit_distribution_samples(net, x, y, eps=EPS, n=8)
    assert ex.shape == pg.shape and _in_ball(ex, x, EPS)
    assert torch.all(pairwise_l2(ex, batched=True) > 0.05)


def test_explicit_distribution_samples_use_adt_exp_training_inner_loop():
    """Defaults = the adt_exp method's inner loop (T = 7, k = 5, lr 0.3, betas 0, λ = 0.01, entropy averaged per
    coordinate, cumulative gradients): same RNG state ⇒ the same samples as fit_explicit with those values +
    sample_adversarial."""
    kw = collect.explicit_fit_defaults()
    assert (kw["steps"], kw["k"], kw["lr"], kw["betas"], kw["lam"], kw["entropy"], kw["cumulative_grad"]) == \
        (7, 5, 0.3, (0.0, 0.0), 0.01, "mean", True)
    assert collect.FIG1_VARIANTS["ADT_EXP (literal Eq. 11)"] == {"entropy": "sum", "cumulative_grad": False}
    net, (x, y) = _mlp(), _data()
    torch.manual_seed(5)
    got = collect.explicit_distribution_samples(net, x, y, eps=EPS, n=6)
    torch.manual_seed(5)
    fit = fit_explicit(net, x, y, eps=EPS, steps=7, k=5, lr=0.3, betas=(0.0, 0.0), lam=0.01)
    want = sample_adversarial(fit, x, EPS, 6)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.manual_seed(5)
    longer = collect.explicit_distribution_samples(net, x, y, eps=EPS, n=6, steps=20, k=10)
    assert not torch.equal(longer, got)


def test_sample_diversity_consistent_reproducible_and_rng_neutral():
    net, (x, y) = _mlp(), _data(6)
    state = torch.random.get_rng_state()
    kw = dict(eps=EPS, n_samples=5, pgd_steps=4, keep=2, image_batch=4,
              variants={"ADT_EXP": {}, "same": {}, "λ0": {"lam": 0.0}})
    div = collect.sample_diversity(net, x, y, seed=3, **kw)
    assert torch.equal(torch.random.get_rng_state(), state)           # caller's RNG untouched
    assert list(div.distances) == ["PGD", "ADT_EXP", "same", "λ0"]
    for k in div.distances:
        assert div.distances[k].shape == (6,) and div.errors[k].shape == (6,)
        assert div.samples[k].shape == (2, 5, 1, 6, 6) and _in_ball(div.samples[k], x[:2], EPS)
        # the stored distances/errors are those of the stored samples
        torch.testing.assert_close(div.distances[k][:2], pairwise_l2(div.samples[k], batched=True),
                                   rtol=1e-6, atol=0)
        with torch.no_grad():
            pred = net.eval()(div.samples[k].flatten(0, 1)).argmax(1).view(2, 5)
        net.train()
        torch.testing.assert_close(div.errors[k][:2], (pred != y[:2, None]).float().mean(1))
    # every variant starts from the same RNG state: identical settings ⇒ identical samples
    assert torch.equal(div.samples["same"], div.samples["ADT_EXP"])
    assert not torch.equal(div.samples["λ0"], div.samples["ADT_EXP"])
    again = collect.sample_diversity(net, x, y, seed=3, **kw)
    other = collect.sample_diversity(net, x, y, seed=4, **kw)
    for k in div.distances:
        assert torch.equal(again.distances[k], div.distances[k])
    assert not torch.equal(other.distances["ADT_EXP"], div.distances["ADT_EXP"])
    torch.testing.assert_close(div.x, x[:2])
    with pytest.raises(ValueError, match="PGD"):
        collect.sample_diversity(net, x, y, eps=EPS, n_samples=3, variants={"PGD": {}})
    with pytest.raises(ValueError, match="n_samples"):
        collect.sample_diversity(net, x, y, eps=EPS, n_samples=1)


def test_diversity_table_and_paper_numbers():
    div = collect.Diversity(distances={"PGD": torch.tensor([1.0, 2.0, 3.0]), "ADT_EXP": torch.tensor([2.0, 2.0, 2.0])},
                            errors={"PGD": torch.tensor([1.0, 1.0, 0.5]), "ADT_EXP": torch.tensor([0.0, 0.5, 1.0])},
                            samples={}, x=torch.empty(0), y=torch.empty(0), settings={"n_samples": 7})
    t = collect.diversity_table(div)
    assert list(t["model"]) == ["PGD", "ADT_EXP"]
    assert t["pairwise_l2"].tolist() == pytest.approx([2.0, 2.0])
    assert t["pairwise_l2 std"].tolist() == pytest.approx([1.0, 0.0])          # ddof = 1
    assert t["error %"].tolist() == pytest.approx([250 / 3, 50.0])
    assert t["images"].tolist() == [3, 3] and t["samples/image"].tolist() == [7, 7]
    both = report.beside_paper(t, collect.paper_fig1(), comparable=False)
    assert both["pairwise_l2 (paper)"].tolist() == [1.56, 1.95]                 # ADT Sec. 2.2.1
    assert "pairwise_l2 Δ" not in both


def test_sizes_defaults_and_overrides():
    assert collect.sizes("paper")["fig1_images"] == 100 and collect.sizes("paper")["fig2_eig_images"] == 1000
    assert collect.sizes("mini")["fig2_eig_images"] == 500 and collect.sizes("smoke")["fig2_eig_images"] == 20
    assert collect.sizes("mini", fig1_images=0)["fig1_images"] == 100
    assert collect.sizes("mini", fig1_images=7)["fig1_images"] == 7
    for s in collect.SIZES.values():
        assert s["fig2_grid"] % 2 == 1                                         # clean input on the grid
    with pytest.raises(ValueError, match="valid"):
        collect.sizes("mini", fig1_imgs=3)
    with pytest.raises(ValueError, match="valid"):
        collect.sizes("huge")


# ------------------------------------------------------------------------------------------------- Fig. 2

def test_trained_models_skips_unimplemented_methods(runs_dir):
    tm = collect.trained_models("smoke", ("standard", "no_such_method"), progress=False)
    assert list(tm.models) == ["standard"] and tm.skipped == ["no_such_method"]
    assert tm.cfg.dataset == "digits" and tm.runs["standard"].done
    assert tm.splits.x_test.shape[1:] == (1, 8, 8)
    again = collect.trained_models("smoke", ("standard",), progress=False)     # from the store, same weights
    for p, q in zip(tm.models["standard"].parameters(), again.models["standard"].parameters()):
        assert torch.equal(p, q)


def test_loss_surfaces_per_model_equal_loss_surface_with_seeded_direction():
    nets = {"a": _mlp(0), "b": _mlp(1)}
    x, y = _data(2)
    out = collect.loss_surfaces(nets, x, y, eps=EPS, steps=5, span=3.0, seed=2)
    assert list(out) == ["a", "b"]
    for k, net in nets.items():
        ref = loss_surface(net, x, y, eps=EPS, steps=5, span=3.0, generator=torch.Generator().manual_seed(2))
        torch.testing.assert_close(out[k].losses, ref.losses)
        torch.testing.assert_close(out[k].d2, ref.d2)
        with torch.no_grad():
            clean = F.cross_entropy(net.eval()(x), y, reduction="none")
        torch.testing.assert_close(out[k].losses[:, 2, 2], clean, rtol=1e-5, atol=1e-6)
    # each model's own sign-gradient direction
    assert not torch.equal(out["a"].d1, out["b"].d1)


def _quadratic_surface(eps=0.1, steps=9, span=2.0, offset=(0.5, 1.0)) -> LossSurface:
    c = torch.linspace(-span * eps, span * eps, steps, dtype=torch.float64)
    B, A = torch.meshgrid(c, c, indexing="ij")                  # rows = b (second direction), cols = a
    L = torch.stack([o + 3 * A ** 2 + B ** 2 for o in offset])
    return LossSurface(alphas=c, betas=c, losses=L, d1=torch.zeros(2), d2=torch.zeros(2), eps=eps,
                       names=("sign_grad", "random"))


def test_surface_stats_on_a_known_quadratic():
    """L = o + 3a² + b² on a ±2ε grid: rise within ±ε = 4ε², over the grid 16ε², loss(x) = mean offset."""
    eps = 0.1
    s = _quadratic_surface(eps)
    t = collect.surface_stats({"q": s}, radius=1.0)
    row = t.iloc[0]
    assert row["loss(x)"] == pytest.approx(0.75)
    assert row["rise ±1ε"] == pytest.approx(4 * eps ** 2)
    assert row["rise grid"] == pytest.approx(16 * eps ** 2)
    assert row["range grid"] == pytest.approx(16 * eps ** 2)
    assert row["inputs"] == 2
    half = collect.surface_stats({"q": s}, radius=0.5).iloc[0]
    assert half["rise ±0.5ε"] == pytest.approx(4 * (0.5 * eps) ** 2)
    even = _quadratic_surface(eps, steps=8)
    with pytest.raises(ValueError, match="odd"):
        collect.surface_stats({"q": even})


def test_dominant_eigenvalues_equal_full_hessian_and_table_statistics():
    nets = {"a": _mlp(0, torch.float64), "b": _mlp(1, torch.float64)}
    x, y = _data(4, dtype=torch.float64)
    vals, infos = collect.dominant_eigenvalues(nets, x, y, batch_size=3)
    for k, net in nets.items():
        ref = full_hessian_eigvalsh(net, x, y)[:, -1]
        torch.testing.assert_close(vals[k], ref, rtol=1e-6, atol=1e-9)
        assert infos[k]["converged"].all()
        assert net.training and all(p.grad is None for p in net.parameters())
    t = collect.eigen_table(vals, infos)
    v = vals["a"].double()
    assert t.iloc[0]["eig mean"] == pytest.approx(v.mean().item())
    assert t.iloc[0]["eig std"] == pytest.approx(math.sqrt(((v - v.mean()) ** 2).sum().item() / 3))   # ddof = 1
    assert t["converged"].tolist() == [4, 4] and t["images"].tolist() == [4, 4]


def test_compare_is_a_paired_test_with_plain_verdicts():
    base = torch.tensor([1.0, 2.0, 3.0, 4.0])
    vals = {"at_pgd": base,
            "adt_exp": base - 0.5,                                            # always smaller: SE = 0
            "adt_impam": base + torch.tensor([0.3, -0.2, 0.25, -0.3]),         # noise around the baseline
            "adt_expam": base + torch.tensor([1.0, 1.1, 0.9, 1.0])}            # clearly larger
    lines = collect.compare(vals, ["adt_exp", "adt_impam", "adt_expam", "missing"], "at_pgd", what="eig")
    assert len(lines) == 3                                                     # absent rows skipped
    assert lines[0].startswith("ADT_EXP: eig 2 vs AT_PGD 2.5") and "smaller, as the paper claims" in lines[0]
    assert "paired Δ -0.5" in lines[0]
    assert lines[1].startswith("ADT_IMP-AM:") and "no clear difference" in lines[1]
    assert lines[2].startswith("ADT_EXP-AM:") and "NOT smaller, contrary" in lines[2]
    # the test is paired: a shift much smaller than the spread across images is still detected
    spread = torch.linspace(0, 100, 50)
    shifted = {"at_pgd": spread, "adt_exp": spread + 0.01 + 1e-4 * torch.sin(torch.arange(50.0))}
    assert "larger, as the paper claims" in collect.compare(shifted, ["adt_exp"], "at_pgd", what="l2",
                                                            expect="larger")[0]
    assert "not available" in collect.compare(vals, ["adt_exp"], "standard", what="eig")[0]
    with pytest.raises(ValueError, match="valid"):
        collect.compare(vals, ["adt_exp"], "at_pgd", what="eig", expect="bigger")
    with pytest.raises(ValueError, match="same images"):
        collect.compare({"a": base, "b": base[:2]}, ["b"], "a", what="eig")


def test_surface_rises_per_image_match_the_table():
    s = _quadratic_surface(0.1)
    r = collect.surface_rises({"q": s}, radius=1.0)["q"]
    torch.testing.assert_close(r, torch.full((2,), 4 * 0.1 ** 2, dtype=torch.float64))
    assert collect.surface_stats({"q": s}).iloc[0]["rise ±1ε"] == pytest.approx(r.mean().item())
