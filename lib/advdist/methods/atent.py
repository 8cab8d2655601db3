"""ATENT: adversarial training with entropic regularisation (Jagatap et al.), ℓ2 (Alg. 1) and ℓ∞ (Alg. 2).

Per batch (ATENT Alg. 1-2): K Langevin samples x'_1 … x'_K of the data-entropy density (Eq. 4 / Eq. 12) by
:func:`advdist.samplers.langevin_chain`; the per-step batch losses μ_k = CE(f(x'_k), y) are averaged
exponentially, μ ← (1 − α)·μ + α·μ_k from μ = 0 (line 10; weights :func:`advdist.samplers.ema_weights`:
the newest sample gets α = 0.9); one weight update on ∇_w μ (lines 12-13) — the loss returned to the loop.
The K forward passes that build μ run in train mode on the detached samples (the samples are not
differentiated through, as in Alg. 1-2 and the code).

Defaults are the paper's MNIST settings (§4.1): ℓ∞ (Table 2) K = 40, η' = 0.01 at ε = 0.3 (``step_ratio`` =
η'/ε = 1/30), noise ε = 1e-3, γ = 3.33 = 1/ε i.e. projection radius ε, projection at the K-th step only; ℓ2
(Table 1) K = 40, η' = 0.25 at ε2 = 2 (``step_ratio`` 0.125), γ = 1/ε (see :class:`ATENTL2`: the paper's stated
criterion ‖X'^K − X‖ ≈ ε; its γ = 0.05 belongs with the code's pull), noise 1e-3, no projection. Options
reproducing the official notebooks (atld-atent-baselines.md §C.3): MNIST-ℓ∞ code ``steps=80, noise=1e-4,
projection="every", init="corner"``; ℓ2 code ``pull="code", init="sphere", projection="every"``; ``model_mode=
"train"`` samples in train mode as the code does. ``ema_terms`` (None = all K, the paper) keeps only the newest
terms of the average (their weights unchanged) to save forward passes: the dropped weights are ≤ (1 − α)^n.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.attacks.core import frozen
from advdist.methods.base import Method, register
from advdist.runtime import accuracy
from advdist.samplers.langevin import ema_weights, langevin_chain
from advdist.threat import Norm


class _ATENT(Method):
    norm = Norm.LINF

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        if Norm.parse(cfg.norm) is not self.norm:
            raise ValueError(f"{self.name} needs cfg.norm={self.norm.value!r} (its ε is read as that norm), "
                             f"got {cfg.norm!r}")

    def samples(self, model, x, y):
        """The K Langevin samples of ATENT Alg. 1-2 lines 6-8 for this batch."""
        hp, eps = self.hp, self.cfg.eps
        return langevin_chain(model, x, y, norm=self.norm, steps=hp["steps"], step_size=hp["step_ratio"] * eps,
                              noise=hp["noise"], gamma=1.0 / eps if hp["gamma"] is None else hp["gamma"],
                              radius=eps * hp["radius_ratio"],
                              projection=hp["projection"], init=hp["init"], direction=hp["direction"],
                              pull=hp["pull"], model_mode=hp["model_mode"],
                              clamp=None if hp["unbounded"] else (0.0, 1.0))

    def loss(self, model, x, y):
        xs = self.samples(model, x, y)
        w = ema_weights(len(xs), self.hp["alpha"]).tolist()
        n = self.hp["ema_terms"]
        first = 0 if n is None else max(0, len(xs) - int(n))
        loss = 0.0
        for k in range(first, len(xs)):
            logits = model(xs[k])
            loss = loss + w[k] * F.cross_entropy(logits, y)
        with torch.no_grad(), frozen(model):   # clean accuracy for the curves of ATENT Fig. 3 (eval mode: BN untouched)
            clean = accuracy(model(x), y)
        with torch.no_grad():
            acc = accuracy(logits, y)
            dist = self.norm.size(xs[-1] - x).mean().item()
        return loss, {"train_acc": clean, "train_adv_acc": acc, "train_dist": dist}


@register("atent_linf")
class ATENTLinf(_ATENT):
    """ℓ∞-ATENT (ATENT Alg. 2, Eq. 14). Options: ``steps`` K, ``step_ratio`` η'/ε, ``noise`` ε, ``alpha`` (EMA),
    ``radius_ratio`` (projection radius 1/γ as a multiple of ε), ``projection`` ("last" | "every" | "never"),
    ``init``, ``direction``, ``model_mode``, ``ema_terms``, ``unbounded`` (no [0, 1] clamp: the 2-D toy);
    ``gamma``/``pull`` unused for ℓ∞ (kept for a common signature)."""

    norm = Norm.LINF
    defaults = {"steps": 40, "step_ratio": 1 / 30, "noise": 1e-3, "alpha": 0.9, "gamma": 0.0, "radius_ratio": 1.0,
                "projection": "last", "init": "normal", "direction": "steepest", "pull": "paper",
                "model_mode": "eval", "ema_terms": None, "unbounded": False}


@register("atent_l2")
class ATENTL2(_ATENT):
    """ℓ2-ATENT (ATENT Alg. 1, Eq. 9). Options as :class:`ATENTLinf`, plus ``gamma`` (γ of the pull) and ``pull``
    ("paper": η'·γ·(x − x') as in Eq. 9; "code": γ·(x − x')).

    ``gamma=None`` (default) is 1/ε: App. A.2 "we choose the value of γ such that ‖X'^K − X‖ ≈ ε2", and with
    steepest-ascent steps of length η' against the pull η'·γ·d the chain settles at distance d = 1/γ. The paper's
    γ = 0.05 meets that criterion only with the code's pull (d = η'/γ: 0.125/0.05 = 2.5 ≈ 2 on MNIST,
    0.02175/0.05 = 0.435 = ε on CIFAR-10); with Eq. 9's η'·γ it would put samples at distance 20. The code's
    recipe: ``gamma=0.05, pull="code"`` (plus ``init="sphere", projection="every"`` on MNIST)."""

    norm = Norm.L2
    defaults = {"steps": 40, "step_ratio": 0.125, "noise": 1e-3, "alpha": 0.9, "gamma": None, "radius_ratio": 1.0,
                "projection": "never", "init": "normal", "direction": "steepest", "pull": "paper",
                "model_mode": "eval", "ema_terms": None, "unbounded": False}
