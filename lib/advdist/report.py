"""Tables: ours beside the paper's, written as CSV, Markdown and LaTeX.

Every table carries a header line saying the scale and the data it ran on; an "ours − paper"
delta is shown only when the setting matches the paper's (``scale == "paper"``, or a smaller run on the paper's
dataset with its model and ε, whose header lists what differs), never for a number computed on a substitute
dataset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advdist import paths

SUBSTITUTE_NOTE = "ours ran on {dataset} ({scale} scale) — a substitute for the paper's {paper_dataset}; not comparable number for number"


def paper_table(name: str) -> pd.DataFrame:
    """Numbers transcribed from a paper: ``data/paper/<name>.csv`` (``#`` lines are comments)."""
    path = paths.PAPER_NUMBERS / f"{name}.csv"
    if not path.exists():
        valid = ", ".join(sorted(p.stem for p in paths.PAPER_NUMBERS.glob("*.csv")))
        raise FileNotFoundError(f"no transcribed paper table {name!r}; valid: {valid}")
    return pd.read_csv(path, comment="#")


SAME_SETTING_NOTE = ("ours ran on {dataset} ({scale} scale) with the paper's dataset, model and ε, so Δ = ours − paper "
                     "is shown; what differs: {differences}")


OTHER_SETTING_NOTE = ("ours ran on {dataset} ({scale} scale), the paper's dataset but not its setting ({differences}); "
                      "no Δ, not comparable number for number")


def header(*, scale: str, dataset: str, paper_dataset: str, extra: str = "", comparable: bool = False,
           differences: str = "") -> str:
    """The line above a table: the paper's setting, or a smaller run of it (``comparable``: same dataset, model and
    ε; ``differences`` says what is not the paper's), or a substitute dataset (no Δ)."""
    if scale == "paper" and dataset == paper_dataset:
        line = f"scale: paper — {dataset}, the paper's setting"
    elif comparable and dataset == paper_dataset:
        line = SAME_SETTING_NOTE.format(dataset=dataset, scale=scale, differences=differences or "nothing")
    elif dataset == paper_dataset:
        line = OTHER_SETTING_NOTE.format(dataset=dataset, scale=scale, differences=differences or "see below")
    else:
        line = SUBSTITUTE_NOTE.format(dataset=dataset, scale=scale, paper_dataset=paper_dataset)
    return line + (f"; {extra}" if extra else "")


def beside_paper(ours: pd.DataFrame, paper: pd.DataFrame, *, key: str = "model", comparable: bool) -> pd.DataFrame:
    """One row per model: our value and the paper's for every shared column, plus Δ when comparable.

    Columns come out as ``<col>`` (ours), ``<col> (paper)`` and, when ``comparable``, ``<col> Δ``.
    """
    shared = [c for c in ours.columns if c != key and c in paper.columns]
    merged = ours.merge(paper[[key] + shared], on=key, how="left", suffixes=("", " (paper)"))
    cols = [key]
    for c in shared:
        cols += [c, f"{c} (paper)"]
        if comparable:
            merged[f"{c} Δ"] = merged[c] - merged[f"{c} (paper)"]
            cols.append(f"{c} Δ")
    extra = [c for c in ours.columns if c not in cols]
    return merged[cols + extra]


def counts_as_int(df: pd.DataFrame) -> pd.DataFrame:
    """Count columns (``n``, ``n_*``) that turned float only because some rows lack them (cited paper rows) back to
    integers (pandas ``Int64``, missing = NA), so they print as ``200``, not ``200.00``."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if (str(c) == "n" or str(c).startswith("n_")) and pd.api.types.is_float_dtype(col):
            vals = col.dropna()
            if len(vals) and (vals == vals.round()).all():
                out[c] = col.round().astype("Int64")
    return out


def write_table(df: pd.DataFrame, path_stem: str | Path, *, title: str, note: str, floatfmt: str = ".2f") -> list[Path]:
    """Write ``df`` as ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex``; return the paths."""
    df = counts_as_int(df)
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".csv"), stem.with_suffix(".md"), stem.with_suffix(".tex")]
    out[0].write_text(f"# {title}\n# {note}\n" + df.to_csv(index=False, float_format=f"%{floatfmt}"))
    out[1].write_text(f"**{title}**\n\n_{note}_\n\n" + to_markdown(df, floatfmt) + "\n")
    tex = df.to_latex(index=False, float_format=lambda v: format(v, floatfmt), na_rep="--", escape=True)
    out[2].write_text(f"% {title}\n% {note}\n" + tex)
    return out


def to_markdown(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A GitHub Markdown table (no extra dependency); missing values print as "–", counts as integers."""
    df = counts_as_int(df)

    def fmt(v):
        if v is pd.NA:
            return "–"
        if isinstance(v, float):
            return "–" if pd.isna(v) else format(v, floatfmt)
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in df.columns) + "|"
    rows = ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])
