"""Standard training: cross-entropy on natural images (the *Standard* baseline of all three papers)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.methods.base import Method, register
from advdist.runtime import accuracy


@register("standard")
class Standard(Method):
    """min_θ E[CE(f_θ(x), y)] on clean inputs (ADT Sec. 5 "Standard"; ATENT Table 1 "SGD")."""

    def loss(self, model, x, y):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            acc = accuracy(logits, y)
        return loss, {"train_acc": acc}
