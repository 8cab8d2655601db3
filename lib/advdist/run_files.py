"""The files of a run folder: atomic writes, an advisory lock, and reading a checkpoint without a torch traceback.

Every write is atomic (temp file in the same folder + ``os.replace``), so a killed process never leaves a torn
file. A file that ``torch.load`` cannot read (truncated, damaged) is a one-line :class:`UnreadableRunFile`.
Imports only torch and the standard library, so every layer (methods loading an extra network, the training
loop, the run store, evaluation) may use it; :mod:`advdist.store` re-exports these names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import torch


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (blocks until free)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class UnreadableRunFile(RuntimeError):
    """A file of a run that ``torch.load`` cannot read (truncated, damaged, not a checkpoint); one-line message
    naming the file and the reason (``problem``: that part alone, without advice)."""

    def __init__(self, msg: str, problem: str | None = None):
        super().__init__(msg)
        self.problem = problem or msg


def read_torch(path: Path, *, map_location: Any = "cpu", weights_only: bool = True, keys: tuple[str, ...] = ()) -> Any:
    """``torch.load(path)``, anything it raises (RuntimeError, EOFError, pickle/zip errors, ...) turned into a
    one-line :class:`UnreadableRunFile` without the torch traceback; so is a result that is not a dict with
    ``keys``. A missing file stays ``FileNotFoundError``."""
    try:
        obj = torch.load(path, map_location=map_location, weights_only=weights_only)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever torch.load raises, the file is unreadable
        raise UnreadableRunFile(f"{path}: unreadable ({error_line(e)})") from None
    if keys and not (isinstance(obj, dict) and all(k in obj for k in keys)):
        raise UnreadableRunFile(f"{path}: unreadable (not a run file with {', '.join(keys)})")
    return obj


def error_line(e: BaseException) -> str:
    """``Type: first sentence of the message`` (torch's run on for lines)."""
    msg = (str(e).strip().splitlines() or [""])[0].split(". ")[0]
    return f"{type(e).__name__}: {msg[:160]}"


def warn(msg: str) -> None:
    """One warning line on stderr."""
    print(f"advdist: warning: {msg}", file=sys.stderr, flush=True)
