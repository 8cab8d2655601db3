"""ADT_EXP: adversarial distributional training with explicit adversarial distributions (ADT Sec. 3.1, Alg. 2).

Per batch (ADT Alg. 2): fit each example's distribution φᵢ* = (μᵢ, σᵢ) of Eq. (8) by T steps of Adam on the
MC objective of Eq. (9)-(11) (:func:`advdist.samplers.fit_explicit`, classifier frozen in eval mode), then
draw ONE fresh sample δᵢ ~ p_φᵢ* per example and return the outer loss with the classifier in train mode —
the one-sample estimate of Eq. (5)'s E_{p_φ*}[L(f(x + δ), y)] (the official code does the same; the inner
samples are not reused). The λ·H term of Eq. (5) does not depend on θ, so it is not part of the outer loss.

``adt_exp_trades`` (ADT Sec. 5.4, App. D.2, Tables 5 and 10) puts the TRADES loss
L(x, δ) = CE(f(x), y) + β·KL(f(x) ‖ f(x + δ)) into Eq. (5): the inner problem maximises β·E[KL] + λ·H (the
CE(f(x), y) term does not depend on δ), the outer loss is CE(f(x), y) + β·KL(f(x) ‖ f(x + δ)) on one fresh
sample, both terms in train mode with gradients through f(x) in both (as TRADES' own code).

Hyper-parameters (``cfg.method_kwargs``): ``steps`` T = 7, ``k`` = 5, ``lr`` = 0.3, ``betas`` = (0, 0),
``lam`` λ = 0.01 (the paper's, ADT Sec. 5 (C) and App. C.3); ``entropy`` = "mean" and ``cumulative_grad`` = True
(the official code, the default; ``entropy="sum"`` is Eq. (11) as printed, with λ in per-image units: see
:mod:`advdist.samplers.explicit` — the summed form lets the entropy outweigh the loss on almost every pixel:
ADT_EXP trained with it and plain Adam reached 34.3 % under PGD-20 at mini, against 61.2 % with the defaults and
62.8 % for the official code's own loss, issue 14); ``init_scale`` (σ₀; default ln 2 = the released code's
softplus(0), the paper states none); ``sample_batch`` (rows per inner forward pass: "auto" = chosen for the device, see
:func:`advdist.samplers.explicit.resolve_sample_batch`; None = all k·B; an int).
:data:`ADT_EXP_LITERAL` holds the options of the paper's text read literally (summed Eq. 11, plain Adam).
``adt_exp_trades`` adds ``beta`` β = 6.0 (ADT Tables 5/10 use 1.0 and 6.0) and ``inner_kl_weight``:
"beta" (default: the inner objective β·KL + λ·H that Eq. (5) gives with the TRADES loss) or "one"
(KL + λ·H, TRADES' own unweighted inner KL; entropy then weighs β times more relative to the KL).

Logged per batch: ``train_adv_acc`` (accuracy on the outer sample), ``entropy`` (the fitted distributions'
entropy per coordinate, Eq. 11 with all constants, one-sample MC estimate; the code's constant-free value is
this minus ½·log 2π + log ε) — ADT Fig. 5 — and ``sigma`` (mean σ); ``adt_exp_trades`` also ``train_acc``
(clean) and ``kl``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.attacks.core import check_positive
from advdist.methods.base import Method, register
from advdist.runtime import accuracy
from advdist.samplers import INIT_SCALE_CODE, check_entropy, fit_explicit
from advdist.threat import Norm

#: ``method_kwargs`` of the paper's text read literally: Eq. (11) summed over the coordinates with λ in per-image
#: units, plain Adam on each step's gradient (the Table 1 rows "literal Eq. 11")
ADT_EXP_LITERAL = {"entropy": "sum", "cumulative_grad": False}

_FIT_KEYS = ("steps", "k", "lr", "betas", "lam", "init_scale", "entropy", "cumulative_grad", "sample_batch")


@register("adt_exp")
class ADTExp(Method):
    """ADT_EXP (ADT Alg. 2): outer CE on one fresh sample of the per-example distributions fitted by Eq. (9)-(11)."""

    defaults = {"steps": 7, "k": 5, "lr": 0.3, "betas": (0.0, 0.0), "lam": 0.01, "init_scale": INIT_SCALE_CODE,
                "entropy": "mean", "cumulative_grad": True, "sample_batch": "auto"}

    def __init__(self, cfg, model) -> None:
        super().__init__(cfg, model)
        hp = self.hp
        if Norm.parse(cfg.norm) is not Norm.LINF:
            raise ValueError(f"{self.name} is defined for the linf threat model only (ADT Eq. 8), "
                             f"got norm {cfg.norm!r}")
        if not cfg.eps > 0:
            raise ValueError(f"{self.name} needs eps > 0, got {cfg.eps!r}")
        check_entropy(hp["entropy"], f"{self.name} entropy")
        if not isinstance(hp["cumulative_grad"], bool):
            raise ValueError(f"{self.name} option cumulative_grad must be True or False, got {hp['cumulative_grad']!r}")
        check_positive("steps", hp["steps"], integer=True, allow_zero=True)
        check_positive("k", hp["k"], integer=True)
        check_positive("lr", hp["lr"])
        check_positive("lam", hp["lam"], allow_zero=True)
        check_positive("init_scale", hp["init_scale"])
        if hp["sample_batch"] not in (None, "auto"):
            check_positive("sample_batch", hp["sample_batch"], integer=True)
        if len(hp["betas"]) != 2 or not all(0 <= float(b) < 1 for b in hp["betas"]):
            raise ValueError(f"betas must be two numbers in [0, 1), got {hp['betas']!r}")

    def fit_kwargs(self) -> dict:
        """The :func:`~advdist.samplers.fit_explicit` arguments of the inner loop."""
        kw = {key: self.hp[key] for key in _FIT_KEYS}
        kw["betas"] = tuple(float(b) for b in kw["betas"])
        kw["cumulative_grad"] = bool(kw["cumulative_grad"])
        return kw

    def fresh_sample(self, model, x, y, **extra):
        """Fit φ* (Alg. 2 lines 4-10) and draw one fresh x + δ per example; returns (x_adv, logs)."""
        eps = self.cfg.eps
        fit = fit_explicit(model, x, y, eps=eps, **self.fit_kwargs(), **extra)
        dist = fit.distribution(eps)
        with torch.no_grad():
            r = torch.randn_like(x)
            x_adv = (x + dist.rsample_from(r)).clamp(0.0, 1.0)
            logs = {"entropy": dist.entropy_estimate(r).mean().item(), "sigma": fit.scale.mean().item()}
        return x_adv, logs

    def loss(self, model, x, y):
        x_adv, logs = self.fresh_sample(model, x, y, loss="ce")
        logits = model(x_adv)  # train mode (the loop's; fit_explicit restored it)
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            logs["train_adv_acc"] = accuracy(logits, y)
        return loss, logs


@register("adt_exp_trades")
class ADTExpTrades(ADTExp):
    """ADT_EXP with the TRADES loss (ADT Sec. 5.4, App. D.2): outer CE(f(x), y) + β·KL(f(x) ‖ f(x + δ))."""

    defaults = {**ADTExp.defaults, "beta": 6.0, "inner_kl_weight": "beta"}

    def __init__(self, cfg, model) -> None:
        super().__init__(cfg, model)
        check_positive("beta", self.hp["beta"], allow_zero=True)
        if self.hp["inner_kl_weight"] not in ("beta", "one"):
            raise ValueError(f"unknown {self.name} inner_kl_weight {self.hp['inner_kl_weight']!r}; valid: beta, one")

    def loss(self, model, x, y):
        beta = float(self.hp["beta"])
        weight = beta if self.hp["inner_kl_weight"] == "beta" else 1.0
        x_adv, logs = self.fresh_sample(model, x, y, loss="trades", loss_weight=weight)
        logits_nat = model(x)
        logits_adv = model(x_adv)
        kl = F.kl_div(F.log_softmax(logits_adv, dim=1), F.softmax(logits_nat, dim=1), reduction="batchmean")
        loss = F.cross_entropy(logits_nat, y) + beta * kl
        with torch.no_grad():
            logs["train_acc"] = accuracy(logits_nat, y)
            logs["train_adv_acc"] = accuracy(logits_adv, y)
            logs["kl"] = kl.item()
        return loss, logs
