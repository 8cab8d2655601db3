"""Stratified, seed-determined subsets of a labelled split (numpy only)."""

from __future__ import annotations

import numpy as np


def stratified_indices(labels, n: int, seed: int = 0, stream: int = 0) -> np.ndarray:
    """Pick ``n`` indices of ``labels``, stratified by class, deterministically; returned sorted.

    Per-class counts are ``n · count_c / N`` rounded down, the remaining ``n − Σ`` going one each to
    the classes with the largest remainders (ties: lower class first) — exact integer arithmetic.
    Within each class the examples are a uniform draw from ``numpy.random.default_rng([seed, stream])``
    (``stream`` separates e.g. train and test draws made with the same seed).
    """
    y = np.asarray(labels).reshape(-1)
    total = y.shape[0]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"subset size must be a non-negative int, got {n!r}")
    if n > total:
        raise ValueError(f"asked for {n} examples but only {total} are available")
    if n == total:
        return np.arange(total, dtype=np.int64)
    classes, counts = np.unique(y, return_counts=True)
    prod = int(n) * counts.astype(np.int64)
    quota = prod // total
    rem = prod % total
    extra = int(n) - int(quota.sum())
    order = np.lexsort((np.arange(len(classes)), -rem))  # largest remainder first, then class order
    quota[order[:extra]] += 1
    rng = np.random.default_rng([int(seed), int(stream)])
    by_class = np.argsort(y, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    chosen = [by_class[starts[i] + rng.permutation(counts[i])[: quota[i]]] for i in range(len(classes))]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
