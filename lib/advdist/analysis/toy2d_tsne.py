"""ATENT Fig. 1: decision boundaries of SGD, PGD-AT, TRADES and ℓ∞-ATENT on a 2-D t-SNE embedding of two classes.

Recipe of the official Fig. 1 notebook (atld-atent-baselines.md §C.5): t-SNE (2 components, perplexity 40, 300
iterations) of the raw test images of the whole test set, keep digits 5 and 8 relabelled 0/1, shuffle, split
70/30; the paper's "3-layer net" (``atent-toy``); 30 epochs of SGD (lr 0.01, momentum 0.9, ×0.1 at epoch 25,
batch 32); ℓ∞ ε = 1.0 t-SNE units, PGD-AT and evaluation with 40 steps of 0.1, TRADES β = 8, ATENT K = 40,
η' = 0.1, noise 1e-9, started at x, projected at the K-th step.

Data: MNIST when a copy is found offline; otherwise the same recipe on **Fashion-MNIST** classes 5 and 8
(sandal vs bag) — the returned :class:`TsneSet` says which (``source``). ``smoke`` scale uses scikit-learn's 8×8
digits 5 vs 8. The embedding is cached under ``data/tsne/`` (it takes about a minute for 10 000 images).

So that every attack and method of the library (which keep inputs in [0, 1]) applies unchanged, the embedding is
mapped affinely (one scale for both axes) into [0.05, 0.95]²; ε and step sizes given in t-SNE units are
converted with the same scale (``TsneSet.unit``). The sets are registered datasets, ``tsne58_mnist``,
``tsne58_fashion_mnist`` and ``tsne58_digits`` (``advdist.data.load`` builds them through this module), so the
runs' configs name the data they were trained on. The four models are trained by
:func:`advdist.experiments.atent.fig1_models`; this module holds the set, the accuracies and the plot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from advdist import data, paths

PANEL_TITLES = {"standard": "SGD", "at_pgd": "PGD-AT", "trades": "TRADES", "atent_linf": "ATENT"}


@dataclass
class TsneSet:
    """The two-class t-SNE set: ``splits`` (points in [0.05, 0.95]², labels 0/1), ``source`` dataset, ``classes``,
    ``unit`` (one t-SNE unit in the rescaled coordinates)."""

    splits: data.DataSplits
    source: str
    classes: tuple[int, int]
    unit: float


def _source(scale: str) -> str:
    if scale == "smoke":
        return "digits"
    return "mnist" if data.locate("mnist") is not None else "fashion_mnist"


def tsne_embedding(source: str, *, perplexity: float = 40.0, max_iter: int = 300, seed: int = 0,
                   cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE (sklearn, Barnes-Hut) of the raw pixels of ``source``'s whole test split (ATENT Fig. 1 recipe;
    the official notebook fixes no seed, we fix ``seed``). Returns (points (N, 2), labels (N,)); cached.
    ``digits`` (smoke) embeds all 1 797 images: its test split alone has only ~70 fives and eights."""
    from sklearn.manifold import TSNE

    path = paths.DATA / "tsne" / f"{source}_p{perplexity:g}_i{max_iter}_s{seed}.npz"
    if cache and path.exists():
        z = np.load(path)
        return z["points"], z["labels"]
    splits = data.load(source)
    xs, ys = (splits.x_test, splits.y_test) if source != "digits" else (
        torch.cat([splits.x_train, splits.x_test]), torch.cat([splits.y_train, splits.y_test]))
    x = xs.flatten(1).numpy().astype(np.float64)
    pts = TSNE(n_components=2, perplexity=perplexity, max_iter=max_iter, init="pca", random_state=seed,
               learning_rate="auto").fit_transform(x).astype(np.float32)
    labels = ys.numpy()
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, points=pts, labels=labels)
        tmp.replace(path)
    return pts, labels


def dataset_name(source: str) -> str:
    """The registered dataset of the t-SNE set of ``source`` (``tsne58_<source>``)."""
    return f"tsne58_{source}"


def tsne_two_class(scale: str | None, *, classes: tuple[int, int] = (5, 8), train_frac: float = 0.7, seed: int = 0,
                   source: str | None = None) -> TsneSet:
    """The Fig. 1 set at ``scale``: classes (5, 8) of the embedding relabelled (0, 1), shuffled, split 70/30.
    ``source`` (the embedded image dataset) defaults to the scale's (``digits`` at smoke, else MNIST if found, else
    Fashion-MNIST)."""
    source = source or _source(scale)
    pts, labels = tsne_embedding(source, seed=seed)
    keep = np.isin(labels, classes)
    p, y = pts[keep], (labels[keep] == classes[1]).astype(np.int64)
    lo, span = p.min(0), float((p.max(0) - p.min(0)).max())
    p = 0.05 + 0.9 * (p - lo) / span
    order = np.random.default_rng(seed).permutation(len(y))
    p, y = p[order], y[order]
    n_tr = int(round(train_frac * len(y)))
    fp = hashlib.sha256(b"atent_tsne58:" + source.encode() + p.tobytes() + y.tobytes()).hexdigest()
    info = data.info(dataset_name(source))
    splits = data.DataSplits(torch.from_numpy(p[:n_tr]), torch.from_numpy(y[:n_tr]), torch.from_numpy(p[n_tr:]),
                             torch.from_numpy(y[n_tr:]), info=info, source=f"t-SNE of {source}", fingerprint=fp,
                             train_indices=torch.arange(n_tr), test_indices=torch.arange(n_tr, len(y)), seed=seed)
    return TsneSet(splits=splits, source=source, classes=tuple(classes), unit=0.9 / span)


def fig1_accuracy(ts: TsneSet, models: dict, *, eps: float = 1.0, step: float = 0.1, steps: int = 40,
                  seed: int = 0):
    """Natural and PGD-``steps`` (ℓ∞, ``step`` and ``eps`` in t-SNE units) test accuracy in % of each model."""
    import pandas as pd

    from advdist.attacks import pgd

    x, y = ts.splits.x_test, ts.splits.y_test
    rows = []
    for label, (model, *_r) in models.items():
        torch.manual_seed(seed)
        xa = pgd(model, x, y, eps=eps * ts.unit, alpha=step * ts.unit, steps=steps)
        with torch.no_grad():
            rows.append({"model": label, "A_nat": 100 * (model(x).argmax(1) == y).float().mean().item(),
                         "PGD-40": 100 * (model(xa).argmax(1) == y).float().mean().item()})
    return pd.DataFrame(rows)


@torch.no_grad()
def decision_grid(model: torch.nn.Module, *, lo: float = 0.0, hi: float = 1.0, n: int = 200):
    """Predicted class on an n × n grid over [lo, hi]² (the official notebook: meshgrid + argmax)."""
    g = torch.linspace(lo, hi, n)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    was = model.training
    model.eval()
    z = model(torch.stack([xx.flatten(), yy.flatten()], 1)).argmax(1).view(n, n)
    model.train(was)
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
