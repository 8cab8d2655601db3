"""Training-time data augmentation, batched and vectorised on tensors.

The papers train CIFAR-10/100 models with the standard augmentation of Madry et al. (2018,
"Towards Deep Learning Models Resistant to Adversarial Attacks"): a random 32×32 crop of the image
zero-padded by 4 pixels on each side, followed by a random horizontal flip with probability 1/2
(ADT, Dong et al. NeurIPS 2020, App. C: "random crops and flips" for CIFAR; the same pipeline is
used by ATLD and ATENT). SVHN, MNIST and Fashion-MNIST are trained without augmentation.

Names understood by :func:`augment`:

- ``"none"`` — identity (returns ``x`` itself);
- ``"crop<p>-flip"`` — random crop with ``p``-pixel zero padding, then random horizontal flip
  (``"crop4-flip"`` is the papers' CIFAR setting);
- ``"crop<p>"`` — random crop only; ``"flip"`` — random horizontal flip only.

Randomness comes only from the explicit ``torch.Generator``: per batch, first ``randint`` draws the
(N, 2) crop offsets, then ``rand`` draws the (N,) flip decisions, both on the generator's device and
then moved to ``x``'s device. With a CPU generator the same seed therefore gives the same crops on
CPU and GPU.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used, so `import advdist.data` stays light (make data)
    import torch

__all__ = ["augment", "random_crop", "random_flip", "AUGMENTATIONS", "parse_augmentation"]

AUGMENTATIONS = ("none", "crop4-flip", "crop4", "flip")  # common names; "crop<p>[-flip]" for any p
_PATTERN = re.compile(r"^(?:crop(?P<pad>\d+)(?P<flip>-flip)?|(?P<only_flip>flip)|(?P<none>none))$")


def parse_augmentation(name: str) -> tuple[int, bool] | None:
    """Parse an augmentation name into ``(padding, flip)``; ``None`` for ``"none"``.

    Raises ``ValueError`` (one line, listing the valid names) for anything else.
    """
    m = _PATTERN.match(str(name))
    if m is None:
        raise ValueError(f"unknown augmentation {name!r}; valid: {', '.join(AUGMENTATIONS)} (or crop<p>, crop<p>-flip)")
    if m["none"]:
        return None
    if m["only_flip"]:
        return 0, True
    return int(m["pad"]), bool(m["flip"])


def _crop_flip(
    x: torch.Tensor, padding: int, flip: bool, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random crop of the ``padding``-zero-padded image plus optional horizontal flip, in one gather.

    Returns ``(out, dy, dx, flipped)`` where for every example ``i``
    ``out[i] = pad(x[i])[:, dy[i]:dy[i]+H, dx[i]:dx[i]+W]``, flipped along width when ``flipped[i]``.
    """
    import torch
    import torch.nn.functional as F

    if x.dim() != 4:
        raise ValueError(f"augment expects a batch (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    gdev = generator.device if generator is not None else torch.device("cpu")
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=gdev)
    flipped = torch.rand(n, generator=generator, device=gdev) < 0.5 if flip else torch.zeros(n, dtype=torch.bool, device=gdev)
    offsets, flipped = offsets.to(x.device), flipped.to(x.device)
    dy, dx = offsets[:, 0], offsets[:, 1]

    xp = F.pad(x, (padding, padding, padding, padding)) if padding else x  # zeros outside the image
    ar_h = torch.arange(h, device=x.device)
    ar_w = torch.arange(w, device=x.device)
    rows = dy[:, None] + ar_h  # (N, H)
    cols = dx[:, None] + torch.where(flipped[:, None], (w - 1) - ar_w, ar_w)  # (N, W), reversed when flipped
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    out = xp[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]  # (N, C, H, W)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        out = out.contiguous(memory_format=torch.channels_last)
    return out, dy, dx, flipped


def random_crop(x: torch.Tensor, padding: int = 4, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random crop of size (H, W) from ``x`` zero-padded by ``padding`` pixels (Madry et al. 2018).

    ``x``: (N, C, H, W) on any device, any memory format (channels_last is kept). One offset per
    example, uniform in ``{0, …, 2·padding}`` along each axis, drawn from ``generator``.
    """
    return _crop_flip(x, int(padding), False, generator)[0]


def random_flip(x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image of the batch ``x`` (N, C, H, W) horizontally with probability 1/2."""
    return _crop_flip(x, 0, True, generator)[0]


def augment(x: torch.Tensor, name: str, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the augmentation ``name`` (e.g. a dataset's ``info.augmentation``) to the batch ``x``.

    ``"crop4-flip"`` is the CIFAR training augmentation of Madry et al. (2018) used by ADT (App. C),
    ATLD and ATENT: pad 4 zeros, random 32×32 crop, random horizontal flip. ``"none"`` returns ``x``
    unchanged (SVHN, MNIST, Fashion-MNIST, digits, toy sets). Vectorised over the batch (no Python
    loop over examples), runs on ``x``'s device, keeps dtype, value range and channels_last.
    Reproducible given ``generator`` (a ``torch.Generator``; CPU or on ``x``'s device).
    """
    spec = parse_augmentation(name)
    if spec is None:
        return x
    padding, flip = spec
    return _crop_flip(x, padding, flip, generator)[0]
