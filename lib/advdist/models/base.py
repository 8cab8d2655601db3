"""Shared base class of every classifier in the zoo.

Contract (DESIGN.md, ``models/``):

- inputs are float tensors in [0, 1]; if the model was built with ``normalize=(mean, std)`` the
  normalisation ``(x - mean) / std`` is the first operation *inside* the model, so attacks and samplers
  always work in [0, 1] pixel space;
- ``features(x)`` returns the penultimate representation, i.e. the input of the last linear layer,
  flattened to shape (N, D) (FeaAttack, Feature Scattering and ATLD need it);
- ``forward(x) == model.fc(model.features(x))``; ``model.fc`` is the last ``nn.Linear`` whatever its
  key name in the state dict (``fc``, ``linear``, ``classifier.fc3``, …: the names follow the
  reference implementations so that their checkpoints load unchanged); ``model.feature_dim`` is D.

The mean/std are non-persistent buffers: they follow ``.to(device)`` but are not written to the
state dict, so state dicts stay key-compatible with the reference (and RobustBench-style) checkpoints.
The normalisation is rebuilt from the constructor arguments (the run store records them).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

Number = float | int
NormalizeArg = tuple[Number | Sequence[Number], Number | Sequence[Number]] | None


def _as_1d(v, what: str) -> torch.Tensor:
    t = torch.as_tensor(v, dtype=torch.float32).flatten()
    if t.numel() == 0:
        raise ValueError(f"normalize {what} is empty")
    if not torch.isfinite(t).all():
        raise ValueError(f"normalize {what} must be finite, got {v!r}")
    return t


class Classifier(nn.Module):
    """Base class: optional in-model normalisation, ``features``/``forward`` split, ``fc`` accessor.

    Subclasses implement :meth:`embed` (normalised input -> (N, D) features) and set ``head`` to the
    dotted name of their last linear layer when it is not ``"fc"``.
    """

    #: dotted path of the last linear layer inside the module (kept equal to the reference key name)
    head: str = "fc"

    def __init__(self, normalize: NormalizeArg = None):
        super().__init__()
        if normalize is None:
            self.register_buffer("mu", None, persistent=False)
            self.register_buffer("sigma", None, persistent=False)
        else:
            try:
                mean, std = normalize
            except (TypeError, ValueError):
                raise ValueError(f"normalize must be a (mean, std) pair, got {normalize!r}") from None
            mu, sigma = _as_1d(mean, "mean"), _as_1d(std, "std")
            if (sigma <= 0).any():
                raise ValueError(f"normalize std must be > 0, got {std!r}")
            if mu.numel() != sigma.numel() and 1 not in (mu.numel(), sigma.numel()):
                raise ValueError(
                    f"normalize mean and std lengths differ ({mu.numel()} vs {sigma.numel()})"
                )
            self.register_buffer("mu", mu, persistent=False)
            self.register_buffer("sigma", sigma, persistent=False)

    # -- normalisation -------------------------------------------------------------------------
    @staticmethod
    def _shape_for(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if t.numel() == 1:
            return t.reshape(())
        # per-channel (N, C, ...) or per-feature (N, F)
        return t.reshape(1, -1, *([1] * (x.dim() - 2)))

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] inputs to what the network body expects (identity unless ``normalize`` given)."""
        if self.mu is None:
            return x
        return (x - self._shape_for(self.mu, x)) / self._shape_for(self.sigma, x)

    # -- features / logits ---------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Penultimate features of an already normalised input, shape (N, D)."""
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (input of the last linear layer), shape (N, D), for x in [0, 1]."""
        return self.embed(self.normalize_input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    @property
    def fc(self) -> nn.Module:
        """The last linear layer (``forward(x) == fc(features(x))``)."""
        mod: nn.Module = self
        for part in self.head.split("."):
            mod = mod._modules[part]
        return mod

    @property
    def feature_dim(self) -> int | None:
        """D, the width of :meth:`features` (None for a lazy MLP before its first forward)."""
        d = getattr(self.fc, "in_features", None)
        return d if d else None

    def extra_repr(self) -> str:
        if self.mu is None:
            return ""
        return f"normalize=(mean={self.mu.tolist()}, std={self.sigma.tolist()})"


def init_resnet_style(module: nn.Module) -> None:
    """He-normal conv weights (std sqrt(2 / (k*k*out_channels)), as in the TRADES / ADT WRN code),
    BatchNorm weight 1 and bias 0, linear (and conv) bias 0; linear weights keep PyTorch's default."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
