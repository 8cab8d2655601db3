"""Notebooks: each committed .ipynb is built from its jupytext source (notebooks/<paper>/<nb>.py) and cannot drift
from it; parameters cells are typed literals; the kernelspec is the one `make env` installs."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.rglob("*.py") if not {"_shared", ".ipynb_checkpoints"} & set(p.parts))
OUT_OF_DATE = "notebook out of date: run `make notebooks` (tools/make_notebook.py), then `make golden`"


def _ids(p: Path) -> str:
    return str(p.relative_to(NOTEBOOKS))


def source_cells(py: Path) -> list[tuple[str, str, list[str]]]:
    """(cell type, source, tags) of each cell of a percent-format source, as jupytext reads it."""
    nb = jupytext.read(py, fmt="py:percent")
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def notebook_cells(ipynb: Path) -> list[tuple[str, str, list[str]]]:
    """(cell type, source, tags) of each cell of a committed .ipynb (papermill's injected parameters left out)."""
    nb = json.loads(ipynb.read_text())
    out = []
    for c in nb["cells"]:
        tags = list(c["metadata"].get("tags", []))
        if "injected-parameters" not in tags:
            src = c["source"]
            out.append((c["cell_type"], "".join(src) if isinstance(src, list) else src, tags))
    return out


def installed_kernelspec() -> dict[str, str]:
    """The kernel `make env` registers, read from the Makefile's `ipykernel install` line."""
    line = next(x for x in (ROOT / "Makefile").read_text().splitlines() if "ipykernel install" in x)
    name = re.search(r"--name (\S+)", line).group(1)
    display = re.search(r'--display-name "([^"]+)"', line).group(1)
    return {"name": name, "display_name": display, "language": "python"}


def test_every_notebook_has_a_source_and_vice_versa():
    notebooks = {p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert notebooks == {p.with_suffix(".ipynb") for p in SOURCES}
    assert len(SOURCES) >= 30
    assert not (NOTEBOOKS / "specs").exists(), "notebooks/specs/ was replaced by the .py sources"


@pytest.mark.parametrize("py", SOURCES, ids=_ids)
def test_notebook_cells_equal_source(py):
    assert notebook_cells(py.with_suffix(".ipynb")) == source_cells(py), OUT_OF_DATE


@pytest.mark.parametrize("py", SOURCES, ids=_ids)
def test_notebook_carries_the_installed_kernelspec(py):
    """JupyterLab opens the notebook with the kernel `make env` installed and does not mark it modified."""
    meta = json.loads(py.with_suffix(".ipynb").read_text())["metadata"]
    assert meta["kernelspec"] == installed_kernelspec()


def test_drift_is_detected(tmp_path):
    """An edit to a source (or to its notebook) alone makes the two unequal: the comparison above can fail."""
    py = NOTEBOOKS / "train.py"
    copy = tmp_path / "train.py"
    shutil.copy(py, copy)
    shutil.copy(py.with_suffix(".ipynb"), tmp_path / "train.ipynb")
    assert notebook_cells(tmp_path / "train.ipynb") == source_cells(copy)
    copy.write_text(copy.read_text().replace('seed: int = 0 ', 'seed: int = 1 ', 1))
    assert notebook_cells(tmp_path / "train.ipynb") != source_cells(copy)
    retagged = copy.read_text().replace('seed: int = 1 ', 'seed: int = 0 ', 1).replace('tags=["parameters"]', "", 1)
    copy.write_text(retagged)
    assert notebook_cells(tmp_path / "train.ipynb") != source_cells(copy)


@pytest.mark.parametrize("py", SOURCES, ids=_ids)
def test_parameters_cell_is_typed_literals_defaulting_to_smoke(py):
    cells = source_cells(py)
    params = [s for k, s, t in cells if "parameters" in t]
    assert len(params) == 1
    tree = ast.parse(params[0])
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant), ast.dump(node)
    values = {n.target.id: n.value.value for n in tree.body}
    assert values["scale"] == "smoke"
    # the next code cell validates them
    code = [s for k, s, t in cells if k == "code"]
    assert "notebook_parameters(globals())" in code[code.index(params[0]) + 1]
