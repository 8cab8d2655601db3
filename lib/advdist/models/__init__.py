"""Model zoo: every classifier of the three papers, built by name.

>>> from advdist import models
>>> net = models.build("wrn-28-10", num_classes=10)            # ADT / ATLD CIFAR classifier
>>> net = models.build("smallcnn", normalize=(0.1307, 0.3081))  # TRADES / ATENT MNIST-ℓ∞ net

Every model takes NCHW (or, for ``mlp`` / ``atent-toy``, (N, d)) float inputs in [0, 1], applies the
optional ``normalize=(mean, std)`` inside itself, and exposes ``features(x)`` (penultimate features,
(N, D)), ``fc`` (the last linear layer, ``forward(x) == fc(features(x))``) and ``feature_dim``.
See :mod:`advdist.models.base`.

===================  =============================================================  ===========
name                 source                                                         params (10)
===================  =============================================================  ===========
wrn-28-10            Zagoruyko & Komodakis 2016; Madry et al. 2018 / TRADES code;   36.48 M
                     ADT (NeurIPS 2020) Sec. 5 & App. C, ATLD
wrn-34-10            same family; TRADES, ATENT App. A.1 (CIFAR-ℓ∞)                 46.16 M
resnet-20            He et al. 2016 Sec. 4.2, option-A shortcuts; ATENT App. A.1   0.27 M
resnet-18            He et al. 2016, CIFAR variant (3×3 stem, no max-pool)          11.17 M
preact-resnet-18     He et al. ECCV 2016; Wong et al. 2020 / RobustBench layout     11.17 M
smallcnn             TRADES (Zhang et al. 2019) MNIST net; ATENT App. A.1 (ℓ∞)      0.31 M
lenet5-madry         Madry et al. 2018 MNIST challenge; ATENT App. A.1 (ℓ2)         3.27 M
mlp                  ReLU MLP, ``hidden=(256, 256)``                                 –
mini-cnn             this project: CPU Fashion-MNIST "mini" runs                    0.41 M
atent-toy            ATENT Fig. 1 2-D toy net (``twolayer``)                         –
===================  =============================================================  ===========

``in_channels`` defaults to the model's natural input (3 for the CIFAR nets, 1 for the MNIST nets).
"""

from __future__ import annotations

import inspect
from typing import Callable

from torch import nn

from .base import Classifier, init_resnet_style
from .resnet import CifarResNet, ResNet18Family, preact_resnet_18, resnet_18, resnet_20
from .small import MLP, AtentToyNet, LeNet5Madry, MiniCNN, SmallCNN, atent_toy, lenet5_madry, mini_cnn, mlp, smallcnn
from .wide_resnet import WideResNet, wrn_28_10, wrn_34_10

#: name -> builder(num_classes, in_channels, **kw)
MODELS: dict[str, Callable[..., nn.Module]] = {
    "wrn-28-10": wrn_28_10,
    "wrn-34-10": wrn_34_10,
    "resnet-20": resnet_20,
    "resnet-18": resnet_18,
    "preact-resnet-18": preact_resnet_18,
    "smallcnn": smallcnn,
    "lenet5-madry": lenet5_madry,
    "mlp": mlp,
    "mini-cnn": mini_cnn,
    "atent-toy": atent_toy,
}


def names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(MODELS)


def _kwarg_names(builder: Callable) -> list[str]:
    params = inspect.signature(builder).parameters.values()
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY]


def build(name: str, num_classes: int = 10, in_channels: int | None = None, **kw) -> nn.Module:
    """Build a registered model. ``in_channels=None`` uses the model's default (3 CIFAR, 1 MNIST).

    Unknown names or keyword arguments raise a one-line ``ValueError`` that lists the valid ones.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(names())}")
    builder = MODELS[key]
    valid = _kwarg_names(builder)
    bad = sorted(k for k in kw if k not in valid)
    if bad:
        raise ValueError(
            f"model {key!r} got unknown argument(s) {', '.join(bad)}; valid: {', '.join(valid)}"
        )
    if in_channels is not None:
        kw["in_channels"] = int(in_channels)
    return builder(num_classes=int(num_classes), **kw)


def count_parameters(model: nn.Module) -> int:
    """Number of (initialised) parameters."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "MODELS", "build", "names", "count_parameters", "Classifier", "init_resnet_style",
    "WideResNet", "CifarResNet", "ResNet18Family", "SmallCNN", "LeNet5Madry", "MLP", "MiniCNN",
    "AtentToyNet",
]
