"""Project paths, resolved from this file's location (never from the working directory).

JupyterLab, papermill and nbval start kernels in different directories, so every path in the
library and the notebooks comes from here. ``ADVDIST_RUNS`` / ``ADVDIST_DATA`` override the run
store and the dataset folder (used by tests to work in a temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
DATA = ROOT / "data"
PAPER_NUMBERS = DATA / "paper"


def datasets_dir() -> Path:
    """Folder where datasets live in the torchvision on-disk layout (``data/datasets``)."""
    return Path(os.environ.get("ADVDIST_DATA", DATA / "datasets"))


def runs_dir() -> Path:
    """Root of the run store (``data/runs``)."""
    return Path(os.environ.get("ADVDIST_RUNS", DATA / "runs"))


def figures_dir(scale: str, paper: str) -> Path:
    """``figures/<scale>/<paper>/``, created on demand."""
    d = FIGURES / scale / paper
    d.mkdir(parents=True, exist_ok=True)
    return d
