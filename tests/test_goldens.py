"""advdist.goldens: smoke results compared as numbers within measured tolerances, never a trained model's digits as
text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jupytext
import pandas as pd
import pytest

from advdist import goldens

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in (ROOT / "notebooks").rglob("*.py") if not {"_shared", ".ipynb_checkpoints"} & set(p.parts))
#: notebooks without a stored smoke comparison, and why (their checks live in the named test)
UNCHECKED = {"claims": "verdict labels of tiny smoke models may flip between floating-point environments; the ledger's "
                       "structure and the end-to-end smoke run are checked by tests/test_claims.py"}


def _table(pgd=50.0, arob=40.0):
    return pd.DataFrame({"model": ["standard", "at_pgd"], "A_nat": [90.0, 80.0], "PGD-20": [3.0, pgd],
                         "A_rob": [2.0, arob], "n": [100, 100]})


def _store(tmp_path, monkeypatch, item, results, envs):
    """Write a golden for ``item`` from ``envs`` = {env: results} as tools/golden.py does."""
    monkeypatch.setattr(goldens, "GOLDENS", tmp_path)
    seen = {e: goldens.flatten(r) for e, r in envs.items()}
    structure, values, integer = seen["native"]
    tol, spread = goldens.tolerances({e: s[1] for e, s in seen.items()}, "native", structure, integer)
    p = goldens.golden_path(item)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"structure": structure, "values": values, "tolerance": tol, "spread": spread,
                             "environments": {e: {} for e in envs}}))
    return tol


def test_flatten_keys_rows_by_label_columns_and_marks_counts():
    structure, values, integer = goldens.flatten({"t": _table(), "eig": {"a": 0.5, "b": 0.25}, "x": 3.0})
    assert structure["t"] == {"rows": ["standard", "at_pgd"], "columns": ["model", "A_nat", "PGD-20", "A_rob", "n"]}
    assert values["t/PGD-20/at_pgd"] == 50.0 and values["eig/b"] == 0.25 and values["x"] == 3.0
    assert integer["t/n"] and not integer["t/A_rob"]


def test_tolerance_is_safety_times_spread_with_a_relative_floor_and_counts_exact():
    base = goldens.flatten({"t": _table()})
    moved = goldens.flatten({"t": _table(pgd=56.0)})  # one number moves by 6 in another environment
    tol, spread = goldens.tolerances({"native": base[1], "other": moved[1]}, "native", base[0], base[2])
    assert spread["t/PGD-20"] == 6.0 and tol["t/PGD-20"] == goldens.SAFETY * 6.0
    assert tol["t/A_nat"] == pytest.approx(goldens.REL_FLOOR * 90.0)  # nothing moved: the floor
    assert tol["t/n"] == 0.0


def test_report_passes_within_tolerance_and_lists_what_is_outside(tmp_path, monkeypatch):
    tol = _store(tmp_path, monkeypatch, "p/item", None, {"native": {"t": _table()}, "1thread": {"t": _table(pgd=52.0)}})
    ok = goldens.report("p/item", "smoke", t=_table(pgd=50.0 + tol["t/PGD-20"] * 0.9))
    assert ok[-1].startswith("structure as stored; all 8 numbers within their tolerance")
    bad = goldens.report("p/item", "smoke", t=_table(pgd=50.0 + tol["t/PGD-20"] * 1.5))
    assert any(line.startswith("DIFFERS") for line in bad)
    assert any("t/PGD-20/at_pgd" in line for line in bad)
    # the passing text does not contain the numbers: it is the same on every machine
    assert ok == goldens.report("p/item", "smoke", t=_table(pgd=50.0 - tol["t/PGD-20"] * 0.5))


def test_report_flags_structure_counts_and_nan(tmp_path, monkeypatch):
    _store(tmp_path, monkeypatch, "p/item", None, {"native": {"t": _table()}})
    fewer = _table().iloc[:1]
    assert any("structure" in line for line in goldens.report("p/item", "smoke", t=fewer))
    other_n = _table().assign(n=[99, 100])
    assert any("t/n/standard" in line for line in goldens.report("p/item", "smoke", t=other_n))
    nan = _table().assign(A_nat=[math.nan, 80.0])
    assert any("t/A_nat/standard" in line for line in goldens.report("p/item", "smoke", t=nan))


def test_invariants_catch_arob_above_a_column_and_out_of_range_accuracies():
    assert goldens.invariant_failures({"t": _table()}) == []
    assert goldens.invariant_failures({"t": _table(arob=60.0)}) == ["t: A_rob above PGD-20 in 1 row(s)"]
    assert "outside [0, 100]" in goldens.invariant_failures({"t": _table(pgd=101.0)})[0]
    # not accuracies: entropies, counts, paper columns
    sweep = _table().assign(entropy=[-1.6, -11.0], **{"PGD-20 (paper)": [0.0, 0.0]})
    assert goldens.invariant_failures({"t": sweep}) == []


def test_report_at_mini_checks_invariants_only(tmp_path, monkeypatch):
    monkeypatch.setattr(goldens, "GOLDENS", tmp_path)
    lines = goldens.report("p/none", "mini", t=_table())
    assert lines[1] == "invariants hold" and lines[2].startswith("no stored reference at scale mini")


def test_record_mode_writes_what_it_saw(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVDIST_GOLDEN_RECORD", str(tmp_path / "rec"))
    monkeypatch.setattr(goldens, "GOLDENS", tmp_path / "none")
    goldens.report("p/item", "smoke", t=_table())
    rec = json.loads((tmp_path / "rec" / "p" / "item.json").read_text())
    assert rec["values"]["t/PGD-20/at_pgd"] == 50.0 and rec["integer"]["t/n"]


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_every_notebook_checks_through_goldens_only(py):
    """nbval compares exactly one cell per notebook, the last: a goldens.check of this notebook, with its stored
    results present and their tolerances following the rule from the stored spreads."""
    item = py.relative_to(ROOT / "notebooks").with_suffix("").as_posix()
    cells = jupytext.read(py, fmt="py:percent").cells
    checked = [(i, c.source) for i, c in enumerate(cells) if "nbval-check-output" in c.metadata.get("tags", [])]
    if item in UNCHECKED:  # no nbval-compared cell at all, so nothing machine-dependent is compared as text
        assert not checked and not goldens.golden_path(item).exists(), item
        return
    assert len(checked) == 1 and checked[0][0] == len(cells) - 1
    assert f'goldens.check("{item}", scale,' in checked[0][1]
    stored = json.loads(goldens.golden_path(item).read_text())
    assert len(stored["environments"]) >= 4
    for group, tol in stored["tolerance"].items():
        scale = max((abs(v) for k, v in stored["values"].items()
                     if goldens._group(k, stored["structure"]) == group and math.isfinite(v)), default=0.0)
        want = max(goldens.SAFETY * stored["spread"][group], goldens.REL_FLOOR * scale, goldens.ABS_FLOOR)
        assert tol == 0.0 or tol == pytest.approx(want), group
