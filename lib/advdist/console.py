"""What training and evaluation print: progress bars on a terminal, one line per model in a notebook.

On a terminal, ``progress=True`` (the default of :func:`advdist.store.get_or_train`, :mod:`advdist.train`,
:func:`advdist.evaluate.robustness_matrix`) shows tqdm bars and one line per epoch. Inside a Jupyter kernel
(JupyterLab, papermill, nbval), or with ``progress=False``, there are no bars and no per-epoch lines (they are in the
run's ``log.csv``): each model trained prints one summary line ("trained adt_exp (mini, fashion_mnist, seed 0):
12 epochs, 41 s, test acc 87.2 %; per-epoch log …/log.csv") and each model loaded from the run store one line
("loaded …"), once per notebook cell (once per process outside a notebook).

``ADVDIST_PROGRESS=1`` keeps the bars inside a notebook too; ``ADVDIST_PROGRESS=0`` removes them everywhere.
"""

from __future__ import annotations

import os
import sys

_announced: set[tuple[str, int | None]] = set()


def _shell():
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, papermill, nbval), False in a terminal or a plain script."""
    return type(_shell()).__name__ == "ZMQInteractiveShell"


def show_bars(progress: bool) -> bool:
    """Progress bars and per-epoch lines: asked for (``progress``), and not in a notebook unless
    ``ADVDIST_PROGRESS=1``; never with ``ADVDIST_PROGRESS=0``."""
    forced = os.environ.get("ADVDIST_PROGRESS", "")
    if forced in ("0", "false", "no"):
        return False
    return bool(progress) and (forced in ("1", "true", "yes") or not in_notebook())


def _main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


def describe(cfg) -> str:
    """``adt_exp (mini, fashion_mnist, seed 0)``; a method's non-default options in brackets."""
    opts = ", ".join(f"{k}={v}" for k, v in sorted(getattr(cfg, "method_kwargs", {}).items()))
    return f"{cfg.method}{f' [{opts}]' if opts else ''} ({cfg.scale}, {cfg.dataset}, seed {cfg.seed})"


def _acc(final: dict) -> str:
    acc = final.get("test_acc")
    return f"test acc {100 * float(acc):.1f} %" if acc is not None else "no test accuracy logged"


def trained(run) -> None:
    """The one line of a model just trained (quiet mode), from its finished run folder."""
    if not _main_rank():
        return
    meta = run.meta
    final = meta.get("final", {})
    best = f", kept epoch {meta['best_epoch']}" if meta.get("best_epoch") else ""
    secs = float(meta.get("train_time_s", 0.0))
    print(f"trained {describe(run.config)}: {final.get('epoch', '?')} epochs, {secs:.{0 if secs >= 10 else 1}f} s, "
          f"{_acc(final)}{best}; per-epoch log: run store {run.path.name}/log.csv", flush=True)
    _announced.add(_key(run))


def loaded(run, progress: bool) -> None:
    """The one line of a model loaded from the run store (quiet mode), once per notebook cell."""
    if show_bars(progress) or not _main_rank() or _key(run) in _announced:
        return
    _announced.add(_key(run))
    final = run.meta.get("final", {})
    print(f"loaded {describe(run.config)} from the run store: {final.get('epoch', '?')} epochs, {_acc(final)} "
          f"({run.path.name})", flush=True)


def _key(run) -> tuple[str, int | None]:
    shell = _shell()
    return str(run.path), getattr(shell, "execution_count", None) if shell is not None else None
