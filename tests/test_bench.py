"""``advdist.bench`` (make bench): the JSON it writes and the agreement it reports, on tiny models.

No timing assertions: the benchmark's seconds depend on the machine and its load. What is checked is that
every entry runs end to end, writes the documented fields, and that the results it compares agree (PGD vs
foolbox to < 1e-4; cascade and full give A_rob in [0, 1]; batched and looped FeaAttack break the same images
when neither uses a random start).
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from advdist import bench
from advdist.models import build

pytest.importorskip("foolbox")


def _fake_test_set(n: int = 200):
    """Ten random binary templates, one per class, plus noise: learnable in a few steps, breakable at ε = 0.1."""
    g = torch.Generator().manual_seed(0)
    templates = (torch.rand(10, 1, 28, 28, generator=g) > 0.5).float()
    y = torch.arange(n) % 10
    x = (0.5 + 0.1 * (2 * templates[y] - 1) + 0.25 * torch.randn(n, 1, 28, 28, generator=g)).clamp(0, 1)
    return x, y


def _tiny_model(seed: int) -> torch.nn.Module:
    """A small mini-cnn fitted to the fake test set in 30 full-batch Adam steps (< 1 s): clean accuracy 1."""
    torch.manual_seed(seed)
    model = build("mini-cnn", widths=(4, 8), hidden=16)
    x, y = _fake_test_set()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    ctx = bench.Context(load_standard=lambda: _tiny_model(0), load_robust=lambda: _tiny_model(1),
                        load_test=_fake_test_set)
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    rep = bench.main(["--quick", "--threads", "1", "--out", str(out)], context=ctx)  # tiny ops: 1 thread is faster
    return rep, json.loads(out.read_text())


def test_bench_writes_schema(report):
    rep, js = report
    assert js["meta"]["quick"] is True
    for key in ("torch", "threads", "cpu", "date"):
        assert js["meta"][key], key
    assert js["meta"]["torch"] == torch.__version__
    names = [e["name"] for e in js["entries"]]
    assert names == list(bench.ENTRIES) == ["pgd20_vs_foolbox", "cascade_vs_pgd20", "feaattack_batched_vs_loop"]
    for e in js["entries"]:
        for f in bench.FIELDS:
            assert f in e, (e["name"], f)
        assert e["baseline_s"] > 0 and e["ours_s"] > 0
        assert math.isclose(e["ratio"], e["baseline_s"] / e["ours_s"], rel_tol=1e-2)
        assert e["device"].startswith("cpu")
        assert isinstance(e["agree"], str) and e["agree"]


def test_bench_agreement_is_sane(report):
    _, js = report
    e = {x["name"]: x for x in js["entries"]}
    pgd = e["pgd20_vs_foolbox"]
    assert pgd["max_abs_diff"] < 1e-4
    assert pgd["at_boundary"] > 0.5  # the attack moved: the comparison is not vacuous
    casc = e["cascade_vs_pgd20"]
    for key in ("a_rob_cascade", "a_rob_full", "a_rob_pgd20"):
        assert 0.0 <= casc[key] <= 1.0
    assert casc["a_rob_full"] <= casc["a_rob_pgd20"] + 1e-9  # more attacks never raise the worst case
    assert casc["full_s"] > 0 and 0 <= casc["robust_differ"] <= casc["n"]
    fea = e["feaattack_batched_vs_loop"]
    assert 0.0 <= fea["broken_batched"] <= 1.0 and 0.0 <= fea["broken_loop"] <= 1.0
    assert fea["broken_differ_no_random_start"] == 0
    assert 0.0 < fea["broken_no_random_start"] < 1.0  # some images broken, some not: the comparison means something


def test_bench_only_selects_entries(tmp_path):
    ctx = bench.Context(load_standard=lambda: _tiny_model(0), load_test=_fake_test_set)
    out = tmp_path / "b.json"
    rep = bench.main(["--quick", "--threads", "1", "--only", "pgd20_vs_foolbox", "--out", str(out), "--repeats", "1"],
                     context=ctx)
    assert [r["name"] for r in rep["entries"]] == ["pgd20_vs_foolbox"]
    assert json.loads(out.read_text())["entries"][0]["max_abs_diff"] < 1e-4


def test_feature_attack_fixed_targets_equal_drawn_targets():
    """``targets=`` (used by the FeaAttack entry) gives exactly the run whose generator drew those targets."""
    from advdist.attacks import draw_targets, feature_attack

    model = _tiny_model(1)
    x, y = _fake_test_set()
    xb, yb = x[:12], y[:12]
    kw = dict(eps=0.1, alpha=0.0125, steps=3, target_pool=(x, y), random_start=False, return_success=True)
    drawn, ok_drawn = feature_attack(model, xb, yb, n_targets=5, generator=torch.Generator().manual_seed(3), **kw)
    tg = draw_targets(yb, y, 5, torch.Generator().manual_seed(3))
    fixed, ok_fixed = feature_attack(model, xb, yb, targets=tg, **kw)
    assert torch.equal(drawn, fixed) and torch.equal(ok_drawn, ok_fixed)
    assert (y[tg] != yb[:, None]).all()
    other, _ = feature_attack(model, xb, yb, targets=tg.roll(1, 0).clamp(max=len(y) - 1), **kw)
    assert not torch.equal(other, fixed)  # the targets matter
    with pytest.raises(ValueError, match="targets"):
        feature_attack(model, xb, yb, targets=tg[:3], **kw)
