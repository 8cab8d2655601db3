"""ATENT Fig. 1: decision boundaries of SGD, PGD-AT, TRADES and ℓ∞-ATENT on a 2-D t-SNE embedding of two classes.

The data (t-SNE of an image set's test images, classes 5 and 8, rescaled into [0.05, 0.95]²) is
:mod:`advdist.data.tsne`, whose names are re-exported here (:class:`TsneSet`, :func:`tsne_two_class`, ...).
Recipe of the official Fig. 1 notebook (atld-atent-baselines.md §C.5) for the models: the paper's "3-layer net"
(``atent-toy``); 30 epochs of SGD (lr 0.01, momentum 0.9, ×0.1 at epoch 25, batch 32); ℓ∞ ε = 1.0 t-SNE units,
PGD-AT and evaluation with 40 steps of 0.1, TRADES β = 8, ATENT K = 40, η' = 0.1, noise 1e-9, started at x,
projected at the K-th step. ε and step sizes in t-SNE units are converted with ``TsneSet.unit``.
The four models are trained by :func:`advdist.experiments.atent.fig1_models`; this module holds the
set, the accuracies and the plot.
"""

from __future__ import annotations

import torch

from advdist.attacks import pgd
from advdist.data.tsne import TsneSet, dataset_name, source_for, tsne_embedding, tsne_two_class
from advdist.runtime import accuracy, eval_mode

__all__ = ["PANEL_TITLES", "TsneSet", "dataset_name", "decision_grid", "fig1_accuracy", "plot_fig1", "source_for",
           "tsne_embedding", "tsne_two_class"]

PANEL_TITLES = {"standard": "SGD", "at_pgd": "PGD-AT", "trades": "TRADES", "atent_linf": "ATENT"}


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
