"""Entry ``cascade_vs_pgd20``: the whole ADT Table 1 attack list in cascade mode (``evaluate.robustness_matrix``)
against PGD-20 alone and against the full (non-cascade) list, on the at_pgd mini model, 1000 test images."""

from __future__ import annotations

import time
from typing import Any

from advdist.attacks import settings
from advdist.bench.core import ROBUST_OVERRIDES, Context, entry, interleaved, median, result, timed
from advdist.evaluate import robustness_matrix

#: the ADT Table 1 columns, in the paper's order (also the cascade order)
TABLE1_ATTACKS = ("FGSM", "PGD-20", "PGD-100", "MIM", "C&W", "FeaAttack")
#: image counts tried in turn until the full run is estimated to fit FULL_BUDGET_S
SIZES = (1000, 500, 250, 100)
FULL_BUDGET_S = 600.0


class Timed:
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


def grad_evals(spec) -> int:
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
        est_per_image = median(t_pgd["pgd20"]) / 1000 * sum(map(grad_evals, specs)) / grad_evals(specs[1])
        n = next((m for m in SIZES if est_per_image * m <= FULL_BUDGET_S), SIZES[-1])
        if n < 1000:
            size_note = (f"; {n} images instead of 1000: the full run on 1000 was estimated at "
                         f"{est_per_image * 1000 / 60:.0f} min (> {FULL_BUDGET_S / 60:.0f} min) from timed PGD-20 "
                         f"runs on 1000 scaled by the forward/backward passes per image")
    data = ctx.subset(n)
    x, y = data

    def pgd20():
        return run(data, [specs[1]], False)

    def cascade():
        return run(data, [Timed(s, clocks["cascade"]) for s in specs], True)

    def full():
        return run(data, [Timed(s, clocks["full"]) for s in specs], False)

    # PGD-20 is cheap: warm it up and time it around each long run; the long runs are timed once each
    # (on the real sizes they take minutes, so a warm-up would not change them)
    pgd_times, _ = interleaved({"pgd20": pgd20}, 1)
    res: dict[str, Any] = {}
    long_times: dict[str, float] = {}
    for name, fn in (("cascade", cascade), ("full", full)):
        long_times[name], res[name] = timed(fn)
        pgd_s, res["pgd20"] = timed(pgd20)
        pgd_times["pgd20"].append(pgd_s)
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
    floor = sum(grad_evals(s) for s in specs) * n_rob / (grad_evals(specs[1]) * n)
    per_c = ", ".join(f"{k} {v:.1f}s" for k, v in clocks["cascade"].items())
    per_f = ", ".join(f"{k} {v:.1f}s" for k, v in clocks["full"].items())
    costs = ", ".join(f"{s.name} {grad_evals(s)}" for s in specs)
    notes = (f"at_pgd mini model trained with {ROBUST_OVERRIDES} (cut down to keep the benchmark to minutes); "
             f"{n} stratified test images{size_note}; attacks {list(TABLE1_ATTACKS)} at {ctx.scale} scale in that "
             f"order, FeaAttack target pool = the same images; forward/backward passes per image: {costs}. "
             f"cascade/PGD-20 = {c_s / p_s:.2f}x (goal <= 1.6x; floor {floor:.1f}x: the {n_rob} robust examples must "
             f"each withstand every attack's full budget), full/cascade = {f_s / c_s:.2f}x; PGD-20 median "
             f"of {len(pgd_times['pgd20'])} runs, cascade and full one run each. Attack seconds, cascade: {per_c}; "
             f"full: {per_f}")
    return result(model, "ADT Table 1 attack list: cascade vs PGD-20 alone", "PGD-20 alone (robustness_matrix)",
                   "cascade of the 6 Table 1 attacks", p_s, c_s, agree, notes,
                   full_s=round(f_s, 4), ratio_full_vs_cascade=round(f_s / c_s, 3),
                   cascade_over_pgd20=round(c_s / p_s, 3), floor_cascade_over_pgd20=round(floor, 3),
                   a_rob_cascade=rc.a_rob, a_rob_full=rf.a_rob, a_rob_pgd20=res["pgd20"].a_rob,
                   robust_differ=differ, accuracy_full=acc_full,
                   attack_s_cascade={k: round(v, 3) for k, v in clocks["cascade"].items()},
                   attack_s_full={k: round(v, 3) for k, v in clocks["full"].items()}, n=n)

