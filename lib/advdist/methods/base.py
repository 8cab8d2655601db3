"""The common shape of a training method, and the registry of methods by name (``advdist.methods`` re-exports it)."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


class Method:
    """Base class. Subclasses implement :meth:`loss`; ``kwargs`` are validated against ``defaults``."""

    name = "base"
    #: method hyper-parameters and their defaults; ``cfg.method_kwargs`` may override these only
    defaults: dict[str, Any] = {}

    def __init__(self, cfg, model: nn.Module) -> None:
        unknown = set(cfg.method_kwargs) - set(self.defaults)
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "(none)"
            raise ValueError(f"unknown {self.name} option {sorted(unknown)[0]!r}; valid: {valid}")
        self.cfg = cfg
        self.hp = {**self.defaults, **cfg.method_kwargs}

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    # extra state (generators, discriminators, their optimisers); empty for most methods
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{self.name} has no state to load, got keys {sorted(state)}")

    def to(self, device: torch.device) -> "Method":
        return self


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
