"""MART: misclassification-aware adversarial training (Wang, Zou, Yi, Bailey, Ma & Gu, ICLR 2020, Eq. 8-9).

A baseline of ATENT Tables 2-3. With p = softmax ∘ f and x' the PGD example of the CE loss,

    L = (1/B)·Σ_i [ BCE(p(x'_i), y_i) + β·KL(p(x_i) ‖ p(x'_i))·(1 − p_{y_i}(x_i)) ],
    BCE(p, y) = −log p_y − log(1 − max_{k≠y} p_k)                                      (MART Eq. 8-9)

Inner maximisation as in the MART code (atld-atent-baselines.md §d): x + 0.001·N(0, I), then ``steps`` = 10
PGD steps on CE of size α = ``alpha_ratio``·ε (0.007 at ε = 0.031), last iterate, model in eval mode. The
outer loss is computed in train mode; the KL and the weight 1 − p_y(x) are differentiated through p(x) as in
the code. ``stabilizer`` = 1e-4: the code's log(1.0001 − p) in the margin term (0 gives the exact log(1 − p),
which is −∞ at p = 1). β = 6 (MART's WRN-34-10 setting; 5 for ResNet-18).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.attacks import pgd
from advdist.methods.base import Method, register
from advdist.runtime import accuracy


def mart_loss(logits_nat: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor, *, beta: float = 6.0,
              stabilizer: float = 1e-4) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """MART objective (Wang et al. 2020, Eq. 9) from natural and adversarial logits; returns (loss, terms)."""
    p_adv = F.softmax(logits_adv, dim=1)
    ce_adv = F.cross_entropy(logits_adv, y)
    other = p_adv.masked_fill(F.one_hot(y, p_adv.shape[1]).bool(), float("-inf")).amax(dim=1)
    margin = -torch.log(1.0 + stabilizer - other + 1e-12).mean()
    lp_nat, lp_adv = F.log_softmax(logits_nat, 1), F.log_softmax(logits_adv, 1)
    p_nat = lp_nat.exp()
    kl = (p_nat * (lp_nat - lp_adv)).sum(1)
    weight = 1.0 - p_nat.gather(1, y[:, None]).squeeze(1)
    reg = (kl * weight).mean()
    return ce_adv + margin + beta * reg, {"bce": ce_adv + margin, "reg": reg}


@register("mart")
class MART(Method):
    """MART (Wang et al. 2020). Options: ``beta`` (6), ``steps`` (10), ``alpha_ratio`` (0.007/0.031),
    ``start_std`` (0.001), ``stabilizer`` (1e-4)."""

    defaults = {"beta": 6.0, "steps": 10, "alpha_ratio": 0.007 / 0.031, "start_std": 0.001, "stabilizer": 1e-4}

    def adversarial(self, model, x, y):
        """PGD on CE from x + start_std·N(0, I), last iterate (MART code)."""
        eps = self.cfg.eps
        x0 = (x + self.hp["start_std"] * torch.randn_like(x)).clamp(0, 1)
        return pgd(model, x, y, eps=eps, alpha=eps * self.hp["alpha_ratio"], steps=self.hp["steps"],
                   norm=self.cfg.norm, random_start=False, use_best=False, x_init=x0)

    def loss(self, model, x, y):
        x_adv = self.adversarial(model, x, y)
        logits, logits_adv = model(x), model(x_adv)
        loss, terms = mart_loss(logits, logits_adv, y, beta=float(self.hp["beta"]),
                                stabilizer=float(self.hp["stabilizer"]))
        with torch.no_grad():
            logs = {"train_acc": accuracy(logits, y),
                    "train_adv_acc": accuracy(logits_adv, y),
                    "train_reg": terms["reg"].item()}
        return loss, logs
