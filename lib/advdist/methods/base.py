"""The common shape of a training method."""

from __future__ import annotations

from typing import Any

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
