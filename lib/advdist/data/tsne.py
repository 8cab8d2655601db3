"""ATENT Fig. 1's datasets: two classes of a 2-D t-SNE embedding of an image set's test images.

Recipe of the official Fig. 1 notebook (atld-atent-baselines.md §C.5): t-SNE (2 components, perplexity 40, 300
iterations) of the raw test images of the whole test set, keep digits 5 and 8 relabelled 0/1, shuffle, split
70/30. Data: MNIST when a copy is found offline; otherwise the same recipe on **Fashion-MNIST** classes 5 and 8
(sandal vs bag) — the returned :class:`TsneSet` says which (``source``). ``smoke`` scale uses scikit-learn's 8×8
digits 5 vs 8. The embedding is cached under ``data/tsne/`` (it takes about a minute for 10 000 images).

So that every attack and method of the library (which keep inputs in [0, 1]) applies unchanged, the embedding is
mapped affinely (one scale for both axes) into [0.05, 0.95]²; ε and step sizes given in t-SNE units are
converted with the same scale (``TsneSet.unit``). The sets are registered datasets, ``tsne58_mnist``,
``tsne58_fashion_mnist`` and ``tsne58_digits``: importing this module (``advdist.data`` does) registers their
builder with :func:`advdist.data.registry.register_builder`, so ``advdist.data.load`` builds them. The models and
figure of Fig. 1 are in :mod:`advdist.analysis.toy2d_tsne`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .. import paths
from .registry import TSNE_SOURCES, DataSplits, info, load, locate, register_builder

__all__ = ["TsneSet", "dataset_name", "source_for", "tsne_embedding", "tsne_two_class"]


@dataclass
class TsneSet:
    """The two-class t-SNE set: ``splits`` (points in [0.05, 0.95]², labels 0/1), ``source`` dataset, ``classes``,
    ``unit`` (one t-SNE unit in the rescaled coordinates)."""

    splits: DataSplits
    source: str
    classes: tuple[int, int]
    unit: float


def source_for(scale: str | None) -> str:
    """The image set embedded at ``scale``: ``digits`` at smoke, else MNIST if a copy is found, else Fashion-MNIST."""
    if scale == "smoke":
        return "digits"
    return "mnist" if locate("mnist") is not None else "fashion_mnist"


def tsne_embedding(source: str, *, perplexity: float = 40.0, max_iter: int = 300, seed: int = 0,
                   cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE (sklearn, Barnes-Hut) of the raw pixels of ``source``'s whole test split (ATENT Fig. 1 recipe;
    the official notebook fixes no seed, we fix ``seed``). Returns (points (N, 2), labels (N,)); cached.
    ``digits`` (smoke) embeds all 1 797 images: its test split alone has only ~70 fives and eights."""
    import torch
    from sklearn.manifold import TSNE

    path = paths.DATA / "tsne" / f"{source}_p{perplexity:g}_i{max_iter}_s{seed}.npz"
    if cache and path.exists():
        z = np.load(path)
        return z["points"], z["labels"]
    splits = load(source)
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
    ``source`` (the embedded image dataset) defaults to the scale's (:func:`source_for`)."""
    import torch

    source = source or source_for(scale)
    pts, labels = tsne_embedding(source, seed=seed)
    keep = np.isin(labels, classes)
    p, y = pts[keep], (labels[keep] == classes[1]).astype(np.int64)
    lo, span = p.min(0), float((p.max(0) - p.min(0)).max())
    p = 0.05 + 0.9 * (p - lo) / span
    order = np.random.default_rng(seed).permutation(len(y))
    p, y = p[order], y[order]
    n_tr = int(round(train_frac * len(y)))
    fp = hashlib.sha256(b"atent_tsne58:" + source.encode() + p.tobytes() + y.tobytes()).hexdigest()
    splits = DataSplits(torch.from_numpy(p[:n_tr]), torch.from_numpy(y[:n_tr]), torch.from_numpy(p[n_tr:]),
                        torch.from_numpy(y[n_tr:]), info=info(dataset_name(source)), source=f"t-SNE of {source}",
                        fingerprint=fp, train_indices=torch.arange(n_tr), test_indices=torch.arange(n_tr, len(y)),
                        seed=seed)
    return TsneSet(splits=splits, source=source, classes=tuple(classes), unit=0.9 / span)


def _registered_set(name: str) -> DataSplits:
    """``load(name)`` of a ``tsne58_*`` set: its fixed split (``n_train``, ``n_test``, ``seed`` do not apply)."""
    return tsne_two_class(None, source=TSNE_SOURCES[name], seed=0).splits


register_builder("embedding", _registered_set)
