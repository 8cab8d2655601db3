"""Training methods: one module per method, one shape for all.

A method is a small object built from the run's config and model. The training loop calls
``method.loss(model, x, y) -> (loss, logs)`` once per batch and back-propagates ``loss`` into the
classifier; a method that owns extra networks (generators, discriminators) updates them itself
inside ``loss`` and exposes them through ``state_dict``/``load_state_dict`` so checkpoints and
resume cover them. ``logs`` holds per-batch floats averaged into the epoch's CSV row.
"""

from __future__ import annotations

import importlib
import pkgutil

from advdist.methods.base import Method, build, get, names, register


def _import_all() -> None:
    """Import every module of this package: each registers its methods with ``@register`` (of ``methods.base``,
    so that no method module imports this package back)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_all()

__all__ = ["Method", "build", "get", "names", "register"]
