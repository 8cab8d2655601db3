"""The training code: which sources determine what training produces, and their hash (part of every run key).

Editing any of them changes :func:`code_version` and so the key of every run it covers: the run store then trains
anew instead of returning a model of the old code. :mod:`advdist.store` re-exports these names.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from advdist import methods

# Code whose edits change what training produces; its hash is part of every run key. Methods count one by one:
# a run hashes ``methods/__init__.py``, ``methods/base.py`` and its own method's module with the sibling
# modules it imports, so adding or editing another method leaves its key alone.
TRAINING_CODE = ("models", "samplers", "attacks", "data", "runtime.py", "validate.py", "train_loop.py",
                 "methods/__init__.py", "methods/base.py")
#: modules under TRAINING_CODE that only evaluate (no training method calls them)
EVALUATION_ONLY = ("attacks/settings.py", "attacks/autoattack.py", "attacks/rays.py", "attacks/spsa.py",
                   "attacks/deepfool.py", "attacks/cw_l2.py", "attacks/transfer.py", "attacks/distribution.py",
                   "data/__main__.py")
_SIBLING_IMPORT = re.compile(r"(?:advdist\.methods\.|from \.)(\w+) import")


@lru_cache(maxsize=None)
def code_version(method: str | None = None) -> str:
    """sha256 (12 hex) over the sources that determine what training ``method`` produces (all methods: None)."""
    return source_hash(Path(__file__).resolve().parent, method=method)


def method_sources(pkg: Path, method: str | None) -> list[str]:
    """``methods/<module>.py`` of ``method`` and, transitively, the sibling method modules it imports
    (every method module when ``method`` is None)."""
    mdir = pkg / "methods"
    if method is None:
        return [f"methods/{f.name}" for f in sorted(mdir.glob("*.py"))]
    todo, seen = [methods.get(method).__module__.rsplit(".", 1)[-1]], []
    while todo:
        name = todo.pop()
        f = mdir / f"{name}.py"
        if name in seen or not f.exists():
            continue
        seen.append(name)
        todo += _SIBLING_IMPORT.findall(f.read_text())
    return [f"methods/{n}.py" for n in sorted(seen)]


def source_hash(pkg: Path, entries=TRAINING_CODE, *, method: str | None = None) -> str:
    """sha256 (12 hex) over the paths and bytes of ``entries`` (files or folders of .py) under ``pkg`` and of
    :func:`method_sources`, leaving out ``EVALUATION_ONLY`` and CLI entry points."""
    h = hashlib.sha256()
    files: list[Path] = []
    for entry in [*entries, *method_sources(pkg, method)]:
        p = pkg / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.exists() else []
    for f in sorted(set(files)):
        rel = f.relative_to(pkg).as_posix()
        if f.name == "__main__.py" or rel in EVALUATION_ONLY:
            continue
        h.update(rel.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]

