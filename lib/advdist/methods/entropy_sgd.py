"""Entropy-SGD (Chaudhari et al. 2019), as the ATENT paper states it (ATENT App. B.2, Alg. 3, Eq. 16).

Local entropy F(w) = −log ∫ exp(−L(w') − (γ/2)‖w − w'‖²) dw' has the gradient ∇F(w) = γ·(w − E_{p(w'|w)}[w'])
(ATENT App. B.2). Per batch, Alg. 3 estimates the mean μ of p(w'|w) by K SGLD steps on a copy w' of the weights
(lines 4-9), started at w' = μ = w:

    w' ← w' + η'·( −∇L(w') + γ·(w − w') ) + √(2η')·ε·N(0, I),      μ ← (1 − α)·μ + α·w',

and the outer step is w ← w − η·γ·(w − μ) (line 11). The training loop does one SGD step on the loss a method
returns, so :class:`EntropySGD` returns the surrogate ⟨g, w⟩ with g = γ·(w − μ) detached: its gradient is
exactly the Entropy-SGD outer gradient, and the loop's SGD (momentum, weight decay, schedule) applies it.
The inner chain uses the same batch for every step (Alg. 3 line 6); BatchNorm buffers are those of the model.

Options (official code ``ucla-vision/entropy-sgd`` ``python/optim.py``, atld-atent-baselines.md §C.6):
``outer="code"`` drops γ from the outer gradient (g = w − μ); ``alpha`` = 0.75 is Chaudhari's EMA weight of the
new iterate (the code's β1 = 0.75 weights the *old* μ, i.e. ``alpha=0.25``); ``scoping`` γ_t = γ·(1 + scoping)^t
per batch t (Chaudhari Sec. 4.3; 0 = constant γ as in ATENT's Alg. 3). Defaults are ATENT App. A.1's MNIST
settings: K = 5 Langevin steps, γ = 1e-3; η' = 0.1 and noise ε = 1e-4 (Chaudhari's README for MNIST). The code's
inner Nesterov momentum and weight decay are not implemented.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call

from advdist.methods.base import Method, register


def local_entropy_grad(loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor], params: dict[str, torch.Tensor],
                       *, steps: int, step_size: float, gamma: float, alpha: float = 0.75, noise: float = 0.0,
                       outer: str = "paper") -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], float]:
    """Entropy-SGD outer gradient γ·(w − μ) by K SGLD steps (ATENT Alg. 3 lines 4-11; Chaudhari et al. Alg. 1).

    ``loss_fn(params) -> scalar`` is the minibatch loss at the given weights. Returns (gradient per parameter,
    μ per parameter, loss at w). ``outer="code"`` returns w − μ (no γ), as the official optimiser does.
    """
    if outer not in ("paper", "code"):
        raise ValueError(f"unknown outer {outer!r}; valid: paper, code")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    w = {k: v.detach() for k, v in params.items()}
    wp = {k: v.clone() for k, v in w.items()}
    mu = {k: v.clone() for k, v in w.items()}
    sd = math.sqrt(2.0 * step_size) * noise
    first_loss = float("nan")
    for i in range(int(steps)):
        wq = {k: v.requires_grad_(True) for k, v in wp.items()}
        with torch.enable_grad():
            loss = loss_fn(wq)
            grads = torch.autograd.grad(loss, list(wq.values()))
        if i == 0:
            first_loss = loss.item()
        with torch.no_grad():
            for (k, v), g in zip(wq.items(), grads):
                new = v.detach() + step_size * (-g + gamma * (w[k] - v.detach()))
                if sd:
                    new = new + sd * torch.randn_like(new)
                wp[k] = new
                mu[k] = (1.0 - alpha) * mu[k] + alpha * new
    scale = gamma if outer == "paper" else 1.0
    return {k: scale * (w[k] - mu[k]) for k in w}, mu, first_loss


@register("entropy_sgd")
class EntropySGD(Method):
    """Entropy-SGD (ATENT Alg. 3). Options: ``steps`` K (5), ``step_size`` η' (0.1), ``gamma`` γ (1e-3),
    ``alpha`` (0.75), ``noise`` ε (1e-4), ``outer`` ("paper": γ·(w − μ); "code": w − μ), ``scoping`` (0)."""

    defaults = {"steps": 5, "step_size": 0.1, "gamma": 1e-3, "alpha": 0.75, "noise": 1e-4, "outer": "paper",
                "scoping": 0.0}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        self.t = 0

    def loss(self, model, x, y):
        params = dict(model.named_parameters())
        buffers = dict(model.named_buffers())

        def loss_fn(p):
            return F.cross_entropy(functional_call(model, (p, buffers), (x,)), y)

        gamma = float(self.hp["gamma"]) * (1.0 + float(self.hp["scoping"])) ** self.t
        grads, _, loss0 = local_entropy_grad(loss_fn, params, steps=self.hp["steps"], step_size=self.hp["step_size"],
                                             gamma=gamma, alpha=self.hp["alpha"], noise=self.hp["noise"],
                                             outer=self.hp["outer"])
        self.t += 1
        surrogate = sum((grads[k] * p).sum() for k, p in params.items())
        return surrogate, {"train_loss": loss0, "gamma": gamma}

    def state_dict(self):
        return {"t": self.t}

    def load_state_dict(self, state):
        self.t = int(state.get("t", 0)) if state else 0
