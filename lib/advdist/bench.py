"""``make bench``: timed comparisons of the attack engine against a baseline run in the same process.

Each entry times a baseline and our implementation on the same model and data, interleaved (the order
alternates between repeats) after one warm-up call each, and reports the median seconds, the ratio
``baseline_s / ours_s`` (> 1: ours is faster) and how the two results were checked to agree. Absolute
seconds depend on the machine and its load (2 shared CPU cores in CI); only the ratios are meant to be
compared, and nothing here is a test (``tests/test_bench.py`` checks the schema and the agreement fields).

Entries:

- ``pgd20_vs_foolbox``: ℓ∞ PGD-20 (ε = 0.1, α = ε/4, start at x, last iterate) against foolbox's ``LinfPGD``
  on the mini standard model, 256 Fashion-MNIST test images.
- ``cascade_vs_pgd20``: the whole ADT Table 1 attack list in cascade mode (``evaluate.robustness_matrix``)
  against PGD-20 alone and against the full (non-cascade) list, on the at_pgd mini model, 1000 test images.
- ``feaattack_batched_vs_loop``: FeaAttack with all targets of an image in one batch against one target at a
  time (each target's 50-step attack on the images not yet broken), same targets, 64 images, 20 targets.
- ``adt_exp_inner_vs_official``: ADT_EXP's inner maximisation (T = 7, k = 5) on TRADES SmallCNN, 128 images,
  against a loop written the way the official code runs it (k sequential passes, ``loss.backward()``); variants:
  default fp32, one k·B batch, channels_last, ``fast_input_grad`` (``models.grad_view``), both, bf16 autocast.
- ``adt_exp_bf16_training``: a mini ADT_EXP model trained with bf16 autocast against fp32: time and PGD-20 A_rob.
- ``hessian_top_eig_vs_full``: batched Hessian-vector-product Lanczos top eigenvalue of the input Hessian
  against the official script's full Hessian + ``eigvalsh``, with their agreement.
- ``throughput_<method>``: images/s of one training step of every method at mini scale, against ``standard``.

    python -m advdist.bench [--only NAME ...] [--quick] [--out figures/bench/bench.json]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from advdist import paths

#: the ADT Table 1 columns, in the paper's order (also the cascade order)
TABLE1_ATTACKS = ("FGSM", "PGD-20", "PGD-100", "MIM", "C&W", "FeaAttack")
#: the at_pgd mini model used by the robust-model entries: cut down so that training it takes minutes
ROBUST_OVERRIDES = dict(n_train=10000, epochs=3)
#: cascade_vs_pgd20: image counts tried in turn until the full run is estimated to fit FULL_BUDGET_S
SIZES = (1000, 500, 250, 100)
FULL_BUDGET_S = 600.0
FIELDS = ("what", "baseline", "ours", "baseline_s", "ours_s", "ratio", "device", "agree", "notes")


# ---- what the entries run on ---------------------------------------------------------------------------------

@dataclass
class Context:
    """Sizes and (lazily loaded) models and data of one benchmark run; tests build one with tiny models."""

    quick: bool = False
    repeats: int = 3
    load_standard: Callable[[], torch.nn.Module] | None = None
    load_robust: Callable[[], torch.nn.Module] | None = None
    load_test: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    cascade_n: int | None = None
    _cache: dict = field(default_factory=dict)

    def _get(self, key: str, fn: Callable):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def standard_model(self) -> torch.nn.Module:
        return self._get("standard", self.load_standard or _load_standard)

    def robust_model(self) -> torch.nn.Module:
        return self._get("robust", self.load_robust or _load_robust)

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._get("test", self.load_test or _load_test)

    def subset(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Stratified, deterministic ``n`` test examples (``experiments.eval_subset``)."""
        from types import SimpleNamespace

        from advdist.experiments import eval_subset

        x, y = self.test_set()
        return eval_subset(SimpleNamespace(x_test=x, y_test=y), "mini", n)

    @property
    def scale(self) -> str:
        """Attack settings: ``mini`` (Fashion-MNIST), ``smoke`` step counts with ``--quick``."""
        return "smoke" if self.quick else "mini"

    @property
    def settings_dataset(self) -> str:
        return "digits" if self.quick else "fashion_mnist"


def _load_standard() -> torch.nn.Module:
    from advdist import config, store

    return store.get_or_train(config.resolve("mini", "adt-cifar10"), device="cpu", progress=True)[0].eval()


def _load_robust() -> torch.nn.Module:
    from advdist import config, store

    cfg = config.resolve("mini", "adt-cifar10", method="at_pgd", **ROBUST_OVERRIDES)
    return store.get_or_train(cfg, device="cpu", progress=True)[0].eval()


def _load_test() -> tuple[torch.Tensor, torch.Tensor]:
    from advdist import data

    splits = data.load("fashion_mnist")
    return splits.x_test, splits.y_test


def build_context(quick: bool = False, repeats: int | None = None, cascade_n: int | None = None) -> Context:
    """The default context: the run store's mini models and the Fashion-MNIST test split."""
    return Context(quick=quick, repeats=repeats or (2 if quick else 3), cascade_n=cascade_n)


# ---- timing ------------------------------------------------------------------------------------------------

