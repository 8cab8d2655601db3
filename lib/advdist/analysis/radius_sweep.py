"""Accuracy of one model under named attacks across attack radii (ATENT Table 6: PGD-20 vs ATENT-20 at 2-12/255).

Radii are given as fractions of the setting's training ε (ATENT Table 6: 2, 4, 8, 12 /255 at ε = 8/255, i.e.
0.25, 0.5, 1, 1.5 × ε), so the same sweep means the same thing on a substitute dataset.
"""

from __future__ import annotations

import pandas as pd
import torch

from advdist import evaluate

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
    from advdist import config, data, methods, store
    from advdist.experiments import eval_subset

    rows = []
    for m in methods_:
        if m not in methods.names():
            continue
        cfg = config.resolve(scale, setting, method=m, seed=seed)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        model, _ = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
        x, y = eval_subset(splits, scale, n_eval)
        sweep = radius_sweep(model, x, y, [attack], eps=cfg.eps, fractions=fractions, scale=scale, paper=paper,
                             dataset=cfg.dataset, seed=seed)
        with torch.no_grad():
            dev = next(model.parameters()).device
            nat = 100.0 * (model(x.to(dev)).argmax(1).cpu() == y).float().mean().item()
        rows.append({"model": m, "A_nat": nat,
                     **{f"{attack} ε={f * cfg.eps:g}": v for f, v in zip(fractions, sweep.iloc[0, 1:])},
                     "n": len(y)})
    return pd.DataFrame(rows)
