"""Training methods: one module per method, one shape for all.

A method is a small object built from the run's config and model. The training loop calls
``method.loss(model, x, y) -> (loss, logs)`` once per batch and back-propagates ``loss`` into the
classifier; a method that owns extra networks (generators, discriminators) updates them itself
inside ``loss`` and exposes them through ``state_dict``/``load_state_dict`` so checkpoints and
resume cover them. ``logs`` holds per-batch floats averaged into the epoch's CSV row.
"""

from __future__ import annotations

from typing import Callable

from advdist.methods.base import Method

_REGISTRY: dict[str, type[Method]] = {}


def register(name: str) -> Callable[[type[Method]], type[Method]]:
    """Class decorator adding a method to the registry under ``name``."""
    def deco(cls: type[Method]) -> type[Method]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> type[Method]:
    """The class registered as ``name`` (its ``defaults`` are the paper's hyper-parameters)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(names())}")
    return _REGISTRY[name]


def build(name: str, cfg, model) -> Method:
    """Instantiate method ``name`` for ``model`` with the run config ``cfg``."""
    return get(name)(cfg, model)


def _import_all() -> None:
    """Import every module of this package: each registers its methods with ``@register``."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_all()

__all__ = ["Method", "build", "get", "names", "register"]
