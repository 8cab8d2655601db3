"""advdist.claims — the claims ledger measured: validation, the plan (every claim exactly once, with a reason when
not measured), effects and verdicts from per-example correctness (a fake run_table with known answers), and the
whole path on the real smoke tables (train, attack, IMT, write csv/md/png, resume from the run store)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from advdist import claims, evaluate, paths, stats
from advdist.experiments import core

LIB = paths.ROOT / "lib"


@pytest.fixture(scope="module")
def ledger() -> pd.DataFrame:
    return claims.load_ledger()


# ------------------------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------------------------
def test_the_ledger_is_valid(ledger):
    assert len(ledger) == 38 and list(ledger.columns) == list(stats.LEDGER_COLUMNS)


@pytest.mark.parametrize("field,value,message", [
    ("kind", "pairs", "kind 'pairs'"),
    ("direction", "bigger", "direction 'bigger'"),
    ("subject_type", "method", "subject_type 'method'"),
    ("threshold", "1.0", "tested against 0"),              # a pair claim with a margin
    ("paper_effect", "2,30", "must be numbers"),
    ("subject_b", "", "needs subject_b"),
    ("on", "models", "on: expected 'key=v1,v2;key=v'"),
    ("scales", "paper", "not testable at mini"),            # no reason in the note
    ("scales", "mini;cifar", "scales 'mini;cifar'"),
    ("dataset_mini", "cifar10", "dataset_mini 'cifar10'"),
    ("claim", "", "must not be empty"),
])
def test_validation_names_the_bad_row(ledger, field, value, message):
    bad = ledger.copy()
    bad.loc[0, field] = value
    with pytest.raises(ValueError, match="row adt-t1-exp-vs-atpgd: .*" + message.replace("(", r"\(")):
        claims.validate(bad)


def test_validation_of_trends_ids_and_columns(ledger):
    trend = ledger.index[ledger["id"] == "adt-f5-entropy-grows"][0]
    bad = ledger.copy()
    bad.loc[trend, "x"] = "lam=0,0"
    with pytest.raises(ValueError, match="adt-f5-entropy-grows: x must be"):
        claims.validate(bad)
    dup = ledger.copy()
    dup.loc[1, "id"] = dup.loc[0, "id"]
    with pytest.raises(ValueError, match="appears more than once"):
        claims.validate(dup)
    with pytest.raises(ValueError, match="columns must be"):
        claims.validate(ledger.drop(columns=["note"]))


# ------------------------------------------------------------------------------------------------------------------
# the plan
# ------------------------------------------------------------------------------------------------------------------
#: what the runner measures at mini (and smoke): pair/threshold claims on table columns, ATLD's IMT rows, the λ
#: trends and the time ratios of ADT Fig. 5/7
MEASURED_AT_MINI = {
    "adt-t1-exp-vs-atpgd", "adt-t2-svhn-exp-vs-atpgd", "adt-t3-spsa-exp-vs-atpgd", "adt-t4-exp-stronger-than-pgd20",
    "adt-t5-exp-vs-trades", "adt-t6-exp-vs-atpgd-rice", "adt-t11-expam-vs-l2l", "adt-f5-entropy-grows",
    "adt-f5-robustness-grows", "adt-f5-too-large-hurts", "adt-f7-exp-cost", "adt-f7-am-cost",
    "atld-t1-atld-vs-fs-pgd20", "atld-t1-atld-vs-fs-cw20", "atld-t1-atld-vs-at-pgd20", "atld-t1-imt-vs-fs-pgd20",
    "atld-t1-imt-vs-fs-cw20", "atld-t1-imtplus-clean", "atld-t4-imtplus-vs-fs-aa",
    "atent-t1-l2-vs-trades", "atent-t1-l2-vs-atpgd", "atent-t1-entropy-sgd-not-robust", "atent-t2-linf-vs-atpgd",
    "atent-t2-linf-vs-mart-cw"}


@pytest.mark.parametrize("scale", ["smoke", "mini", "paper"])
def test_every_claim_is_planned_exactly_once_with_a_reason(ledger, scale):
    plans = claims.plan(ledger, scale)
    assert [p.id for p in plans] == ledger["id"].tolist()
    for p, r in zip(plans, ledger.itertuples()):
        assert p.status in claims.STATUSES, p
        if p.status == "measured":
            assert not p.reason and p.how in claims.HOWS and p.table and p.subjects, p
        else:
            assert p.reason and not p.how, p
            prefix = f"not testable at {scale}" if p.status == "not testable" else "not measured by the runner yet: "
            assert p.reason.startswith(prefix), p.reason
        listed = claims.LEDGER_SCALE[scale] in r.scales.split(";")
        assert (p.status == "not testable") == (not listed), p


def test_what_is_measured_at_mini(ledger):
    plans = {p.id: p for p in claims.plan(ledger, "mini")}
    assert {i for i, p in plans.items() if p.status == "measured"} == MEASURED_AT_MINI
    assert "paper scale" in plans["adt-t2-cifar100-exp-vs-atpgd"].reason
    assert "sample_diversity" in plans["adt-f1-diversity"].reason
    assert "no registered robustness table" in plans["atent-t4-l2-vs-atpgd"].reason
    # A_rob needs every attack of the table; an attack column only that column
    assert plans["adt-t1-exp-vs-atpgd"].columns == ("*",)
    assert plans["adt-t3-spsa-exp-vs-atpgd"].columns == ("SPSA-2048",)
    t4 = plans["adt-t4-exp-stronger-than-pgd20"]
    assert t4.table == "adt-table4" and t4.models == ("at_pgd", "adt_exp", "adt_expam", "adt_impam")
    assert plans["atld-t1-imtplus-clean"].imt == ("atld_imt_plus", "atld_imt")
    assert plans["adt-f5-entropy-grows"].trained_only[-1] == "adt_expam lam=1"


def test_needs_share_one_run_table_call_per_table(ledger):
    need = claims.needs(claims.plan(ledger, "mini"))
    t1 = need["adt-table1"]
    assert t1.all_columns and {"adt_exp", "at_pgd", "adt_expam lam=0", "adt_expam lam=1"} <= set(t1.attacked)
    assert len(t1.attacked) == len(set(t1.attacked))
    assert "adt_expam lam=0.1" in t1.trained_only and "at_pgd" not in t1.trained_only  # attacked rows give their runs
    assert "atld" in need["atld-table1"].attacked and need["atld-table1"].imt_columns == ["PGD-20", "CW-20"]
    assert need["atld-table4"].attacked == ["feature_scattering", "atld"]  # IMT rows wrap the table's ATLD model
    # every row a table is asked for is one of its rows or a variant of one
    tables = claims._wing_tables()
    for key, n in need.items():
        spec = claims._derived(tables[key], n.attacked + n.trained_only, "mini")
        for label in n.attacked + n.trained_only:
            spec.config(label, "mini", 0)


def test_variant_rows_share_the_default_run():
    spec = core.table("adt-table1")
    same = claims.variant_row(spec, "adt_expam lam=0.01", "mini")
    assert spec.config(same, "mini", 1).hash() == spec.config("adt_expam", "mini", 1).hash()
    other = spec.config(claims.variant_row(spec, "adt_expam lam=1", "mini"), "mini", 1)
    assert other.method_kwargs["lam"] == 1.0 and other.hash() != spec.config("adt_expam", "mini", 1).hash()
    with pytest.raises(ValueError, match="has no option 'gamma'"):
        claims.variant_row(spec, "adt_expam gamma=1", "mini")


def test_unknown_ids_and_scales_are_errors(ledger):
    with pytest.raises(ValueError, match="unknown claim id 'nope'"):
        claims.plan(ledger, "mini", ["nope"])
    with pytest.raises(ValueError, match="unknown scale 'big'"):
        claims.plan(ledger, "big")


# ------------------------------------------------------------------------------------------------------------------
# effects and verdicts from known per-example correctness (run_table replaced)
# ------------------------------------------------------------------------------------------------------------------
N = 200
#: per row: the examples (of N) it gets right under PGD-20, as a function of the seed
KNOWN = {"at_pgd": lambda s: np.arange(N) < 100,
         "atent_linf": lambda s: np.arange(N) < 120 + s,     # right wherever at_pgd is, and on 20 + s more
         "mart": lambda s: np.arange(N) < 80,                # wrong on 20 where at_pgd is right
         "trades": lambda s: np.arange(N) < 100}             # identical to at_pgd


def _fake_run_table(calls):
    def run_table(key, *, scale, seeds, n=None, rows=None, attacks=None, device="auto", progress=True, **kw):
        calls.append((core.table(key).key, tuple(rows), tuple(attacks or ())))
        mats = {s: {r: evaluate.RobustnessMatrix(
            correct=pd.DataFrame({"clean": np.ones(N, bool), "PGD-20": KNOWN[r](s)}).astype("boolean"),
            attacks=["PGD-20"], cascade=False) for r in rows} for s in seeds}
        trained = {s: {r: SimpleNamespace(run=None) for r in rows} for s in seeds}
        info = {"scale": scale, "dataset": "fake", "model": "fake-net", "eps": 0.1}
        return core.TableRun(key=core.table(key).key, scale=scale, seeds=tuple(seeds), trained=trained,
                             matrices=mats, missing=[], info=info)
    return run_table


def _claim(ledger, id_, a, b, direction="greater", threshold="0", paper_effect="", kind="pair"):
    row = ledger[ledger["id"] == "atent-t2-linf-vs-atpgd"].iloc[0].copy()
    row.update({"id": id_, "subject_a": a, "subject_b": b, "direction": direction, "threshold": threshold,
                "paper_effect": paper_effect, "kind": kind, "metric": "PGD-20"})
    return row


def test_effects_and_verdicts_from_known_correctness(ledger, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(core, "run_table", _fake_run_table(calls))
    fake = pd.DataFrame([
        _claim(ledger, "atent-better", "atent_linf", "at_pgd", paper_effect="21"),
        _claim(ledger, "atent-reversed", "at_pgd", "atent_linf", paper_effect="50"),
        _claim(ledger, "atent-mart", "mart", "at_pgd"),
        _claim(ledger, "atent-same", "trades", "at_pgd"),
        _claim(ledger, "atent-margin", "atent_linf", "at_pgd", direction="less", threshold="30", kind="threshold"),
    ])
    claims.validate(fake)
    res = claims.run("smoke", 3, ledger=fake, progress=False, log=lambda s: None).set_index("id")
    assert len(calls) == 1 and calls[0][0] == "atent-table2" and calls[0][2] == ("PGD-20",)  # one call, one column
    assert set(calls[0][1]) == {"atent_linf", "at_pgd", "mart", "trades"}
    better = res.loc["atent-better"]
    assert better.effect == pytest.approx(100 * 21 / N) and better.ci_low > 0 and better.verdict == "holds"
    assert better.n_seeds == 3 and better.n == N and better.dataset == "fake" and better.model == "fake-net"
    assert better.ci_low <= 10.5 <= better.ci_high
    assert str(better.compatible) == "False"  # the paper's 21 pp is far outside our ~10.5 pp
    rev = res.loc["atent-reversed"]
    assert rev.effect == pytest.approx(-better.effect) and rev.verdict == "fails" and str(rev.compatible) == "False"
    assert res.loc["atent-mart"].verdict == "fails" and res.loc["atent-mart"].effect == pytest.approx(-10.0)
    same = res.loc["atent-same"]
    assert same.effect == 0 and same.ci_low == 0 and same.ci_high == 0 and same.verdict == "inconclusive"
    assert res.loc["atent-margin"].verdict == "holds"  # +10.5 pp is below the 30 pp margin
    files = claims.write(res.reset_index(), scale="smoke", out_dir=tmp_path)
    assert [f.name for f in files] == ["claims.csv", "claims.md", "claims_forest.png"]
    md = files[1].read_text()
    assert "| atent-better | atent |" in md and "+10.50 [" in md and "holds" in md and "fails" in md
    assert files[2].stat().st_size > 10_000
    back = pd.read_csv(files[0])
    assert list(back.columns) == claims.RESULT_COLUMNS and len(back) == 5
    # the README block (tools/readme_findings.claims_block) is generated from that csv
    sys.path.insert(0, str(paths.ROOT / "tools"))
    import readme_findings

    block = readme_findings.claims_block(files[0])
    assert "5 measured with 3 seeds on fake" in block and "2 holds (atent-better, atent-margin)" in block
    assert "atent-better holds (+10.50 [" in block and "the paper +21.00)" in block


def test_attack_subjects_are_pooled_over_models(ledger, monkeypatch):
    """ADT Table 4's claim: EXP vs PGD-20 on several models, examples stacked (n = models × examples)."""
    def run_table(key, *, scale, seeds, n=None, rows=None, attacks=None, **kw):
        mats = {s: {r: evaluate.RobustnessMatrix(
            correct=pd.DataFrame({"clean": np.ones(N, bool), "PGD-20": np.arange(N) < 100,
                                  "EXP": np.arange(N) < 100 - 10 * (i + 1)}).astype("boolean"),
            attacks=["PGD-20", "EXP"], cascade=False) for i, r in enumerate(rows)} for s in seeds}
        return core.TableRun(key=key.key, scale=scale, seeds=tuple(seeds), trained={s: {} for s in seeds},
                             matrices=mats, missing=[], info={"dataset": "fake", "model": "m", "eps": 0.1})
    monkeypatch.setattr(core, "run_table", run_table)
    res = claims.run("smoke", 2, ledger=ledger, only=["adt-t4-exp-stronger-than-pgd20"], progress=False,
                     log=lambda s: None).iloc[0]
    assert res.n == 4 * N and res.effect == pytest.approx(-100 * (10 + 20 + 30 + 40) / (4 * N))
    assert res.verdict == "holds" and "pooled over at_pgd, adt_exp, adt_expam, adt_impam" in res.note