def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True):
    """Run every function ``repeats`` times, interleaved (order reversed on every other round), after one
    warm-up call each. Returns ``({name: [seconds, ...]}, {name: result of the first call}).``"""
    times: dict[str, list[float]] = {k: [] for k in fns}
    first: dict[str, Any] = {}
    names = list(fns)
    if warmup:
        for k in names:
            first[k] = fns[k]()
    for r in range(repeats):
        for k in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            out = fns[k]()
            times[k].append(time.perf_counter() - t0)
            first.setdefault(k, out)
    return times, first


def median(ts: list[float]) -> float:
    return float(statistics.median(ts))


def _result(model, what, baseline, ours, baseline_s, ours_s, agree, notes, **extra) -> dict:
    """One entry's record; ``model`` (or a ``torch.device``) gives the device field."""
    dev = model if isinstance(model, torch.device) else next(model.parameters()).device
    out = {"what": what, "baseline": baseline, "ours": ours, "baseline_s": round(baseline_s, 6),
           "ours_s": round(ours_s, 6), "ratio": float(f"{baseline_s / ours_s:.4g}") if ours_s > 0 else float("nan"),
           "device": f"{dev.type} ({torch.get_num_threads()} threads)" if dev.type == "cpu" else str(dev),
           "agree": agree, "notes": notes}
    out.update(extra)
    return out


# ---- entries -----------------------------------------------------------------------------------------------

ENTRIES: dict[str, Callable[[Context], dict]] = {}


def entry(fn: Callable[[Context], dict]) -> Callable[[Context], dict]:
    ENTRIES[fn.__name__] = fn
    return fn


@entry
def pgd20_vs_foolbox(ctx: Context) -> dict:
    """PGD-20 ℓ∞ from x (no random start), last iterate, against foolbox 3 ``LinfPGD`` with the same settings."""
    import foolbox as fb

    from advdist.attacks import frozen, pgd

    model = ctx.standard_model().eval()
    n, steps = (32, 5) if ctx.quick else (256, 20)
    x, y = ctx.subset(n)
    eps = 0.1
    alpha = eps / 4
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), device=x.device)
    attack = fb.attacks.LinfPGD(abs_stepsize=alpha, steps=steps, random_start=False)

    def foolbox():
        return attack(fmodel, x, y, epsilons=eps)[1]

    def foolbox_frozen():  # the same with requires_grad=False on the weights: no weight gradients
        with frozen(model):
            return attack(fmodel, x, y, epsilons=eps)[1]

    def ours():
        return pgd(model, x, y, eps=eps, alpha=alpha, steps=steps, random_start=False, use_best=False)

    try:
        times, out = interleaved({"foolbox": foolbox, "ours": ours, "foolbox_frozen": foolbox_frozen}, ctx.repeats)
    finally:
        model.zero_grad(set_to_none=True)  # foolbox's loss.backward() leaves weight gradients on the model
    ref, mine = out["foolbox"], out["ours"]
    diff = (mine - ref).abs()
    max_diff = float(diff.max())
    n_px_diff = int((diff > 1e-6).sum())
    with torch.no_grad():
        acc_ref = float((model(ref).argmax(1) == y).float().mean())
        acc_ours = float((model(mine).argmax(1) == y).float().mean())
    at_boundary = float(((mine - x).abs().flatten(1).amax(1) > eps * 0.99).float().mean())
    fb_s, ours_s, fbf_s = median(times["foolbox"]), median(times["ours"]), median(times["foolbox_frozen"])
    agree = (f"max |x_ours - x_foolbox| = {max_diff:.2e} ({n_px_diff} of {diff.numel()} pixels differ by > 1e-6); "
             f"accuracy under attack {acc_ours:.4f} (ours) vs {acc_ref:.4f} (foolbox)")
    notes = (f"{n} stratified Fashion-MNIST test images, batch of {n}, eps={eps}, alpha=eps/4, {steps} steps, "
             f"start at x; ours use_best=False (= foolbox's last iterate); {at_boundary:.0%} of ours reach the "
             f"eps boundary; medians of {ctx.repeats} interleaved runs after a warm-up. foolbox calls "
             f"loss.backward() (weight gradients too) and one extra forward pass for its success check; with the "
             f"weights frozen (requires_grad=False) foolbox took {fbf_s:.3f} s: plain/frozen foolbox = "
             f"{fb_s / fbf_s if fbf_s else float('nan'):.2f}x, frozen foolbox/ours = "
             f"{fbf_s / ours_s if ours_s else float('nan'):.2f}x")
    return _result(model, "PGD-20 linf, last iterate, from x", f"foolbox {fb.__version__} LinfPGD", "advdist.attacks.pgd",
                   fb_s, ours_s, agree, notes, max_abs_diff=max_diff, at_boundary=at_boundary, foolbox_frozen_s=round(fbf_s, 4),
                   n=n, steps=steps, repeats=ctx.repeats)


class _Timed:
    """An attack setting that adds its own run time to ``clock[name]`` (what ``robustness_matrix`` needs of it)."""

    def __init__(self, spec, clock: dict[str, float]):
        self.spec, self.clock = spec, clock
        self.name, self.fn, self.kwargs = spec.name, spec.fn, spec.kwargs

    def __call__(self, model, x, y, **kw):
        t0 = time.perf_counter()
        try:
            return self.spec(model, x, y, **kw)
        finally:
            self.clock[self.name] = self.clock.get(self.name, 0.0) + time.perf_counter() - t0


