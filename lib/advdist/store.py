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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
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
                   "attacks/deepfool.py", "attacks/cw_l2.py", "attacks/transfer.py", "data/__main__.py")
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
        p = self.path / "meta.json"
        return json.loads(p.read_text()) if p.exists() else {}

    @property
    def done(self) -> bool:
        return self.meta.get("status") == "done" and (self.path / "model.pt").exists()

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
        from advdist.train import build_model

        model = build_model(self.config)
        state = torch.load(self.path / "model.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
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
    """
    from advdist import data
    from advdist.train import Runtime, resolve_device, train

    if splits is None:
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
    run = run_for(cfg, splits.fingerprint)
    dev = resolve_device(device)
    if run.done:
        return run.load_model(dev), run
    if allow_train is None:
        allow_train = allow_train_default()
    if not allow_train:
        raise FileNotFoundError(
            f"no finished run for {cfg.name} (key {run.key}) and training is disabled; "
            f"run: python -m advdist.train --method {cfg.method} --dataset {cfg.dataset} --scale {cfg.scale}")
    # under torchrun only rank 0 takes the lock (the other ranks must join its collectives, not wait on it)
    lock = contextlib.nullcontext() if os.environ.get("RANK", "0") != "0" else file_lock(run.path / "train.lock")
    with lock:
        if not run.done:  # another process may have finished it while we waited
            train(cfg, run, splits=splits,
                  runtime=Runtime(device=device, threads=threads, channels_last=channels_last, progress=progress,
                                  compile=compile, deterministic=deterministic, fast_grad=fast_grad))
    return run.load_model(dev), run


def write_config(run: Run) -> None:
    atomic_write_text(run.path / "config.json", json.dumps(json.loads(canonical_json(run.config.to_dict())), indent=2) + "\n")