# ------------------------------------------------------------------------------------------------------------------
# the real smoke tables, end to end
# ------------------------------------------------------------------------------------------------------------------
SMOKE_IDS = ["adt-t1-exp-vs-atpgd", "adt-f7-exp-cost", "atld-t1-imtplus-clean"]  # the ledger's order


@pytest.mark.slow
def test_cli_on_the_smoke_tables_then_resume(tmp_path, monkeypatch):
    runs, out = tmp_path / "runs", tmp_path / "out"
    env = {**os.environ, "ADVDIST_RUNS": str(runs), "PYTHONPATH": str(LIB), "OMP_NUM_THREADS": "1",
           "ADVDIST_PROGRESS": "0"}
    r = subprocess.run([sys.executable, "-m", "advdist.claims", "--scale", "smoke", "--seeds", "2", "--only",
                        ",".join(SMOKE_IDS), "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "claims at smoke (2 seeds): 3 measured" in r.stdout
    assert "adt-table1: 2 rows attacked (all attacks) × 2 seeds, n = 100" in r.stdout  # Fig. 7's runs come with them
    res = pd.read_csv(out / "claims.csv").set_index("id")
    assert list(res.index) == SMOKE_IDS and set(res["status"]) == {"measured"}
    assert set(res["verdict"]) <= set(stats.VERDICTS) and (res["n_seeds"] == 2).all()
    assert res.loc["adt-t1-exp-vs-atpgd", "n"] == 100 and res.loc["adt-t1-exp-vs-atpgd", "dataset"] == "digits"
    assert res.loc["adt-f7-exp-cost", "effect"] > 1  # ADT_EXP's inner loop costs more than AT_PGD's PGD
    assert "IMT, non-adaptive protocol" in res.loc["atld-t1-imtplus-clean", "variant"]
    assert (out / "claims_forest.png").stat().st_size > 10_000
    assert "## Measured claims" in (out / "claims.md").read_text()
    # resumable: the models and the IMT results come from the run store (no training, no IMT attack)
    monkeypatch.setenv("ADVDIST_RUNS", str(runs))
    monkeypatch.setenv("ADVDIST_ALLOW_TRAIN", "0")
    from advdist.experiments import atld

    monkeypatch.setattr(atld, "imt_matrices", lambda *a, **k: pytest.fail("IMT recomputed instead of read back"))
    resumed = ["adt-t1-exp-vs-atpgd", "atld-t1-imtplus-clean"]
    again = claims.run("smoke", 2, only=resumed, progress=False, log=lambda s: None).set_index("id")
    for i in resumed:
        assert again.loc[i, "effect"] == pytest.approx(res.loc[i, "effect"], rel=1e-5)  # the csv: 6 digits
        assert again.loc[i, "ci_low"] == pytest.approx(res.loc[i, "ci_low"], rel=1e-5)


def test_the_notebook_banner_points_at_the_mini_ledger():
    from advdist import report

    assert "make claims SCALE=mini" in report.smoke_banner("smoke", "claims")
    assert report.smoke_banner("mini", "claims") is None