def _grad_evals(spec) -> int:
    """Forward(+backward) passes per image of an attack setting (its cost in units of one PGD step)."""
    kw = spec.kwargs
    if spec.fn == "fgsm":
        return 2
    if spec.fn == "feature_attack":
        return int(kw["n_targets"]) * (int(kw["steps"]) + 1)
    return int(kw.get("restarts", 1)) * (int(kw["steps"]) + 1)


@entry
def cascade_vs_pgd20(ctx: Context) -> dict:
    """ADT Table 1's attack list in cascade mode vs PGD-20 alone and vs the full (non-cascade) list."""
    from advdist.attacks import settings
    from advdist.evaluate import robustness_matrix

    model = ctx.robust_model().eval()
    specs = [settings.get(a, scale=ctx.scale, paper="adt", dataset=ctx.settings_dataset) for a in TABLE1_ATTACKS]
    clocks: dict[str, dict[str, float]] = {"cascade": {}, "full": {}}

    def run(data, attacks, cascade: bool):
        return robustness_matrix(model, data, attacks, cascade=cascade, progress=False, scale=ctx.scale,
                                 paper="adt", dataset=ctx.settings_dataset, target_pool=data)

    size_note = ""
    if ctx.cascade_n:
        n = ctx.cascade_n
    elif ctx.quick:
        n = 64
    else:  # 1000 images unless the full run is estimated (from a timed PGD-20 run) to exceed FULL_BUDGET_S
        data = ctx.subset(1000)
        t_pgd, _ = interleaved({"pgd20": lambda: run(data, [specs[1]], False)}, 2)  # warm-up, then 2 timed runs
        est_per_image = median(t_pgd["pgd20"]) / 1000 * sum(map(_grad_evals, specs)) / _grad_evals(specs[1])
        n = next((m for m in SIZES if est_per_image * m <= FULL_BUDGET_S), SIZES[-1])
        if n < 1000:
            size_note = (f"; {n} images instead of 1000: the full run on 1000 was estimated at "
                         f"{est_per_image * 1000 / 60:.0f} min (> {FULL_BUDGET_S / 60:.0f} min) from timed PGD-20 runs on 1000 "
                         f"scaled by the forward/backward passes per image")
    data = ctx.subset(n)
    x, y = data

    def pgd20():
        return run(data, [specs[1]], False)

    def cascade():
        return run(data, [_Timed(s, clocks["cascade"]) for s in specs], True)

    def full():
        return run(data, [_Timed(s, clocks["full"]) for s in specs], False)

    # PGD-20 is cheap: warm it up and time it around each long run; the long runs are timed once each
    # (on the real sizes they take minutes, so a warm-up would not change them)
    pgd_times, _ = interleaved({"pgd20": pgd20}, 1)
    res: dict[str, Any] = {}
    long_times: dict[str, float] = {}
    for name, fn in (("cascade", cascade), ("full", full)):
        t0 = time.perf_counter()
        res[name] = fn()
        long_times[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res["pgd20"] = pgd20()
        pgd_times["pgd20"].append(time.perf_counter() - t0)
    p_s, c_s, f_s = median(pgd_times["pgd20"]), long_times["cascade"], long_times["full"]
    rc, rf = res["cascade"], res["full"]
    differ = int((rc.robust != rf.robust).sum())
    acc_full = {k: round(v, 4) for k, v in rf.accuracy().items()}
    agree = (f"A_rob cascade {rc.a_rob:.4f} vs full {rf.a_rob:.4f} ({differ} of {n} examples differ; random "
             f"starts are drawn per chunk, so only deterministic attacks must agree exactly); "
             f"A_rob PGD-20 alone {res['pgd20'].a_rob:.4f}")
    # no cascade (any order, any early stopping) costs less than every attack's full budget on the examples that
    # end up robust, since each must withstand every attack: the floor of cascade/PGD-20 for this list and model
    n_rob = int(rc.robust.sum())
    floor = sum(_grad_evals(s) for s in specs) * n_rob / (_grad_evals(specs[1]) * n)
    per_c = ", ".join(f"{k} {v:.1f}s" for k, v in clocks["cascade"].items())
    per_f = ", ".join(f"{k} {v:.1f}s" for k, v in clocks["full"].items())
    costs = ", ".join(f"{s.name} {_grad_evals(s)}" for s in specs)
    notes = (f"at_pgd mini model trained with {ROBUST_OVERRIDES} (cut down to keep the benchmark to minutes); "
             f"{n} stratified test images{size_note}; attacks {list(TABLE1_ATTACKS)} at {ctx.scale} scale in that "
             f"order, FeaAttack target pool = the same images; forward/backward passes per image: {costs}. "
             f"cascade/PGD-20 = {c_s / p_s:.2f}x (goal <= 1.6x; floor {floor:.1f}x: the {n_rob} robust examples must "
             f"each withstand every attack's full budget), full/cascade = {f_s / c_s:.2f}x; PGD-20 median "
             f"of {len(pgd_times['pgd20'])} runs, cascade and full one run each. Attack seconds, cascade: {per_c}; "
             f"full: {per_f}")
    return _result(model, "ADT Table 1 attack list: cascade vs PGD-20 alone", "PGD-20 alone (robustness_matrix)",
                   "cascade of the 6 Table 1 attacks", p_s, c_s, agree, notes,
                   full_s=round(f_s, 4), ratio_full_vs_cascade=round(f_s / c_s, 3),
                   cascade_over_pgd20=round(c_s / p_s, 3), floor_cascade_over_pgd20=round(floor, 3),
                   a_rob_cascade=rc.a_rob, a_rob_full=rf.a_rob, a_rob_pgd20=res["pgd20"].a_rob,
                   robust_differ=differ, accuracy_full=acc_full,
                   attack_s_cascade={k: round(v, 3) for k, v in clocks["cascade"].items()},
                   attack_s_full={k: round(v, 3) for k, v in clocks["full"].items()}, n=n)


@entry
def feaattack_batched_vs_loop(ctx: Context) -> dict:
    """FeaAttack, all K targets of an image in one batch vs one target at a time (same targets)."""
    from advdist.attacks import draw_targets, feature_attack, settings

    model = ctx.robust_model().eval()
    n, k = (8, 4) if ctx.quick else (64, 20)
    pool = ctx.subset(64 if ctx.quick else 1000)
    x, y = ctx.subset(n)
    spec = settings.get("FeaAttack", scale=ctx.scale, paper="adt", dataset=ctx.settings_dataset)
    kw = {key: v for key, v in spec.kwargs.items() if key != "n_targets"}
    targets = draw_targets(y, pool[1], k, torch.Generator().manual_seed(0))

    def batched(random_start=True, batch_size=512):
        return feature_attack(model, x, y, **kw, target_pool=pool, targets=targets, early_stop=True,
                              random_start=random_start, generator=torch.Generator().manual_seed(1),
                              batch_size=batch_size, return_success=True)[1]

    def loop(random_start=True):
        """Target j: the 50-step attack of every image not yet broken towards its j-th target."""
        g = torch.Generator().manual_seed(1)
        broken = torch.zeros(n, dtype=torch.bool)
        for j in range(k):
            idx = (~broken).nonzero(as_tuple=True)[0]
            if idx.numel() == 0:
                break
            _, ok = feature_attack(model, x[idx], y[idx], **kw, target_pool=pool, targets=targets[idx, j:j + 1],
                                   early_stop=True, random_start=random_start, generator=g, return_success=True)
            broken[idx[ok]] = True
        return broken

    times, out = interleaved({"loop": loop, "batched": batched, "batched_bs128": lambda: batched(batch_size=128)},
                             ctx.repeats)
    b_mask, l_mask = out["batched"], out["loop"]
    det_b, det_l = batched(random_start=False), loop(random_start=False)  # no random start: must agree exactly
    l_s, b_s, b128_s = median(times["loop"]), median(times["batched"]), median(times["batched_bs128"])
    agree = (f"broken: batched {b_mask.float().mean():.4f} vs loop {l_mask.float().mean():.4f} of {n} images, "
             f"{int((b_mask != l_mask).sum())} differ (random starts differ between the two); without random "
             f"start {det_b.float().mean():.4f} vs {det_l.float().mean():.4f}, {int((det_b != det_l).sum())} differ")
    notes = (f"at_pgd mini model ({ROBUST_OVERRIDES}); {n} stratified test images, {k} targets each drawn once "
             f"(draw_targets, pool = {len(pool[1])} stratified test images) and passed to both via targets=; "
             f"eps={spec.eps}, alpha=eps/8, {kw['steps']} steps, random start; batched = one call, "
             f"{n * k} rows in chunks of 512 (chunks of 128: {b128_s:.3f} s, {l_s / b128_s:.2f}x the loop); "
             f"loop = {k} calls of {n} rows or fewer; both stop images once broken. Medians of {ctx.repeats} "
             f"interleaved runs after a warm-up")
    return _result(model, f"FeaAttack {k} targets: one batch vs one target at a time", "loop over targets",
                   "feature_attack (all targets batched)", l_s, b_s, agree, notes,
                   broken_batched=float(b_mask.float().mean()), broken_loop=float(l_mask.float().mean()),
                   broken_differ=int((b_mask != l_mask).sum()), broken_differ_no_random_start=int((det_b != det_l).sum()),
                   broken_no_random_start=float(det_b.float().mean()),
                   batched_bs128_s=round(b128_s, 4), n=n, n_targets=k, repeats=ctx.repeats)


# ---- ADT_EXP inner maximisation ---------------------------------------------------------------------------------

def official_style_fit(model, x, y, *, eps: float, steps: int = 7, k: int = 5, lr: float = 0.3,
                       lam: float = 0.01, cumulative_grad: bool = True):
    """BASELINE, not library code: ADT_EXP's inner loop (ADT Alg. 2, Eq. 8-11) the way the official ``adt_exp.py``
    runs it, written from the reference note's description (adt-official.md §1).

    Per example μ = ρ = 0 (σ = softplus(ρ)), Adam(lr, betas (0, 0)); each of the ``steps`` steps loops over the
    ``k`` samples one at a time — a forward pass of B rows and ``loss.backward()`` on
    −[CE_mean + λ·mean(r²/2 + log(σ + 1e-8) + log(1 − tanh²u + 1e-8))], which also fills the classifier's
    parameter gradients — then one Adam step. ``cumulative_grad=True`` is the code's missing ``zero_grad``.
    The model is in eval mode with its parameters trainable, as in the code; their ``.grad`` is cleared on exit.
    The step's k noises are drawn as one ``torch.randn((k, *x.shape))`` (the library's draw, so both see the same
    noise; the code draws k times ``randn_like(x)``). Returns (μ, σ).
    """
    import torch.nn.functional as F

    was = model.training
    model.eval()
    mean = torch.zeros_like(x, requires_grad=True)
    var = torch.zeros_like(x, requires_grad=True)
    opt = torch.optim.Adam([mean, var], lr=lr, betas=(0.0, 0.0))
    try:
        for _ in range(steps):
            if not cumulative_grad:
                opt.zero_grad()
            noise = torch.randn((k, *x.shape), dtype=x.dtype, device=x.device)
            for s in range(k):
                r = noise[s]
                std = F.softplus(var)
                adv = torch.tanh(mean + r * std)
                x_adv = (x + eps * adv).clamp(0.0, 1.0)
                neg_logp = r ** 2 / 2.0 + (std + 1e-8).log() + (1 - adv ** 2 + 1e-8).log()
                logits = model(x_adv)
                loss = -(F.cross_entropy(logits.float(), y) + lam * neg_logp.mean())
                loss.backward()
            opt.step()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was)
    return mean.detach(), F.softplus(var).detach()


