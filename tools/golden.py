"""Regenerate notebooks/ from notebooks/specs/ and store their smoke-scale outputs (the nbval goldens).

    python tools/golden.py [notebooks/specs/adt/table1_cifar10_whitebox.py ...]

Each notebook is rebuilt from its spec, executed by papermill at its defaults (scale = "smoke"),
and stripped to what nbval compares: outputs are kept only in cells tagged ``nbval-check-output``
(execution counts kept everywhere), timings and papermill metadata removed.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebook import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def golden(spec: Path) -> Path:
    out = ROOT / "notebooks" / spec.relative_to(ROOT / "notebooks" / "specs").with_suffix(".ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(runpy.run_path(str(spec))["CELLS"]), out)
    papermill.execute_notebook(str(out), str(out), kernel_name="python3", cwd=str(ROOT / "notebooks"),
                               progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and "nbval-check-output" not in cell.metadata.get("tags", []):
            cell.outputs = []
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    specs = [Path(a).resolve() for a in sys.argv[1:]] or sorted((ROOT / "notebooks" / "specs").rglob("*.py"))
    for s in specs:
        print("golden:", golden(s).relative_to(ROOT), flush=True)
