"""AutoAttack (Croce & Hein, ICML 2020, "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks"), version "standard": APGD-CE, APGD-T (9 targets), FAB-T (9 targets) and
Square (5000 queries), each run only on the points still robust — ATLD Tables 4–5 (AA at ε = 8/255).

This is a thin adapter around the reference implementation as published on PyPI, ``pyautoattack==0.2.0``
(import name ``pyautoattack``; its attack code equals fra31/auto-attack at the commit RobustBench pins;
peers.md §0.2, §2.5). Nothing is re-implemented: without the package this raises ``ImportError`` — the
number is only called "AutoAttack" when it came from the reference code.

Pitfalls handled (peers.md §2.5, §3): the reference code neither calls ``model.eval()`` (done here, and
parameters are frozen, both restored) nor leaves the global RNG alone (every attack calls
``torch.manual_seed``): it runs inside ``torch.random.fork_rng`` so the caller's CPU and CUDA RNG states
are unchanged; a fixed ``seed`` (default 0) makes runs repeatable. Its dynamic-defence check installs and
then clears ``sys.settrace``; an existing trace function (debugger, coverage) is put back afterwards.
"""

from __future__ import annotations

import contextlib
import sys

import torch
from torch import nn

from advdist.threat import Norm

from .core import check_eps, frozen

#: the reference package's names of our norms (it also has L1, which our threat models do not)
_AA_NAMES = {Norm.LINF: "Linf", Norm.L2: "L2"}
_VERSIONS = ("standard", "plus", "rand")
INSTALL_HINT = "autoattack needs the reference package pyautoattack==0.2.0: pip install -e '.[autoattack]'"


def _load():
    try:
        from pyautoattack import AutoAttack
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return AutoAttack


@contextlib.contextmanager
def _keep_trace():
    trace = sys.gettrace()
    try:
        yield
    finally:
        if sys.gettrace() is not trace:
            sys.settrace(trace)


def autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str = "Linf",
               version: str = "standard", seed: int = 0, batch_size: int = 250, n_iter: int | None = None,
               n_queries: int | None = None, n_target_classes: int | None = None) -> torch.Tensor:
    """Run reference AutoAttack (``pyautoattack``) and return its adversarial examples.

    ``norm`` is "Linf", "L2" or "L1" (case-insensitive); ``version`` "standard" (the leaderboard
    protocol), "plus" or "rand". Inputs in [0, 1], labels int64; the model returns logits.
    ``n_iter`` (APGD, FAB iterations), ``n_queries`` (Square) and ``n_target_classes`` (APGD-T, FAB-T) override the
    version's budgets — cheaper than the protocol, so only for tests (the ``smoke`` scale); None keeps them.
    """
    if isinstance(norm, str) and norm.strip().lower() == "l1":  # the reference package's ℓ1 (no Norm member)
        aa_norm = "L1"
        eps = check_eps(eps, Norm.L2)  # the checks of any norm without a pixel-range bound: finite, >= 0
    else:
        try:
            parsed = Norm.parse(norm)
        except ValueError:
            raise ValueError(f"unknown norm {norm!r}; valid: Linf, L2, L1") from None
        aa_norm = _AA_NAMES[parsed]
        eps = check_eps(eps, parsed)
    if version not in _VERSIONS:
        raise ValueError(f"unknown version {version!r}; valid: {', '.join(_VERSIONS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    AutoAttack = _load()
    x = x.detach()
    # all CUDA devices: the reference code seeds the CUDA RNG too (lazily, if CUDA is not initialised yet)
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with frozen(model), torch.random.fork_rng(devices=devices), _keep_trace():
        adversary = AutoAttack(model, norm=aa_norm, eps=float(eps), version=version, seed=seed,
                               device=x.device)
        for name, value, parts in (("n_iter", n_iter, ("apgd", "apgd_targeted", "fab")),
                                   ("n_queries", n_queries, ("square",)),
                                   ("n_target_classes", n_target_classes, ("apgd_targeted", "fab"))):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{name} must be an int >= 1, got {value!r}")
                for part in parts:
                    setattr(getattr(adversary, part), name, value)
        x_adv, _ = adversary.run_standard_evaluation(x, y, batch_size=batch_size)
    return x_adv.detach().to(x.device)