def _fit_diff(a, b, tol: float = 1e-4) -> tuple[float, float, float]:
    """(max |Δ|, fraction of coordinates differing by > tol over μ and σ, fraction of μ coordinates that took at
    least one different Adam sign step: |Δμ| ≥ lr = 0.3 less rounding) of two fits ``(μ, σ)``."""
    d = torch.cat([(a[0] - b[0]).abs().flatten(), (a[1] - b[1]).abs().flatten()])
    flips = float(((a[0] - b[0]).abs() > 0.29).float().mean())
    return float(d.max()), float((d > tol).float().mean()), flips


@entry
def adt_exp_inner_vs_official(ctx: Context) -> dict:
    """ADT_EXP's inner maximisation (T = 7 Adam steps, k = 5 samples): ours vs the official-style loop."""
    from advdist.attacks.core import fast_input_grad
    from advdist.models import build
    from advdist.samplers import fit_explicit

    n, steps, k = (16, 2, 2) if ctx.quick else (128, 7, 5)
    eps = 0.1
    x, y = ctx.subset(n)
    model = _fitted_smallcnn(x, y, steps=5 if ctx.quick else 30)
    with torch.enable_grad():  # the inputs' CE gradient: non-zero, or μ would move by the entropy term only
        xg = x.clone().requires_grad_(True)
        (gx,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(xg), y), xg)
    grad_nonzero = float((gx != 0).float().mean())
    model_cl = build("smallcnn").eval()
    model_cl.load_state_dict(model.state_dict())
    model_cl = model_cl.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    kw = dict(eps=eps, steps=steps, k=k, entropy="mean", cumulative_grad=True)  # the official behaviour (= defaults)

    def reference():
        torch.manual_seed(1)
        return official_style_fit(model, x, y, eps=eps, steps=steps, k=k)

    def ours(m=model, xx=x, amp=False, sample_batch="auto", fast=False):
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp), fast_input_grad(fast):
            fit = fit_explicit(m, xx, y, sample_batch=sample_batch, **kw)
        return fit.loc, fit.scale

    fns = {"reference": reference, "ours": ours, "ours_one_batch": lambda: ours(sample_batch=None),
           "ours_channels_last": lambda: ours(model_cl, x_cl),
           "ours_fast_grad": lambda: ours(fast=True),
           "ours_fast_grad_channels_last": lambda: ours(model_cl, x_cl, fast=True),
           "ours_channels_last_bf16": lambda: ours(model_cl, x_cl, amp=True)}
    repeats = ctx.repeats if ctx.quick else max(ctx.repeats, 5)  # the reference's time varies by up to 20% run to run
    times, out = interleaved(fns, repeats)
    s = {key: median(v) for key, v in times.items()}
    diffs = {key: _fit_diff(out["reference"], out[key]) for key in fns if key != "reference"}
    ratios = {key: round(s["reference"] / s[key], 3) for key in fns if key != "reference"}
    agree = "; ".join(f"{key}: max |Δ(μ, σ)| = {d[0]:.1e} ({d[1]:.2%} of coordinates > 1e-4, {d[2]:.2%} of μ "
                      f"took another sign step)" for key, d in diffs.items())
    notes = (f"TRADES SmallCNN fitted for a few Adam steps to the images (its init has a zero last layer: zero input "
             f"gradients, which would make the comparison vacuous; {grad_nonzero:.0%} of input gradients non-zero), "
             f"{n} stratified test images (1x28x28), eps={eps}, T={steps} Adam steps "
             f"(lr 0.3, betas (0, 0)), k={k} samples, the official objective and cumulative gradients "
             f"(entropy='mean', cumulative_grad=True, the defaults) in both; same global-RNG noise. Reference: k sequential "
             f"forward passes of {n} rows per step and loss.backward() (parameter gradients too). Ours: "
             f"torch.autograd.grad w.r.t. (mu, rho) only, frozen weights, k*B rows in chunks of sample_batch='auto' "
             f"(one {k * n}-row batch: {s['ours_one_batch']:.3f} s); the headline is the fastest fp32 configuration, "
             f"fast_input_grad (models.grad_view: ReLU/max-pool swap, matmul backward of the 1-channel stem, "
             f"conv_transpose2d input gradients, in-place ReLUs) + channels_last; the default fp32 call "
             f"(NCHW, no view) is 'ours'. Ratios vs reference: "
             + ", ".join(f"{key} {v:.2f}x" for key, v in ratios.items())
             + f". bf16 = torch.autocast('cpu', bfloat16) (CPU bf16 support: {_cpu_bf16()}); with betas (0, 0) "
             f"Adam steps are sign steps, so a bf16 gradient of flipped sign moves mu by 2*0.3. Medians of "
             f"{repeats} interleaved runs after a warm-up (reference {min(times['reference']):.3f}-"
             f"{max(times['reference']):.3f} s)")
    best = "ours_fast_grad_channels_last"
    return _result(model, "ADT_EXP inner maximisation (T steps x k samples)", "official-style loop (loss.backward)",
                   "samplers.fit_explicit (fp32, fast_input_grad + channels_last)", s["reference"], s[best], agree,
                   notes, variants_s={key: round(v, 4) for key, v in s.items()}, ratios=ratios,
                   reference_s_all=[round(v, 4) for v in times["reference"]],
                   max_abs_diff={key: d[0] for key, d in diffs.items()},
                   frac_diff={key: d[1] for key, d in diffs.items()},
                   frac_mu_step_differs={key: d[2] for key, d in diffs.items()}, input_grad_nonzero=grad_nonzero,
                   n=n, steps=steps, k=k, repeats=repeats)


