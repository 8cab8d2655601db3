"""ALP: adversarial logit pairing (Kannan, Kurakin & Goodfellow 2018), the ADT baseline "ALP".

Kannan et al. 2018, Sec. 4 (Eq. for J(M, θ) + λ·(1/m)·Σ L(f(x⁽ⁱ⁾), f(x̃⁽ⁱ⁾))): mixed-minibatch adversarial
training plus a squared-ℓ2 penalty pairing the logits of each clean example with those of its adversarial
counterpart,

    L = 0.5·CE(f(x), y) + 0.5·CE(f(x̃), y) + β·(1/B)·Σ_i ‖f(x_i) − f(x̃_i)‖²₂,

with x̃ = PGD on CE (ADT App. C.4 uses the AT_PGD settings: 7 steps of α = ε/4 from a uniform random start;
ADT Sec. 5 (D)). The attack runs with the model in eval mode, the update in train mode; clean and adversarial
inputs go through separate forward passes and the gradient flows through both logit vectors (ADT code).

Paper vs code (adt-official.md §3, development ``trades.py: alp_loss``):

- ``pairing_reduction="sum"`` (default, paper): squared ℓ2 distance summed over logits, averaged over the
  batch. ``"mean"``: ``F.mse_loss`` over all B·C elements as in the ADT code, i.e. the "sum" penalty / C.
- ``beta`` defaults to 0.5, the ALP paper's λ (Kannan et al. 2018, ImageNet). The ADT code passes its shared
  ``--beta`` argument, default 6.0, with the "mean" reduction; ``{"beta": 6.0, "pairing_reduction": "mean"}``
  reproduces it (= β 0.6 in the "sum" form for 10 classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.methods.at_pgd import ATPGD
from advdist.methods.base import register
from advdist.runtime import accuracy

REDUCTIONS = ("sum", "mean")


def logit_pairing(logits: torch.Tensor, logits_adv: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """The ALP penalty (Kannan et al. 2018, Sec. 4): (1/B)·Σ_i ‖z_i − z̃_i‖² (``"sum"``) or the MSE over B·C
    (``"mean"``)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown pairing_reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    sq = (logits - logits_adv).pow(2)
    return sq.sum(1).mean() if reduction == "sum" else sq.mean()


@register("alp")
class ALP(ATPGD):
    """Adversarial logit pairing (Kannan et al. 2018, Sec. 4; ADT App. C.4). Hyper-parameters:

    - ``beta`` (0.5): weight of the logit-pairing term; 0 gives 0.5/0.5 mixed AT_PGD.
    - ``pairing_reduction`` ("sum" = paper's squared ℓ2 norm; "mean" = ADT code's MSE).
    - ``steps`` (7) and ``alpha_ratio`` (0.25): PGD steps and step size α = alpha_ratio·ε (ADT's AT_PGD settings).
    """

    defaults = {"beta": 0.5, "pairing_reduction": "sum", "steps": 7, "alpha_ratio": 0.25}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        if self.hp["pairing_reduction"] not in REDUCTIONS:
            raise ValueError(f"unknown pairing_reduction {self.hp['pairing_reduction']!r}; "
                             f"valid: {', '.join(REDUCTIONS)}")

    def loss(self, model, x, y):
        x_adv = self.adversarial(model, x, y)
        logits = model(x)
        logits_adv = model(x_adv)
        ce = 0.5 * F.cross_entropy(logits, y) + 0.5 * F.cross_entropy(logits_adv, y)
        pair = logit_pairing(logits, logits_adv, self.hp["pairing_reduction"])
        loss = ce + float(self.hp["beta"]) * pair
        with torch.no_grad():
            logs = {"train_acc": accuracy(logits, y),
                    "train_adv_acc": accuracy(logits_adv, y),
                    "logit_pairing": pair.item()}
        return loss, logs
