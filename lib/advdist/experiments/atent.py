"""ATENT (Jagatap et al.): the paper's tables and figures — rows and the runners that fill them.

- Tables 1-3: :data:`ATENT_TABLES` (registered in :data:`advdist.experiments.core.TABLES`), filled by
  :func:`advdist.experiments.core.evaluate_table`.
- Table 4 (ℓ2 radii per model): :func:`models_radius_sweep`; Table 6 (PGD-20 vs ATENT-20 at 2-12/255):
  :func:`radius_sweep` on one model. Radii are given as fractions of the setting's training ε (ATENT Table 6: 2, 4,
  8, 12 /255 at ε = 8/255, i.e. 0.25, 0.5, 1, 1.5 × ε), so the same sweep means the same thing on a substitute
  dataset.
- Table 5 (randomized smoothing): :func:`certified_table` (CERTIFY itself is :mod:`advdist.analysis.smoothing`).
- Fig. 1 (decision boundaries on a 2-D t-SNE set): :func:`fig1_models` (the set, its accuracy and the plot are
  :mod:`advdist.analysis.toy2d_tsne`).
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from advdist import config, evaluate, methods, scales
from advdist.analysis import smoothing, toy2d_tsne
from advdist.experiments import core
from advdist.experiments.core import RobustnessTable, Row

# per-scale budgets (defined once in advdist.scales)
#: certification budget per scale: (n0, n, examples certified); paper = Cohen et al.'s protocol (500 CIFAR images)
CERTIFY_BUDGET = scales.CERTIFY_BUDGET
#: inner steps of PGD-AT, TRADES and ATENT per scale in Fig. 1 (the recipe's 40; fewer for CI)
FIG1_STEPS = scales.TSNE_FIG1_STEPS

ATENT_TABLES: dict[str, RobustnessTable] = {
    "atent-table1": RobustnessTable(
        key="atent-table1", title="ATENT Table 1: ℓ2 robustness (MNIST, LeNet5, ε2 = 2)", paper="atent",
        setting="atent-mnist-l2",
        methods=("standard", "entropy_sgd", "at_pgd", Row("trades", "trades", method_kwargs={"beta": 1.0},
                                                          note="TRADES' MNIST β = 1"), "mma", "atent_l2"),
        attacks=("L2-PGD-40", "CW-L2"), paper_csv="atent_table1", n_eval=scales.TABLE_N_EVAL["atent-table1"]),
    "atent-table2": RobustnessTable(
        key="atent-table2", title="ATENT Table 2: ℓ∞ robustness (MNIST, SmallCNN, ε = 0.3)", paper="atent",
        setting="atent-mnist-linf",
        methods=("standard", "entropy_sgd", "at_pgd", Row("trades", "trades", method_kwargs={"beta": 1.0},
                                                          note="TRADES' MNIST β = 1"), "mma", "mart", "atent_linf"),
        attacks=("PGD-20", "C&W"), paper_csv="atent_table2"),
    "atent-table3": RobustnessTable(
        key="atent-table3", title="ATENT Table 3: ℓ∞ robustness (CIFAR-10, WRN-34-10, ε = 8/255)", paper="atent",
        setting="atent-cifar10-linf", methods=("at_pgd", "trades", "mart", "atent_linf"),
        attacks=("PGD-20", "C&W", "DeepFool"), paper_csv="atent_table3"),
}
core.register(*ATENT_TABLES.values())


# ---- Tables 4 and 6: accuracy across attack radii ------------------------------------------------------------------
#: ATENT Table 6's radii as fractions of the training ε = 8/255
TABLE6_FRACTIONS = (0.25, 0.5, 1.0, 1.5)


def radius_sweep(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, attacks, *, eps: float,
                 fractions=TABLE6_FRACTIONS, scale: str, paper: str = "atent", dataset: str | None = None,
                 seed: int = 0, run=None, progress: bool = False) -> pd.DataFrame:
    """One row per attack name, one column per radius ``f·eps`` (labelled ``f×ε``): accuracy in % (ATENT Table 6).

    Each cell is ``advdist.evaluate.robustness_matrix`` with the named setting's budget overridden (step sizes
    given as a fraction of ε follow it; absolute ones stay, as in the paper's fixed 0.003 step).
    """
    out = {name: {} for name in attacks}
    for f in fractions:
        rm = evaluate.robustness_matrix(model, (x, y), list(attacks), run=None, seed=seed, progress=progress,
                                        scale=scale, paper=paper, dataset=dataset, eps=f * eps)
        acc = rm.accuracy() * 100
        for name in attacks:
            out[name][f"{f:g}×ε"] = float(acc[name])
    return pd.DataFrame([{"attack": n, **v} for n, v in out.items()])


def models_radius_sweep(setting: str, methods_: list[str], attack: str, *, scale: str, fractions=(1.0, 2.0),
                        paper: str = "atent", n_eval: int | None = None, device: str = "auto", seed: int = 0,
                        progress: bool = False) -> pd.DataFrame:
    """ATENT Table 4: for each training method in ``setting`` (trained/loaded through the run store), A_nat and the
    accuracy (%) under ``attack`` at radii ``f × ε`` (ε the setting's ℓ2 budget: 0.5 and 1 = 1 and 2 × 0.5)."""
    rows = []
    for m in methods_:
        if m not in methods.names():
            continue
        t = core.trained(config.resolve(scale, setting, method=m, seed=seed), device=device, progress=progress,
                         n_eval=n_eval, scale=scale)
        cfg, model, x, y = t.cfg, t.model, t.x, t.y
        sweep = radius_sweep(model, x, y, [attack], eps=cfg.eps, fractions=fractions, scale=scale, paper=paper,
                             dataset=cfg.dataset, seed=seed)
        with torch.no_grad():
            dev = next(model.parameters()).device
            nat = 100.0 * (model(x.to(dev)).argmax(1).cpu() == y).float().mean().item()
        rows.append({"model": m, "A_nat": nat,
                     **{f"{attack} ε={f * cfg.eps:g}": v for f, v in zip(fractions, sweep.iloc[0, 1:])},
                     "n": len(y)})
    return pd.DataFrame(rows)


# ---- Table 5: certified accuracy of the smoothed classifiers -----------------------------------------------------
def certified_table(scale: str, *, sigma: float = 0.12, radii=smoothing.RADII, setting: str = smoothing.SETTING,
                    device: str = "auto", seed: int = 0, budget: tuple[int, int, int] | None = None,
                    alpha: float = 0.001, batch: int = 1000, progress: bool = False):
    """ATENT Table 5: certified accuracy (%) at ``radii`` of the smoothed rows of
    :func:`advdist.analysis.smoothing.smoothing_rows`, trained in ``setting`` at ``scale`` (the run store caches them),
    certified with CERTIFY on a stratified test subset. Columns: model, ``r=<r>`` per radius, abstain (%), n,
    ``s/image`` (certification wall time per image, both passes)."""
    n0, n, n_ex = budget or CERTIFY_BUDGET[scale]
    eps = config.resolve(scale, setting).eps
    out = []
    for label, (method, kw) in smoothing.smoothing_rows(sigma, eps).items():
        t = core.trained(config.resolve(scale, setting, method=method, seed=seed, method_kwargs=kw), device=device,
                         progress=progress, n_eval=n_ex, scale=scale)
        model, x, y = t.model, t.x, t.y
        dev = next(model.parameters()).device
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        cert = smoothing.certify(model, x.to(dev), sigma=sigma, n0=n0, n=n, alpha=alpha, batch=batch)
        secs = time.perf_counter() - t0
        acc = cert.certified_accuracy(y.to(dev), radii)
        out.append({"model": label, **{f"r={r:g}": 100 * a for r, a in zip(radii, acc)},
                    "abstain": 100 * float((cert.prediction == smoothing.ABSTAIN).float().mean()), "n": len(y),
                    "s/image": secs / len(y)})
    return pd.DataFrame(out)


# ---- Fig. 1: decision boundaries on the t-SNE set ------------------------------------------------------------------
#: Fig. 1 rows: (label, method, method options in t-SNE units converted by ``fig1_models``)
FIG1_ROWS = (("standard", "standard"), ("at_pgd", "at_pgd"), ("trades", "trades"), ("atent_linf", "atent_linf"))


def fig1_models(scale: str, *, eps: float = 1.0, step: float = 0.1, steps: int | None = None, device: str = "auto",
                seed: int = 0, progress: bool = False) -> tuple[toy2d_tsne.TsneSet, dict]:
    """Train (or load) the four Fig. 1 models in setting ``atent-tsne58`` at ``scale``; ``eps`` and ``step`` in
    t-SNE units, ``steps`` inner steps (default: the scale's setting, 40 at mini/paper). Returns (set, {label:
    (model, run, cfg)})."""
    ts = toy2d_tsne.tsne_two_class(scale, seed=0)
    k = int(steps or FIG1_STEPS[scale])
    ratio = step / eps
    kw = {"standard": {}, "at_pgd": {"steps": k, "alpha_ratio": ratio},
          "trades": {"beta": 8.0, "steps": k, "alpha_ratio": ratio},
          "atent_linf": {"steps": k, "step_ratio": ratio, "noise": 1e-9 * ts.unit, "init": "none",
                         "projection": "last"}}
    out = {}
    for label, method in FIG1_ROWS:
        # the net sees t-SNE units again (centred): (x − 0.5) / unit, as the official net saw raw coordinates
        cfg = config.resolve(scale, "atent-tsne58", method=method, seed=seed, eps=eps * ts.unit,
                             dataset=toy2d_tsne.dataset_name(ts.source),
                             method_kwargs=kw[label], model_kwargs={"normalize": (0.5, ts.unit)})
        t = core.trained(cfg, device=device, progress=progress, splits=ts.splits, scale=scale)
        out[label] = (t.model, t.run, cfg)
    return ts, out
