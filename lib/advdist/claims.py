"""The claims ledger measured: every claim of ``data/paper/claims.csv`` tested with seeds and paired intervals.

    python -m advdist.claims --scale mini --seeds 3 [--n N] [--only ID,...] [--plan]      (make claims SCALE=mini)

For a scale, :func:`plan` decides per claim (never a silent skip):

- **measured** — a pair/threshold claim whose metric is ``A_rob``, ``A_nat`` or an attack column of a robustness table
  (subjects: rows of the table, a row with a method option ``"<row> key=v"``, ATLD's IMT rows under the paper's
  non-adaptive protocol, or attack columns on fixed models); a trend over a method option (ADT Fig. 5's λ: per-example
  A_rob, or the training log's entropy per run); a training-time ratio (ADT Fig. 7, from the runs' logs);
- **not testable** at this scale — the ledger's ``scales`` column (``smoke`` stands in for ``mini``), with its note;
- **not yet** — not measured by this runner yet, with the reason (another metric, another runner's models, ...).

:func:`collect` then calls :func:`advdist.experiments.core.run_table` once per table with every row and attack column
any measured claim needs and all seeds (models and attack columns are cached in the run store, so a rerun resumes,
and models are shared across tables and claims: one AT_PGD per seed serves every claim that needs it); and
:func:`measure` computes each claim's effect with :func:`advdist.stats.paired_effect` on the per-example correctness
(seeds × examples, seed s of A paired with seed s of B, the same test examples for every row),
:func:`~advdist.stats.trend_effect` or :func:`~advdist.stats.ratio_effect`, its 95 % interval, the verdict
(:func:`advdist.stats.verdict`) and whether the paper's effect lies in the interval (:func:`advdist.stats.compatible`).
Every result names its scale, dataset, model, ε and variant (the rows' normalisation / protocol).

Outputs (:func:`write`): ``figures/<scale>/claims.csv`` (every claim, its status and reason), ``claims.md`` (the
measured claims' table, the others with their reasons, a summary per paper) and ``claims_forest.png`` (:func:`forest`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from advdist import config, console, evaluate, experiments, methods, paths, plots, report, scales, stats, store
from advdist.attacks import settings as attack_settings
from advdist.experiments import atld as atld_wing, core
from advdist.runtime import resolve_device

#: the ledger (columns :data:`advdist.stats.LEDGER_COLUMNS`)
LEDGER = paths.PAPER_NUMBERS / "claims.csv"
#: what :func:`plan` decides for a claim
STATUSES = ("measured", "not testable", "not yet")
#: how a measured claim is measured
HOWS = ("columns", "imt", "option_trend", "log_trend", "time_ratio")
#: the ledger's scale a run scale is tested against (smoke: tiny stand-ins for the mini claims, CI only)
LEDGER_SCALE = scales.CLAIMS_LEDGER_SCALE
#: what a subject's per-example value is, by metric; any other metric must be an attack column of the table
ROW_METRICS = ("A_rob", "A_nat")
#: metrics read from a run's training log (last epoch), one value per run
LOG_METRICS = {"entropy": "entropy"}
#: the training log's seconds per epoch; a run's time is its fastest epoch (the ledger's note on ADT Fig. 7)
TIME_COLUMN = "time_s"
#: named measures no robustness table gives per example, and why (the reason listed for their claims)
NOT_YET_METRICS = {
    "pairwise_l2": "per-image sample diversity is ADT Fig. 1's analysis (experiments.adt.sample_diversity), not a "
                   "column of a robustness table",
    "loss_rise": "loss-surface rises are ADT Fig. 2's analysis (experiments.adt.loss_surfaces), not a column of a "
                 "robustness table",
    "eig_max": "input-Hessian eigenvalues are ADT Fig. 2 (f)'s analysis (experiments.adt.dominant_eigenvalues), not a "
               "column of a robustness table",
    "transfer_acc": "transfer accuracy comes from attacks crafted on other models (experiments.core.transfer_correct), "
                    "not from a table's white-box columns",
    "cert_acc": "certified accuracy is ATENT Table 5's randomized-smoothing certification, not a column of a "
                "robustness table",
}
#: the verdicts' colours in the forest plot
COLOURS = {"holds": "tab:green", "fails": "tab:red", "inconclusive": "tab:gray"}
#: how claims.md explains the numbers
METHOD_TEXT = ("Effect = subject A − subject B on the same test examples (a ratio for time ratios, a slope per grid "
               "step for trends); 95 % interval over seeds × examples (advdist.stats: crossed variance components, "
               "Satterthwaite t). Verdict: *holds* when the interval lies on the claimed side of 0 (or of the "
               "claim's threshold), *fails* on the other side, *inconclusive* otherwise; *compatible*: the paper's "
               "effect lies inside our interval.")
#: columns of the results (:func:`run`): the ledger's identification, our measurement, what it ran on
RESULT_COLUMNS = ["id", "paper", "item", "status", "reason", "claim", "kind", "metric", "subject_a", "subject_b",
                  "direction", "threshold", "unit", "effect", "ci_low", "ci_high", "paper_effect", "verdict",
                  "compatible", "n_seeds", "n", "scale", "dataset", "model", "eps", "variant", "table", "method",
                  "note"]


# ------------------------------------------------------------------------------------------------------------------
# the ledger
# ------------------------------------------------------------------------------------------------------------------
def parse_on(text: str) -> dict[str, list[str]]:
    """The ledger's ``on`` / ``x`` field ``'key=v1,v2;key=v'`` as ``{key: [v1, v2], ...}``."""
    out: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in str(text).split(";"))):
        key, sep, value = part.partition("=")
        if not (sep and key and value):
            raise ValueError(f"expected 'key=v1,v2;key=v', got {text!r}")
        out[key.strip()] = [v.strip() for v in value.split(",")]
    return out


