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
``advdist.train_loop.NonFiniteLoss`` at once instead of returning a model or diverging again. A file that
``torch.load`` cannot read (truncated, damaged) is a one-line :class:`UnreadableRunFile` or a one-line
warning and a recovery (see :func:`get_or_train`), never a torch traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advdist import console, data, paths, train_loop
from advdist.config import TrainConfig
from advdist.run_files import (
    UnreadableRunFile,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    error_line,
    file_lock,
    read_torch,
    warn,
)
from advdist.runtime import Runtime, resolve_device
from advdist.train_loop import NonFiniteLoss, build_model, write_config
from advdist.training_code import EVALUATION_ONLY, TRAINING_CODE, code_version, method_sources, source_hash

# the run folder's file helpers (advdist.run_files), the training-code hash (advdist.training_code) and
# write_config (advdist.train_loop) keep their old names here
__all__ = ["EVALUATION_ONLY", "TRAINING_CODE", "NonFiniteLoss", "Run", "UnreadableRunFile", "allow_train_default",
           "atomic_torch_save", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "code_version",
           "failed_before", "file_lock", "get_or_train", "method_sources", "read_torch", "run_for", "run_key",
           "source_hash", "train_command", "warn", "write_config"]

def run_key(cfg: TrainConfig, data_fingerprint: str) -> str:
    return cfg.hash({"code": code_version(cfg.method), "data": data_fingerprint})


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
        """Training stopped on a non-finite loss or weights (``advdist.train_loop.NonFiniteLoss``); never cached."""
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
        model = build_model(self.config)
        f = self.path / "model.pt"
        try:
            state = read_torch(f, map_location="cpu", weights_only=True)
            try:
                model.load_state_dict(state)
            except (RuntimeError, TypeError, AttributeError) as e:  # not this model's state dict
                raise UnreadableRunFile(f"{f}: unreadable ({error_line(e)})") from None
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

    ``device``, ``threads``, ``channels_last``, ``compile``, ``deterministic``, ``fast_grad``: how to train
    (``runtime.Runtime``; not part of the run's key). Training resumes from the run's last checkpoint when one exists.
    ``allow_train=False`` (or the environment variable ``ADVDIST_ALLOW_TRAIN=0``) turns a missing run into an error
    instead.

    A failed run (non-finite loss or weights; meta status ``"failed"``) raises ``advdist.train_loop.NonFiniteLoss`` at
    once, both when training diverges and on every later call: the same config would diverge again, so nothing is
    returned or retrained. Change the learning rate (or ε), which is a new run, or delete the run folder to retry.

    An unreadable ``model.pt`` of a finished run is rebuilt from the final epoch's ``checkpoint.pt`` (``model_best.pt``
    of the best epoch for early-stopped runs) when that is readable; else it is moved aside to ``model.pt.corrupt`` and
    the run is trained again, resuming from ``checkpoint.pt`` (an unreadable one is moved aside to
    ``checkpoint.pt.corrupt`` and training starts from scratch). Each repair prints one warning line on stderr. With
    training disabled a repair that needs training is a one-line :class:`UnreadableRunFile` naming the file and the
    command to run.
    """
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
            model = run.load_model(dev)
        except UnreadableRunFile as e:
            model = run.load_model(dev) if _rebuild_model(run, e.problem, allow_train) else None
        if model is not None:
            console.loaded(run, progress)  # one line in a notebook (or with progress=False)
            return model, run
    if not allow_train:
        raise FileNotFoundError(
            f"no finished run for {cfg.name} (key {run.key}) and training is disabled; run: {train_command(cfg)}")
    # under torchrun only rank 0 takes the lock (the other ranks must join its collectives, not wait on it)
    lock = contextlib.nullcontext() if os.environ.get("RANK", "0") != "0" else file_lock(run.path / "train.lock")
    with lock:
        if run.failed:  # another process may have failed it while we waited
            raise NonFiniteLoss(failed_before(run))
        if not run.done:  # another process may have finished it while we waited
            bars = console.show_bars(progress)  # in a notebook: no bars or per-epoch lines, one summary line
            train_loop.train(cfg, run, splits=splits,
                             runtime=Runtime(device=device, threads=threads, channels_last=channels_last,
                                             progress=bars, compile=compile, deterministic=deterministic,
                                             fast_grad=fast_grad))
            if not bars:
                console.trained(run)
        else:
            console.loaded(run, progress)
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
