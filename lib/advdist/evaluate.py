"""The robustness matrix: which test examples survive which attack, and the worst case over attacks.

For a model, examples ``(x, y)`` and a list of attacks ``A``, ``robustness_matrix`` returns a
boolean table (example × {clean} ∪ A) of "still classified correctly", with

- ``A_nat``   = clean accuracy,
- accuracy per attack,
- ``A_rob``   = per-example worst case over the attacks, ADT Eq. (12):
  ``A_rob = 1/n Σ_i min_{a ∈ A} 1[argmax f(a(x_i)) = y_i]`` (Carlini et al. 2019's recommendation).

An attack setting with ``whole_batch`` set (a generator attack trained on the examples it attacks, ADT Table 4;
an attack whose protocol seeds itself once, ATLD's IMT rows) is called once with all examples; its predictions are
still made ``batch_size`` examples at a time.

Cascade mode attacks, with each attack in turn, only the examples that every previous attack failed
to break, which gives the same ``A_rob`` for a fraction of the cost; the per-attack columns are then
unknown (NA) for the examples that were skipped. Randomised attacks (random starts) draw their
randomness per chunk of examples, so cascade and full mode agree exactly for deterministic attacks
and up to that sampling noise otherwise.

Results are saved beside the model's run (``run.results_dir``) keyed by the attack setting and the
data, and reused: an evaluation interrupted half-way loses at most the attack in progress.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import torch
from torch import nn

from advdist import console, samplers  # noqa: F401 - registers the samplers' attacks (ATENT-20) with attacks.settings
from advdist.attacks import settings as attack_settings
from advdist.config import canonical_json, stable_hash
from advdist.run_files import atomic_torch_save
from advdist.runtime import eval_mode, resolve_device

NOT_RUN = -1


@dataclass
class RobustnessMatrix:
    """``correct``: DataFrame (example × columns), pandas nullable boolean; NA = not attacked (cascade).

    ``clean_in_rob``: an example counts as robust only if it is also classified correctly without attack (for
    defences whose attacked accuracy can exceed the clean one on an example, e.g. ATLD's IMT rows)."""

    correct: pd.DataFrame
    attacks: list[str]
    cascade: bool
    clean_in_rob: bool = False

    @property
    def a_nat(self) -> float:
        return float(self.correct["clean"].astype(bool).mean())

    @property
    def robust(self) -> pd.Series:
        """Per example: correct under every attack (the AND of the attack columns, Eq. 12; and the clean column with
        ``clean_in_rob``)."""
        clean = self.correct["clean"].astype(bool)
        if not self.attacks:
            return clean
        robust = self.correct[self.attacks].fillna(False).astype(bool).all(axis=1)
        return clean & robust if self.clean_in_rob else robust

    @property
    def a_rob(self) -> float:
        return float(self.robust.mean())

    def accuracy(self) -> pd.Series:
        """Accuracy per column (NaN for attack columns left incomplete by cascade mode), then A_rob."""
        acc = {c: (float(self.correct[c].astype(bool).mean()) if not self.correct[c].isna().any() else float("nan"))
               for c in self.correct.columns}
        acc = {("A_nat" if c == "clean" else c): v for c, v in acc.items()}
        acc["A_rob"] = self.a_rob
        return pd.Series(acc)


def data_key(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256()
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    h.update(y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def _spec_key(spec, seed: int) -> str:
    kw = {k: v for k, v in spec.kwargs.items() if k not in ("target_pool", "batch_size")}
    return stable_hash({"fn": spec.fn, "kwargs": kw, "seed": seed}, n=10)


def _file_name(spec, seed: int, data_key: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.name)
    return f"{safe}-{_spec_key(spec, seed)}-{data_key}.pt"


_data_key = data_key  # old name


def chunk_seed(seed: int, spec_key: str, start: int) -> int:
    """Seed of the attack's randomness on the chunk of examples starting at ``start`` (evaluation ``seed``, the
    setting's key): the same examples get the same draws in full and cascade mode and in every later run."""
    return int(hashlib.sha256(f"{seed}:{spec_key}:{start}".encode()).hexdigest()[:15], 16)


_chunk_seed = chunk_seed  # old name


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).argmax(1)


def predict_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Per example, whether ``model`` classifies ``x`` as ``y`` (bool, on the CPU), ``batch_size`` at a time."""
    if len(y) == 0:
        return torch.zeros(0, dtype=torch.bool)
    return torch.cat([_predict(model, x[i:i + batch_size]).cpu() == y[i:i + batch_size].cpu()
                      for i in range(0, len(y), batch_size)])


def robustness_matrix(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], attacks: Sequence[Any], *,
                      run=None, cascade: bool = False, batch_size: int = 500, device: str | torch.device | None = None,
                      seed: int = 0, progress: bool = True, scale: str = "paper", paper: str = "adt",
                      dataset: str | None = None, target_pool: tuple[torch.Tensor, torch.Tensor] | None = None,
                      eps: float | None = None) -> RobustnessMatrix:
    """Evaluate ``model`` on ``data = (x, y)`` under ``attacks`` (``AttackSpec`` objects or setting names).

    Names are resolved with ``advdist.attacks.settings.get(name, scale=, paper=, dataset=)``. Examples
    are processed in chunks of ``batch_size`` (attacks chunk further internally where they batch over
    restarts, samples or targets). ``target_pool`` (default: ``data``) feeds FeaAttack's targets.
    ``eps`` overrides the budget of named settings (steps given as a fraction of ε follow it).
    With ``run`` given, each attack's column is cached in ``run.results_dir``. The model runs in eval mode (each
    module's mode restored afterwards).
    """
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"data has {len(x)} inputs but {len(y)} labels")
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    specs = [attack_settings.get(a, scale=scale, paper=paper, dataset=dataset, eps=eps) if isinstance(a, str) else a
             for a in attacks]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"attack names must be unique, got {names}")
    dkey = data_key(x, y)
    with eval_mode(model):
        columns = _columns(model, x, y, specs, dev=dev, run=run, cascade=cascade, batch_size=batch_size, seed=seed,
                           progress=progress, dkey=dkey, target_pool=target_pool)
    df = pd.DataFrame({k: pd.array([None if v == NOT_RUN else bool(v) for v in c.tolist()], dtype="boolean")
                       for k, c in columns.items()})
    return RobustnessMatrix(correct=df, attacks=names, cascade=cascade)


def _columns(model: nn.Module, x: torch.Tensor, y: torch.Tensor, specs: list, *, dev: torch.device, run,
             cascade: bool, batch_size: int, seed: int, progress: bool, dkey: str,
             target_pool: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The matrix's columns (int8: 1 correct, 0 broken, ``NOT_RUN``), model already in eval mode."""
    n = len(y)
    clean = torch.empty(n, dtype=torch.bool)
    for i in range(0, n, batch_size):
        clean[i:i + batch_size] = (_predict(model, x[i:i + batch_size].to(dev)).cpu() == y[i:i + batch_size])
    columns: dict[str, torch.Tensor] = {"clean": clean.to(torch.int8)}
    alive = torch.ones(n, dtype=torch.bool)  # not yet broken by any attack (cascade)

    bar = _bar(specs, progress)
    for spec in specs:
        skey = _spec_key(spec, seed)
        path = run.results_dir / _file_name(spec, seed, dkey) if run is not None else None
        col = _load(path, n)
        todo = (col == NOT_RUN) & (alive if cascade else torch.ones(n, dtype=torch.bool))
        if todo.any():
            extra = {}
            if spec.fn == "feature_attack" and "target_pool" not in spec.kwargs:
                extra["target_pool"] = target_pool if target_pool is not None else (x, y)
            idx_all = todo.nonzero().squeeze(1)
            step = len(idx_all) if getattr(spec, "whole_batch", False) else batch_size
            for start in range(0, len(idx_all), step):
                idx = idx_all[start:start + step]
                xb, yb = x[idx].to(dev), y[idx].to(dev)
                with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                    torch.manual_seed(chunk_seed(seed, skey, int(idx[0])))
                    x_adv = spec(model, xb, yb, **extra)
                col[idx] = predict_correct(model, x_adv, yb, batch_size).to(torch.int8)
                if bar is not None:
                    bar.set_postfix_str(f"{spec.name} {start + len(idx)}/{len(idx_all)}", refresh=False)
            _save(path, col, spec, seed, dkey)
        columns[spec.name] = col
        alive &= col != 0
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return columns


def _bar(specs, progress: bool):
    if not console.show_bars(progress) or not specs:  # no bars in a notebook (advdist.console)
        return None
    from tqdm import tqdm

    return tqdm(total=len(specs), desc="attacks", unit="attack", ncols=100, file=sys.stderr, leave=False)


def _load(path, n: int) -> torch.Tensor:
    if path is not None and path.exists():
        col = torch.load(path, weights_only=True)["correct"]
        if col.shape == (n,):
            return col.clone()
    return torch.full((n,), NOT_RUN, dtype=torch.int8)


def _save(path, col: torch.Tensor, spec, seed: int, dkey: str) -> None:
    if path is None:
        return
    kw = {k: v for k, v in spec.kwargs.items() if k != "target_pool"}
    atomic_torch_save({"correct": col, "spec": canonical_json({"name": spec.name, "fn": spec.fn, "kwargs": kw}),
                       "seed": seed, "data": dkey}, path)
