"""ATENT Fig. 1: decision boundaries of SGD, PGD-AT, TRADES and ℓ∞-ATENT on a 2-D t-SNE embedding of two classes.

The data (t-SNE of an image set's test images, classes 5 and 8, rescaled into [0.05, 0.95]²) is
:mod:`advdist.data.tsne`, whose names are re-exported here (:class:`TsneSet`, :func:`tsne_two_class`, ...).
Recipe of the official Fig. 1 notebook (atld-atent-baselines.md §C.5) for the models: the paper's "3-layer net"
(``atent-toy``); 30 epochs of SGD (lr 0.01, momentum 0.9, ×0.1 at epoch 25, batch 32); ℓ∞ ε = 1.0 t-SNE units,
PGD-AT and evaluation with 40 steps of 0.1, TRADES β = 8, ATENT K = 40, η' = 0.1, noise 1e-9, started at x,
projected at the K-th step. ε and step sizes in t-SNE units are converted with ``TsneSet.unit``.
"""

from __future__ import annotations

import torch

from advdist import config, scales, store
from advdist.attacks import pgd
from advdist.data.tsne import TsneSet, dataset_name, source_for, tsne_embedding, tsne_two_class
from advdist.runtime import accuracy, eval_mode

__all__ = ["FIG1_ROWS", "FIG1_STEPS", "PANEL_TITLES", "TsneSet", "dataset_name", "decision_grid", "fig1_accuracy",
           "fig1_models", "plot_fig1", "source_for", "tsne_embedding", "tsne_two_class"]

#: Fig. 1 rows: (label, method, method options in t-SNE units converted by ``fig1_models``)
FIG1_ROWS = (("standard", "standard"), ("at_pgd", "at_pgd"), ("trades", "trades"), ("atent_linf", "atent_linf"))
#: inner steps of PGD-AT, TRADES and ATENT per scale (the recipe's 40; fewer for CI)
FIG1_STEPS = scales.TSNE_FIG1_STEPS
PANEL_TITLES = {"standard": "SGD", "at_pgd": "PGD-AT", "trades": "TRADES", "atent_linf": "ATENT"}


def fig1_models(scale: str, *, eps: float = 1.0, step: float = 0.1, steps: int | None = None, device: str = "auto",
                seed: int = 0, progress: bool = False) -> tuple[TsneSet, dict]:
    """Train (or load) the four Fig. 1 models in setting ``atent-tsne58`` at ``scale``; ``eps`` and ``step`` in
    t-SNE units, ``steps`` inner steps (default: the scale's setting, 40 at mini/paper). Returns (set, {label:
    (model, run, cfg)})."""
    ts = tsne_two_class(scale, seed=0)
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
                             dataset=dataset_name(ts.source),
                             method_kwargs=kw[label], model_kwargs={"normalize": (0.5, ts.unit)})
        model, run = store.get_or_train(cfg, device=device, splits=ts.splits, progress=progress)
        out[label] = (model, run, cfg)
    return ts, out


def fig1_accuracy(ts: TsneSet, models: dict, *, eps: float = 1.0, step: float = 0.1, steps: int = 40,
                  seed: int = 0):
    """Natural and PGD-``steps`` (ℓ∞, ``step`` and ``eps`` in t-SNE units) test accuracy in % of each model."""
    import pandas as pd

    x, y = ts.splits.x_test, ts.splits.y_test
    rows = []
    for label, (model, *_r) in models.items():
        torch.manual_seed(seed)
        xa = pgd(model, x, y, eps=eps * ts.unit, alpha=step * ts.unit, steps=steps)
        with torch.no_grad():
            rows.append({"model": label, "A_nat": 100 * accuracy(model(x), y), "PGD-40": 100 * accuracy(model(xa), y)})
    return pd.DataFrame(rows)


@torch.no_grad()
def decision_grid(model: torch.nn.Module, *, lo: float = 0.0, hi: float = 1.0, n: int = 200):
    """Predicted class on an n × n grid over [lo, hi]² (the official notebook: meshgrid + argmax)."""
    g = torch.linspace(lo, hi, n)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    with eval_mode(model):
        z = model(torch.stack([xx.flatten(), yy.flatten()], 1)).argmax(1).view(n, n)
    return xx.numpy(), yy.numpy(), z.numpy()


def plot_fig1(ts: TsneSet, models: dict, acc=None, *, eps: float = 1.0, n: int = 200):
    """2×2 panels (ATENT, TRADES, PGD-AT, SGD as in the paper): decision regions, test points, the ε-box size."""
    import matplotlib.pyplot as plt

    order = [k for k in ("atent_linf", "trades", "at_pgd", "standard") if k in models]
    fig, axes = plt.subplots(2, 2, figsize=(9, 8.5), sharex=True, sharey=True)
    x, y = ts.splits.x_test.numpy(), ts.splits.y_test.numpy()
    box = eps * ts.unit
    for ax, label in zip(axes.flat, order):
        xx, yy, zz = decision_grid(models[label][0], n=n)
        ax.contourf(xx, yy, zz, levels=[-0.5, 0.5, 1.5], colors=["#9ecae1", "#fdae6b"], alpha=0.5)
        for c, col in ((0, "#08519c"), (1, "#a63603")):
            m = y == c
            ax.scatter(x[m, 0], x[m, 1], s=4, c=col, label=f"class {ts.classes[c]}")
        title = PANEL_TITLES[label]
        if acc is not None:
            r = acc.set_index("model").loc[label]
            title += f" — nat {r['A_nat']:.1f} %, PGD-40 {r['PGD-40']:.1f} %"
        ax.set_title(title, fontsize=10)
        ax.add_patch(plt.Rectangle((0.02, 0.02), 2 * box, 2 * box, fill=False, lw=1, ec="k"))
    axes.flat[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"t-SNE of {ts.source} images, classes {ts.classes[0]} vs {ts.classes[1]} "
                 f"(box: the ℓ∞ ball of ε = {eps:g} t-SNE units)", fontsize=10)
    fig.tight_layout()
    return fig
