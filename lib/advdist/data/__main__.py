"""Command line: ``python -m advdist.data list`` and ``python -m advdist.data download NAME [NAME …]``.

``list`` prints every registered dataset, whether it is available without a download and where.
``download`` fetches the named sets with torchvision into ``advdist.paths.datasets_dir()``
(``data/datasets`` or ``$ADVDIST_DATA``). Exit codes: 0 ok, 1 a download failed, 2 bad usage
(unknown dataset name).
"""

from __future__ import annotations

import argparse
import sys

from .. import paths
from . import registry


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
        return "found", str(where)
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
    p = argparse.ArgumentParser(prog="python -m advdist.data", description="advdist datasets: list what is available, download with torchvision.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list datasets, whether they are available locally and where")
    d = sub.add_parser("download", help="download datasets with torchvision into datasets_dir()")
    d.add_argument("names", nargs="+", metavar="NAME", help=", ".join(registry.names()))
    args = p.parse_args(argv)
    if args.cmd == "list":
        return cmd_list()
    return cmd_download(args.names)


if __name__ == "__main__":
    sys.exit(main())