def _float(text: str) -> float | None:
    return float(text) if str(text).strip() else None


def validate(ledger: pd.DataFrame) -> None:
    """Raise a one-line ``ValueError`` naming the first bad row (its id) and what is wrong with it."""
    if list(ledger.columns) != list(stats.LEDGER_COLUMNS):
        raise ValueError(f"claims ledger: columns must be {', '.join(stats.LEDGER_COLUMNS)}; got "
                         f"{', '.join(map(str, ledger.columns))}")
    dup = ledger["id"][ledger["id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"claims ledger: id {dup[0]!r} appears more than once")
    for r in ledger.itertuples(index=False):
        def bad(what: str) -> ValueError:
            return ValueError(f"claims ledger: row {r.id or '?'}: {what}")

        if not r.id or not r.claim or not r.metric or not r.unit or not r.subject_a:
            raise bad("id, claim, metric, unit and subject_a must not be empty")
        if r.kind not in stats.KINDS:
            raise bad(f"kind {r.kind!r} is not one of {', '.join(stats.KINDS)}")
        if r.subject_type not in stats.SUBJECT_TYPES:
            raise bad(f"subject_type {r.subject_type!r} is not one of {', '.join(stats.SUBJECT_TYPES)}")
        if r.direction not in stats.DIRECTIONS:
            raise bad(f"direction {r.direction!r} is not one of {', '.join(stats.DIRECTIONS)}")
        try:
            threshold = float(r.threshold)
            _float(r.paper_effect)
        except ValueError:
            raise bad(f"threshold {r.threshold!r} and paper_effect {r.paper_effect!r} must be numbers "
                      "(paper_effect may be empty)") from None
        if r.kind in ("pair", "trend") and threshold != 0:
            raise bad(f"a {r.kind} claim is tested against 0, not threshold {threshold:g}")
        if r.kind in ("pair", "threshold") and (not r.subject_b or r.x):
            raise bad(f"a {r.kind} claim needs subject_b and no x")
        if r.kind == "trend":
            try:
                levels = parse_on(r.x)
            except ValueError as e:
                raise bad(f"x: {e}") from None
            if len(levels) != 1 or len(set(next(iter(levels.values())))) < 2:
                raise bad(f"x must be 'name=v1,v2,...' with at least two distinct levels, got {r.x!r}")
        try:
            parse_on(r.on)
        except ValueError as e:
            raise bad(f"on: {e}") from None
        scales = r.scales.split(";")
        if not scales or not set(scales) <= set(stats.LEDGER_SCALES) or len(set(scales)) != len(scales):
            raise bad(f"scales {r.scales!r} must be ';'-separated, from {', '.join(stats.LEDGER_SCALES)}")
        if "mini" not in scales and "not testable at mini" not in r.note:
            raise bad("a claim not testable at mini must say why in its note ('not testable at mini: ...')")
        if "mini" in scales and r.dataset_mini not in stats.DATASETS_MINI:
            raise bad(f"dataset_mini {r.dataset_mini!r} is not one of {', '.join(stats.DATASETS_MINI)}")


def load_ledger(path: str | Path = LEDGER) -> pd.DataFrame:
    """The ledger as strings (empty fields ''), validated (:func:`validate`)."""
    df = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    validate(df)
    return df


# ------------------------------------------------------------------------------------------------------------------
# the plan: measured / not testable / not yet, per claim
# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What :func:`plan` decided for claim ``id``: its ``status`` (:data:`STATUSES`) and ``reason``; for a measured
    claim ``how`` (:data:`HOWS`), the ``table`` (a key) that supplies it, the ``subjects`` (row labels; for a
    trend its levels in order; for attack subjects the columns), the ``models`` the attack subjects are pooled over,
    the rows to attack and the attack ``columns`` ("*": all of the table's, for A_rob), and rows needed only
    trained (their logs)."""

    id: str
    status: str
    reason: str = ""
    how: str = ""
    table: str = ""
    subjects: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    attacked: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    imt: tuple[str, ...] = ()
    trained_only: tuple[str, ...] = ()
    levels: tuple[float, ...] = ()


def _wing_tables() -> dict:
    """Robustness tables by key: the registered ones and those a wing keeps apart (ADT Table 4's learned attacks)."""
    return {**experiments.TABLES, experiments.adt.TABLE4.key: experiments.adt.TABLE4}


def _imt_rows() -> dict[str, bool]:
    return dict(atld_wing.IMT_ROWS)


def _value(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def variant_row(spec, subject: str, scale: str):
    """The :class:`~advdist.experiments.core.Row` of ``"<row> key=v [key=v ...]"``: the row with those method options on
    top of its own. An option equal to the method's default (and not set by the scale or the row) is left out, so the
    variant shares the row's run (e.g. ``adt_expam lam=0.01`` is Table 1's ADT_EXP-AM)."""
    base_label, *opts = subject.split(" ")
    base = spec.row(base_label)
    defaults = methods.get(base.method).defaults if base.method in methods.names() else {}
    scale_kw = config.METHOD_KWARGS.get(scale, {}).get(base.method, {})
    kw = dict(base.method_kwargs)
    for opt in opts:
        k, sep, v = opt.partition("=")
        if not (sep and k and v):
            raise ValueError(f"variant {subject!r}: options must be 'key=value'")
        if k not in defaults:
            raise ValueError(f"variant {subject!r}: {base.method} has no option {k!r}; valid: {', '.join(defaults)}")
        val = _value(v)
        if k not in kw and k not in scale_kw and val == defaults[k]:
            continue
        kw[k] = val
    return core.Row(subject, base.method, setting=base.setting, method_kwargs=kw, note=base.note)


def _row_labels(spec) -> set[str]:
    return {r.label for r in spec.all_rows}


def _subject_problem(spec, subject: str, scale: str, imt: dict) -> str:
    """Why ``subject`` cannot be a row of ``spec`` ('' when it can)."""
    if subject in imt:
        return "" if "atld" in _row_labels(spec) else f"{subject} needs an 'atld' row in {spec.key}"
    if subject in _row_labels(spec):
        r = spec.row(subject)
    elif " " in subject:
        try:
            r = variant_row(spec, subject, scale)
        except ValueError as e:
            return str(e)
    else:
        return f"{subject!r} is not a row of {spec.key}"
    if r.method not in methods.names():
        return f"method {r.method} ({subject}) is not implemented yet"
    return ""


def _plan_one(r, scale: str, tables: dict) -> Plan:
    ls = LEDGER_SCALE.get(scale, scale)
    if ls not in r.scales.split(";"):
        m = re.search(r"not testable at \w+: (.*?)(?:\.\s|$)", r.note)
        why = m.group(1) if m else r.note
        return Plan(r.id, "not testable", f"not testable at {scale}" + (f" (ledger scale {ls})" if ls != scale else "")
                    + f": {why or 'the ledger lists it for ' + r.scales}")

    def not_yet(why: str) -> Plan:
        return Plan(r.id, "not yet", f"not measured by the runner yet: {why}")

    if r.metric in NOT_YET_METRICS:
        return not_yet(NOT_YET_METRICS[r.metric])
    if r.subject_type == "other":
        return not_yet(f"its subjects ({r.subject_a} vs {r.subject_b}) are not models or attack columns of a table "
                       "(its figure's runner keeps no per-example results for them)")
    spec = tables.get(r.item) or (tables.get(r.models_from) if r.models_from else None)
    if spec is None:
        return not_yet(f"no registered robustness table supplies its models ({r.item}'s runner trains its own)")
    on = parse_on(r.on)
    imt = _imt_rows()
    key = spec.key
    unsupported = set(on) - {"models", "protocol"}
    if unsupported:
        held = "; ".join(f"{k}={','.join(on[k])}" for k in sorted(unsupported))
        return not_yet(f"held fixed: {held} — the runner evaluates the table's own attack settings only")
    if on.get("protocol", ["non-adaptive"]) != ["non-adaptive"]:
        return not_yet(f"IMT protocol {on['protocol']}: only the paper's non-adaptive protocol is measured")

    # time ratio: two rows' runs, trained only
    if r.metric == "time_ratio":
        subjects = (r.subject_a, r.subject_b)
        for s in subjects:
            why = _subject_problem(spec, s, scale, {})
            if why:
                return not_yet(why)
        return Plan(r.id, "measured", how="time_ratio", table=key, subjects=subjects, trained_only=subjects)

    # trends over a method option (ADT Fig. 5's λ)
    if r.kind == "trend":
        (name, values), = parse_on(r.x).items()
        base = spec.row(r.subject_a) if r.subject_a in _row_labels(spec) else None
        if base is None or base.method not in methods.names() or name not in methods.get(base.method).defaults:
            return not_yet(f"a trend over {name} (not a method option of {r.subject_a}) needs the attacks re-run per "
                           f"level (its figure's own runner); not wired into the claims runner yet")
        levels = tuple(f"{r.subject_a} {name}={v}" for v in values)
        if r.subject_b:
            return not_yet("a trend of a paired gap over a method option is not wired into the runner yet")
        if r.metric in LOG_METRICS:
            return Plan(r.id, "measured", how="log_trend", table=key, subjects=levels, trained_only=levels,
                        levels=tuple(float(v) for v in values))
        if r.metric not in ROW_METRICS and r.metric not in spec.attacks:
            return not_yet(f"metric {r.metric!r} is not a column of {key}")
        cols = ("*",) if r.metric == "A_rob" else ((r.metric,) if r.metric != "A_nat" else ())
        return Plan(r.id, "measured", how="option_trend", table=key, subjects=levels, attacked=levels, columns=cols,
                    levels=tuple(float(v) for v in values))

    # pair / threshold
    if r.subject_type == "attack":
        subjects = (r.subject_a, r.subject_b)
        missing = [s for s in subjects if s not in spec.attacks]
        if missing:
            return not_yet(f"{' and '.join(repr(s) for s in missing)} {'is' if len(missing) == 1 else 'are'} not "
                           f"attack columns of {key} (its figure's runner keeps no per-example correctness)")
        models = tuple(on.get("models", ()))
        if not models:
            return not_yet("attack subjects need the models they are compared on ('on: models=...')")
        for m in models:
            why = _subject_problem(spec, m, scale, {})
            if why:
                return not_yet(why)
        return Plan(r.id, "measured", how="columns", table=key, subjects=subjects, models=models, attacked=models,
                    columns=subjects)
    subjects = (r.subject_a, r.subject_b)
    for s in subjects:
        why = _subject_problem(spec, s, scale, imt if r.paper == "atld" else {})
        if why:
            return not_yet(why)
    if r.metric not in ROW_METRICS and r.metric not in spec.attacks:
        return not_yet(f"metric {r.metric!r} is not a column of {key}")
    cols = ("*",) if r.metric == "A_rob" else ((r.metric,) if r.metric != "A_nat" else ())
    imt_subjects = tuple(s for s in subjects if s in imt)
    plain = tuple(s for s in subjects if s not in imt)
    if imt_subjects:
        if r.metric == "A_rob":
            return not_yet("A_rob of an IMT row is a worst case over separately generated attacks (experiments.atld), "
                           "not the paper's quantity")
        return Plan(r.id, "measured", how="imt", table=key, subjects=subjects, attacked=plain, columns=cols,
                    imt=imt_subjects)
    return Plan(r.id, "measured", how="columns", table=key, subjects=subjects, attacked=subjects, columns=cols)


def plan(ledger: pd.DataFrame, scale: str, only: Iterable[str] | None = None) -> list[Plan]:
    """One :class:`Plan` per claim of ``ledger`` (``only``: those ids, which must exist) at ``scale``."""
    if scale not in LEDGER_SCALE:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(LEDGER_SCALE)}")
    only = list(only or [])
    unknown = [i for i in only if i not in set(ledger["id"])]
    if unknown:
        raise ValueError(f"unknown claim id {unknown[0]!r}; valid: {', '.join(ledger['id'])}")
    tables = _wing_tables()
    rows = ledger[ledger["id"].isin(only)] if only else ledger
    return [_plan_one(r, scale, tables) for r in rows.itertuples(index=False)]


# ------------------------------------------------------------------------------------------------------------------
# collecting the per-example results: one run_table per table
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class TableData:
    """What :func:`collect` got for one table: per seed and row label the per-example
    :class:`~advdist.evaluate.RobustnessMatrix` (IMT rows included) and the run (attacked and trained-only rows), the
    table's :func:`~advdist.experiments.core.run_info`, the examples attacked and the wall time."""

    key: str
    seeds: tuple[int, ...]
    matrices: dict[int, dict[str, evaluate.RobustnessMatrix]]
    runs: dict[int, dict]
    info: dict
    n: int
    seconds: float
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Need:
    attacked: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    all_columns: bool = False
    imt: list = field(default_factory=list)
    imt_columns: list = field(default_factory=list)
    trained_only: list = field(default_factory=list)


def _add(seq: list, items: Iterable) -> None:
    for x in items:
        if x not in seq:
            seq.append(x)


def needs(plans: Sequence[Plan]) -> dict[str, _Need]:
    """Per table key: the rows to attack, the attack columns, the IMT rows and the rows only trained, over ``plans``."""
    out: dict[str, _Need] = {}
    for p in plans:
        if p.status != "measured":
            continue
        n = out.setdefault(p.table, _Need())
        _add(n.attacked, p.attacked)
        if "*" in p.columns:
            n.all_columns = True
        _add(n.columns, [c for c in p.columns if c != "*"])
        if p.imt:
            _add(n.imt, p.imt)
            _add(n.imt_columns, [c for c in p.columns if c != "*"])
            _add(n.attacked, ["atld"])
        _add(n.trained_only, p.trained_only)
    for n in out.values():  # an attacked row's run comes with its attacks
        n.trained_only = [s for s in n.trained_only if s not in n.attacked]
    return out


def _derived(spec, labels: Iterable[str], scale: str):
    """``spec`` with the variant rows among ``labels`` (``"<row> key=v"``) added as optional rows."""
    extra = tuple(variant_row(spec, s, scale) for s in dict.fromkeys(labels) if " " in s
                  and s not in _row_labels(spec))
    return dataclasses.replace(spec, optional=tuple(spec.optional) + extra) if extra else spec


def _imt_cached(run, x, y, columns: list[str], rows: list[str], *, scale: str, dataset: str, seed: int, device):
    """ATLD-IMT / IMT+ (``rows``) per-example correctness under the paper's non-adaptive protocol for the ATLD ``run``
    (:func:`advdist.experiments.atld.imt_matrices`), one attack column at a time (so a column's numbers do not depend
    on which other columns were asked for), each cached beside the run as ``results/claims-imt-<row>-<key>.csv``."""
    dkey = evaluate.data_key(x, y)
    frames: dict[str, list[pd.DataFrame]] = {r: [] for r in rows}
    model = None
    for name in columns or [None]:
        specs = [attack_settings.get(name, scale=scale, paper="atld", dataset=dataset)] if name else []
        key = config.stable_hash({"fn": "claims-imt-non-adaptive", "attacks": [[s.name, s.fn, s.kwargs] for s in specs],
                                  "seed": seed, "data": dkey}, n=10)
        files = {r: run.results_dir / f"claims-imt-{r}-{key}.csv" for r in rows}
        if not all(f.exists() for f in files.values()):
            model = model if model is not None else run.load_model(device)
            mats = atld_wing.imt_matrices(model, run, (x, y), specs, scale=scale, dataset=dataset, seed=seed,
                                          adaptive=False, device=device)
            for r, f in files.items():
                store.atomic_write_text(f, mats[f"{r}/non-adaptive"].correct.astype(int).to_csv(index=False))
        for r, f in files.items():
            frames[r].append(pd.read_csv(f))
    out = {}
    for r, parts in frames.items():
        df = pd.concat([parts[0][["clean"]]] + [f.drop(columns="clean") for f in parts], axis=1).astype("boolean")
        out[r] = evaluate.RobustnessMatrix(correct=df, attacks=list(columns), cascade=False, clean_in_rob=True)
    return out


def _note_head(note: str) -> str:
    return note.split(":")[0].strip() if note else ""


def collect(plans: Sequence[Plan], *, scale: str, seeds: Sequence[int], n: int | None = None, device: str = "auto",
            progress: bool = True, log: Callable[[str], None] = print) -> dict[str, TableData]:
    """Per table of the measured ``plans``: :func:`advdist.experiments.core.run_table` once, with every row and column
    any claim needs, for all ``seeds`` (``n`` test examples, default the table's); the IMT rows of ATLD from the
    table's ATLD model (non-adaptive protocol); the trained-only rows through the run store. One line per table to
    ``log``; a progress bar over the tables with ``progress`` outside notebooks."""
    tables = _wing_tables()
    todo = needs(plans)
    bar = None
    if console.show_bars(progress) and len(todo) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="claims: tables", unit="table", ncols=100, file=sys.stderr)
    out = {}
    for key, need in todo.items():
        t0 = time.perf_counter()
        spec = _derived(tables[key], need.attacked + need.trained_only, scale)
        matrices: dict[int, dict] = {s: {} for s in seeds}
        runs: dict[int, dict] = {s: {} for s in seeds}
        info, n_ex = None, 0
        if need.attacked:
            attacks = None if need.all_columns else (need.columns or [spec.attacks[0]])
            res = core.run_table(spec, scale=scale, seeds=tuple(seeds), n=n, rows=need.attacked, attacks=attacks,
                                 device=device, progress=progress)
            info = res.info
            for s in seeds:
                matrices[s].update(res.matrices[s])
                runs[s].update({label: t.run for label, t in res.trained[s].items()})
                if need.imt and "atld" in res.trained[s]:
                    t = res.trained[s]["atld"]
                    matrices[s].update(_imt_cached(t.run, t.x, t.y, need.imt_columns, need.imt, scale=scale,
                                                   dataset=t.cfg.dataset, seed=s, device=resolve_device(device)))
            n_ex = len(next(iter(res.matrices[seeds[0]].values())).correct) if res.matrices[seeds[0]] else 0
        cfg = None
        for label in need.trained_only:
            for s in seeds:
                cfg = spec.config(label, scale, s)
                runs[s][label] = core.trained(cfg, device=device, progress=progress, scale=scale, n_eval=n).run
        if info is None:
            info = core.run_info(spec, cfg or spec.config(spec.rows[0], scale, seeds[-1]), scale)
        notes = {r.label: _note_head(r.note) for r in spec.all_rows if r.note}
        secs = time.perf_counter() - t0
        out[key] = TableData(key=key, seeds=tuple(seeds), matrices=matrices, runs=runs, info=info, n=n_ex,
                             seconds=secs, notes=notes)
        cols = "all" if need.all_columns else (", ".join(need.columns) or "none")
        imt = f", IMT rows {', '.join(need.imt)}" if need.imt else ""
        only = f", {len(need.trained_only)} trained only" if need.trained_only else ""
        log(f"{key}: {len(need.attacked)} rows attacked ({cols} attacks{imt}){only} × {len(seeds)} seeds, "
            f"n = {n_ex} — {secs:.0f} s")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


# ------------------------------------------------------------------------------------------------------------------
# measuring one claim
# ------------------------------------------------------------------------------------------------------------------
def per_example(rm: evaluate.RobustnessMatrix, metric: str) -> np.ndarray:
    """The per-example 0/1 values of ``metric`` in ``rm``: A_rob (robust under every attack), A_nat (the clean
    column) or an attack column; incomplete (cascade) columns are an error."""
    if metric == "A_rob":
        col = rm.robust
    elif metric == "A_nat":
        col = rm.correct["clean"]
    elif metric in rm.correct.columns:
        col = rm.correct[metric]
        if col.isna().any():
            raise ValueError(f"column {metric} is incomplete (cascade mode); the claims need every example attacked")
    else:
        raise ValueError(f"no column {metric!r}; valid: A_rob, A_nat, {', '.join(rm.attacks)}")
    return col.astype(bool).to_numpy(dtype=float)


def _stack(data: TableData, label: str, metric: str) -> np.ndarray:
    """(seeds, examples) of ``metric`` for row ``label``."""
    return np.stack([per_example(data.matrices[s][label], metric) for s in data.seeds])


def _variant(subjects: Iterable[str], data: TableData, imt: Iterable[str] = ()) -> str:
    """What variant the subjects ran, grouped: each row's note head (e.g. 'default (official code)', the row's
    normalisation; a variant ``"<row> key=v"`` carries its row's), or the IMT protocol; rows without a note run their
    method's defaults."""
    groups: dict[str, list[str]] = {}
    for s in subjects:
        head = "IMT, non-adaptive protocol (the paper's)" if s in imt else data.notes.get(s, "")
        if head:
            groups.setdefault(head, []).append(s)
    return "; ".join(f"{', '.join(labels)}: {head}" for head, labels in groups.items()) or "method defaults"


def measure(claim, p: Plan, data: TableData, *, method: str = "t") -> dict:
    """The effect of one measured claim (a ledger row with its :class:`Plan`) from its table's :class:`TableData`:
    ``effect``, ``ci_low``, ``ci_high`` (the claim's unit), ``verdict``, ``compatible``, ``n_seeds``, ``n``,
    ``variant``, ``method`` and ``note``."""
    threshold = float(claim.threshold)
    notes = []
    if p.how in ("columns", "imt") and claim.subject_type == "attack":
        a = np.concatenate([_stack(data, m, claim.subject_a) for m in p.models], axis=1)
        b = np.concatenate([_stack(data, m, claim.subject_b) for m in p.models], axis=1)
        e = stats.paired_effect(a, b, method=method)
        if len(p.models) > 1:
            notes.append(f"pooled over {', '.join(p.models)} (examples stacked)")
    elif p.how in ("columns", "imt"):
        e = stats.paired_effect(_stack(data, p.subjects[0], claim.metric), _stack(data, p.subjects[1], claim.metric),
                                method=method)
    elif p.how == "option_trend":
        y = np.stack([_stack(data, s, claim.metric) for s in p.subjects])
        e = stats.trend_effect(np.arange(len(p.subjects), dtype=float), y, method=method)
        notes.append("slope per step of the grid " + ", ".join(f"{v:g}" for v in p.levels))
    elif p.how == "log_trend":
        col = LOG_METRICS[claim.metric]
        y = np.array([[float(data.runs[s][lab].log[col].iloc[-1]) for s in data.seeds] for lab in p.subjects])
        e = stats.trend_effect(np.arange(len(p.subjects), dtype=float), y, method=method, scale=1.0)
        notes.append(f"the training log's last-epoch {col}; slope per step of the grid "
                     + ", ".join(f"{v:g}" for v in p.levels))
    elif p.how == "time_ratio":
        a, b = ([float(data.runs[s][lab].log[TIME_COLUMN].min()) for s in data.seeds] for lab in p.subjects)
        e = stats.ratio_effect(np.array(a), np.array(b))
        devices = {str(data.runs[s][lab].meta.get("device", "?")) for s in data.seeds for lab in p.subjects}
        notes.append(f"fastest epoch of each run; device {', '.join(sorted(devices))}")
    else:
        raise ValueError(f"unknown measurement {p.how!r}; valid: {', '.join(HOWS)}")
    if e.note:
        notes.append(e.note)
    paper_effect = _float(claim.paper_effect)
    return {"effect": e.effect, "ci_low": e.ci_low, "ci_high": e.ci_high,
            "verdict": e.verdict(claim.direction, threshold),
            "compatible": stats.compatible(e.ci, paper_effect), "n_seeds": e.n_seeds,
            "n": e.n_examples if p.how not in ("log_trend", "time_ratio") else 0,
            "variant": _variant(p.models or p.subjects, data, p.imt), "method": e.method, "note": "; ".join(notes)}


def run(scale: str, seeds: int | Sequence[int] = 3, *, n: int | None = None, only: Iterable[str] | None = None,
        ledger: pd.DataFrame | None = None, device: str = "auto", progress: bool = True, method: str = "t",
        log: Callable[[str], None] = print) -> pd.DataFrame:
    """Every claim of the ledger (``only``: those ids) at ``scale`` with ``seeds`` (a count: seeds 0…k−1): measured
    ones with their effect, interval and verdict, the others with their status and reason (:data:`RESULT_COLUMNS`)."""
    ledger = load_ledger() if ledger is None else ledger
    seeds = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    plans = plan(ledger, scale, only)
    data = collect(plans, scale=scale, seeds=seeds, n=n, device=device, progress=progress, log=log)
    by_id = ledger.set_index("id", drop=False)
    out = []
    for p in plans:
        c = by_id.loc[p.id]
        rec = {k: c[k] for k in ("id", "paper", "item", "claim", "kind", "metric", "subject_a", "subject_b",
                                 "direction", "unit")}
        rec.update(status=p.status, reason=p.reason, threshold=float(c["threshold"]),
                   paper_effect=_float(c["paper_effect"]), scale=scale, table=p.table)
        if p.status == "measured":
            d = data[p.table]
            rec.update(measure(c, p, d, method=method))
            rec.update(dataset=d.info["dataset"], model=d.info["model"], eps=float(d.info["eps"]))
            if scale == "mini" and c["dataset_mini"] and d.info["dataset"] != c["dataset_mini"]:
                rec["note"] = "; ".join(filter(None, [rec["note"], f"dataset {d.info['dataset']}, the ledger's mini "
                                                                    f"dataset is {c['dataset_mini']}"]))
        out.append(rec)
    return pd.DataFrame(out, columns=RESULT_COLUMNS)


# ------------------------------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------------------------------
def short(claim: str, width: int = 90) -> str:
    """The claim's sentence up to its numbers (before ': ' when there is one), at most ``width`` characters."""
    head = claim.split(": ")[0].rstrip(".")
    return head if len(head) <= width else head[: width - 1].rstrip() + "…"


def number(v: float, unit: str) -> str:
    """``+1.23`` (a ratio: ``4.80×``; "–" when undefined)."""
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:.2f}×" if unit == "ratio" else f"{v:+.2f}"


def effect_text(r) -> str:
    """``+1.23 [−0.40, +2.86] pp`` (a ratio: ``4.80× [3.10×, 7.40×]``)."""
    unit = "" if r.unit == "ratio" else f" {r.unit}"
    return f"{number(r.effect, r.unit)} [{number(r.ci_low, r.unit)}, {number(r.ci_high, r.unit)}]{unit}"


def _claimed(r) -> str:
    rel = ">" if r.direction == "greater" else "<"
    return f"{rel} {r.threshold:g}" if r.threshold else f"{rel} 0"


def _setting(r) -> str:
    return f"{r.scale}, {r.dataset}, {r.model}, ε = {r.eps:.3g}; {r.variant}"


def _yes_no(v) -> str:
    return {True: "yes", False: "no"}.get(v if isinstance(v, bool) else None, "–")


def measured_table(results: pd.DataFrame) -> pd.DataFrame:
    """The measured claims as the Markdown table shows them (n "–": one value per run, e.g. a time or an entropy)."""
    m = results[results["status"] == "measured"]
    return pd.DataFrame({
        "id": m["id"], "paper": m["paper"], "claim": [short(c, 70) for c in m["claim"]],
        "our effect [95 % CI]": [effect_text(r) for r in m.itertuples()],
        "claimed": [_claimed(r) for r in m.itertuples()],
        "paper effect": ["–" if pd.isna(v) else number(v, u) for v, u in zip(m["paper_effect"], m["unit"])],
        "verdict": m["verdict"], "compatible": [_yes_no(v) for v in m["compatible"]],
        "seeds": [str(int(v)) for v in m["n_seeds"]], "n": [str(int(v)) if v else "–" for v in m["n"]],
        "setting": [_setting(r) for r in m.itertuples()]})


def summary(results: pd.DataFrame) -> list[str]:
    """One generated paragraph per paper: how many claims were measured, how many hold / fail / are inconclusive
    (ids), how many are not testable at this scale or not measured yet."""
    out = []
    for paper, g in results.groupby("paper", sort=False):
        m = g[g["status"] == "measured"]
        parts = []
        for v in stats.VERDICTS:
            ids = m.loc[m["verdict"] == v, "id"].tolist()
            if ids:
                parts.append(f"{len(ids)} {v} ({', '.join(ids)})")
        nt = g.loc[g["status"] == "not testable", "id"].tolist()
        ny = g.loc[g["status"] == "not yet", "id"].tolist()
        line = f"**{paper.upper()}** — {len(g)} claim{'s' if len(g) != 1 else ''}; {len(m)} measured"
        line += (": " + "; ".join(parts)) if parts else ""
        if nt:
            line += f". Not testable at this scale: {len(nt)} ({', '.join(nt)})"
        if ny:
            line += f". Not measured by the runner yet: {len(ny)} ({', '.join(ny)})"
        out.append(line + ".")
    return out


def markdown(results: pd.DataFrame, *, scale: str, seconds: float | None = None, cpu: str = "") -> str:
    """``claims.md``: what ran, the measured claims' table, the others with their reasons, one summary per paper."""
    seeds = sorted({int(s) for s in results["n_seeds"].dropna()})
    head = [f"# The claims ledger at {scale} scale",
            "",
            f"Generated by `python -m advdist.claims --scale {scale}` from `data/paper/claims.csv`. " + METHOD_TEXT]
    if scale == "smoke":
        head += ["", "> ⚠️ **Smoke scale**: tiny models on scikit-learn digits for the tests, not results."]
    if seeds:
        head += ["", f"Seeds per claim: {', '.join(map(str, seeds))}."
                 + (f" Wall time {seconds / 60:.1f} min" + (f" on {cpu}" if cpu else "") + "." if seconds else "")]
    lines = head + ["", "## Summary", ""] + [f"- {s}" for s in summary(results)]
    m = measured_table(results)
    lines += ["", "## Measured claims", "", report.to_markdown(m) if len(m) else "(none)"]
    rest = results[results["status"] != "measured"]
    if len(rest):
        t = pd.DataFrame({"id": rest["id"], "paper": rest["paper"], "claim": [short(c, 70) for c in rest["claim"]],
                          "status": rest["reason"]})
        lines += ["", "## Not measured here", "", report.to_markdown(t)]
    return "\n".join(lines) + "\n"


def forest(results: pd.DataFrame, title: str = ""):
    """One row per measured claim: our effect and its 95 % interval (colour = verdict), the paper's effect (black
    ×) and the claim's threshold (grey |); one panel per unit, each with its own axis."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    m = results[results["status"] == "measured"].reset_index(drop=True)
    if m.empty:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.text(0.5, 0.5, "no measured claims", ha="center", va="center")
        ax.axis("off")
        return fig
    units = list(dict.fromkeys(m["unit"]))
    heights = [max(1, (m["unit"] == u).sum()) + 1 for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(9, 0.34 * sum(heights) + 1.2),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, unit in zip(axes[:, 0], units):
        g = m[m["unit"] == unit].iloc[::-1]
        y = np.arange(len(g))
        for yi, r in zip(y, g.itertuples()):
            colour = COLOURS.get(r.verdict, "black")
            lo = r.ci_low if math.isfinite(r.ci_low) else r.effect
            hi = r.ci_high if math.isfinite(r.ci_high) else r.effect
            ax.plot([lo, hi], [yi, yi], color=colour, lw=2.5, solid_capstyle="butt")
            ax.plot([r.effect], [yi], "o", color=colour, ms=5)
            if r.paper_effect is not None and not pd.isna(r.paper_effect):
                ax.plot([r.paper_effect], [yi], "x", color="black", ms=7, mew=1.8)
            ax.plot([r.threshold], [yi], "|", color="0.45", ms=12, mew=1.2)
        ref = 1.0 if unit == "ratio" else 0.0
        ax.axvline(ref, color="0.6", lw=0.8, ls="--")
        if unit == "ratio":  # ratios multiply: equal factors are equal distances
            ax.set_xscale("log")
        ax.set_yticks(y, [f"{r.id} ({f'n={int(r.n)}, ' if r.n else ''}{int(r.n_seeds)} seeds)"
                          for r in g.itertuples()], fontsize=7)
        ax.set_ylim(-0.7, len(g) - 0.3)
        ax.set_xlabel(f"effect ({unit})", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=c, lw=2.5, marker="o", label=v) for v, c in COLOURS.items()]
    handles += [Line2D([], [], color="black", marker="x", ls="", mew=1.8, label="paper's effect"),
                Line2D([], [], color="0.45", marker="|", ls="", ms=10, label="claim's threshold")]
    axes[0, 0].legend(handles=handles, fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10, y=1.0 + 0.25 / max(1, len(m)))
    fig.tight_layout()
    return fig


def cpu_name() -> str:
    """The CPU model (Linux: /proc/cpuinfo), for the cost line of claims.md."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write(results: pd.DataFrame, *, scale: str, out_dir: str | Path | None = None, seconds: float | None = None
          ) -> list[Path]:
    """``claims.csv``, ``claims.md`` and ``claims_forest.png`` under ``out_dir`` (default ``figures/<scale>/``)."""
    out = Path(out_dir) if out_dir else paths.FIGURES / scale
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "claims.csv"
    results.to_csv(csv, index=False, float_format="%.6g")
    md = out / "claims.md"
    md.write_text(markdown(results, scale=scale, seconds=seconds, cpu=cpu_name() if seconds else ""))
    fig = forest(results, title=f"Claims ledger at {scale} scale: our effect (95 % CI) vs the paper's")
    png = out / "claims_forest.png"
    fig.savefig(png, dpi=150, bbox_inches="tight", metadata={"Software": None})
    plots.plt.close(fig)
    return [csv, md, png]


def plan_table(plans: Sequence[Plan]) -> pd.DataFrame:
    """The plans as a table: id, status, how, table, rows attacked, columns, IMT rows, trained-only rows, reason."""
    return pd.DataFrame([{"id": p.id, "status": p.status, "how": p.how, "table": p.table,
                          "attacked": ", ".join(p.attacked), "columns": ", ".join(p.columns), "imt": ", ".join(p.imt),
                          "trained only": ", ".join(p.trained_only), "reason": p.reason} for p in plans])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m advdist.claims", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="mini", choices=list(LEDGER_SCALE))
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds (0 … k−1) per claim (default 3)")
    ap.add_argument("--n", type=int, default=0, help="test examples per table (0: each table's default)")
    ap.add_argument("--only", default="", help="comma-separated claim ids (default: every claim)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="", help="output folder (default figures/<scale>/)")
    ap.add_argument("--plan", action="store_true", help="print what would be measured, train nothing")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    only = [s for s in args.only.split(",") if s]
    try:
        ledger = load_ledger()
        if args.plan:
            print(report.to_markdown(plan_table(plan(ledger, args.scale, only))))
            return 0
        t0 = time.perf_counter()
        results = run(args.scale, args.seeds, n=args.n or None, only=only, ledger=ledger, device=args.device)
        secs = time.perf_counter() - t0
        files = write(results, scale=args.scale, out_dir=args.out or None, seconds=secs)
    except ValueError as e:
        print(f"advdist.claims: error: {e}", file=sys.stderr)
        return 2
    counts = results["status"].value_counts().to_dict()
    verdicts = results["verdict"].value_counts().to_dict()
    print(f"claims at {args.scale} ({args.seeds} seeds): {counts.get('measured', 0)} measured "
          f"({', '.join(f'{v} {k}' for k, v in verdicts.items()) or 'none'}), {counts.get('not testable', 0)} not "
          f"testable, {counts.get('not yet', 0)} not yet; {secs:.0f} s; wrote {', '.join(map(str, files))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
