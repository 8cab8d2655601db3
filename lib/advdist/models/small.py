"""Small networks: TRADES SmallCNN, Madry LeNet5, an MLP, the CPU "mini" CNN and the ATENT 2-D toy net.

- ``smallcnn``: the TRADES MNIST network (Zhang et al., ICML 2019, "4 conv + 3 FC"), which ATENT uses
  for MNIST-ℓ∞ (Jagatap et al., App. A.1): conv3×3 32 – conv3×3 32 – maxpool 2 – conv3×3 64 –
  conv3×3 64 – maxpool 2 (no padding, ReLU after every conv), FC 1024→200 – ReLU – dropout 0.5 –
  FC 200→200 – ReLU – FC 200→C. TRADES init: Kaiming-normal conv weights, zero conv biases, and a
  zero last layer. Parameter names follow TRADES (``feature_extractor.convN``, ``classifier.fcN``).
- ``lenet5-madry``: the Madry et al. (ICLR 2018) MNIST-challenge network, as in advertorch's
  ``LeNet5Madry`` and used by ATENT for MNIST-ℓ2 (App. A.1): conv5×5 32 (pad 2) – ReLU – maxpool 2 –
  conv5×5 64 (pad 2) – ReLU – maxpool 2 – FC 3136→1024 – ReLU – FC 1024→C; PyTorch default init.
- ``mlp``: fully connected ReLU network on the flattened input (2-D toy data, digits, MNIST).
- ``mini-cnn``: this project's CPU "mini scale" Fashion-MNIST network (not from a paper), chosen for
  throughput: two stride-2 3×3 convs (16, 32 channels) with BatchNorm, FC 1568→256, FC 256→C
  (~0.41 M parameters; ~24k images/s forward+backward at batch 128 on 2 CPU cores, against ~9.5k for
  the conv16–conv32 + max-pool variant; ≈ 89–90 % clean Fashion-MNIST test accuracy after 3 epochs of
  SGD, lr 0.05–0.1, momentum 0.9, batch 128).
- ``atent-toy``: the ATENT Fig. 1 "3-layer net" on 2-D points (ATENT code ``twolayer``): the point is
  read as a length-2 1-channel signal, Conv1d(1→20, kernel 2, padding 2) – ReLU – FC 100→150 – ReLU –
  FC 150→C.

The MNIST nets take ``input_size`` (default 28) so they also build for other square sizes, e.g.
``build("smallcnn", in_channels=3, input_size=32)`` for CIFAR-shaped inputs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import Classifier, NormalizeArg, init_resnet_style


def _hw(input_size) -> tuple[int, int]:
    if isinstance(input_size, int):
        return input_size, input_size
    h, w = input_size
    return int(h), int(w)


def _check_positive(size: tuple[int, int], model: str) -> None:
    if min(size) < 1:
        raise ValueError(f"{model}: input_size too small, the feature map would be {size[0]}x{size[1]}")


# --------------------------------------------------------------------------------------------------
class SmallCNN(Classifier):
    """TRADES MNIST SmallCNN (Zhang et al. 2019; ATENT App. A.1 MNIST-ℓ∞ network)."""

    head = "classifier.fc3"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size=28,
                 drop: float = 0.5, normalize: NormalizeArg = None):
        super().__init__(normalize)
        h, w = _hw(input_size)
        h, w = ((h - 4) // 2 - 4) // 2, ((w - 4) // 2 - 4) // 2
        _check_positive((h, w), "smallcnn")
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 32, 3)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(32, 32, 3)), ("relu2", nn.ReLU()),
            ("maxpool1", nn.MaxPool2d(2, 2)),
            ("conv3", nn.Conv2d(32, 64, 3)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(64, 64, 3)), ("relu4", nn.ReLU()),
            ("maxpool2", nn.MaxPool2d(2, 2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(64 * h * w, 200)), ("relu1", nn.ReLU()),
            ("drop", nn.Dropout(drop)),
            ("fc2", nn.Linear(200, 200)), ("relu2", nn.ReLU()),
            ("fc3", nn.Linear(200, num_classes)),
        ]))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.classifier.fc3.weight)
        nn.init.zeros_(self.classifier.fc3.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = self.feature_extractor(x).flatten(1)
        for name, m in self.classifier.named_children():
            if name == "fc3":
                break
            o = m(o)
        return o


# --------------------------------------------------------------------------------------------------
class LeNet5Madry(Classifier):
    """Madry et al. (2018) MNIST-challenge net (advertorch ``LeNet5Madry``; ATENT MNIST-ℓ2)."""

    head = "linear2"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size=28,
                 normalize: NormalizeArg = None):
        super().__init__(normalize)
        h, w = _hw(input_size)
        h, w = h // 4, w // 4
        _check_positive((h, w), "lenet5-madry")
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.linear1 = nn.Linear(64 * h * w, 1024)
        self.linear2 = nn.Linear(1024, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = F.max_pool2d(F.relu(self.conv1(x)), 2)
        o = F.max_pool2d(F.relu(self.conv2(o)), 2)
        return F.relu(self.linear1(o.flatten(1)))


# --------------------------------------------------------------------------------------------------
class MLP(Classifier):
    """ReLU MLP on the flattened input; ``in_features`` from ``input_shape`` or inferred lazily."""

    def __init__(self, num_classes: int = 10, hidden: Sequence[int] = (256, 256),
                 input_shape=None, normalize: NormalizeArg = None):
        super().__init__(normalize)
        if isinstance(hidden, int):
            hidden = (hidden,)
        hidden = tuple(int(h) for h in hidden)
        if input_shape is None:
            d_in = None
        elif isinstance(input_shape, int):
            d_in = input_shape
        else:
            d_in = math.prod(int(s) for s in input_shape)

        def linear(d, out):
            return nn.LazyLinear(out) if d is None else nn.Linear(d, out)

        layers, d = [], d_in
        for h in hidden:
            layers += [linear(d, h), nn.ReLU()]
            d = h
        self.body = nn.Sequential(*layers)
        self.fc = linear(d, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))


# --------------------------------------------------------------------------------------------------
class MiniCNN(Classifier):
    """CPU Fashion-MNIST net: [conv3×3 stride 2 – BN – ReLU] × 2, FC → ``hidden`` – ReLU, FC → C."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size=28,
                 widths: Sequence[int] = (16, 32), hidden: int = 256, bn: bool = True,
                 normalize: NormalizeArg = None):
        super().__init__(normalize)
        c1, c2 = (int(c) for c in widths)
        h, w = _hw(input_size)
        for _ in range(2):
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.conv1 = nn.Conv2d(in_channels, c1, 3, stride=2, padding=1, bias=not bn)
        self.bn1 = nn.BatchNorm2d(c1) if bn else nn.Identity()
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=not bn)
        self.bn2 = nn.BatchNorm2d(c2) if bn else nn.Identity()
        self.fc1 = nn.Linear(c2 * h * w, hidden)
        self.fc = nn.Linear(hidden, num_classes)
        init_resnet_style(self)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(self.conv1(x)))
        o = F.relu(self.bn2(self.conv2(o)))
        return F.relu(self.fc1(o.flatten(1)))