def _fitted_smallcnn(x, y, steps: int) -> torch.nn.Module:
    """TRADES SmallCNN (seed 0) after ``steps`` full-batch Adam steps on (x, y), in eval mode: a model with
    informative input gradients for the ADT_EXP comparison (the cost of a pass does not depend on the weights)."""
    import torch.nn.functional as F

    from advdist.models import build

    torch.manual_seed(0)
    model = build("smallcnn")
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _cpu_bf16() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) if found else "no avx512_bf16/amx_bf16 (emulated, slow)"


@entry
def adt_exp_bf16_training(ctx: Context) -> dict:
    """ADT_EXP trained with bf16 autocast against the same config in fp32: training time and PGD-20 A_rob.

    The acceptance of the bf16 path is the trained model's robustness, not bit equality: both mini models come
    from the run store (``amp`` is part of the config, so they are two runs) and are attacked by the same PGD-20.
    """
    from advdist import config, data, store
    from advdist.attacks import frozen, settings
    from advdist.experiments import eval_subset

    scale, over, n = ("smoke", dict(epochs=2), 100) if ctx.quick else ("mini", {}, 1000)
    cfgs = {amp: config.resolve(scale, "adt-cifar10", method="adt_exp", amp=True if amp == "bf16" else None, **over)
            for amp in ("fp32", "bf16")}
    cfg = cfgs["fp32"]
    splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test)
    got = {k: store.get_or_train(c, device="cpu", progress=not ctx.quick, splits=splits) for k, c in cfgs.items()}
    x, y = eval_subset(splits, scale, n)
    spec = settings.get("PGD-20", scale=scale, paper="adt", dataset=cfg.dataset)
    acc, nat = {}, {}
    for k, (model, _) in got.items():
        torch.manual_seed(0)
        x_adv = spec(model, x, y)
        with frozen(model), torch.no_grad():
            acc[k] = float((model(x_adv).argmax(1) == y).float().mean())
            nat[k] = float((model(x).argmax(1) == y).float().mean())
    secs = {k: float(run.meta.get("train_time_s", float("nan"))) for k, (_, run) in got.items()}
    gap = abs(acc["bf16"] - acc["fp32"])
    agree = (f"PGD-20 accuracy bf16 {acc['bf16']:.4f} vs fp32 {acc['fp32']:.4f} (|diff| {100 * gap:.2f} pp, goal <= 1 pp); "
             f"clean {nat['bf16']:.4f} vs {nat['fp32']:.4f}")
    notes = (f"{scale} ADT_EXP ({cfg.dataset}, {cfg.model}, {cfg.epochs} epochs{', ' + str(over) if over else ''}), "
             f"trained once each through the run store (train_time_s from the runs' meta.json: the runs may have "
             f"been trained earlier, on another load), bf16 = the training loop's torch.autocast(bfloat16) "
             f"(cfg.amp) around the method's loss, inner loop included; PGD-20 ({spec.kwargs}) on {len(y)} "
             f"stratified test images, same seed. CPU bf16 support: {_cpu_bf16()}")
    return _result(got["fp32"][0], "ADT_EXP training: bf16 autocast vs fp32", "fp32 training", "bf16 autocast training",
                   secs["fp32"], secs["bf16"], agree, notes, pgd20_acc=acc, clean_acc=nat, pp_gap=round(100 * gap, 3),
                   n=len(y), amp={k: c.amp for k, c in cfgs.items()},
                   runs={k: run.path.name for k, (_, run) in got.items()})


