"""AT_PGD: adversarial training on PGD examples (Madry et al. 2018, Eq. 2.1; ADT Sec. 5 baseline AT_PGD).

min_θ E[ max_{‖δ‖∞ ≤ ε} CE(f_θ(x + δ), y) ], the inner max approximated by PGD with a uniform random
start and ``steps`` = 7 steps of α = ε/4 (ADT App. C / the official code's ``cross_entropy`` loss
type). The attack runs with the model in eval mode (``advdist.attacks`` freezes it), the update in
train mode, on the *last* PGD iterate as in Madry et al. (``use_best=False``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.attacks import pgd
from advdist.methods.base import Method, register
from advdist.runtime import accuracy


@register("at_pgd")
class ATPGD(Method):
    defaults = {"steps": 7, "alpha_ratio": 0.25}

    def adversarial(self, model, x, y):
        """PGD on CE from a uniform random start, last iterate (Madry et al. 2018; ADT Eq. (2))."""
        eps = self.cfg.eps
        return pgd(model, x, y, eps=eps, alpha=eps * self.hp["alpha_ratio"], steps=self.hp["steps"],
                   norm=self.cfg.norm, random_start=True, use_best=False)

    def loss(self, model, x, y):
        x_adv = self.adversarial(model, x, y)
        logits = model(x_adv)
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            acc = accuracy(logits, y)
        return loss, {"train_adv_acc": acc}
