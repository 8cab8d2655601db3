"""Tables: ours beside the paper's, written as CSV, Markdown and LaTeX.

Every table carries a header line saying the scale and the data it ran on; an "ours − paper"
delta is shown only when the setting matches the paper's (``scale == "paper"``, or a smaller run on the paper's
dataset with its model and ε, whose header lists what differs), never for a number computed on a substitute
dataset.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pandas as pd

from advdist import paths

SUBSTITUTE_NOTE = ("ours ran on {dataset} ({scale} scale) — a substitute for the paper's {paper_dataset}; "
                   "not comparable number for number")


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


# ---- notebooks: rendered tables, the paper's method names, generated prose ------------------------------------
# Display objects (``_repr_html_`` / ``_repr_markdown_``; their plain text is the Markdown the files hold), so a
# notebook cell that ends with one shows a rendered table or paragraph, and a log shows readable text. No IPython
# import: the library runs without Jupyter.

#: the papers' names of our row labels, per paper (``data/paper/*.csv`` key their rows by our labels). ATENT's
#: transcriptions carry a ``label`` column too (:func:`method_names` adds those).
METHOD_NAMES: dict[str, dict[str, str]] = {
    "adt": {"standard": "Standard", "at_fgsm": "AT_FGSM", "at_pgd_madry": "AT_PGD†", "at_pgd": "AT_PGD",
            "alp": "ALP", "feature_scattering": "FeaScatter", "adt_exp": "ADT_EXP", "adt_expam": "ADT_EXP-AM",
            "adt_impam": "ADT_IMP-AM", "trades": "TRADES", "l2l": "L2L"},
    "atld": {"standard": "Standard", "at_pgd": "AT", "feature_scattering": "FS", "atld": "ATLD−",
             "atld_imt": "ATLD-IMT", "atld_imt_plus": "ATLD-IMT+", "tla": "TLA", "lat": "LAT", "bilateral": "Bilateral",
             "trades": "TRADES", "robust_overfitting": "Robust-overfitting", "pretraining": "Pretraining",
             "war": "WAR", "rts": "RTS", "gowal2020": "Gowal et al.", "gowal2020_extra": "Gowal et al. (extra data)"},
    "atent": {"standard": "SGD", "entropy_sgd": "Entropy-SGD", "at_pgd": "PGD-AT", "at_pgd_e": "PGD-AT (E)",
              "trades": "TRADES", "mma": "MMA", "mart": "MART", "atent_linf": "ℓ∞-ATENT", "atent_l2": "ℓ2-ATENT",
              "trades_smooth": "TRADES (smooth)", "atent_l2_smooth": "ℓ2-ATENT (smooth)"},
}
#: columns whose values are row labels (renamed to the paper's names on display)
LABEL_COLUMNS = ("model", "source", "target", "defense")
DATASET_NAMES = {"digits": "scikit-learn digits 8×8", "fashion_mnist": "Fashion-MNIST", "mnist": "MNIST",
                 "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "svhn": "SVHN", "moons": "two moons, 2-D"}
_PAIR = re.compile(r"^(?P<base>.+) \((?P<group>paper(?:, [^)]+)?)\)$")


def method_names(paper: str | None) -> dict[str, str]:
    """{our row label: the paper's name} for ``paper`` ("adt", "atld", "atent"; None: no renaming)."""
    if paper is None:
        return {}
    names = {}
    for path in sorted(paths.PAPER_NUMBERS.glob(f"{paper}_*.csv")):
        df = pd.read_csv(path, comment="#")
        if {"model", "label"} <= set(df.columns):
            names.update({m: _ell(str(lab)) for m, lab in zip(df["model"], df["label"]) if isinstance(lab, str)})
    return {**names, **METHOD_NAMES.get(paper, {})}


def _ell(label: str) -> str:
    return re.sub(r"\blinf\b", "ℓ∞", re.sub(r"\bl2\b", "ℓ2", label))


def method_name(label: str, paper: str | None) -> str:
    """The paper's name of row label ``label`` (``adt_exp`` → ``ADT_EXP``, ``at_pgd_madry`` → ``AT_PGD†``); what
    follows the first space is kept (``adt_exp β=1`` → ``ADT_EXP β=1``); unknown labels are returned unchanged."""
    return _rename(label, method_names(paper))


def _rename(label, names: dict[str, str]):
    if not isinstance(label, str) or not names:
        return label
    if label in names:
        return names[label]
    head, sep, tail = label.partition(" ")
    return names[head] + sep + tail if head in names else label


def _fmt(v, floatfmt: str) -> str:
    if v is pd.NA or v is None:
        return "–"
    if pd.api.types.is_float(v):  # Python and NumPy floats
        return "–" if pd.isna(v) else format(v, floatfmt)
    return str(v)


def _groups(columns: list[str]) -> list[tuple[str, str]] | None:
    """(group, sub-column) per column when some columns pair ours with the paper's (``X`` / ``X (paper)`` /
    ``X Δ``; ``X (paper, <dataset>)``): e.g. ``("PGD-20", "ours")``, ``("PGD-20", "paper")``; None when none pair."""
    bases = {m.group("base") for c in columns if (m := _PAIR.match(str(c)))}
    if not bases:
        return None
    out = []
    for c in map(str, columns):
        m = _PAIR.match(c)
        if m:
            out.append((m.group("base"), m.group("group")))
        elif c.endswith(" Δ") and c[:-2] in bases:
            out.append((c[:-2], "Δ"))
        elif c in bases:
            out.append((c, "ours"))
        else:
            out.append((c, ""))
    return out


class Table:
    """A table as a notebook shows it: ``title`` above, ``note`` (what ran) below, columns pairing ours with the
    paper's grouped under one header (attack → ours | paper), row labels as the paper names them, no number wrapped
    mid-way. Its plain text (``str``) is the Markdown of the written ``.md`` file."""

    def __init__(self, df: pd.DataFrame, *, title: str = "", note: str = "", paper: str | None = None,
                 floatfmt: str = ".2f"):
        self.df, self.title, self.note, self.paper, self.floatfmt = df, title, note, paper, floatfmt

    def __str__(self) -> str:
        parts = [f"**{self.title}**" if self.title else "", f"_{self.note}_" if self.note else "",
                 to_markdown(self.df, self.floatfmt)]
        return "\n\n".join(p for p in parts if p)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        df = counts_as_int(self.df)
        names = method_names(self.paper)
        cols = [str(c) for c in df.columns]
        groups = _groups(cols)
        numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
        th = 'style="text-align:center; white-space:nowrap; padding:2px 8px"'
        head = []
        if groups:
            top, i = [], 0
            while i < len(groups):
                g, sub = groups[i]
                span = 1
                while i + span < len(groups) and groups[i + span][0] == g and groups[i + span][1]:
                    span += 1
                label = escape(_header(g, names))
                top.append(f'<th {th} rowspan="2">{label}</th>' if span == 1 and not sub
                           else f'<th {th} colspan="{span}">{label}</th>')
                i += span
            head.append("<tr>" + "".join(top) + "</tr>")
            head.append("<tr>" + "".join(f"<th {th}>{escape(sub)}</th>" for g, sub in groups if sub) + "</tr>")
        else:
            head.append("<tr>" + "".join(f"<th {th}>{escape(_header(c, names))}</th>" for c in cols) + "</tr>")
        body = []
        for row in df.itertuples(index=False):
            tds = []
            for j, v in enumerate(row):
                if cols[j] in LABEL_COLUMNS:
                    v = _rename(v, names)
                paper_col = groups is not None and groups[j][1].startswith("paper")
                style = "white-space:nowrap; padding:2px 8px; text-align:" + ("right" if numeric[j] else "left")
                if paper_col:
                    style += "; color:#666"
                tds.append(f'<td style="{style}">{escape(_fmt(v, self.floatfmt))}</td>')
            body.append("<tr>" + "".join(tds) + "</tr>")
        html = ['<div class="advdist-table">']
        if self.title:
            html.append(f"<p><b>{escape(self.title)}</b></p>")
        html.append('<table style="border-collapse:collapse">')
        html.append("<thead>" + "".join(head) + "</thead><tbody>" + "".join(body) + "</tbody></table>")
        if self.note:
            html.append(f'<p style="font-size:90%"><i>{escape(self.note)}</i></p>')
        html.append("</div>")
        return "\n".join(html)


def _header(col: str, names: dict[str, str]) -> str:
    """A column header with a row label in it (a transfer matrix's target, ``source / attack``) renamed."""
    if col in LABEL_COLUMNS:
        return col
    head, sep, tail = col.partition(" / ")
    return _rename(head, names) + sep + tail


def show(df: pd.DataFrame, *, title: str = "", note: str = "", paper: str | None = None,
         floatfmt: str = ".2f") -> Table:
    """``df`` as a notebook shows it (:class:`Table`): end a cell with it, or ``display`` it. ``paper`` ("adt",
    "atld", "atent") picks the method names; ``floatfmt`` as :func:`write_table`'s (files are unaffected)."""
    return Table(df, title=title, note=note, paper=paper, floatfmt=floatfmt)


class Prose(str):
    """Markdown text a notebook renders (a generated sentence, a list of verdicts, a callout); plain text elsewhere."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


def bullets(lines, *, paper: str | None = None) -> Prose:
    """Sentences (e.g. :func:`advdist.experiments.compare_rows`'s verdicts) as a Markdown list; with ``paper``, row
    labels are the paper's names: the label that starts a sentence, any label with an underscore, and a comparison's
    baseline ("beats trades", "vs standard")."""
    names = method_names(paper)
    labels = sorted((k for k in names if "_" in k), key=len, reverse=True)  # not English words: safe anywhere
    inner = re.compile(r"\b(" + "|".join(map(re.escape, labels)) + r")\b") if labels else None
    words = sorted((k for k in names if "_" not in k), key=len, reverse=True)  # only as a comparison's baseline
    baseline = re.compile(r"\b(beats?|ties|than|vs) (" + "|".join(map(re.escape, words)) + r")(?=[\s:,)]|$)") \
        if words else None
    out = []
    for line in map(str, lines):
        head, sep, tail = line.partition(" ")
        if names:
            key = head.rstrip(":")  # "adt_exp: EXP is stronger than PGD-20 (...)"
            head = names[key] + head[len(key):] if key in names else head
            tail = inner.sub(lambda m: names[m.group(1)], tail) if inner else tail
            tail = baseline.sub(lambda m: f"{m.group(1)} {names[m.group(2)]}", tail) if baseline else tail
        out.append("- " + head + sep + tail)
    return Prose("\n".join(out))


class Document(str):
    """What :func:`advdist.experiments.write_report` and friends return: the text a notebook used to print (``str``,
    unchanged) that renders as its tables (:class:`Table`) and sentences in a notebook."""

    def __new__(cls, text: str, parts=()):
        obj = super().__new__(cls, text)
        obj.parts = list(parts)
        return obj

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, Table):
                out.append(part._repr_html_())
            elif str(part).strip():
                out.append(f"<p>{escape(str(part))}</p>")
        return "\n".join(out)


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


NORMS = {"linf": "ℓ∞", "l2": "ℓ2"}


def this_run(info, *, n: int | None = None, seeds=None, norm: str | None = None, paper_dataset: str | None = None,
             extra: str = "") -> Prose:
    """The one-line "This run: dataset, model, ε, n, seeds" callout under a notebook's title, from a table's
    ``info`` dict (or a ``TrainConfig``): scale, dataset (and the paper's, ``paper_dataset`` or the info's, when ours
    substitutes it), model, ε (with the threat model's norm, ``norm`` or the info's), ``n`` test examples, ``seeds``,
    then ``extra``."""
    def get(k):
        return info.get(k) if isinstance(info, dict) else getattr(info, k, None)

    ds, paper_ds, scale = get("dataset"), paper_dataset or get("paper_dataset"), get("scale")
    norm = norm or NORMS.get(get("norm"), get("norm"))
    where = dataset_name(ds) if ds else "?"
    bits = [f"{scale} scale" if scale else ""]
    if paper_ds and paper_ds != ds:
        bits.append(f"the paper: {dataset_name(paper_ds)}")
    where += " (" + "; ".join(b for b in bits if b) + ")" if any(bits) else ""
    parts = [where]
    if get("model"):
        parts.append(f"model `{get('model')}`")
    eps = get("eps")
    if eps is not None:
        parts.append(f"{norm + ' ' if norm else ''}ε = {float(eps):.4g}")
    if n is not None:
        parts.append(f"n = {int(n)} test examples")
    if seeds is not None:
        s = list(seeds) if isinstance(seeds, (list, tuple, range)) else [seeds]
        parts.append(("seeds " if len(s) > 1 else "seed ") + ", ".join(map(str, s)))
    if extra:
        parts.append(extra)
    return Prose("> **This run:** " + ", ".join(parts))


def smoke_banner(scale: str, item: str) -> Prose | None:
    """A visible note on a notebook's smoke outputs (``scale == "smoke"``), pointing at its real results; None at
    the other scales (so a cell that ends with it shows nothing)."""
    if scale != "smoke":
        return None
    if "/" in item:
        paper, name = item.split("/", 1)
        where = (f"see `figures/mini/{paper}/` (this notebook executed at `mini`: `figures/mini/{item}.ipynb`; "
                 f"`make reproduce-{paper}-{name.split('_')[0]}`)")
    elif item == "claims":
        where = "the mini ledger is `figures/mini/claims.md` (`make claims SCALE=mini`)"
    else:
        where = "run it with `scale = \"mini\"` for a real model (`make train SCALE=mini`)"
    return Prose(f"> ⚠️ **Smoke outputs**: `scale = \"smoke\"` is a tiny run for the tests, not results; {where}.")


def shared(name: str) -> Prose:
    """The explanation ``notebooks/_shared/<name>.md``, written once and shown by every notebook that needs it."""
    path = paths.NOTEBOOKS / "_shared" / f"{name}.md"
    if not path.exists():
        valid = ", ".join(sorted(p.stem for p in path.parent.glob("*.md")))
        raise FileNotFoundError(f"no shared notebook text {name!r}; valid: {valid}")
    return Prose(path.read_text().strip())