# ---- input-Hessian top eigenvalue --------------------------------------------------------------------------------

@entry
def hessian_top_eig_vs_full(ctx: Context) -> dict:
    """Input-Hessian top eigenvalue: batched HVP Lanczos vs full Hessian + eigvalsh (``cal_hessian.py``'s method)."""
    import copy

    from advdist.analysis.hessian import CODE_BATCH, full_hessian_eigvalsh, top_eigenvalues

    model = ctx.standard_model().eval()
    n, n_full, n64 = (16, 2, 2) if ctx.quick else (1000, CODE_BATCH, 4)
    x, y = ctx.subset(n)
    xf, yf = x[:n_full], y[:n_full]
    # the official method on one of its batches (100 images: d backward passes over the whole batch), timed once
    full_s, ref = _timed(lambda: full_hessian_eigvalsh(model, xf, yf, batch_size=n_full)[:, -1])
    times, _ = interleaved({"ours": lambda: top_eigenvalues(model, x, y)}, max(1, ctx.repeats - 1))
    ev, info = top_eigenvalues(model, x, y, return_info=True)
    t_ours = median(times["ours"])
    rel32 = (ev[:n_full] - ref).abs() / ref.abs().clamp_min(1e-12)
    # the same comparison in float64 (both methods on a float64 copy): the algorithms' agreement without fp32 noise
    m64 = copy.deepcopy(model).double()
    ref64 = full_hessian_eigvalsh(m64, x[:n64].double(), y[:n64], batch_size=n64)[:, -1]
    rel64 = (top_eigenvalues(m64, x[:n64].double(), y[:n64]) - ref64).abs() / ref64.abs().clamp_min(1e-300)
    baseline_s = full_s / n_full * n
    agree = (f"max relative error (fp32, as timed) {float(rel32.max()):.1e} on the {n_full} images of the full method "
             f"(median {float(rel32.median()):.1e}, {float((rel32 <= 1e-3).float().mean()):.0%} within 1e-3; fp32 "
             f"round-off dominates for the smallest eigenvalues); in float64 "
             f"{float(rel64.max()):.1e} on {n64} images (goal <= 1e-3); {int(info['converged'].sum())} of {n} converged")
    notes = (f"mini standard model (mini-cnn, 1x28x28, d=784), {n} stratified test images, per-example CE Hessian "
             f"(the paper's; cal_hessian.py's numbers are 1/100 of these), largest algebraic eigenvalue. "
             f"Baseline: the full d x d input Hessian (d double-backward passes per batch) + eigvalsh on one batch of "
             f"{n_full} images as cal_hessian.py batches them ({full_s:.1f} s, one run), EXTRAPOLATED linearly to {n} "
             f"images ({baseline_s:.0f} s); ours: top_eigenvalues (batched HVP Lanczos, tol 1e-5, batch 128) on all "
             f"{n} ({t_ours:.2f} s, {t_ours / n * 1e3:.1f} ms/image; median of {max(1, ctx.repeats - 1)} runs after a "
             f"warm-up), mean {float(info['iterations'].float().mean()):.1f} Lanczos steps per image")
    return _result(model, f"input-Hessian top eigenvalue, {n} images", "full Hessian + eigvalsh (extrapolated)",
                   "analysis.hessian.top_eigenvalues", baseline_s, t_ours, agree, notes,
                   max_rel_err=float(rel32.max()), median_rel_err=float(rel32.median()),
                   frac_within_1e3=float((rel32 <= 1e-3).float().mean()),
                   max_rel_err_fp64=float(rel64.max()), n=n, n_full=n_full, n_fp64=n64,
                   full_s_measured=round(full_s, 4), eig_mean=float(ev.mean()),
                   eig_std=float(ev.std()) if n > 1 else 0.0)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# ---- per-epoch training throughput -------------------------------------------------------------------------------

