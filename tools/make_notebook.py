"""Write a notebook from a compact cell list (used to author notebooks/; outputs come from papermill).

    python tools/make_notebook.py spec.py out.ipynb

``spec.py`` defines CELLS = [(kind, source, tags), ...] with kind "md" or "code".
"""

from __future__ import annotations

import runpy
import sys

import nbformat


def build(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for kind, src, tags in cells:
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    spec, out = sys.argv[1:3]
    nbformat.write(build(runpy.run_path(spec)["CELLS"]), out)
