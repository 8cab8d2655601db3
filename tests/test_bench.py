"""``advdist.bench`` (make bench): the JSON it writes and the agreement it reports, on tiny models.

No timing assertions: the benchmark's seconds depend on the machine and its load. What is checked is that
every entry runs end to end, writes the documented fields, and that the results it compares agree (PGD vs
foolbox to < 1e-4; cascade and full give A_rob in [0, 1]; batched and looped FeaAttack break the same images
when neither uses a random start; ADT_EXP's inner loop gives the official-style loop's μ and σ; the batched
Hessian eigenvalues equal the full-Hessian ones to 1e-3; one throughput entry per training method).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

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
    mp = pytest.MonkeyPatch()
    mp.setenv("ADVDIST_RUNS", str(tmp_path_factory.mktemp("runs")))  # adt_exp_bf16_training trains two smoke runs
    try:
        yield _report(tmp_path_factory)
    finally:
        mp.undo()


def _report(tmp_path_factory):
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
    from advdist import methods

    assert names == list(bench.ENTRIES) == ["pgd20_vs_foolbox", "cascade_vs_pgd20", "feaattack_batched_vs_loop",
                                            "adt_exp_inner_vs_official", "adt_exp_bf16_training",
                                            "hessian_top_eig_vs_full"] + [
        f"throughput_{m}" for m in methods.names()]
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


def test_bench_new_entries_agree(report):
    _, js = report
    e = {x["name"]: x for x in js["entries"]}
    adt = e["adt_exp_inner_vs_official"]
    assert adt["input_grad_nonzero"] > 0.5  # the loss term drives the fit: the agreement is not vacuous
    assert set(adt["max_abs_diff"]) == {"ours", "ours_one_batch", "ours_channels_last", "ours_fast_grad",
                                        "ours_fast_grad_channels_last", "ours_channels_last_bf16"}
    assert adt["ours_s"] == pytest.approx(adt["variants_s"]["ours_fast_grad_channels_last"], abs=1e-4)  # the headline
    for variant in ("ours", "ours_one_batch"):  # fp32, same layout: the official loop's μ, σ
        assert adt["max_abs_diff"][variant] < 1e-3 and adt["frac_diff"][variant] == 0.0, variant
    assert set(adt["ratios"]) == set(adt["max_abs_diff"]) and all(v > 0 for v in adt["ratios"].values())
    amp = e["adt_exp_bf16_training"]
    assert amp["amp"] == {"fp32": False, "bf16": True} and amp["runs"]["fp32"] != amp["runs"]["bf16"]
    assert set(amp["pgd20_acc"]) == {"fp32", "bf16"} and all(0 <= v <= 1 for v in amp["pgd20_acc"].values())
    assert amp["clean_acc"]["fp32"] > 0.5 and amp["clean_acc"]["bf16"] > 0.5  # both learned: A_rob means something
    assert amp["pp_gap"] == pytest.approx(100 * abs(amp["pgd20_acc"]["bf16"] - amp["pgd20_acc"]["fp32"]), abs=1e-3)
    hes = e["hessian_top_eig_vs_full"]
    assert hes["max_rel_err_fp64"] <= 1e-6 and hes["max_rel_err"] <= 1e-3
    assert hes["eig_mean"] > 0 and hes["n_full"] < hes["n"]
    assert hes["baseline_s"] == pytest.approx(hes["full_s_measured"] / hes["n_full"] * hes["n"], rel=1e-2)
    for name, x in e.items():
        if name.startswith("throughput_"):
            assert x["method"] == name.removeprefix("throughput_")
            assert x["images_per_s"] > 0 and x["standard_images_per_s"] > 0
            assert math.isclose(x["images_per_s"], 16 / x["ours_s"], rel_tol=1e-2)  # quick: one batch of 16


def test_official_style_fit_is_the_official_loop_and_differs_from_the_literal_reading():
    """The baseline reproduces fit_explicit's defaults (= the official code) exactly and, without the cumulative
    gradients or with the summed entropy of Eq. 11 as printed, it does not (so the agreement is not vacuous)."""
    from advdist.samplers import fit_explicit

    x, y = _fake_test_set(16)
    model = bench.fitted_smallcnn(x, y, steps=5)
    kw = dict(eps=0.1, steps=3, k=2)

    def run(fn, **extra):
        torch.manual_seed(5)
        out = fn(model, x, y, **kw, **extra)
        return (out.loc, out.scale) if hasattr(out, "loc") else out

    ref = run(bench.official_style_fit)
    mu_loss_only = run(bench.official_style_fit, lam=0.0)[0]
    assert float((mu_loss_only != 0).float().mean()) > 0.5  # the CE gradient moves μ: the model is not degenerate
    assert all(p.grad is None for p in model.parameters())  # the baseline clears what its backward filled
    ours = run(fit_explicit)
    assert bench.fit_diff(ours, run(fit_explicit, entropy="mean", cumulative_grad=True))[0] == 0.0  # the defaults
    assert bench.fit_diff(ref, ours)[1] == 0.0 and bench.fit_diff(ref, ours)[0] < 1e-4
    assert bench.fit_diff(ref, run(fit_explicit, sample_batch=None))[1] == 0.0
    assert bench.fit_diff(ref, run(fit_explicit, cumulative_grad=False))[1] > 0.01
    assert bench.fit_diff(ref, run(bench.official_style_fit, cumulative_grad=False))[1] > 0.01
    assert bench.fit_diff(ref, run(fit_explicit, entropy="sum"))[1] > 0.01


def test_bench_only_selects_entries(tmp_path):
    ctx = bench.Context(load_standard=lambda: _tiny_model(0), load_test=_fake_test_set)
    out = tmp_path / "b.json"
    rep = bench.main(["--quick", "--threads", "1", "--only", "pgd20_vs_foolbox", "--out", str(out), "--repeats", "1"],
                     context=ctx)
    assert [r["name"] for r in rep["entries"]] == ["pgd20_vs_foolbox"]
    assert json.loads(out.read_text())["entries"][0]["max_abs_diff"] < 1e-4
    assert bench.select(["throughput_at_"]) == ["throughput_at_fgsm", "throughput_at_pgd"]  # substrings
    assert bench.select(None) == list(bench.ENTRIES)
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--only", "no_such_entry", "--out", str(out)], context=ctx)


def test_each_entry_lives_in_the_module_named_for_it():
    """``advdist.bench`` is one module per family, named for its entries' common prefix, so an entry's code is
    found from its name; the families' order is the entries' order."""
    for name, fn in bench.ENTRIES.items():
        families = [f for f in bench.FAMILIES if name.startswith(f)]
        assert len(families) == 1, (name, families)
        assert fn.__module__ == f"advdist.bench.{families[0]}", (name, fn.__module__)
    first = [next(f for f in bench.FAMILIES if n.startswith(f)) for n in bench.ENTRIES]
    assert sorted(first, key=bench.FAMILIES.index) == first  # registration follows FAMILIES


def test_python_m_advdist_bench_runs_the_cli(tmp_path):
    """``python -m advdist.bench`` (the package's ``__main__``) is ``bench.main``: an unknown ``--only`` is refused
    with the list of entries and writes nothing."""
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "advdist.bench", "--only", "no_such_entry", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "matches no entry" in r.stderr and "pgd20_vs_foolbox" in r.stderr and "throughput_standard" in r.stderr
    assert not out.exists()


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


def test_sample_batch_auto_chunks_whole_samples_and_keeps_results():
    """``sample_batch="auto"`` (the ADT_EXP default): whole samples of ≈ AUTO_ROWS_CPU rows on CPU, all on CUDA,
    and the same fit as one k·B batch up to float32 round-off (it only changes how the MC rows are cut into
    forward passes)."""
    from advdist.samplers import fit_explicit
    from advdist.samplers.explicit import AUTO_ROWS_CPU, resolve_sample_batch

    assert resolve_sample_batch("auto", 128, 5, "cpu") == 128
    assert resolve_sample_batch("auto", 32, 5, "cpu") == AUTO_ROWS_CPU == 128
    assert resolve_sample_batch("auto", 48, 5, "cpu") == 96   # a multiple of the batch: whole samples
    assert resolve_sample_batch("auto", 10, 2, "cpu") == 20   # never more than the k·B rows
    assert resolve_sample_batch("auto", 300, 5, "cpu") == 300
    assert resolve_sample_batch("auto", 128, 5, "cuda") is None
    assert resolve_sample_batch(7, 128, 5, "cpu") == 7 and resolve_sample_batch(None, 128, 5, "cpu") is None
    x, y = _fake_test_set(48)
    model = bench.fitted_smallcnn(x, y, steps=5)
    fits = []
    for sb in ("auto", None, 48):
        torch.manual_seed(2)
        f = fit_explicit(model, x, y, eps=0.1, steps=2, k=3, sample_batch=sb)
        fits.append((f.loc, f.scale))
    # the chunks sum the per-row losses in another order: float32 round-off (seen: 1.3e-5 on an AVX2 CPU, 0 on
    # AVX-512), which may flip the sign step of a near-zero gradient coordinate (betas (0, 0)); a wrong chunking
    # (rows of one sample split across examples, a sample dropped) moves most coordinates
    for other in fits[1:]:
        _, frac_diff, frac_flips = bench.fit_diff(fits[0], other)
        assert frac_diff < 0.01 and frac_flips < 0.01, (frac_diff, frac_flips)


def test_channels_last_and_bf16_keep_the_inner_fit(report):
    """CPU check of the GPU options: channels_last (another float summation order in the convolutions) and bf16
    autocast change only the sign steps of near-zero gradient coordinates (betas (0, 0): Adam steps are signs)."""
    _, js = report
    adt = next(e for e in js["entries"] if e["name"] == "adt_exp_inner_vs_official")
    for variant in ("ours_channels_last", "ours_fast_grad", "ours_fast_grad_channels_last"):
        assert adt["frac_diff"][variant] < 0.01, variant
        assert adt["frac_mu_step_differs"][variant] < 0.01, variant
    # bf16 (8-bit mantissa) gradients: σ's tiny Adam-normalised steps all move a little, a few μ signs flip
    assert adt["frac_mu_step_differs"]["ours_channels_last_bf16"] < 0.2
    assert adt["frac_diff"]["ours_channels_last_bf16"] > 0  # autocast was really on
