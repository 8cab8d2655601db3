"""What every ``make bench`` entry shares: the run's context (models and data), interleaved timing, the entry
record (seconds, ratio, device), the entry registry, and what the report says about the machine."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch

from advdist import config, data, store
from advdist.experiments import eval_subset

#: the at_pgd mini model used by the robust-model entries: cut down so that training it takes minutes
ROBUST_OVERRIDES = dict(n_train=10000, epochs=3)
#: the fields of every entry's record (``result``); entries add their own after them
FIELDS = ("what", "baseline", "ours", "baseline_s", "ours_s", "ratio", "device", "agree", "notes")


# ---- what the entries run on ---------------------------------------------------------------------------------

@dataclass
class Context:
    """Sizes and (lazily loaded) models and data of one benchmark run; tests build one with tiny models."""

    quick: bool = False
    repeats: int = 3
    load_standard: Callable[[], torch.nn.Module] | None = None
    load_robust: Callable[[], torch.nn.Module] | None = None
    load_test: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    cascade_n: int | None = None
    _cache: dict = field(default_factory=dict)

    def _get(self, key: str, fn: Callable):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def standard_model(self) -> torch.nn.Module:
        return self._get("standard", self.load_standard or load_standard)

    def robust_model(self) -> torch.nn.Module:
        return self._get("robust", self.load_robust or load_robust)

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._get("test", self.load_test or load_test)

    def subset(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Stratified, deterministic ``n`` test examples (``experiments.eval_subset``)."""


        x, y = self.test_set()
        return eval_subset(SimpleNamespace(x_test=x, y_test=y), "mini", n)

    @property
    def scale(self) -> str:
        """Attack settings: ``mini`` (Fashion-MNIST), ``smoke`` step counts with ``--quick``."""
        return "smoke" if self.quick else "mini"

    @property
    def settings_dataset(self) -> str:
        return "digits" if self.quick else "fashion_mnist"


def _stored_mini_model(**overrides) -> torch.nn.Module:
    """The run store's mini ``adt-cifar10`` model with ``overrides`` (trained on the CPU if not stored), eval mode."""

    cfg = config.resolve("mini", "adt-cifar10", **overrides)
    return store.get_or_train(cfg, device="cpu", progress=True)[0].eval()


def load_standard() -> torch.nn.Module:
    return _stored_mini_model()


def load_robust() -> torch.nn.Module:
    return _stored_mini_model(method="at_pgd", **ROBUST_OVERRIDES)


def load_test() -> tuple[torch.Tensor, torch.Tensor]:

    splits = data.load("fashion_mnist")
    return splits.x_test, splits.y_test


def build_context(quick: bool = False, repeats: int | None = None, cascade_n: int | None = None) -> Context:
    """The default context: the run store's mini models and the Fashion-MNIST test split."""
    return Context(quick=quick, repeats=repeats or (2 if quick else 3), cascade_n=cascade_n)


# ---- timing ------------------------------------------------------------------------------------------------

def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True):
    """Run every function ``repeats`` times, interleaved (order reversed on every other round), after one
    warm-up call each. Returns ``({name: [seconds, ...]}, {name: result of the first call}).``"""
    times: dict[str, list[float]] = {k: [] for k in fns}
    first: dict[str, Any] = {}
    names = list(fns)
    if warmup:
        for k in names:
            first[k] = fns[k]()
    for r in range(repeats):
        for k in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            out = fns[k]()
            times[k].append(time.perf_counter() - t0)
            first.setdefault(k, out)
    return times, first


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call of ``fn``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median(ts: list[float]) -> float:
    return float(statistics.median(ts))


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y`` (call it under ``torch.no_grad``)."""
    return float((model(x).argmax(1) == y).float().mean())


# ---- an entry's record -------------------------------------------------------------------------------------------

def result(model, what, baseline, ours, baseline_s, ours_s, agree, notes, **extra) -> dict:
    """One entry's record; ``model`` (or a ``torch.device``) gives the device field."""
    dev = model if isinstance(model, torch.device) else next(model.parameters()).device
    out = {"what": what, "baseline": baseline, "ours": ours, "baseline_s": round(baseline_s, 6),
           "ours_s": round(ours_s, 6), "ratio": float(f"{baseline_s / ours_s:.4g}") if ours_s > 0 else float("nan"),
           "device": f"{dev.type} ({torch.get_num_threads()} threads)" if dev.type == "cpu" else str(dev),
           "agree": agree, "notes": notes}
    out.update(extra)
    return out


#: every entry, by name, in registration order (= the order of ``python -m advdist.bench`` and its JSON)
ENTRIES: dict[str, Callable[[Context], dict]] = {}


def entry(fn: Callable[[Context], dict]) -> Callable[[Context], dict]:
    """Register ``fn`` as the entry named ``fn.__name__``."""
    ENTRIES[fn.__name__] = fn
    return fn


def select(only: list[str] | None) -> list[str]:
    """Entry names containing any of the substrings ``only`` (all entries for None), in registration order."""
    return [n for n in ENTRIES if not only or any(s in n for s in only)]


# ---- the machine -------------------------------------------------------------------------------------------------

def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import foolbox
        fb_version = foolbox.__version__
    except ImportError:
        fb_version = None
    return {"torch": torch.__version__, "foolbox": fb_version, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "cpu": cpu,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def cpu_bf16() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) if found else "no avx512_bf16/amx_bf16 (emulated, slow)"


# ---- output --------------------------------------------------------------------------------------------------------

def write_json(out: Path, report: dict) -> None:
    """``report`` as indented JSON at ``out`` (folders created), written to a temporary file and then renamed, so
    that an interrupted run never leaves half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n")
    tmp.replace(out)