def _method_setup(name: str, scale: str, seed: int = 0, batch_size: int | None = None):
    """(cfg, model, method) of ``name`` at ``scale`` in the first paper setting it accepts (``adt-cifar10`` first;
    e.g. an ℓ2-only method takes an ℓ2 setting)."""
    from advdist import config, methods, train

    err = None
    for setting in ("adt-cifar10", *config.SETTINGS):
        try:
            cfg = config.resolve(scale, setting, method=name, seed=seed,
                                 **({"batch_size": batch_size} if batch_size else {}))
            torch.manual_seed(seed)
            model = train.build_model(cfg)
            return cfg, model, methods.build(name, cfg, model)
        except ValueError as e:
            err = e
    raise ValueError(f"no paper setting accepts method {name!r} at {scale}: {err}")


def method_throughput(name: str, *, scale: str = "mini", batches: int = 3, batch_size: int | None = None,
                      seed: int = 0) -> tuple[float, int]:
    """Seconds for ``batches`` training steps of method ``name`` (its ``loss`` + backward + SGD step, as the
    training loop does them) on fixed synthetic batches of the ``scale``'s shape, after one warm-up step.

    Returns (seconds, images). The batches are uniform noise in [0, 1] with random labels; the cost of a step
    does not depend on the data (except through early stopping, which no training method uses).
    """
    from advdist import data

    cfg, model, method = _method_setup(name, scale, seed, batch_size)
    info = data.info(cfg.dataset)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(seed)
    xs = [torch.rand(cfg.batch_size, *info.input_shape, generator=g) for _ in range(batches + 1)]
    ys = [torch.randint(0, info.num_classes, (cfg.batch_size,), generator=g) for _ in range(batches + 1)]
    model.train()

    def step(xb, yb):
        loss, _ = method.loss(model, xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(xs[0], ys[0])
    t0 = time.perf_counter()
    for xb, yb in zip(xs[1:], ys[1:]):
        step(xb, yb)
    return time.perf_counter() - t0, batches * cfg.batch_size


def _throughput_entry(name: str) -> Callable[[Context], dict]:
    def run(ctx: Context) -> dict:
        scale, batches, bs = ("smoke", 1, 16) if ctx.quick else ("mini", 5, None)
        base_s, images = method_throughput("standard", scale=scale, batches=batches, batch_size=bs)
        s, _ = method_throughput(name, scale=scale, batches=batches, batch_size=bs)
        cfg = _method_setup(name, scale)[0]
        epoch_images = cfg.n_train or 60000
        ips = images / s
        notes = (f"{scale} scale, setting {cfg.setting} ({cfg.dataset} shape, {cfg.model}, {cfg.norm} eps={cfg.eps}, batch {images // batches}), "
                 f"{batches} fixed synthetic batches after one warm-up step; a step = method.loss + backward + SGD "
                 f"step (no data loading, no evaluation). ratio = standard training's time / this method's (< 1: "
                 f"dearer than standard). Epoch of {epoch_images} images at this rate: {epoch_images / ips:.0f} s")
        return _result(torch.device("cpu"), f"training throughput: {name}", "standard training (same batches)",
                       name, base_s, s, f"{ips:.1f} images/s (standard {images / base_s:.1f} images/s)", notes,
                       images_per_s=round(ips, 2), standard_images_per_s=round(images / base_s, 2),
                       epoch_s_estimate=round(epoch_images / ips, 1), method=name, batches=batches)

    run.__name__ = f"throughput_{name}"
    run.__doc__ = f"Training throughput (images/s) of {name} at mini scale, against standard training."
    return run


def _register_throughput() -> None:
    from advdist import methods

    for name in methods.names():
        entry(_throughput_entry(name))


_register_throughput()


# ---- report ------------------------------------------------------------------------------------------------

def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import foolbox
        fb_version = foolbox.__version__
    except ImportError:
        fb_version = None
    return {"torch": torch.__version__, "foolbox": fb_version, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "cpu": cpu,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def table(results: list[dict]) -> str:
    rows = [("entry", "baseline_s", "ours_s", "ratio", "agree")]
    for r in results:
        rows.append((r["name"], f"{r['baseline_s']:.3f}", f"{r['ours_s']:.3f}", f"{r['ratio']:.2f}x", r["agree"]))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w[i]) if i < 4 else c for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "-" * min(160, max(len(line) for line in lines)))
    return "\n".join(lines)


