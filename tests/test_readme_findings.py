"""The README's findings are generated from the committed mini tables, never typed (tools/readme_findings.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_findings_match_the_committed_tables():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "readme_findings.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_generated_sentence_follows_the_table(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    import readme_findings as rf

    table = tmp_path / "figures" / "mini" / "adt"
    table.mkdir(parents=True)
    (table / "table1.csv").write_text(
        "# title\n# ours ran on x\nmodel,PGD-20,A_rob,n\nstandard,1.0,0.5,500\nat_pgd,60.0,55.0,500\n"
        "adt_exp,62.0,57.5,500\nadt_expam,50.0,45.0,500\n")
    monkeypatch.setattr(rf, "ROOT", tmp_path)
    text = rf.adt_table1()
    assert "ADT_EXP 57.5 % (+2.5 pp)" in text and "ADT_EXP-AM 45.0 % (-10.0 pp)" in text
    assert "one seed, n = 500) ADT_EXP is above AT_PGD on A_rob" in text
