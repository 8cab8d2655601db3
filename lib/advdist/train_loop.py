"""One training loop for every method (the command line ``python -m advdist.train`` is :mod:`advdist.train`).

SGD with momentum and weight decay, piecewise-constant learning rate (``lr · γ^#{milestones ≤ epoch}``,
epochs counted from 1 as in the papers: ADT App. C.3 "reduced to 0.01 in the 75-th epoch"),
a progress bar per epoch, a CSV row per epoch, a checkpoint per epoch written atomically, and
exact resume: all randomness of epoch ``e`` (shuffling, augmentation, dropout, the methods' own
sampling) is drawn from seeds derived from ``(seed, e)``, so a run killed and restarted ends with
the same weights as one that never stopped (same device and thread count).

A non-finite training loss (checked on the ``loss.item()`` the loop reads anyway), or non-finite weights or
logged values at the end of an epoch, stop training at once with :class:`NonFiniteLoss` (one line: run, epoch,
batch, lr, ε); the run is marked ``"failed"`` and no model is stored (``advdist.store.get_or_train``). An
unreadable ``checkpoint.pt`` is moved aside to ``checkpoint.pt.corrupt`` and training starts from scratch.

Launched by ``torchrun --nproc_per_node=N -m advdist.train ...`` the loop trains data-parallel
(:mod:`advdist.ddp`): each global batch of ``cfg.batch_size`` is shuffled and augmented identically on
every rank and split into N shards, gradients are averaged over ranks, the methods' own randomness is seeded
per rank, and rank 0 alone logs and writes the run folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

from advdist import __version__, data, ddp, methods, models
from advdist.attacks import pgd
from advdist.attacks.core import fast_input_grad
from advdist.config import TrainConfig, canonical_json
from advdist.run_files import (
    UnreadableRunFile,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    read_torch,
    warn,
)
from advdist.runtime import Runtime, check_runtime, correct, eval_mode, resolve_device, set_deterministic, set_threads
from advdist.training_code import code_version

__all__ = ["EARLY_STOP_N", "NonFiniteLoss", "Runtime", "accuracy", "build_model", "check_runtime", "compiled",
           "early_stop_accuracy", "epoch_seed", "lr_at", "resolve_device", "train", "write_config"]


class NonFiniteLoss(RuntimeError):
    """Training diverged (non-finite loss, weights or logged value), now or in an earlier attempt at the same run.
    One line: the run (name and folder), epoch and batch, lr and ε. The run folder is marked ``"failed"``
    (``reason``, ``last_finite_epoch``: the epoch of the ``checkpoint.pt`` kept, 0 for none) and holds no
    ``model.pt``; ``get_or_train`` of the same config raises again instead of returning a model or retraining.
    Retry with another lr/ε (a new run), or delete the run folder."""


def compiled(model: nn.Module, mode: str | None = None) -> nn.Module:
    """``torch.compile`` of ``model`` for the training step, shapes pinned (``dynamic=False``: a last partial batch
    compiles once more). It shares ``model``'s parameters, so checkpoints keep saving ``model``. Only for first-order
    use (attacks' input gradients, the training backward): no method calls it under ``create_graph=True``, which
    compiled graphs do not support; the Hessian tools (``analysis.hessian``) always run eagerly."""
    return torch.compile(model, dynamic=False, mode=mode)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of all randomness in ``epoch`` (1-based) of a run seeded with ``seed``."""
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Piecewise-constant schedule: ``lr · γ^#{m in milestones : epoch ≥ m}`` (epoch 1-based)."""
    return cfg.lr * cfg.lr_gamma ** sum(epoch >= m for m in cfg.milestones)


def build_model(cfg: TrainConfig) -> nn.Module:
    """The classifier of ``cfg`` (architecture and shape from the dataset's info)."""
    info = data.info(cfg.dataset)
    kw = dict(cfg.model_kwargs)
    if cfg.model == "mlp":
        kw.setdefault("input_shape", tuple(info.input_shape))
    return models.build(cfg.model, num_classes=info.num_classes, in_channels=info.input_shape[0], **kw)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000,
             device: torch.device | None = None) -> float:
    """Clean accuracy of ``model`` on ``(x, y)`` in eval mode (mode restored)."""
    device = device or next(model.parameters()).device
    n_correct = 0
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device, non_blocking=True)
            n_correct += correct(model(xb), y[i:i + batch_size].to(device)).sum().item()
    return n_correct / max(len(x), 1)


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, leave=False, ncols=100, file=sys.stderr,
                mininterval=float(os.environ.get("TQDM_MININTERVAL", 0.5 if tty else 15)))


