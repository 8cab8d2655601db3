"""Notebooks: the committed .ipynb cells equal their specs, parameters cells are typed literals."""

from __future__ import annotations

import ast
import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "notebooks" / "specs").rglob("*.py"))


def _notebook_for(spec: Path) -> Path:
    return ROOT / "notebooks" / spec.relative_to(ROOT / "notebooks" / "specs").with_suffix(".ipynb")


def test_every_notebook_has_a_spec_and_vice_versa():
    notebooks = {p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert notebooks == {_notebook_for(s) for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(ROOT / "notebooks" / "specs")))
def test_notebook_cells_equal_spec(spec):
    cells = runpy.run_path(str(spec))["CELLS"]
    nb = json.loads(_notebook_for(spec).read_text())
    got = [("md" if c["cell_type"] == "markdown" else "code", "".join(c["source"]), c["metadata"].get("tags", []))
           for c in nb["cells"] if "injected-parameters" not in c["metadata"].get("tags", [])]
    want = [(k, s, list(t)) for k, s, t in cells]
    assert got == want, "notebook out of date: run `make notebooks` (tools/make_notebook.py) and `make golden`"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(ROOT / "notebooks" / "specs")))
def test_parameters_cell_is_typed_literals_defaulting_to_smoke(spec):
    cells = runpy.run_path(str(spec))["CELLS"]
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
