"""CIFAR ResNets: ResNet-20 (He et al. 2016, Sec. 4.2), ResNet-18 and PreActResNet-18.

- ``resnet-20``: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
  Sec. 4.2 (CIFAR-10): a 3×3 conv to 16 channels, three stages of 3 BasicBlocks with 16 / 32 / 64
  channels (strides 1 / 2 / 2), global average pooling, linear layer; parameter-free *option A*
  shortcuts (stride-2 subsampling plus zero channels) -> 0.27 M parameters. ATENT App. A.1 names it
  for its CIFAR-ℓ2 experiments.
- ``resnet-18``: the CIFAR variant of He et al.'s ResNet-18 (3×3 stem, stride 1, no max-pool;
  1×1-conv+BN projection shortcuts), as popularised by the "pytorch-cifar" code (K. Liu) and used by
  ATENT's CIFAR-ℓ2 code -> 11.17 M parameters. Parameter names follow that code (``linear`` head).
- ``preact-resnet-18``: He, Zhang, Ren & Sun, "Identity Mappings in Deep Residual Networks",
  ECCV 2016, in the form used for adversarial training by Wong et al. (2020) and Rice et al. (2020)
  and by RobustBench (final BN-ReLU before pooling; parameter names ``bn``, ``linear``).

All use global *adaptive* average pooling, so any input size works (e.g. 28×28 MNIST with
``in_channels=1``), and He-normal conv init with BN weight 1 / bias 0 and linear bias 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Classifier, NormalizeArg, init_resnet_style


# --------------------------------------------------------------------------------------------------
# ResNet-20 (option A shortcuts)
# --------------------------------------------------------------------------------------------------
class _ZeroPadShortcut(nn.Module):
    """Option-A identity shortcut: subsample spatially by ``stride`` and append zero channels."""

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.stride = stride
        extra = out_planes - in_planes
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, *self.pad))


class BasicBlockA(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN, plus a parameter-free shortcut, then ReLU (He et al. 2016)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_planes == planes
            else _ZeroPadShortcut(in_planes, planes, stride)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + self.shortcut(x))


class CifarResNet(Classifier):
    """He et al. (2016) CIFAR ResNet with 6n+2 layers (n = 3: ResNet-20), widths 16 / 32 / 64."""

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3,
                 normalize: NormalizeArg = None):
        super().__init__(normalize)
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, n, 1)
        self.layer2 = self._stage(16, 32, n, 2)
        self.layer3 = self._stage(32, 64, n, 2)
        self.fc = nn.Linear(64, num_classes)
        init_resnet_style(self)

    @staticmethod
    def _stage(in_planes: int, planes: int, n: int, stride: int) -> nn.Sequential:
        return nn.Sequential(*[BasicBlockA(in_planes if i == 0 else planes, planes,
                                           stride if i == 0 else 1) for i in range(n)])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.layer3(self.layer2(self.layer1(o)))
        return F.adaptive_avg_pool2d(o, 1).flatten(1)


# --------------------------------------------------------------------------------------------------
# ResNet-18 (CIFAR variant) and PreActResNet-18
# --------------------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Post-activation basic block with a 1×1-conv+BN projection shortcut when the shape changes."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + self.shortcut(x))


class PreActBlock(nn.Module):
    """Pre-activation basic block (He et al., ECCV 2016); the projection reads the activated input."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(o)
        o = self.conv1(o)
        o = self.conv2(F.relu(self.bn2(o)))
        return o + shortcut


class ResNet18Family(Classifier):
    """Four stages of two blocks, widths 64 / 128 / 256 / 512, 3×3 stride-1 stem, no max-pool."""

    head = "linear"

    def __init__(self, block: type[nn.Module], preact: bool, num_classes: int = 10,
                 in_channels: int = 3, num_blocks=(2, 2, 2, 2), normalize: NormalizeArg = None):
        super().__init__(normalize)
        self.preact = preact
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        if not preact:
            self.bn1 = nn.BatchNorm2d(64)
        in_planes = 64
        for i, (planes, stride) in enumerate(zip((64, 128, 256, 512), (1, 2, 2, 2))):
            blocks = []
            for j in range(num_blocks[i]):
                blocks.append(block(in_planes, planes, stride if j == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        if preact:
            self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, num_classes)
        init_resnet_style(self)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = self.conv1(x)
        if not self.preact:
            o = F.relu(self.bn1(o))
        o = self.layer4(self.layer3(self.layer2(self.layer1(o))))
        if self.preact:
            o = F.relu(self.bn(o))
        return F.adaptive_avg_pool2d(o, 1).flatten(1)


def resnet_20(num_classes: int = 10, in_channels: int = 3, *,
              normalize: NormalizeArg = None) -> CifarResNet:
    """ResNet-20 with option-A shortcuts (He et al. 2016, Sec. 4.2): 0.27 M parameters."""
    return CifarResNet(20, num_classes, in_channels, normalize)


def resnet_18(num_classes: int = 10, in_channels: int = 3, *,
              normalize: NormalizeArg = None) -> ResNet18Family:
    """CIFAR-style ResNet-18 (3×3 stem, no max-pool): 11.17 M parameters."""
    return ResNet18Family(BasicBlock, False, num_classes, in_channels, normalize=normalize)


def preact_resnet_18(num_classes: int = 10, in_channels: int = 3, *,
                     normalize: NormalizeArg = None) -> ResNet18Family:
    """PreActResNet-18 (He et al., ECCV 2016; Wong et al. 2020 / RobustBench layout)."""
    return ResNet18Family(PreActBlock, True, num_classes, in_channels, normalize=normalize)