def train(cfg: TrainConfig, run, *, splits=None, runtime: Runtime | None = None) -> nn.Module:
    """Train (or resume) ``cfg`` into ``run`` (an ``advdist.store.Run``) and return the model."""
    rt = runtime or Runtime()
    check_runtime(rt)
    set_threads(rt.threads)
    device = resolve_device(rt.device)
    dist, device = ddp.setup(device)  # torchrun: join the group (rank 0 of 1 otherwise)
    channels_last = rt.channels_last if rt.channels_last is not None else device.type == "cuda"
    set_deterministic(rt.deterministic, device)

    if splits is None:
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
    augmentation = splits.info.augmentation if cfg.augment == "auto" else cfg.augment

    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    dist.broadcast_parameters(model)
    method = methods.build(cfg.method, cfg, model).to(device)
    mode = rt.compile if isinstance(rt.compile, str) and rt.compile != "default" else None
    fwd = compiled(model, mode) if rt.compile else model  # what the method calls; ``model`` is what gets saved
    if dist.world > 1 and dist.main and method.state_dict():
        print(f"warning: {cfg.method}'s own networks are trained per rank, not averaged across ranks", flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    if dist.main:
        run.path.mkdir(parents=True, exist_ok=True)
        write_config(run)
    ckpt_path = run.path / "checkpoint.pt"
    rows: list[dict[str, Any]] = []
    start_epoch = 1
    ckpt = _read_checkpoint(cfg, run, device, dist.main)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        method.load_state_dict(ckpt["method"])
        rows = ckpt["rows"]
        start_epoch = ckpt["epoch"] + 1
        if dist.main:
            print(f"resuming {cfg.name} from epoch {ckpt['epoch']}/{cfg.epochs} ({run.path.name})", flush=True)

    meta: dict[str, Any] = {
        "key": run.key, "name": cfg.name, "status": "training", "code_version": code_version(cfg.method),
        "data": {"name": cfg.dataset, "source": splits.source, "fingerprint": splits.fingerprint,
                 "n_train": len(splits.y_train), "n_test": len(splits.y_test), "augmentation": augmentation},
        "versions": {"advdist": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "device": str(device), "threads": torch.get_num_threads(), "channels_last": channels_last,
        "fast_grad": rt.fast_grad, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "world_size": dist.world,
    }
    if dist.main:
        atomic_write_json(run.path / "meta.json", meta)

    x_train, y_train = splits.x_train, splits.y_train
    if device.type == "cuda":  # data and augmentation on the GPU
        x_train, y_train = x_train.to(device), y_train.to(device)
    n = len(y_train)
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if cfg.amp else None
    last_finite = start_epoch - 1  # the epoch checkpoint.pt holds (0: none)

    def diverged(what: str, epoch: int, where: str = "") -> NonFiniteLoss:
        """Mark the run failed (rank 0 writes) and return the one-line error to raise."""
        reason = f"{what} at epoch {epoch}/{cfg.epochs}{where} (lr {lr_at(cfg, epoch):g}, eps {cfg.eps:g})"
        if dist.main:
            with contextlib.suppress(FileNotFoundError):
                (run.path / "model.pt").unlink()
            meta.update(status="failed", reason=reason, last_finite_epoch=last_finite,
                        failed=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            atomic_write_json(run.path / "meta.json", meta)
        dist.close()
        kept = f"checkpoint.pt of epoch {last_finite} kept" if last_finite else "no checkpoint"
        return NonFiniteLoss(f"{cfg.name} diverged: {reason}; learning rate too high (or eps)? "
                             f"run {run.path} marked failed, no model.pt, {kept}")

    for epoch in range(start_epoch, cfg.epochs + 1):
        t0 = time.perf_counter()
        lr = lr_at(cfg, epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        seed = epoch_seed(cfg.seed, epoch)
        torch.manual_seed(ddp.rank_seed(seed, dist.rank))
        gen = torch.Generator(device=x_train.device).manual_seed(seed)
        perm = torch.randperm(n, generator=gen, device=x_train.device)
        model.train()
        sums: dict[str, float] = {}
        seen, first_bad = 0, ""
        batches = range(0, n, cfg.batch_size)
        bar = _progress(batches, len(batches), f"{cfg.name} epoch {epoch}/{cfg.epochs}", rt.progress and dist.main)
        for i in bar:
            idx = perm[i:i + cfg.batch_size]
            xb = x_train[idx].to(device, non_blocking=True)
            yb = y_train[idx].to(device, non_blocking=True)
            if augmentation != "none":
                xb = data.augment(xb, augmentation, generator=gen)
            b_global = len(yb)
            xb, yb = dist.shard(xb), dist.shard(yb)  # this rank's part of the global batch
            if channels_last and xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            b = len(yb)
            if b:
                with amp if amp is not None else _null(), fast_input_grad(rt.fast_grad):
                    loss, logs = method.loss(fwd, xb, yb)
                opt.zero_grad(set_to_none=True)
                (loss * dist.loss_weight(b, b_global) if dist.world > 1 else loss).backward()
            else:  # fewer examples than ranks in the last batch: this rank adds zero gradients
                loss, logs = torch.zeros(()), {}
                opt.zero_grad(set_to_none=True)
            dist.average_gradients(model)
            opt.step()
            seen += b
            loss_value = loss.item()
            if not math.isfinite(loss_value):  # one rank alone must not stop (the others would wait): epoch end
                where = f", batch {i // cfg.batch_size + 1}/{len(batches)}"
                if dist.world == 1:
                    raise diverged(f"train_loss {loss_value}", epoch, where)
                first_bad = first_bad or where
            for k, v in {"train_loss": loss_value, **logs}.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            if rt.progress and hasattr(bar, "set_postfix") and seen:
                bar.set_postfix(loss=f"{sums['train_loss'] / seen:.3f}", refresh=False)
        if dist.world > 1:  # the log's means over the global batches
            sums = dist.sum({**sums, " seen": seen})
            seen = sums.pop(" seen")
        bad = [k for k, v in sums.items() if not math.isfinite(v)]  # the same sums and weights on every rank
        if bad or not _finite(model):
            raise diverged(f"{bad[0]} {sums[bad[0]]}" if bad else "non-finite weights", epoch, first_bad)
        if not dist.main:
            continue
        row = {"epoch": epoch, "lr": lr, **{k: v / seen for k, v in sums.items()}}
        row["test_acc"] = accuracy(model, splits.x_test, splits.y_test, device=device)
        row["time_s"] = time.perf_counter() - t0
        if cfg.early_stop:  # outside time_s: training time per epoch stays comparable (ADT Fig. 7)
            row["test_rob_acc"] = early_stop_accuracy(cfg, model, splits, device)
            if row["test_rob_acc"] > max((r.get("test_rob_acc", -1.0) for r in rows), default=-1.0):
                atomic_torch_save({"model": model.state_dict(), "epoch": epoch}, run.path / "model_best.pt")
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise diverged(f"{bad[0]} {row[bad[0]]}", epoch)
        rows.append(row)
        atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "method": method.state_dict(), "epoch": epoch, "rows": rows}, ckpt_path)
        last_finite = epoch
        _write_log(run.path / "log.csv", rows, atomic_write_text)
        if rt.progress:
            extra = " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "lr", "time_s"))
            print(f"{cfg.name} epoch {epoch}/{cfg.epochs} lr {lr:g} {extra} ({row['time_s']:.1f} s)", flush=True)

    if cfg.early_stop and dist.main:  # Rice et al. (2020): the released model is the best robust epoch's
        try:
            best = read_torch(run.path / "model_best.pt", map_location=device, keys=("model", "epoch"))
        except (FileNotFoundError, UnreadableRunFile) as e:
            raise UnreadableRunFile(f"{e}; the best epoch of {cfg.name} is lost: delete {run.path} to retrain",
                                    problem=getattr(e, "problem", None)) from None
        model.load_state_dict(best["model"])
        meta["best_epoch"] = best["epoch"]
    if dist.main:
        atomic_torch_save(model.state_dict(), run.path / "model.pt")
        meta.update(status="done", finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    train_time_s=sum(r["time_s"] for r in rows), final=rows[-1] if rows else {})
        atomic_write_json(run.path / "meta.json", meta)
    dist.barrier()  # the other ranks return once rank 0's model.pt is written
    dist.close()
    return model.eval()


@torch.no_grad()
def _finite(model: nn.Module) -> bool:
    """All weights and buffers finite (one device sync)."""
    ts = [t.isfinite().all() for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(ts).all()) if ts else True


def _read_checkpoint(cfg: TrainConfig, run, device: torch.device, main: bool) -> dict[str, Any] | None:
    """The run's checkpoint.pt to resume from, or None: absent, or unreadable (rank 0 moves it aside to
    ``checkpoint.pt.corrupt`` with a warning line; training starts from scratch). An early-stopped run also needs
    its ``model_best.pt`` of the epochs so far; unreadable, it is lost and the run starts from scratch too."""
    path = run.path / "checkpoint.pt"
    if not path.exists():
        return None
    try:
        ckpt = read_torch(path, map_location=device, weights_only=False,
                          keys=("model", "optimizer", "method", "epoch", "rows"))
        if cfg.early_stop and ckpt["rows"]:
            read_torch(run.path / "model_best.pt", map_location="cpu", keys=("model", "epoch"))
        return ckpt
    except (FileNotFoundError, UnreadableRunFile) as e:
        if not path.exists():  # rank 0 moved it aside meanwhile
            return None
        if main:
            os.replace(path, path.with_name("checkpoint.pt.corrupt"))
            reason = f"{e}" if isinstance(e, UnreadableRunFile) else f"{e.filename}: absent"
            warn(f"{reason}; moved checkpoint.pt aside to checkpoint.pt.corrupt, training {cfg.name} from scratch")
        return None


EARLY_STOP_N = 1000


def early_stop_accuracy(cfg: TrainConfig, model: nn.Module, splits, device) -> float:
    """PGD-10 accuracy (α = ε/4, random start) on a fixed stratified subset of ``EARLY_STOP_N`` test images:
    the early-stopping criterion of Rice et al. (2020), used by ADT Table 6. As in Rice et al.'s code the
    selection looks at test data; the subset is fixed so every epoch is judged on the same images."""
    y_all = splits.y_test
    idx = torch.as_tensor(data.stratified_indices(y_all.numpy(), min(EARLY_STOP_N, len(y_all)), 0, 2))
    x, y = splits.x_test[idx].to(device), y_all[idx].to(device)
    n_correct = 0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        for i in range(0, len(y), 500):
            xa = pgd(model, x[i:i + 500], y[i:i + 500], eps=cfg.eps, alpha=cfg.eps / 4, steps=10, norm=cfg.norm)
            with torch.no_grad():
                n_correct += correct(model(xa), y[i:i + 500]).sum().item()
    model.train()
    return n_correct / len(y)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _write_log(path, rows, writer) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    lines = [",".join(keys)] + [",".join(_fmt(r.get(k, "")) for k in keys) for r in rows]
    writer(path, "\n".join(lines) + "\n")


def _fmt(v) -> str:
    return repr(float(v)) if isinstance(v, float) else str(v)


def write_config(run) -> None:
    """``config.json`` of ``run`` (an ``advdist.store.Run``): its config as canonical, indented JSON."""
    atomic_write_text(run.path / "config.json",
                      json.dumps(json.loads(canonical_json(run.config.to_dict())), indent=2) + "\n")
