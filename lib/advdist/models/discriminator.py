"""The ATLD latent discriminator D_W with 1 + C outputs (ATLD Sec. 4.1, Eq. (6)-(7); Fig. 2).

D_W reads a latent code z = f_θ(x) of the classifier and returns two heads:

- the *manifold* head D⁰ (one logit; ``sigmoid`` gives a probability): is z the latent of a natural or of a
  perturbed example (Eq. (6), the manifold loss L⁰_d);
- the *class* head D^{1:C} (C logits): the class of z (Eq. (7), L^{1:C}_d, following AC-GAN, Odena et al. 2017).

Convention: ``sigmoid(manifold)`` = P(natural | z). The paper writes D⁰ as P(adversarial); the official code uses
P(natural) (label 1 = natural); the two give the same game (atld-atent-baselines.md §A.1). Every ATLD function in
this package uses the P(natural) convention and says so.

Architecture. The paper says only "wideresnet, following Feature Scattering". The official code's discriminator is a
WRN-28-5 applied to the C logits reshaped to C×1×1: on 1×1 maps every 3×3 convolution only uses its centre tap, so
it is a stack of pre-activation residual MLP blocks with BatchNorm over the batch (widths 16 → 80 → 160 → 320,
4 blocks per group), a final BN + ReLU and two linear heads. :class:`LatentDiscriminator` is exactly that shape of
network written with ``nn.Linear``: a linear stem, ``len(widths)`` groups of ``blocks`` residual blocks
[BN – ReLU – Linear – BN – ReLU – Linear] (+ a linear shortcut when the width changes), BN + ReLU, then the heads.
``widths=(80, 160, 320), blocks=4, stem=16`` reproduces the code's WRN-28-5 layer widths; the CPU scales use far
smaller widths (see :data:`SIZES`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["LatentDiscriminator", "build_discriminator", "SIZES"]

#: named discriminator sizes: (stem, widths, blocks). "wrn-28-5" = the official code's layer widths.
SIZES: dict[str, tuple[int, tuple[int, ...], int]] = {
    "wrn-28-5": (16, (80, 160, 320), 4),
    "small": (32, (64,), 1),
    "tiny": (16, (32,), 1),
}


class _Block(nn.Module):
    """Pre-activation residual MLP block (a WRN BasicBlock on 1×1 maps)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.bn1, self.fc1 = nn.BatchNorm1d(d_in), nn.Linear(d_in, d_out, bias=False)
        self.bn2, self.fc2 = nn.BatchNorm1d(d_out), nn.Linear(d_out, d_out, bias=False)
        self.short = None if d_in == d_out else nn.Linear(d_in, d_out, bias=False)
        self.act = nn.ReLU()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        o = self.act(self.bn1(z))
        skip = z if self.short is None else self.short(o)
        o = self.fc2(self.act(self.bn2(self.fc1(o))))
        return o + skip


class LatentDiscriminator(nn.Module):
    """D_W(z) -> (manifold logit (B,), class logits (B, C)) on latent codes z of width ``in_dim`` (ATLD Eq. (7)).

    ``sigmoid(manifold logit)`` is P(natural | z) (official-code convention; see the module docstring).
    """

    def __init__(self, in_dim: int, num_classes: int, *, stem: int = 32, widths: Sequence[int] = (64,),
                 blocks: int = 1):
        super().__init__()
        if in_dim < 1 or num_classes < 2 or stem < 1 or blocks < 1 or not widths or min(widths) < 1:
            raise ValueError(f"bad discriminator shape: in_dim={in_dim}, num_classes={num_classes}, stem={stem}, "
                             f"widths={tuple(widths)}, blocks={blocks}")
        self.in_dim, self.num_classes = int(in_dim), int(num_classes)
        self.stem = nn.Linear(in_dim, stem, bias=False)
        layers, d = [], stem
        for w in widths:
            for _ in range(blocks):
                layers.append(_Block(d, int(w)))
                d = int(w)
        self.body = nn.Sequential(*layers)
        self.bn = nn.BatchNorm1d(d)
        self.act = nn.ReLU()
        self.fc = nn.Linear(d, 1)             # manifold head D⁰ (logit of P(natural))
        self.fc2 = nn.Linear(d, num_classes)  # class head D^{1:C}
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.act(self.bn(self.body(self.stem(z.flatten(1).float()))))
        return self.fc(h).squeeze(1), self.fc2(h)

    def p_natural(self, z: torch.Tensor) -> torch.Tensor:
        """sigmoid(D⁰(z)) = P(natural | z), shape (B,)."""
        return torch.sigmoid(self(z)[0])


def build_discriminator(in_dim: int, num_classes: int, size: str = "small") -> LatentDiscriminator:
    """A :class:`LatentDiscriminator` of a named size (:data:`SIZES`; ``"wrn-28-5"`` = the ATLD code's widths)."""
    if size not in SIZES:
        raise ValueError(f"unknown discriminator size {size!r}; valid: {', '.join(SIZES)}")
    stem, widths, blocks = SIZES[size]
    return LatentDiscriminator(in_dim, num_classes, stem=stem, widths=widths, blocks=blocks)
