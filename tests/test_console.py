"""advdist.console: progress bars on a terminal; in a notebook (or with progress=False) one line per model."""

from __future__ import annotations

import sys
import types

import pytest

from advdist import console
from advdist.config import resolve
from advdist.store import get_or_train


class ZMQInteractiveShell:  # the class name ipykernel's shell has
    execution_count = 1


@pytest.fixture
def notebook(monkeypatch):
    """Pretend to run inside a Jupyter kernel; the returned shell's execution_count is the current cell."""
    shell = ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.delenv("ADVDIST_PROGRESS", raising=False)
    monkeypatch.setattr(console, "_announced", set())
    return shell


def test_bars_on_a_terminal_not_in_a_notebook(monkeypatch, notebook):
    assert console.in_notebook()
    assert not console.show_bars(True) and not console.show_bars(False)
    monkeypatch.setenv("ADVDIST_PROGRESS", "1")
    assert console.show_bars(True) and not console.show_bars(False)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    monkeypatch.delenv("ADVDIST_PROGRESS")
    assert not console.in_notebook()
    assert console.show_bars(True) and not console.show_bars(False)
    monkeypatch.setenv("ADVDIST_PROGRESS", "0")
    assert not console.show_bars(True)


def test_a_notebook_gets_one_line_per_model_trained_or_loaded(runs_dir, notebook, capsys):
    cfg = resolve("smoke", "adt-cifar10", epochs=2)
    get_or_train(cfg, progress=True)  # progress=True, but inside a notebook
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trained standard (smoke, digits, seed 0): 2 epochs,"), out
    assert "test acc" in lines[0] and "log.csv" in lines[0]
    assert "epoch 1/2" not in out + err and "it/s" not in err  # no per-epoch lines, no tqdm bars
    get_or_train(cfg, progress=True)  # the same cell: announced already
    assert capsys.readouterr().out == ""
    notebook.execution_count = 2  # the next cell: one "loaded" line
    get_or_train(cfg, progress=True)
    get_or_train(cfg, progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("loaded standard (smoke, digits, seed 0) from the run store: 2 epochs")


def test_a_terminal_keeps_its_per_epoch_lines(runs_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.delenv("ADVDIST_PROGRESS", raising=False)
    get_or_train(resolve("smoke", "adt-cifar10", epochs=2), progress=True)
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "trained standard" not in out
