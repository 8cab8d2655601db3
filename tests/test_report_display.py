"""advdist.report's notebook display: grouped ours | paper headers, the papers' method names, generated callouts;
the written files and the printed text stay as they were."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from advdist import experiments, paths, report


def _table():
    ours = pd.DataFrame({"model": ["at_pgd_madry", "adt_exp", "adt_exp (literal Eq. 11)"], "A_nat": [80.0, 81.5, 70.25],
                         "PGD-20": [40.0, 41.0, 12.0], "n": [100, 100, 100]})
    return report.beside_paper(ours, report.paper_table("adt_table1"), comparable=False)


def _header_rows(html: str) -> list[list[str]]:
    thead = re.search(r"<thead>(.*)</thead>", html, re.S).group(1)
    return [re.findall(r"<th[^>]*>([^<]*)</th>", row) for row in re.findall(r"<tr>(.*?)</tr>", thead, re.S)]


def test_pairs_are_grouped_under_one_header_and_rows_carry_the_papers_names():
    html = report.show(_table(), title="T", note="what ran", paper="adt")._repr_html_()
    top, sub = _header_rows(html)
    assert top == ["model", "A_nat", "PGD-20", "n"]
    assert sub == ["ours", "paper", "ours", "paper"]
    assert re.search(r'<th[^>]*colspan="2"[^>]*>A_nat</th>', html) and re.search(r'rowspan="2"[^>]*>model<', html)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells[:5] == ["AT_PGD†", "80.00", "87.25", "40.00", "45.88"]  # ours, then the paper's Table 1 value
    assert "ADT_EXP (literal Eq. 11)" in cells and "adt_exp" not in cells
    assert all("white-space:nowrap" in td for td in re.findall(r"<td[^>]*>", html))
    assert "<b>T</b>" in html and "<i>what ran</i>" in html


def test_delta_and_several_papers_join_the_group():
    df = pd.DataFrame({"model": ["atld"], "PGD-20": [50.0], "PGD-20 (paper, cifar100)": [40.0],
                       "PGD-20 (paper, svhn)": [60.0], "PGD-20 Δ": [1.0], "protocol": ["—"]})
    top, sub = _header_rows(report.show(df, paper="atld")._repr_html_())
    assert top == ["model", "PGD-20", "protocol"] and sub == ["ours", "paper, cifar100", "paper, svhn", "Δ"]
    assert "ATLD−" in report.show(df, paper="atld")._repr_html_()


def test_a_table_without_paper_columns_has_one_header_row_and_renamed_targets():
    df = pd.DataFrame({"source": ["standard", "at_pgd"], "standard": [1.0, 2.0], "at_pgd": [3.0, float("nan")]})
    html = report.show(df, paper="adt")._repr_html_()
    (head,) = _header_rows(html)
    assert head == ["source", "Standard", "AT_PGD"]
    assert "–" in re.findall(r"<td[^>]*>([^<]*)</td>", html)  # missing value


def test_method_names_cover_every_row_of_the_papers_tables():
    for paper in ("adt", "atld", "atent"):
        for csv in paths.PAPER_NUMBERS.glob(f"{paper}_*.csv"):
            df = report.paper_table(csv.stem)
            for key in ("model", "defense", "source"):
                for label in df.get(key, []):
                    assert report.method_name(label, paper) != label, (csv.name, label)
    assert report.method_name("adt_exp β=6", "adt") == "ADT_EXP β=6"
    assert report.method_name("atent_linf", "atent") == "ℓ∞-ATENT"
    assert report.method_name("unknown_row", "adt") == "unknown_row"


def test_the_plain_text_is_the_markdown_of_the_files():
    t = report.show(_table(), title="T", note="N", floatfmt=".1f")
    assert str(t) == "**T**\n\n_N_\n\n" + report.to_markdown(_table(), ".1f")


def test_write_report_returns_the_old_text_rendering_as_a_table(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "FIGURES", tmp_path)
    ours = pd.DataFrame({"model": ["standard", "at_pgd"], "A_nat": [90.0, 80.0], "A_rob": [0.0, 40.0], "n": [10, 10]})
    info = {"scale": "smoke", "dataset": "digits", "paper_dataset": "cifar10", "model": "mlp", "eps": 0.1,
            "paper_model": "wrn-28-10", "paper_eps": 8 / 255, "n_train": None, "epochs": 3, "paper_epochs": 76,
            "attacks": ["PGD-20"], "paper": "adt"}
    doc = experiments.write_report("adt-table1", ours, info, ["l2l"], "t1")
    tab = experiments.with_paper("adt-table1", ours, info)
    assert isinstance(doc, str)
    lines = str(doc).split("\n")
    assert lines[1:1 + len(report.to_markdown(tab).split("\n"))] == report.to_markdown(tab).split("\n")
    assert lines[-1] == "not yet implemented (rows left out): l2l"
    assert (tmp_path / "smoke" / "adt" / "t1.md").read_text().endswith(report.to_markdown(tab) + "\n")
    html = doc._repr_html_()
    assert "AT_PGD" in html and "<p>not yet implemented (rows left out): l2l</p>" in html


def test_this_run_says_what_ran():
    info = {"scale": "mini", "dataset": "fashion_mnist", "paper_dataset": "cifar10", "model": "mini-cnn", "eps": 0.1}
    line = report.this_run(info, n=500, seeds=0)
    assert line == ("> **This run:** Fashion-MNIST (mini scale; the paper: CIFAR-10), model `mini-cnn`, ε = 0.1, "
                    "n = 500 test examples, seed 0")
    assert "seeds 0, 1, 2" in report.this_run(info, seeds=[0, 1, 2])
    same = report.this_run({**info, "dataset": "cifar10"}, norm="ℓ2")
    assert "the paper" not in same and "ℓ2 ε = 0.1" in same and line._repr_markdown_() == line


def test_smoke_banner_only_at_smoke():
    banner = report.smoke_banner("smoke", "adt/fig2_landscape")
    assert "not results" in banner and "figures/mini/adt/fig2_landscape.ipynb" in banner
    assert "make reproduce-adt-fig2" in banner
    assert report.smoke_banner("mini", "adt/fig2_landscape") is None


def test_bullets_use_the_papers_names():
    text = report.bullets(["adt_exp beats at_pgd on A_rob: 50.00 vs 40.00 (+10.00 pp)", "l2l ties x"], paper="adt")
    assert text == "- ADT_EXP beats AT_PGD on A_rob: 50.00 vs 40.00 (+10.00 pp)\n- L2L ties x"


def test_shared_text_is_read_once_from_notebooks_shared():
    with pytest.raises(FileNotFoundError, match="no shared notebook text 'nope'"):
        report.shared("nope")
