"""Readers for the torchvision on-disk dataset formats, written with numpy only.

torchvision's dataset classes md5-check every file on construction; these readers do not, so a
copy made by hand, the Debian package ``dataset-fashion-mnist`` or a fake test fixture all load the
same way. Every reader returns ``(images, labels)`` with images ``uint8`` in NCHW layout and labels
``int64``; conversion to float in [0, 1] happens in :func:`advdist.data.load`.

Formats (exactly as torchvision writes them):

- CIFAR-10 ``cifar-10-batches-py/``: pickled dicts ``data_batch_1`` … ``data_batch_5`` and
  ``test_batch`` with ``b"data"`` (uint8, (N, 3072), rows are R-plane, G-plane, B-plane of a 32×32
  image, i.e. already CHW) and ``b"labels"``; ``batches.meta`` holds ``b"label_names"``.
- CIFAR-100 ``cifar-100-python/``: pickled dicts ``train`` and ``test`` with ``b"data"`` and
  ``b"fine_labels"``; ``meta`` holds ``b"fine_label_names"``.
- SVHN ``train_32x32.mat`` / ``test_32x32.mat``: MATLAB files with ``X`` (32, 32, 3, N) uint8 and
  ``y`` (N, 1) in 1..10 where 10 stands for the digit 0.
- MNIST / Fashion-MNIST idx files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (plain or
  ``.gz``): big-endian header ``0x00 0x00 <dtype> <ndim>`` then ``ndim`` uint32 sizes, then data.

Pickles can execute code when loaded: only point these readers at files you trust (the official
archives or copies of them).
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

__all__ = [
    "CIFAR10_DIR",
    "CIFAR100_DIR",
    "CIFAR10_TRAIN_FILES",
    "read_cifar10",
    "read_cifar100",
    "read_cifar_class_names",
    "read_svhn",
    "read_idx",
    "find_idx",
    "read_mnist_split",
    "idx_files_present",
    "cifar10_present",
    "cifar100_present",
    "svhn_present",
]

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
IDX_PREFIX = {"train": "train", "test": "t10k"}

# idx type byte -> numpy dtype (big-endian), from the MNIST file-format description
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class FormatError(ValueError):
    """A dataset file exists but does not have the expected format (truncated, wrong kind, …)."""


# --------------------------------------------------------------------------------------- CIFAR


def _get(d: dict, key: str):
    """Look up ``key`` in a CIFAR pickle dict whose keys may be ``bytes`` (py2 pickles) or ``str``."""
    if key.encode() in d:
        return d[key.encode()]
    if key in d:
        return d[key]
    raise KeyError(key)


def _read_cifar_pickle(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(_get(d, "data"), dtype=np.uint8)
        labels = np.asarray(_get(d, label_key), dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise FormatError(f"{path}: not a CIFAR pickle with 'data' and {label_key!r} ({e!r}); delete it and re-download") from e
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise FormatError(f"{path}: expected data (N, 3072) and N labels, got {data.shape} and {labels.shape}")
    # each row is 1024 R values, 1024 G values, 1024 B values, row-major 32x32: already CHW
    return data.reshape(-1, 3, 32, 32), labels


def cifar10_present(folder: Path) -> bool:
    """True when ``folder`` (a ``cifar-10-batches-py``) holds all five train batches and ``test_batch``."""
    d = Path(folder)
    return all((d / f).is_file() for f in (*CIFAR10_TRAIN_FILES, "test_batch"))


def cifar100_present(folder: Path) -> bool:
    """True when ``folder`` (a ``cifar-100-python``) holds ``train`` and ``test``."""
    d = Path(folder)
    return all((d / f).is_file() for f in ("train", "test"))


def read_cifar10(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10 ``split`` ("train" or "test") from ``folder`` (a ``cifar-10-batches-py``).

    Returns uint8 images (N, 3, 32, 32) and int64 labels (N,); train concatenates batches 1..5 in
    order, exactly as torchvision does.
    """
    d = Path(folder)
    files = CIFAR10_TRAIN_FILES if split == "train" else ("test_batch",)
    parts = [_read_cifar_pickle(d / f, "labels") for f in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_cifar100(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-100 ``split`` ("train"/"test") from ``folder`` (a ``cifar-100-python``), fine labels (100 classes)."""
    return _read_cifar_pickle(Path(folder) / split, "fine_labels")


def read_cifar_class_names(folder: Path, which: str) -> list[str] | None:
    """Class names from ``folder/batches.meta`` (``which="cifar10"``) or ``folder/meta`` (``"cifar100"``); None if absent."""
    path = Path(folder) / ("batches.meta" if which == "cifar10" else "meta")
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    names = _get(d, "label_names" if which == "cifar10" else "fine_label_names")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


# ---------------------------------------------------------------------------------------- SVHN


def svhn_present(folder: Path) -> bool:
    """True when ``folder`` holds ``train_32x32.mat`` and ``test_32x32.mat`` (torchvision's SVHN layout)."""
    return all((Path(folder) / f).is_file() for f in SVHN_FILES.values())


def read_svhn(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read SVHN ``split`` from ``folder/{split}_32x32.mat``.

    ``X`` is stored (32, 32, 3, N) (height, width, channel, example) and is transposed to
    (N, 3, 32, 32); label 10 means the digit 0 and is mapped to 0, as torchvision does.
    """
    import scipy.io

    path = Path(folder) / SVHN_FILES[split]
    try:
        mat = scipy.io.loadmat(str(path), variable_names=["X", "y"])
        x, y = mat["X"], mat["y"]
    except Exception as e:  # scipy raises several types on a bad file
        raise FormatError(f"{path}: not an SVHN .mat file with 'X' and 'y' ({type(e).__name__}: {e}); delete it and re-download") from e
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != y.size:
        raise FormatError(f"{path}: expected X (32, 32, 3, N) and N labels, got {x.shape} and {y.shape}")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.uint8).transpose(3, 2, 0, 1))
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    y[y == 10] = 0
    return x, y


# ----------------------------------------------------------------------------------------- idx


def read_idx(path: Path) -> np.ndarray:
    """Decode one idx file (plain, or gzip when the name ends in ``.gz``) with ``np.frombuffer``."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise FormatError(f"{path}: not an idx file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    dtype = _IDX_DTYPES[raw[2]]
    n = int(np.prod(dims))
    offset = 4 + 4 * ndim
    if len(raw) - offset != n * dtype.itemsize:
        raise FormatError(f"{path}: idx header says {tuple(dims)} but the file holds {len(raw) - offset} data bytes")
    return np.frombuffer(raw, dtype=dtype, count=n, offset=offset).reshape(tuple(dims))


def find_idx(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` if it exists, else ``folder/stem.gz``, else None (plain files read faster)."""
    for p in (Path(folder) / stem, Path(folder) / (stem + ".gz")):
        if p.is_file():
            return p
    return None


def _idx_stems(split: str) -> tuple[str, str]:
    pre = IDX_PREFIX[split]
    return f"{pre}-images-idx3-ubyte", f"{pre}-labels-idx1-ubyte"


def idx_files_present(folder: Path) -> bool:
    """True when ``folder`` holds the four MNIST-style idx files (each plain or gzipped)."""
    return all(find_idx(folder, s) is not None for split in ("train", "test") for s in _idx_stems(split))


def read_mnist_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST / Fashion-MNIST ``split`` from the idx files in ``folder``: uint8 (N, 1, 28, 28), int64 (N,)."""
    img_stem, lab_stem = _idx_stems(split)
    ip, lp = find_idx(folder, img_stem), find_idx(folder, lab_stem)
    if ip is None or lp is None:
        raise FileNotFoundError(f"{folder}: missing {img_stem}[.gz] or {lab_stem}[.gz]")
    x, y = read_idx(ip), read_idx(lp)
    if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.dtype != np.uint8:
        raise FormatError(f"{folder}: images {x.shape} {x.dtype} and labels {y.shape} do not match")
    return x[:, None, :, :], y.astype(np.int64)
