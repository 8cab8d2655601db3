"""AT_FGSM: adversarial training on least-likely-class targeted FGSM examples (Kurakin, Goodfellow & Bengio 2017).

ADT baseline AT_FGSM (ADT Sec. 5 (D) and App. C.4, "AT on the targeted FGSM adversarial examples [38]"; ADT
Table 1 shows it has almost no robustness to iterative attacks). Kurakin et al. 2017, Sec. 3-4 ("step l.l."):

    y_LL = argmin_k p(k | x),    x_adv = clip_[0,1](x − ε·sign(∇ₓ CE(f(x), y_LL)))

and the mixed-minibatch loss of their Eq. (1), written per example with every example used twice (clean and
adversarial):

    L = [CE(f(x), y) + λ·CE(f(x_adv), y)] / (1 + λ)

λ = ``adv_weight`` = 1 gives ADT's 0.5·CE(clean) + 0.5·CE(adversarial) (the official development code's
``FGSM-ll`` loss type); Kurakin et al. used λ = 0.3 with half the batch adversarial and a random per-image ε
(not reproduced here: ADT trains with a fixed ε). The attack runs with the model in eval mode, the update in
train mode (ADT code); the clean and adversarial halves go through separate forward passes (separate batch
statistics for BN models), as in the ADT code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.attacks import fgsm
from advdist.methods.base import Method, register
from advdist.runtime import accuracy


@register("at_fgsm")
class ATFGSM(Method):
    """AT_FGSM (Kurakin et al. 2017 "step l.l."; ADT App. C.4). Hyper-parameters:

    - ``adv_weight`` λ (default 1.0 = ADT's 0.5/0.5 mix): L = (CE_clean + λ·CE_adv) / (1 + λ).

    ``cfg.norm == "l2"`` uses the fast gradient method x − ε·∇/‖∇‖₂ towards y_LL instead of the sign step.
    """

    defaults = {"adv_weight": 1.0}

    def adversarial(self, model, x, y):
        """The least-likely targeted FGSM points x − ε·sign(∇ₓ CE(f(x), y_LL)) (Kurakin et al. 2017, Sec. 3)."""
        return fgsm(model, x, y, eps=self.cfg.eps, norm=self.cfg.norm, targeted=True, target="least_likely")

    def loss(self, model, x, y):
        x_adv = self.adversarial(model, x, y)
        logits = model(x)
        logits_adv = model(x_adv)
        lam = float(self.hp["adv_weight"])
        loss = (F.cross_entropy(logits, y) + lam * F.cross_entropy(logits_adv, y)) / (1.0 + lam)
        with torch.no_grad():
            logs = {"train_acc": accuracy(logits, y),
                    "train_adv_acc": accuracy(logits_adv, y)}
        return loss, logs
