"""L2L: adversarial training against a learned attacker network (Jiang, Chen et al., "Learning to Defend by
Learning to Attack", AISTATS 2021 / arXiv 2018 — ref. [9] of ADT), in ADT's configuration (ADT App. D.5,
Table 11).

A generator g_φ maps the same inputs as ADT_EXP-AM's, [x, ∇ₓL(x), ∇ₓL(x_FGSM)] (ADT App. C.2), through the same
image-to-image network (ADT Table 7) to *one* perturbation δ = ε·tanh(g_φ(·)) per example: a point, not a
distribution. The classifier and the attacker play

    min_θ max_φ (1/n) Σ_i L(f_θ(x_i + g_φ(x_i)), y_i)

by simultaneous gradient descent on θ and ascent on φ (one joint backward pass with gradient reversal, as
:mod:`advdist.methods.adt_expam`). This is ADT_EXP-AM with σ → 0 and λ = 0 — exactly the contrast ADT App. D.5
draws ("learning the distributions of adversarial perturbations upon finding a single adversarial example").
ADT could not reproduce L2L's own training recipe and used ADT's for it (App. D.5); so do we.

Options (``cfg.method_kwargs``):

- ``inputs`` = ``"adt"`` ([x, g¹, g²], the generator inputs ADT Table 11 shares with EXP-AM) | ``"x_grad"``
  ([x, ∇ₓL(x)], the gradient-attacker input of the L2L paper; the third channel group is zero).
- ``width`` = 256, ``code_layout`` = False: the generator of ADT Table 7; ``lr_g`` = 2e-4, ``betas_g`` =
  (0.5, 0.999): its Adam (ADT App. C.3, as EXP-AM); ``input_grad`` as EXP-AM.

Logged per batch: ``train_adv_acc`` (on the generated examples) and ``delta_linf`` (mean |δ|/ε).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.methods.adt_expam import INPUT_GRADS, attach_ascent, generator_inputs, image_shape
from advdist.methods.base import register
from advdist.methods.extra_networks import ExtraNetworksMethod
from advdist.models.generators import ResnetGeneratorBody
from advdist.runtime import accuracy
from advdist.validate import option_betas, option_choice, option_number

L2L_INPUTS = ("adt", "x_grad")


@register("l2l")
class L2L(ExtraNetworksMethod):
    """L2L (Jiang, Chen et al.; ADT App. D.5, Table 11): AT against a deterministic generator attacker, trained
    simultaneously by gradient ascent on the classifier's loss."""

    extra = ("generator", "opt_g")
    defaults = {"inputs": "adt", "width": 256, "code_layout": False, "input_grad": "example", "lr_g": 2e-4,
                "betas_g": (0.5, 0.999)}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        hp, name = self.hp, self.name
        c, _, _ = image_shape(name, cfg)
        if cfg.eps <= 0:
            raise ValueError(f"{name} needs eps > 0 (δ = ε·tanh(g(x))), got {cfg.eps!r}")
        option_choice(name, "inputs", hp["inputs"], L2L_INPUTS)
        option_choice(name, "input_grad", hp["input_grad"], INPUT_GRADS)
        option_choice(name, "code_layout", hp["code_layout"], (False, True))
        self.channels = c
        self.generator = ResnetGeneratorBody(3 * c, c, width=hp["width"], code_layout=hp["code_layout"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(),
                                      lr=option_number(name, "lr_g", hp["lr_g"], positive=True),
                                      betas=option_betas(name, "betas_g", hp["betas_g"]))

    def inputs(self, model, x, y) -> torch.Tensor:
        """Generator inputs (B, 3C, H, W): [x, g¹, g²] or, with ``inputs="x_grad"``, [x, g¹, 0]."""
        inp = generator_inputs(model, x, y, self.cfg.eps, input_grad_mode=self.hp["input_grad"])
        if self.hp["inputs"] == "x_grad":
            inp = torch.cat([inp[:, :2 * self.channels], torch.zeros_like(inp[:, 2 * self.channels:])], dim=1)
        return inp

    def perturb(self, model, x, y) -> torch.Tensor:
        """The attacker's adversarial example clip(x + ε·tanh(g_φ(inputs)), 0, 1), differentiable w.r.t. φ."""
        self.generator.train()
        delta = self.cfg.eps * torch.tanh(self.generator(self.inputs(model, x, y)))
        return (x + delta).clamp(0.0, 1.0)

    def loss(self, model, x, y):
        x_adv = self.perturb(model, x, y)
        x_in = x_adv.detach().requires_grad_(True)
        logits = model(x_in)
        loss = F.cross_entropy(logits, y)
        attach_ascent(x_in, x_adv, None, [self.opt_g])
        with torch.no_grad():
            logs = {"train_adv_acc": accuracy(logits, y),
                    "delta_linf": ((x_in - x).abs().mean() / self.cfg.eps).item()}
        return loss, logs