def select(only: list[str] | None) -> list[str]:
    """Entry names containing any of the substrings ``only`` (all entries for None), in registration order."""
    return [n for n in ENTRIES if not only or any(s in n for s in only)]


def main(argv: list[str] | None = None, context: Context | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m advdist.bench", description=__doc__.split("\n")[0])
    p.add_argument("--only", action="append", metavar="SUBSTRING",
                   help="run only the entries whose name contains SUBSTRING (repeatable)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (for the tests); the numbers mean nothing")
    p.add_argument("--out", default=None, help="JSON output (default: figures/bench/bench.json)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per variant (default 3; --quick 2)")
    p.add_argument("--cascade-n", type=int, default=None, help="images for cascade_vs_pgd20 (default 1000)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    names = select(args.only)
    if not names:
        p.error(f"--only {args.only} matches no entry; entries: {', '.join(ENTRIES)}")
    ctx = context or build_context(args.quick, args.repeats, args.cascade_n)
    if context is not None:
        ctx.quick = ctx.quick or args.quick
        ctx.repeats = args.repeats or (2 if ctx.quick else ctx.repeats)
        ctx.cascade_n = args.cascade_n or ctx.cascade_n
    out = Path(args.out) if args.out else paths.FIGURES / "bench" / "bench.json"
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        results = []
        for name in names:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            r = {"name": name, **ENTRIES[name](ctx)}
            r["wall_s"] = round(time.perf_counter() - t0, 2)
            results.append(r)
            print(f"[bench] {name}: ratio {r['ratio']:.2f}x ({r['wall_s']:.0f} s)", file=sys.stderr, flush=True)
        report = {"meta": {**machine_info(), "quick": ctx.quick, "repeats": ctx.repeats,
                           "argv": list(argv if argv is not None else sys.argv[1:])},
                  "entries": results}
    finally:
        torch.set_num_threads(threads)
    print(table(results))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
