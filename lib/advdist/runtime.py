"""How code runs, not what it computes: device, threads, determinism, eval mode, accuracy of logits.

Every layer below the training loop may use this module; it imports only torch and the standard library.

- :func:`resolve_device` — ``"auto"`` → CUDA when present, else CPU (one-line error for an absent CUDA).
- :class:`Runtime` / :func:`check_runtime` — the options of a training run that are not part of its hash.
- :func:`set_threads`, :func:`set_deterministic`, :func:`deterministic` — torch's thread count and
  deterministic-algorithm settings (the training loop's; :func:`deterministic` restores them afterwards).
- :func:`eval_mode` — eval mode for a block, each submodule's own ``training`` flag restored afterwards.
- :func:`correct`, :func:`accuracy` — per-example "argmax is the label", and its mean.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

__all__ = ["Runtime", "accuracy", "check_runtime", "correct", "deterministic", "eval_mode", "resolve_device",
           "set_deterministic", "set_threads"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use device='cpu' or 'auto'")
    return torch.device(device)


@dataclass
class Runtime:
    """How to run (not what to compute): not part of the run's hash."""

    device: str = "auto"
    threads: int | None = None        # None: keep torch's current setting
    channels_last: bool | None = None  # None: on CUDA only
    progress: bool = True
    compile: bool | str = False        # torch.compile the classifier for the training step; a str = its mode
                                       # ("default", "reduce-overhead" = CUDA graphs, ...; see ``train.compiled``)
    deterministic: bool = True         # deterministic algorithms, no cuDNN autotuning (False: faster on CUDA)
    fast_grad: bool = False            # attacks/samplers through the input-gradient view (attacks.core.fast_input_grad)


def check_runtime(rt: Runtime) -> None:
    """One-line ``ValueError`` for runtime options that do not combine."""
    if rt.fast_grad and rt.compile:
        raise ValueError("fast_grad and compile do not combine (the compiled classifier has no input-gradient view); "
                         "use one of --fast-grad (CPU) or --compile (GPU)")


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)``; ``None`` or 0 keeps torch's current setting."""
    if threads:
        torch.set_num_threads(threads)


def set_deterministic(on: bool, device: torch.device | None = None) -> None:
    """Deterministic algorithms (warnings, not errors, for ops without one) when ``on``; on a CUDA ``device`` also
    cuDNN autotuning off when ``on`` and on otherwise (the training loop's settings)."""
    torch.use_deterministic_algorithms(on, warn_only=True)
    if device is not None and device.type == "cuda":
        torch.backends.cudnn.benchmark = not on


@contextlib.contextmanager
def deterministic(on: bool = True) -> Iterator[None]:
    """Deterministic algorithms and no cuDNN autotuning (``on``), or neither (``on=False``, the fast settings), for
    the block; torch's previous settings restored afterwards, also on an exception."""
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(on, warn_only=True)
    torch.backends.cudnn.benchmark = not on
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=True)
        torch.backends.cudnn.benchmark = before[1]


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Eval mode for ``modules`` (and all their submodules) within the block; afterwards, also on an exception, every
    submodule gets back its own ``training`` flag of before (a module that mixed modes keeps its mix)."""
    flags = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per example: the top class of ``logits`` (N, C) is the label ``y`` (N,); a bool tensor (N,)."""
    return logits.argmax(1) == y


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose top class is the label: ``(logits.argmax(1) == y).float().mean()`` as a float."""
    return correct(logits, y).float().mean().item()
