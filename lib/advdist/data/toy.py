"""Always-available datasets built with scikit-learn: the 8×8 digits and toy 2-D sets.

- ``digits``: scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes, pixel values
  0..16). Split once, deterministically and stratified, 80/20 into train/test (:data:`DIGITS_SPLIT_SEED`).
- ``moons``, ``circles``, ``blobs``: 2-D sets for decision-boundary and perturbation-field figures
  (ATENT's toy experiments). Train and test are generated independently with fixed
  ``random_state`` values, so a given size always gives the same points; features are standardised
  with the train mean and standard deviation (train: exactly zero mean, unit std per feature).
  Classes are balanced by construction (scikit-learn splits ``n_samples`` evenly over classes).
"""

from __future__ import annotations

import numpy as np

from .subsets import stratified_indices

__all__ = ["load_digits_arrays", "make_toy", "TOY_SETS", "TOY_DEFAULT_SIZES", "DIGITS_SPLIT_SEED"]

DIGITS_SPLIT_SEED = 20200  # fixed: the digits train/test split never changes
DIGITS_TEST_FRACTION = 0.2
TOY_DEFAULT_SIZES = (1000, 500)  # (train, test)
TOY_SEEDS = {"train": 1, "test": 2}  # random_state offsets for generation
TOY_SETS = {
    # name: (num_classes, description)
    "moons": (2, "two interleaving half circles (sklearn make_moons, noise 0.15)"),
    "circles": (2, "two concentric circles (sklearn make_circles, noise 0.08, factor 0.5)"),
    "blobs": (3, "three isotropic Gaussian blobs at the vertices of a triangle (sklearn make_blobs, std 1)"),
}
_BLOB_CENTERS = 2.5 * np.array([[np.cos(a), np.sin(a)] for a in np.pi / 2 + 2 * np.pi * np.arange(3) / 3])


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as ``(x_train, y_train, x_test, y_test)``: uint8 (N, 1, 8, 8) in 0..16, int64 labels.

    The split is stratified (per-class test counts by largest remainder of 20 %) and fixed by
    :data:`DIGITS_SPLIT_SEED`; train and test keep the original order of the bundled file.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.uint8).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    n_test = int(round(DIGITS_TEST_FRACTION * len(y)))
    test = stratified_indices(y, n_test, DIGITS_SPLIT_SEED)
    mask = np.ones(len(y), dtype=bool)
    mask[test] = False
    train = np.flatnonzero(mask)
    return x[train], y[train], x[test], y[test]


def _generate(name: str, n: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as skd

    if name == "moons":
        x, y = skd.make_moons(n_samples=n, noise=0.15, shuffle=True, random_state=random_state)
    elif name == "circles":
        x, y = skd.make_circles(n_samples=n, noise=0.08, factor=0.5, shuffle=True, random_state=random_state)
    elif name == "blobs":
        x, y = skd.make_blobs(n_samples=n, centers=_BLOB_CENTERS, cluster_std=1.0, shuffle=True, random_state=random_state)
    else:
        raise ValueError(f"unknown toy set {name!r}; valid: {', '.join(sorted(TOY_SETS))}")
    return x, y.astype(np.int64)


def make_toy(name: str, n_train: int | None = None, n_test: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate toy set ``name`` as ``(x_train, y_train, x_test, y_test)``, x float32 (N, 2), y int64.

    Sizes default to :data:`TOY_DEFAULT_SIZES`. Generation uses fixed seeds (independent of any
    training seed), so the same sizes always give the same data; both splits are standardised with
    the train split's per-feature mean and standard deviation.
    """
    n_train = TOY_DEFAULT_SIZES[0] if n_train is None else int(n_train)
    n_test = TOY_DEFAULT_SIZES[1] if n_test is None else int(n_test)
    if n_train < 2 or n_test < 0:
        raise ValueError(f"{name}: need n_train >= 2 and n_test >= 0, got {n_train}, {n_test}")
    xtr, ytr = _generate(name, n_train, TOY_SEEDS["train"])
    xte, yte = _generate(name, n_test, TOY_SEEDS["test"]) if n_test else (np.zeros((0, 2)), np.zeros(0, np.int64))
    mean, std = xtr.mean(0), xtr.std(0)
    std = np.where(std > 0, std, 1.0)
    f = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return f(xtr), ytr, f(xte), yte
