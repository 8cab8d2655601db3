"""Pre-activation Wide ResNet (WRN-d-k) as used by Madry et al. (2018), TRADES (Zhang et al., 2019),
ADT (Dong et al., NeurIPS 2020, Sec. 5 / App. C: WRN-28-10), ATLD (WRN-28-10, following Feature
Scattering) and ATENT (App. A.1: WRN-34-10 for CIFAR-ℓ∞).

Architecture: Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016, in the variant of the
TRADES / ADT code: a 3×3 conv 3→16, three groups of (d-4)/6 pre-activation BasicBlocks with widths
16k / 32k / 64k and strides 1 / 2 / 2, then BN–ReLU, global average pooling and a linear layer.
Blocks are BN–ReLU–conv3×3–BN–ReLU–(dropout)–conv3×3 with bias-free convs; when a block changes
width or resolution its 1×1 projection shortcut reads the *pre-activated* input.

Differences from the reference code, all output-preserving:
- global *adaptive* average pooling instead of ``avg_pool2d(8)``, so any input size works
  (identical on 32×32 inputs);
- the unused ``sub_block1`` group of the ADT / TRADES WideResNet is not built (it never receives a
  gradient). Checkpoints that contain it still load with ``strict=True``: its keys are dropped on load.
Parameter names (``conv1``, ``block{1,2,3}.layer.{i}.{bn1,conv1,bn2,conv2,convShortcut}``, ``bn1``,
``fc``) follow the reference so its state dicts load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Classifier, NormalizeArg, init_resnet_style


class WideBasicBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3×3(stride)-BN-ReLU-dropout-conv3×3 + shortcut."""

    def __init__(self, in_planes: int, out_planes: int, stride: int, drop_rate: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.equal_in_out = in_planes == out_planes and stride == 1
        self.convShortcut = (
            None
            if self.equal_in_out
            else nn.Conv2d(in_planes, out_planes, 1, stride=stride, padding=0, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        shortcut = x if self.convShortcut is None else self.convShortcut(o)
        o = F.relu(self.bn2(self.conv1(o)))
        if self.drop_rate > 0:
            o = F.dropout(o, p=self.drop_rate, training=self.training)
        return shortcut + self.conv2(o)


class WideGroup(nn.Module):
    """A group of ``n`` blocks; only the first one changes width/stride (reference name: NetworkBlock)."""

    def __init__(self, n: int, in_planes: int, out_planes: int, stride: int, drop_rate: float):
        super().__init__()
        self.layer = nn.Sequential(
            *[
                WideBasicBlock(in_planes if i == 0 else out_planes, out_planes,
                               stride if i == 0 else 1, drop_rate)
                for i in range(n)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _drop_dead_sub_block(module, state_dict, prefix, *args) -> None:
    """Load-state-dict pre-hook: ignore the reference code's unused ``sub_block1`` parameters."""
    dead = prefix + "sub_block1."
    for k in [k for k in state_dict if k.startswith(dead)]:
        del state_dict[k]


class WideResNet(Classifier):
    """WRN-``depth``-``widen_factor`` (Zagoruyko & Komodakis 2016; TRADES / Madry et al. variant).

    ``features(x)`` is the 64·k-dimensional globally pooled feature (640-d for k = 10), the same
    vector the ADT/ATLD code returns with ``return_feature=True``.
    """

    def __init__(
        self,
        depth: int = 28,
        widen_factor: int = 10,
        num_classes: int = 10,
        in_channels: int = 3,
        drop_rate: float = 0.0,
        normalize: NormalizeArg = None,
    ):
        super().__init__(normalize)
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"WideResNet depth must be 6n+4 with n >= 1, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.depth, self.widen_factor = depth, widen_factor
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.block1 = WideGroup(n, widths[0], widths[1], 1, drop_rate)
        self.block2 = WideGroup(n, widths[1], widths[2], 2, drop_rate)
        self.block3 = WideGroup(n, widths[2], widths[3], 2, drop_rate)
        self.bn1 = nn.BatchNorm2d(widths[3])
        self.fc = nn.Linear(widths[3], num_classes)
        init_resnet_style(self)
        self.register_load_state_dict_pre_hook(_drop_dead_sub_block)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        o = self.block3(self.block2(self.block1(self.conv1(x))))
        o = F.relu(self.bn1(o))
        return F.adaptive_avg_pool2d(o, 1).flatten(1)


def wrn_28_10(num_classes: int = 10, in_channels: int = 3, *, drop_rate: float = 0.0,
              normalize: NormalizeArg = None) -> WideResNet:
    """WRN-28-10 (36.48 M parameters for 10 classes): the ADT and ATLD classifier."""
    return WideResNet(28, 10, num_classes, in_channels, drop_rate, normalize)


def wrn_34_10(num_classes: int = 10, in_channels: int = 3, *, drop_rate: float = 0.0,
              normalize: NormalizeArg = None) -> WideResNet:
    """WRN-34-10 (46.16 M parameters for 10 classes): the TRADES / ATENT CIFAR-ℓ∞ classifier."""
    return WideResNet(34, 10, num_classes, in_channels, drop_rate, normalize)
