"""Training: the command line ``python -m advdist.train ...`` and the names of the training loop.

The loop itself lives in :mod:`advdist.train_loop` (below the run store, which calls it); this module sits above
the run store so that the command line can train through :func:`advdist.store.get_or_train` (cached, resumed,
locked). Every name of the loop stays importable from here: ``advdist.train.train``, ``Runtime``,
``NonFiniteLoss``, ``build_model``, ``resolve_device``, ...

    python -m advdist.train --method at_pgd --scale mini            # trains into data/runs/ (or loads)
    torchrun --nproc_per_node=2 -m advdist.train --method at_pgd    # data-parallel (advdist.distributed)
"""

from __future__ import annotations

import argparse
import sys

from advdist import data, methods, models
from advdist.config import SCALES, SETTINGS, ConfigError, resolve
from advdist.data import DatasetNotFound
from advdist.store import UnreadableRunFile, get_or_train
from advdist.train_loop import (
    EARLY_STOP_N,
    NonFiniteLoss,
    Runtime,
    accuracy,
    build_model,
    check_runtime,
    compiled,
    early_stop_accuracy,
    epoch_seed,
    lr_at,
    resolve_device,
    train,
    write_config,
)

__all__ = ["EARLY_STOP_N", "NonFiniteLoss", "Runtime", "accuracy", "build_model", "check_runtime", "compiled",
           "early_stop_accuracy", "epoch_seed", "lr_at", "main", "resolve_device", "train", "write_config"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m advdist.train",
        description="Train one model into the run store (data/runs/); resumes an interrupted run.")
    p.add_argument("--method", default="standard", help=f"training method ({', '.join(methods.names())})")
    p.add_argument("--dataset", default=None, help=f"dataset ({', '.join(data.names())}); default: the scale's")
    p.add_argument("--model", default=None, help=f"architecture ({', '.join(models.names())}); default: the scale's")
    p.add_argument("--scale", default="mini", help=f"scale ({', '.join(SCALES)}); default mini")
    p.add_argument("--setting", default=None, help=f"paper setting ({', '.join(SETTINGS)})")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--eps", type=float, default=None, help="perturbation budget of adversarial methods")
    p.add_argument("--n-train", type=int, default=None, help="stratified training subset (0 = all)")
    p.add_argument("--n-test", type=int, default=None, help="stratified test subset (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--amp", action="store_true", help="bf16 autocast")
    p.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                   help="torch.compile the classifier for the training step; MODE: default, reduce-overhead "
                        "(CUDA graphs: +58%% images/s for AT_PGD at batch 64 on an H100), max-autotune, ...")
    p.add_argument("--channels-last", action="store_true", default=None,
                   help="channels_last memory format (default: on CUDA only; on a CPU it helps some nets, e.g. "
                        "TRADES SmallCNN, not others)")
    p.add_argument("--fast-grad", action="store_true",
                   help="take the attacks' and samplers' input gradients through the model's input-gradient view "
                        "(advdist.models.grad_view; same logits, faster on a CPU); not with --compile")
    p.add_argument("--nondeterministic", action="store_true",
                   help="allow nondeterministic kernels and cuDNN autotuning (faster on CUDA; not bit-reproducible)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = resolve(args.scale, args.setting, method=args.method, dataset=args.dataset, model=args.model,
                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, eps=args.eps,
                      n_train=args.n_train, n_test=args.n_test, seed=args.seed, amp=args.amp or None)
        resolve_device(args.device)
        check_runtime(Runtime(compile=args.compile or False, fast_grad=args.fast_grad))
    except (ConfigError, ValueError) as e:
        print(f"advdist.train: error: {e}", file=sys.stderr)
        return 2
    try:
        model, run = get_or_train(cfg, device=args.device, threads=args.threads, progress=not args.no_progress,
                                  compile=args.compile or False, deterministic=not args.nondeterministic,
                                  channels_last=args.channels_last, fast_grad=args.fast_grad)
    except (DatasetNotFound, NonFiniteLoss, UnreadableRunFile) as e:
        print(f"advdist.train: error: {e}", file=sys.stderr)
        return 1
    final = run.meta.get("final", {})
    print(f"{cfg.name} ({cfg.scale}): test accuracy {final.get('test_acc', float('nan')):.4f}; run {run.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
