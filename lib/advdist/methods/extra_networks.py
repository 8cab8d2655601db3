"""Training methods that own networks beside the classifier: the generators of ADT_EXP-AM, ADT_IMP-AM and L2L, ATLD's
discriminator, and their optimisers. Their checkpoint state and their device are handled here, once."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from advdist.methods.base import Method


class ExtraNetworksMethod(Method):
    """A :class:`Method` whose own networks and optimisers are the attributes named in :attr:`extra`: they are saved
    and restored under those names (``state_dict`` / ``load_state_dict``: the checkpoints' ``"method"`` entry, read
    back e.g. by :func:`advdist.methods.atld.load_discriminator`), and ``to(device)`` moves the networks among them."""

    #: attribute names of the networks and their optimisers, in checkpoint order, e.g. ``("generator", "opt_g")``
    extra: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k).state_dict() for k in self.extra}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.extra:
            getattr(self, k).load_state_dict(state[k])

    def to(self, device: torch.device) -> "ExtraNetworksMethod":
        for k in self.extra:
            obj = getattr(self, k)
            if isinstance(obj, nn.Module):
                obj.to(device)
        return self
