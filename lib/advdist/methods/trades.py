"""TRADES (Zhang, Yu, Jiao, Xing, El Ghaoui & Jordan, ICML 2019), the baseline of ADT Sec. 5.4 / App. D.2.

TRADES Eq. (5) (= ADT App. D.2), with CE as the surrogate of the natural error and KL as the boundary term:

    min_θ (1/B)·Σ_i [ CE(f(x_i), y_i) + β·max_{x'_i ∈ B(x_i, ε)} KL(p(x_i) ‖ p(x'_i)) ],   p = softmax ∘ f

Inner maximisation (TRADES Alg. 1): x' ← x + 0.001·N(0, I), then K steps of x' ← Π_{B(x,ε) ∩ [0,1]}(x' +
α·sign(∇_{x'} KL(p(x) ‖ p(x')))), with the classifier in eval mode and p(x) held fixed. Outer loss in train
mode: the KL is summed over the batch and divided by B ("batchmean") and its gradient flows through *both*
p(x) and p(x'); the clean and adversarial batches go through separate forward passes (TRADES code).

Settings. ADT Sec. 5.4 "follow[s] the same experimental settings as in [80]": TRADES' CIFAR values K = 10,
α = 0.007 for ε = 0.031, β = 6 — the defaults here, with α = ``alpha_ratio``·ε and ``alpha_ratio`` =
0.007/0.031. The ADT development code (adt-official.md §3, ``--loss-type trades``) used its shared AT_PGD
arguments, 7 steps of 2/255 (``{"steps": 7, "alpha_ratio": 0.25}``), unless overridden. TRADES' MNIST values:
β = 1, K = 40, α = 0.01 for ε = 0.3 (``alpha_ratio`` = 1/30).

``cfg.norm == "l2"`` uses normalised-gradient ascent steps α·g/‖g‖₂ with radial projection (the generic ℓ2
steepest ascent; TRADES' own ℓ2 code instead runs SGD on δ with a renormalised gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.attacks.core import check_eps, frozen, input_grad, normalize_step, project
from advdist.methods.base import Method, register
from advdist.runtime import accuracy


def kl_div(logits_nat: torch.Tensor, logits_adv: torch.Tensor, reduction: str = "batchmean") -> torch.Tensor:
    """KL(p(x) ‖ p(x')) = Σ_k p_k(x)·(log p_k(x) − log p_k(x')) from logits (TRADES Eq. (5) boundary term).

    ``reduction``: ``"sum"`` over the batch (the inner-max objective), ``"batchmean"`` = sum / B (outer loss), or
    ``"none"`` (per example).
    """
    lp_nat = F.log_softmax(logits_nat.float(), dim=1)
    lp_adv = F.log_softmax(logits_adv.float(), dim=1)
    per = (lp_nat.exp() * (lp_nat - lp_adv)).sum(1)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    if reduction == "batchmean":
        return per.mean()
    raise ValueError(f"unknown reduction {reduction!r}; valid: batchmean, none, sum")


def trades_adversarial(model: torch.nn.Module, x: torch.Tensor, *, eps: float, alpha: float, steps: int,
                       norm: str = "linf", start_std: float = 0.001) -> torch.Tensor:
    """TRADES inner maximisation (TRADES Alg. 1, Eq. (5)): argmax_{x' ∈ B(x, ε)} KL(p(x) ‖ p(x')) by K sign steps.

    Starts from x + ``start_std``·N(0, I) (global torch RNG; not clipped, as in TRADES); every step is projected
    onto the ε-ball and [0, 1]. Runs with the model frozen in eval mode (mode and ``requires_grad`` restored).
    """
    eps = check_eps(eps, norm)
    x = x.detach()
    with frozen(model):
        with torch.no_grad():
            logits_nat = model(x)
        x_adv = x + start_std * torch.randn_like(x)
        for _ in range(int(steps)):
            xg = x_adv.detach().requires_grad_(True)
            with torch.enable_grad():
                g = input_grad(kl_div(logits_nat, model(xg), reduction="sum"), xg)
            x_adv = project(xg.detach() + alpha * normalize_step(g, norm), x, eps, norm)
    return project(x_adv.detach(), x, eps, norm)


@register("trades")
class TRADES(Method):
    """TRADES (Zhang et al. 2019, Eq. (5) and Alg. 1; ADT Sec. 5.4). Hyper-parameters:

    - ``beta`` (6.0): weight of the KL boundary term (1/λ in TRADES); 0 gives plain CE on clean inputs.
    - ``steps`` (10) and ``alpha_ratio`` (0.007/0.031): inner steps and step size α = alpha_ratio·ε (TRADES CIFAR).
    - ``start_std`` (0.001): std of the Gaussian start around x.
    """

    defaults = {"beta": 6.0, "steps": 10, "alpha_ratio": 0.007 / 0.031, "start_std": 0.001}

    def adversarial(self, model, x, y=None):
        """The TRADES inner maximiser x' for this batch (labels are not used)."""
        eps = self.cfg.eps
        return trades_adversarial(model, x, eps=eps, alpha=eps * self.hp["alpha_ratio"], steps=self.hp["steps"],
                                  norm=self.cfg.norm, start_std=self.hp["start_std"])

    def loss(self, model, x, y):
        x_adv = self.adversarial(model, x, y)
        return trades_objective(model(x), model(x_adv), y, float(self.hp["beta"]))


def trades_objective(logits: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor, beta: float):
    """TRADES Eq. (5): CE(f(x), y) + β·KL(f(x) ‖ f(x')) (batch means), with the training logs."""
    ce = F.cross_entropy(logits, y)
    kl = kl_div(logits, logits_adv, reduction="batchmean")
    with torch.no_grad():
        logs = {"train_acc": accuracy(logits, y),
                "train_adv_acc": accuracy(logits_adv, y),
                "train_kl": kl.item()}
    return ce + beta * kl, logs
