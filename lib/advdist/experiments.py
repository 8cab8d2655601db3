"""Definitions of the papers' robustness tables and the loop that fills one in.

A table is a list of training methods (rows) and named attack settings (columns) in one paper
setting; ``evaluate_table`` trains or loads each row's model through the run store, attacks a
stratified test subset (``config.EVAL_N``) and returns accuracies in percent beside the paper's.
Notebooks call this and plot; they hold no loops of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from advdist import config, data, evaluate, methods, report, store


@dataclass(frozen=True)
class RobustnessTable:
    key: str
    title: str
    paper: str
    setting: str
    methods: tuple[str, ...]
    attacks: tuple[str, ...]
    paper_csv: str


TABLES: dict[str, RobustnessTable] = {
    "adt-table1": RobustnessTable(
        key="adt-table1", title="ADT Table 1: white-box robustness (CIFAR-10, ε = 8/255)", paper="adt",
        setting="adt-cifar10",
        methods=("standard", "at_fgsm", "at_pgd", "alp", "feature_scattering", "adt_exp", "adt_expam", "adt_impam"),
        attacks=("FGSM", "PGD-20", "PGD-100", "MIM", "C&W", "FeaAttack"), paper_csv="adt_table1"),
}


def table(key: str) -> RobustnessTable:
    if key not in TABLES:
        raise ValueError(f"unknown table {key!r}; valid: {', '.join(TABLES)}")
    return TABLES[key]


def eval_subset(splits, scale: str, n_eval: int | None = None):
    """Stratified, deterministic subset of the test split attacked at ``scale``."""
    n = n_eval if n_eval else config.EVAL_N[scale]
    if n is None or n >= len(splits.y_test):
        return splits.x_test, splits.y_test
    idx = torch.as_tensor(data.stratified_indices(splits.y_test.numpy(), n, 0, 2))
    return splits.x_test[idx], splits.y_test[idx]


def evaluate_table(key: str, *, scale: str, rows: list[str] | None = None, n_eval: int | None = None,
                   device: str = "auto", cascade: bool = False, seed: int = 0, progress: bool = True):
    """Train/load every row's model and attack it. Returns ``(ours, missing, matrices, info)``:

    ``ours``: DataFrame, one row per available method, accuracies in % (A_nat, attacks, A_rob);
    ``missing``: rows of the paper's table whose method is not implemented yet;
    ``matrices``: the per-example ``RobustnessMatrix`` of each row; ``info``: scale/dataset strings.
    """
    spec = table(key)
    wanted = list(rows) if rows else list(spec.methods)
    unknown = [m for m in wanted if m not in spec.methods]
    if unknown:
        raise ValueError(f"unknown row {unknown[0]!r} for {key}; valid: {', '.join(spec.methods)}")
    available = [m for m in wanted if m in methods.names()]
    missing = [m for m in wanted if m not in available]
    out, matrices, cfg = [], {}, None
    for m in available:
        cfg = config.resolve(scale, spec.setting, method=m, seed=seed)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        model, run = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
        x, y = eval_subset(splits, scale, n_eval)
        rm = evaluate.robustness_matrix(model, (x, y), spec.attacks, run=run, cascade=cascade, seed=seed,
                                        progress=progress, scale=scale, paper=spec.paper, dataset=cfg.dataset,
                                        target_pool=(x, y))
        matrices[m] = rm
        out.append({"model": m, **(rm.accuracy() * 100).to_dict(), "n": len(y)})
    ours = pd.DataFrame(out)
    cfg = cfg or config.resolve(scale, spec.setting)
    info = {"scale": scale, "dataset": cfg.dataset, "paper_dataset": config.SETTINGS[spec.setting]["dataset"],
            "model": cfg.model}
    return ours, missing, matrices, info


def with_paper(key: str, ours: pd.DataFrame, info: dict) -> pd.DataFrame:
    """``ours`` beside the paper's numbers (Δ only when the setting is the paper's)."""
    comparable = info["scale"] == "paper" and info["dataset"] == info["paper_dataset"]
    return report.beside_paper(ours, report.paper_table(table(key).paper_csv), comparable=comparable)


def compare_rows(ours: pd.DataFrame, rows: list[str], baseline: str, column: str = "A_rob") -> list[str]:
    """Plain sentences: does each of ``rows`` beat ``baseline`` on ``column``? (only rows present)."""
    vals = dict(zip(ours["model"], ours[column]))
    if baseline not in vals:
        return [f"{baseline} not in the table; no comparison"]
    out = []
    for r in rows:
        if r not in vals:
            continue
        d = vals[r] - vals[baseline]
        verdict = "beats" if d > 0 else ("ties" if d == 0 else "does not beat")
        out.append(f"{r} {verdict} {baseline} on {column}: {vals[r]:.2f} vs {vals[baseline]:.2f} ({d:+.2f} pp)")
    return out
