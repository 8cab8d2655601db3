"""Smoke results checked as numbers with measured tolerances, not as text.

A trained model amplifies float summation order: on another CPU, another thread count or another ATen/oneDNN
ISA the smoke accuracies of a table move by a few examples and analysis numbers in their 2nd-3rd digit. nbval
compares cell outputs as text, so the notebooks do not print trained models' digits into checked cells;
instead each notebook's last cell calls :func:`check`, which prints a short report that is the same text on every
machine as long as the results are what they should be:

- the structure of every result (row and column sets) equals the stored one exactly;
- invariants hold (accuracies in [0, 100]; A_rob ≤ every other accuracy column; finite numbers);
- every number is within its tolerance of the stored smoke result.

The stored results live in ``tests/goldens/<paper>/<notebook>.json``, written by ``tools/golden.py``, which runs
every notebook in several floating-point environments (2 threads, 1 thread, ATen/oneDNN/MKL capped at AVX2, and
the lowest ATen ISA with oneDNN at SSE4.1 on 1 thread), each with its own fresh run store so every smoke model is
retrained there. Per column (a column of one table, or one dict of results), the tolerance is::

    tol = max(SAFETY · spread, REL_FLOOR · max |value|, ABS_FLOOR)

where ``spread`` is the largest max-min over the environments of any number in the column. Integer columns
(counts) must match exactly. The numbers, spreads and environments are in the JSON file. SAFETY = 3, not 2: ``make
test-portable``'s environment (lowest ATen ISA, oneDNN/MKL at AVX2, 2 threads), which is not among the measured ones,
moved the toy ATLD model's IMT margin (ATLD Fig. 6) by 2.02 times the spread measured over the four.

At ``mini`` and ``paper`` scale there is no stored reference: :func:`check` checks structure-free invariants only and
says so. ``ADVDIST_GOLDEN_RECORD=<dir>`` makes :func:`check` write what it sees to ``<dir>/<item>.json`` instead
(used by ``tools/golden.py``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from advdist import paths

SAFETY = 3.0
REL_FLOOR = 0.05
ABS_FLOOR = 1e-6
GOLDENS = paths.ROOT / "tests" / "goldens"
#: numeric columns that are not accuracies even in a table with an A_rob column
NOT_ACCURACY = ("n", "eps", "ε", "lam", "λ", "step", "epoch", "time", "seed", "entropy", "sigma", "σ", "loss")


def golden_path(item: str) -> Path:
    return GOLDENS / f"{item}.json"


# ----------------------------------------------------------------------------------------------
# flattening results into {key: number} plus their structure
# ----------------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or type(v).__name__ in (
        "float32", "float64", "int64", "int32", "float16")


def flatten(results: Mapping[str, Any]) -> tuple[dict[str, dict], dict[str, float], dict[str, bool]]:
    """``results`` (name -> DataFrame, Series, dict of numbers, or a number) as ``(structure, values, integer)``:
    ``values[f"{name}/{row}/{column}"]`` for each number, the group of a value being ``f"{name}/{column}"``
    (tables) or ``name`` (dicts, series, scalars); ``integer[group]`` says the group holds integer counts."""
    import numpy as np
    import pandas as pd

    structure: dict[str, dict] = {}
    values: dict[str, float] = {}
    integer: dict[str, bool] = {}
    for name, obj in results.items():
        if isinstance(obj, pd.DataFrame):
            num = [c for c in obj.columns
                   if pd.api.types.is_numeric_dtype(obj[c]) and not pd.api.types.is_bool_dtype(obj[c])]
            keys = [c for c in obj.columns if c not in num]
            rows = (["|".join(str(v) for v in r) for r in obj[keys].itertuples(index=False)] if keys
                    else [str(i) for i in obj.index])
            if len(set(rows)) != len(rows):  # duplicate labels: number them
                rows = [f"{r}#{i}" for i, r in enumerate(rows)]
            structure[name] = {"rows": rows, "columns": [str(c) for c in obj.columns]}
            for c in num:
                g = f"{name}/{c}"
                integer[g] = pd.api.types.is_integer_dtype(obj[c])
                for r, v in zip(rows, obj[c].tolist()):
                    values[f"{g}/{r}"] = float(v)
        else:
            if isinstance(obj, pd.Series):
                obj = obj.to_dict()
            if isinstance(obj, Mapping):
                items = {str(k): v for k, v in obj.items()}
            elif _is_number(obj) or isinstance(obj, np.generic):
                items = {"": obj}
            else:
                raise TypeError(f"goldens.check: {name!r} is a {type(obj).__name__}; pass a DataFrame, Series, dict of "
                                "numbers or a number")
            structure[name] = {"keys": sorted(items)}
            integer[name] = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items.values())
            for k, v in items.items():
                values[f"{name}/{k}" if k else name] = float(v)
    return structure, values, integer


def _group(key: str, structure: Mapping[str, dict]) -> str:
    name = key.split("/", 1)[0]
    if "columns" in structure.get(name, {}):
        return key.rsplit("/", 1)[0]
    return name


# ----------------------------------------------------------------------------------------------
# invariants (any scale)
# ----------------------------------------------------------------------------------------------
def invariant_failures(results: Mapping[str, Any]) -> list[str]:
    """Broken invariants of ``results``: non-finite numbers where all others of a column are finite is *not* an
    invariant (some columns are NaN by design), but in a table with an ``A_rob`` column every accuracy column
    (not a paper column, not a count) lies in [0, 100] and ``A_rob`` is at most each of them."""
    import pandas as pd

    out = []
    for name, df in results.items():
        if not isinstance(df, pd.DataFrame) or "A_rob" not in df.columns:
            continue
        acc = [c for c in df.columns if pd.api.types.is_float_dtype(df[c]) and "(paper)" not in str(c)
               and not str(c).startswith(("Δ", "delta")) and str(c).split(" ")[0] not in NOT_ACCURACY]
        for c in acc:
            bad = df[c].dropna()
            bad = bad[(bad < 0) | (bad > 100)]
            if len(bad):
                out.append(f"{name}: column {c} outside [0, 100]: {bad.tolist()}")
        arob = df["A_rob"]
        for c in acc:
            if c == "A_rob":
                continue
            over = (arob - df[c]) > 1e-6
            if over.any():
                out.append(f"{name}: A_rob above {c} in {int(over.sum())} row(s)")
    return out


# ----------------------------------------------------------------------------------------------
# the check
# ----------------------------------------------------------------------------------------------
def tolerances(values_by_env: Mapping[str, Mapping[str, float]], reference: str, structure: Mapping[str, dict],
               integer: Mapping[str, bool]) -> tuple[dict[str, float], dict[str, float]]:
    """Per group: (tolerance, spread) from the numbers seen in each environment (see the module docstring)."""
    ref = values_by_env[reference]
    spread: dict[str, float] = {}
    scale: dict[str, float] = {}
    for key, v in ref.items():
        g = _group(key, structure)
        seen = [e[key] for e in values_by_env.values() if key in e and math.isfinite(e[key])]
        s = (max(seen) - min(seen)) if seen else 0.0
        spread[g] = max(spread.get(g, 0.0), s)
        scale[g] = max(scale.get(g, 0.0), abs(v) if math.isfinite(v) else 0.0)
    tol = {g: 0.0 if integer.get(g) else max(SAFETY * spread[g], REL_FLOOR * scale[g], ABS_FLOOR) for g in spread}
    return tol, spread


def compare(values: Mapping[str, float], golden: Mapping[str, Any]) -> list[str]:
    """Numbers of ``values`` outside their tolerance of ``golden["values"]`` (one line each)."""
    out = []
    structure = golden["structure"]
    for key, want in golden["values"].items():
        got = values.get(key)
        if got is None:
            out.append(f"{key}: missing")
            continue
        if math.isnan(want) or math.isnan(got):
            if not (math.isnan(want) and math.isnan(got)):
                out.append(f"{key}: {got:.6g}, stored {want:.6g}")
            continue
        tol = golden["tolerance"][_group(key, structure)]
        if not abs(got - want) <= tol + 1e-12 * max(1.0, abs(want)):
            out.append(f"{key}: {got:.6g}, stored {want:.6g} ± {tol:.3g}")
    return out


def check(item: str, scale: str, **results: Any) -> None:
    """Print :func:`report` of the results of notebook ``item`` (``"adt/table1_cifar10_whitebox"``)."""
    print("\n".join(report(item, scale, **results)))


def report(item: str, scale: str, **results: Any) -> list[str]:
    """Check the results of notebook ``item`` and return a short report, one line per item.

    At ``smoke`` scale the report is machine-independent text when the results are right (what nbval compares); a
    wrong structure, a broken invariant or a number outside its measured tolerance adds one line each.
    ``ADVDIST_GOLDEN_RECORD=<dir>`` also records the numbers (``tools/golden.py``)."""
    structure, values, integer = flatten(results)
    record = os.environ.get("ADVDIST_GOLDEN_RECORD")
    if record and scale == "smoke":
        p = Path(record) / f"{item}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"item": item, "structure": structure, "values": values, "integer": integer},
                                indent=1, sort_keys=True) + "\n")
    lines = []
    broken = invariant_failures(results)
    what = ", ".join(_describe(n, s) for n, s in structure.items())
    lines.append(f"checked {item}: {what}")
    lines.append("invariants hold" if not broken else f"INVARIANTS BROKEN ({len(broken)}):")
    lines += [f"  {b}" for b in broken]
    if scale != "smoke":
        lines.append(f"no stored reference at scale {scale} (smoke results are checked against tests/goldens/)")
    else:
        gp = golden_path(item)
        if not gp.exists():
            shown = gp.relative_to(paths.ROOT) if gp.is_relative_to(paths.ROOT) else gp
            lines.append(f"NO STORED SMOKE RESULTS: {shown} is missing (run `make golden`)")
        else:
            golden = json.loads(gp.read_text())
            diff = [f"{n}: structure {structure.get(n)} differs from stored {s}"
                    for n, s in golden["structure"].items() if structure.get(n) != s]
            diff += [f"{n}: not stored" for n in structure if n not in golden["structure"]]
            diff += compare(values, golden)
            if diff:
                lines.append(f"DIFFERS FROM STORED SMOKE RESULTS ({len(diff)}):")
                lines += [f"  {d}" for d in diff]
            else:
                lines.append(f"structure as stored; all {len(golden['values'])} numbers within their tolerance of the "
                             f"stored smoke results (measured over {len(golden['environments'])} floating-point "
                             "environments)")
    return lines


def _describe(name: str, s: Mapping[str, Any]) -> str:
    if "rows" in s:
        return f"{name} ({len(s['rows'])} rows × {len(s['columns'])} columns)"
    return f"{name} ({len(s['keys'])} values)"