# --------------------------------------------------------------------------------------------------
class AtentToyNet(Classifier):
    """ATENT Fig. 1 toy classifier on 2-D points (input (N, d), d = 2 by default)."""

    def __init__(self, num_classes: int = 2, in_features: int = 2, channels: int = 20,
                 hidden: int = 150, normalize: NormalizeArg = None):
        super().__init__(normalize)
        self.conv = nn.Conv1d(1, channels, 2, padding=2)
        self.fc1 = nn.Linear(channels * (in_features + 3), hidden)
        self.fc = nn.Linear(hidden, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.conv(x.flatten(1).unsqueeze(1)))
        return F.relu(self.fc1(o.flatten(1)))


# --------------------------------------------------------------------------------------------------
def smallcnn(num_classes: int = 10, in_channels: int = 1, *, input_size=28, drop: float = 0.5,
             normalize: NormalizeArg = None) -> SmallCNN:
    return SmallCNN(num_classes, in_channels, input_size, drop, normalize)


def lenet5_madry(num_classes: int = 10, in_channels: int = 1, *, input_size=28,
                 normalize: NormalizeArg = None) -> LeNet5Madry:
    return LeNet5Madry(num_classes, in_channels, input_size, normalize)


def mlp(num_classes: int = 10, in_channels: int | None = None, *, hidden=(256, 256),
        input_shape=None, normalize: NormalizeArg = None) -> MLP:
    """``in_channels`` is ignored (the input is flattened); give ``input_shape`` or let it be lazy."""
    return MLP(num_classes, hidden, input_shape, normalize)


def mini_cnn(num_classes: int = 10, in_channels: int = 1, *, input_size=28, widths=(16, 32),
             hidden: int = 256, bn: bool = True, normalize: NormalizeArg = None) -> MiniCNN:
    return MiniCNN(num_classes, in_channels, input_size, widths, hidden, bn, normalize)


def atent_toy(num_classes: int = 2, in_channels: int | None = None, *, in_features: int = 2,
              normalize: NormalizeArg = None) -> AtentToyNet:
    """``in_channels`` is ignored; inputs are (N, in_features) points."""
    return AtentToyNet(num_classes, in_features, normalize=normalize)
