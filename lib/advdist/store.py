"""The run store: one folder per trained model, named by the hash of what determines it.

``get_or_train(cfg)`` returns a trained model, training only when no finished run exists for
``hash(config + training-code version + data identity)``. A run folder holds::

    config.json      the full TrainConfig
    meta.json        hash, code version, data fingerprint/source, versions, device, timing, metrics, status
    log.csv          one row per epoch
    checkpoint.pt    last finished epoch (model, optimiser, method state) — resume point
    model.pt         final weights (written when training finishes)
    results/         evaluation results keyed by attack settings (``advdist.evaluate``)

Every write is atomic (temp file + ``os.replace``), so a killed run never leaves a torn file, and
a file lock makes two concurrent ``get_or_train`` calls for one run train it once.

Only finished runs are cached. A run whose loss or weights became non-finite is stored with status
``"failed"`` (the reason, ``last_finite_epoch``; no ``model.pt``), and asking for it again raises
``advdist.train.NonFiniteLoss`` at once instead of returning a model or diverging again. A file that
``torch.load`` cannot read (truncated, damaged) is a one-line :class:`UnreadableRunFile` or a one-line
warning and a recovery (see :func:`get_or_train`), never a torch traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from advdist import paths
from advdist.config import TrainConfig, canonical_json

# Code whose edits change what training produces; its hash is part of every run key. Methods count one by one:
# a run hashes ``methods/__init__.py``, ``methods/base.py`` and its own method's module with the sibling
# modules it imports, so adding or editing another method leaves its key alone.
TRAINING_CODE = ("models", "samplers", "attacks", "data", "train.py", "methods/__init__.py", "methods/base.py")
#: modules under TRAINING_CODE that only evaluate (no training method calls them)
EVALUATION_ONLY = ("attacks/settings.py", "attacks/autoattack.py", "attacks/rays.py", "attacks/spsa.py",
                   "attacks/deepfool.py", "attacks/cw_l2.py", "attacks/transfer.py", "attacks/distribution.py",
                   "data/__main__.py")
_SIBLING_IMPORT = re.compile(r"(?:advdist\.methods\.|from \.)(\w+) import")


@lru_cache(maxsize=None)
def code_version(method: str | None = None) -> str:
    """sha256 (12 hex) over the sources that determine what training ``method`` produces (all methods: None)."""
    return source_hash(Path(__file__).resolve().parent, method=method)


def method_sources(pkg: Path, method: str | None) -> list[str]:
    """``methods/<module>.py`` of ``method`` and, transitively, the sibling method modules it imports
    (every method module when ``method`` is None)."""
    mdir = pkg / "methods"
    if method is None:
        return [f"methods/{f.name}" for f in sorted(mdir.glob("*.py"))]
    from advdist import methods

    todo, seen = [methods.get(method).__module__.rsplit(".", 1)[-1]], []
    while todo:
        name = todo.pop()
        f = mdir / f"{name}.py"
        if name in seen or not f.exists():
            continue
        seen.append(name)
        todo += _SIBLING_IMPORT.findall(f.read_text())
    return [f"methods/{n}.py" for n in sorted(seen)]


def source_hash(pkg: Path, entries=TRAINING_CODE, *, method: str | None = None) -> str:
    """sha256 (12 hex) over the paths and bytes of ``entries`` (files or folders of .py) under ``pkg`` and of
    :func:`method_sources`, leaving out ``EVALUATION_ONLY`` and CLI entry points."""
    h = hashlib.sha256()
    files: list[Path] = []
    for entry in [*entries, *method_sources(pkg, method)]:
        p = pkg / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.exists() else []
    for f in sorted(set(files)):
        rel = f.relative_to(pkg).as_posix()
        if f.name == "__main__.py" or rel in EVALUATION_ONLY:
            continue
        h.update(rel.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def run_key(cfg: TrainConfig, data_fingerprint: str) -> str:
    return cfg.hash({"code": code_version(cfg.method), "data": data_fingerprint})


# ----------------------------------------------------------------------------------------------
# atomic files
# ----------------------------------------------------------------------------------------------
def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (blocks until free)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class UnreadableRunFile(RuntimeError):
    """A file of a run that ``torch.load`` cannot read (truncated, damaged, not a checkpoint); one-line message
    naming the file and the reason (``problem``: that part alone, without advice)."""

    def __init__(self, msg: str, problem: str | None = None):
        super().__init__(msg)
        self.problem = problem or msg


def read_torch(path: Path, *, map_location: Any = "cpu", weights_only: bool = True, keys: tuple[str, ...] = ()) -> Any:
    """``torch.load(path)``, anything it raises (RuntimeError, EOFError, pickle/zip errors, ...) turned into a
    one-line :class:`UnreadableRunFile` without the torch traceback; so is a result that is not a dict with
    ``keys``. A missing file stays ``FileNotFoundError``."""
    try:
        obj = torch.load(path, map_location=map_location, weights_only=weights_only)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever torch.load raises, the file is unreadable
        raise UnreadableRunFile(f"{path}: unreadable ({_short(e)})") from None
    if keys and not (isinstance(obj, dict) and all(k in obj for k in keys)):
        raise UnreadableRunFile(f"{path}: unreadable (not a run file with {', '.join(keys)})")
    return obj


def _short(e: BaseException) -> str:
    """``Type: first sentence of the message`` (torch's run on for lines)."""
    msg = (str(e).strip().splitlines() or [""])[0].split(". ")[0]
    return f"{type(e).__name__}: {msg[:160]}"


def warn(msg: str) -> None:
    """One warning line on stderr."""
    print(f"advdist: warning: {msg}", file=sys.stderr, flush=True)


def train_command(cfg: TrainConfig) -> str:
    return f"python -m advdist.train --method {cfg.method} --dataset {cfg.dataset} --scale {cfg.scale}"


# ----------------------------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------------------------
@dataclass
class Run:
    """A run folder. ``key`` = hash(config, code version, data fingerprint)."""

    path: Path
    config: TrainConfig
    key: str

    @property
    def meta(self) -> dict[str, Any]:
        """meta.json; ``{}`` when absent or unreadable (the run then counts as unfinished and is resumed)."""
        p = self.path / "meta.json"
        try:
            meta = json.loads(p.read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    @property
    def done(self) -> bool:
        return self.meta.get("status") == "done" and (self.path / "model.pt").exists()

    @property
    def failed(self) -> bool:
        """Training stopped on a non-finite loss or weights (``advdist.train.NonFiniteLoss``); never cached."""
        return self.meta.get("status") == "failed"

    @property
    def log(self):
        """The per-epoch log as a pandas DataFrame."""
        import pandas as pd

        p = self.path / "log.csv"
        return pd.read_csv(p) if p.exists() else pd.DataFrame()

    @property
    def results_dir(self) -> Path:
        d = self.path / "results"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def load_model(self, device: str | torch.device = "cpu") -> nn.Module:
        """The final weights (model.pt); an unreadable file is a one-line :class:`UnreadableRunFile`
        (:func:`get_or_train` repairs it)."""
        from advdist.train import build_model

        model = build_model(self.config)
        f = self.path / "model.pt"
        try:
            state = read_torch(f, map_location="cpu", weights_only=True)
            try:
                model.load_state_dict(state)
            except (RuntimeError, TypeError, AttributeError) as e:  # not this model's state dict
                raise UnreadableRunFile(f"{f}: unreadable ({_short(e)})") from None
        except UnreadableRunFile as e:
            raise UnreadableRunFile(f"{e}; advdist.store.get_or_train rebuilds or retrains it "
                                    f"(or run: {train_command(self.config)})", problem=e.problem) from None
        return model.to(device).eval()


def run_for(cfg: TrainConfig, data_fingerprint: str) -> Run:
    key = run_key(cfg, data_fingerprint)
    return Run(path=paths.runs_dir() / f"{cfg.name}-{key}", config=cfg, key=key)


def allow_train_default() -> bool:
    return os.environ.get("ADVDIST_ALLOW_TRAIN", "1") not in ("0", "false", "no")


def get_or_train(cfg: TrainConfig, *, device: str = "auto", threads: int | None = None,
                 channels_last: bool | None = None, progress: bool = True,
                 allow_train: bool | None = None, splits=None, compile: bool | str = False,
                 deterministic: bool = True, fast_grad: bool = False) -> tuple[nn.Module, Run]:
    """Return ``(model, run)`` for ``cfg``: loaded when a finished run exists, else trained.

    ``device``, ``threads``, ``channels_last``, ``compile``, ``deterministic``, ``fast_grad``: how to train (``train.Runtime``; not
    part of the run's key). Training resumes from the run's last checkpoint when one exists. ``allow_train=False`` (or the
    environment variable ``ADVDIST_ALLOW_TRAIN=0``) turns a missing run into an error instead.

    A failed run (non-finite loss or weights; meta status ``"failed"``) raises ``advdist.train.NonFiniteLoss`` at once,
    both when training diverges and on every later call: the same config would diverge again, so nothing is returned
    or retrained. Change the learning rate (or ε), which is a new run, or delete the run folder to retry.

    An unreadable ``model.pt`` of a finished run is rebuilt from the final epoch's ``checkpoint.pt`` (``model_best.pt``
    of the best epoch for early-stopped runs) when that is readable; else it is moved aside to ``model.pt.corrupt`` and
    the run is trained again, resuming from ``checkpoint.pt`` (an unreadable one is moved aside to
    ``checkpoint.pt.corrupt`` and training starts from scratch). Each repair prints one warning line on stderr. With
    training disabled a repair that needs training is a one-line :class:`UnreadableRunFile` naming the file and the
    command to run.
    """
    from advdist import data
    from advdist.train import NonFiniteLoss, Runtime, resolve_device, train

    if splits is None:
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
    run = run_for(cfg, splits.fingerprint)
    dev = resolve_device(device)
    if allow_train is None:
        allow_train = allow_train_default()
    if run.failed:
        raise NonFiniteLoss(failed_before(run))
    if run.done:
        try:
            return run.load_model(dev), run
        except UnreadableRunFile as e:
            if _rebuild_model(run, e.problem, allow_train):
                return run.load_model(dev), run
    if not allow_train:
        raise FileNotFoundError(
            f"no finished run for {cfg.name} (key {run.key}) and training is disabled; run: {train_command(cfg)}")
    # under torchrun only rank 0 takes the lock (the other ranks must join its collectives, not wait on it)
    lock = contextlib.nullcontext() if os.environ.get("RANK", "0") != "0" else file_lock(run.path / "train.lock")
    with lock:
        if run.failed:  # another process may have failed it while we waited
            raise NonFiniteLoss(failed_before(run))
        if not run.done:  # another process may have finished it while we waited
            train(cfg, run, splits=splits,
                  runtime=Runtime(device=device, threads=threads, channels_last=channels_last, progress=progress,
                                  compile=compile, deterministic=deterministic, fast_grad=fast_grad))
    return run.load_model(dev), run


def failed_before(run: Run) -> str:
    """One line: ``run`` failed earlier, why, and how to retry."""
    meta = run.meta
    return (f"{run.config.name} failed before ({meta.get('reason', 'non-finite loss')}; run {run.path}); the same "
            f"config diverges again: change --lr or --eps (a new run), or delete {run.path} to retry")


def _rebuild_model(run: Run, problem: str, allow_train: bool) -> bool:
    """Repair the unreadable model.pt of a finished ``run`` (``problem``: one line naming it).

    True: rebuilt from the final ``checkpoint.pt`` (``model_best.pt`` for early stopping). False: moved aside to
    ``model.pt.corrupt``, the run now counts as unfinished and is to be retrained. Training disabled and no rebuild:
    :class:`UnreadableRunFile`."""
    cfg, f = run.config, run.path / "model.pt"
    src = run.path / ("model_best.pt" if cfg.early_stop else "checkpoint.pt")
    want = run.meta.get("best_epoch") if cfg.early_stop else cfg.epochs
    try:
        state = read_torch(src, map_location="cpu", weights_only=False, keys=("model", "epoch"))
        why = None if state["epoch"] == want else f"{src.name} holds epoch {state['epoch']}, not {want}"
    except (FileNotFoundError, UnreadableRunFile) as e:
        why = f"{src.name} is absent" if isinstance(e, FileNotFoundError) else e.problem.replace(f"{run.path}/", "")
    if why is None:
        atomic_torch_save(state["model"], f)
        warn(f"{problem}; rebuilt it from {src.name} (epoch {want})")
        return True
    if not allow_train:
        raise UnreadableRunFile(f"{problem}; it cannot be rebuilt ({why}) and training is disabled; "
                                f"run: {train_command(cfg)}")
    with contextlib.suppress(FileNotFoundError):  # another process moved it meanwhile
        os.replace(f, f.with_name("model.pt.corrupt"))
    warn(f"{problem}; moved aside to model.pt.corrupt, cannot rebuild it ({why}): training {cfg.name} again")
    return False


def write_config(run: Run) -> None:
    atomic_write_text(run.path / "config.json", json.dumps(json.loads(canonical_json(run.config.to_dict())), indent=2) + "\n")
