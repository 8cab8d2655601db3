"""Build the committed notebooks from their Python sources (jupytext percent format).

    python tools/make_notebook.py [notebooks/adt/table1_cifar10_whitebox.py ...]   (default: every source)

``notebooks/<paper>/<nb>.py`` is the one source of truth of ``notebooks/<paper>/<nb>.ipynb``: ``# %%`` code cells,
``# %% [markdown]`` cells, cell tags in the cell header (``# %% tags=["parameters"]``). A linter and an import graph
read it like any module; edit it, then run ``make notebooks`` (this script: the .ipynb without executing it) or
``make golden`` (this script, then execution at smoke and the stored smoke results).

The .ipynb gets the cells (sources and tags) and the kernelspec ``make env`` installs (:data:`KERNELSPEC`), so
JupyterLab opens it unmodified. Cells whose type and source did not change keep their id, outputs and execution
count: nbval's stored smoke outputs (the ``nbval-check-output`` cell) survive an edit elsewhere in the notebook.
"""

from __future__ import annotations

import difflib
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: the Jupyter kernel ``make env`` registers (Makefile: ipykernel install --name ... --display-name ...)
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (advdist)", "language": "python"}
#: folders under notebooks/ that hold no notebook sources (shared Markdown, checkpoints)
NOT_SOURCES = ("_shared", ".ipynb_checkpoints")


def sources(root: Path = NOTEBOOKS) -> list[Path]:
    """Every notebook source under ``root`` (``*.py``, outside :data:`NOT_SOURCES`)."""
    return sorted(p for p in root.rglob("*.py") if not set(p.relative_to(root).parts) & set(NOT_SOURCES))


def notebook_of(source: Path) -> Path:
    return Path(source).with_suffix(".ipynb")


def item_of(source: Path) -> str:
    """``adt/table1_cifar10_whitebox`` for ``notebooks/adt/table1_cifar10_whitebox.py`` (the goldens' item name)."""
    return Path(source).resolve().relative_to(NOTEBOOKS).with_suffix("").as_posix()


def cells_of(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """``(cell type, source, tags)`` of each cell, papermill's injected parameters left out."""
    out = []
    for c in nb.cells:
        tags = list(c.get("metadata", {}).get("tags", []))
        if "injected-parameters" not in tags:
            out.append((c.cell_type, c.source, tags))
    return out


def _cell_id(item: str, i: int, source: str, taken: set[str]) -> str:
    """A deterministic cell id (a random one would change the .ipynb at every build)."""
    k = 0
    while True:
        cid = hashlib.sha1(f"{item}:{i}:{k}:{source}".encode()).hexdigest()[:8]
        if cid not in taken:
            return cid
        k += 1


def build(source: Path, previous: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """The notebook of ``source``; cells unchanged since ``previous`` keep its ids, outputs and execution counts."""
    text = jupytext.read(source, fmt="py:percent")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC),
                   "language_info": dict(previous.metadata.get("language_info", {"name": "python"}))
                   if previous is not None else {"name": "python"}}
    old = previous.cells if previous is not None else []
    match = {}
    sm = difflib.SequenceMatcher(a=[(c.cell_type, c.source) for c in old],
                                 b=[(c.cell_type, c.source) for c in text.cells], autojunk=False)
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            match[block.b + k] = old[block.a + k]
    taken: set[str] = set()
    item = item_of(source)
    for i, c in enumerate(text.cells):
        tags = list(c.metadata.get("tags", []))
        if c.cell_type == "markdown":
            cell = nbformat.v4.new_markdown_cell(c.source)
        else:
            cell = nbformat.v4.new_code_cell(c.source)
        cell.metadata["tags"] = tags  # also when empty, as papermill writes it (no churn between the two)
        prev = match.get(i)
        cid = prev.get("id") if prev is not None else None
        cell.id = cid if cid and cid not in taken else _cell_id(item, i, c.source, taken)
        taken.add(cell.id)
        if prev is not None and c.cell_type == "code":
            cell.outputs = prev.get("outputs", [])
            cell.execution_count = prev.get("execution_count")
        nb.cells.append(cell)
    return nb


def write(source: Path) -> Path:
    """Write the .ipynb of ``source`` beside it (keeping what :func:`build` keeps); return its path."""
    out = notebook_of(source)
    previous = nbformat.read(out, as_version=4) if out.exists() else None
    nb = build(source, previous)
    nbformat.validate(nb)
    nbformat.write(nb, out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    todo = [Path(a).resolve() for a in args] or sources()
    for src in todo:
        if src.suffix != ".py" or not src.exists():
            print(f"make_notebook: error: {src} is not a notebook source (notebooks/<paper>/<nb>.py)", file=sys.stderr)
            return 2
        print("notebook:", write(src).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
