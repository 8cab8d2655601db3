"""TRADES with Gaussian noise ("TRADES smoothing", Blum, Dick, Manoj & Zhang, JMLR 2020), ATENT Table 5's baseline.

ATENT App. A.2 / Table 4 train the "TRADES (smooth)" ResNet-20 at ε₂ = 0.435 with σ = 0.12 and certify it with
randomized smoothing at σ = 0.12 (Table 5). Blum et al. (their README and ``code/trades.py``, ``train_trades.py``)
minimise

    E_{x,y} E_{η ~ N(0, σ²I)} [ CE(f(x + η), y) + β·max_{x' ∈ B₂(x, ε)} KL(p(x + η) ‖ p(x' + η)) ],   p = softmax ∘ f

with one noise draw η per batch shared by the natural and the adversarial input (the noise is not clipped; x' is
kept in [0, 1]). Inner maximisation: x' ← x + 0.001·N(0, I), then K steps of x' ← Π_{B(x,ε) ∩ [0,1]}(x' +
α·g/‖g‖₂), g = ∇_{x'} Σ KL(p(x + η) ‖ p(x' + η)) with p(x + η) fixed and the classifier in eval mode (their code:
SGD on δ with lr 2ε/K on the renormalised gradient, then clip and renorm — the same step). Outer loss in train mode,
KL summed over the batch and divided by B. Defaults: β = 6, K = 10, α = 2ε/K (``alpha_ratio`` = 0.2), σ = 0.12.
For ℓ∞ (``cfg.norm == "linf"``) the steps are sign steps with a box projection (their ℓ∞ branch).

A separate module (not an option of :mod:`advdist.methods.trades`) so that TRADES' own runs keep their keys.
"""

from __future__ import annotations

import torch

from advdist.attacks.core import check_eps, frozen, input_grad, normalize_step, project
from advdist.methods.base import Method, register
from advdist.methods.trades import kl_div, trades_objective


def trades_smooth_adversarial(model: torch.nn.Module, x: torch.Tensor, noise: torch.Tensor, *, eps: float,
                              alpha: float, steps: int, norm: str = "l2", start_std: float = 0.001) -> torch.Tensor:
    """argmax_{x' ∈ B(x, ε) ∩ [0,1]} KL(p(x + η) ‖ p(x' + η)) by K normalised-gradient (ℓ2) or sign (ℓ∞) steps from
    x + ``start_std``·N(0, I); ``noise`` = η. The model is frozen in eval mode (restored)."""
    eps = check_eps(eps, norm)
    x, noise = x.detach(), noise.detach()
    with frozen(model):
        with torch.no_grad():
            logits_nat = model(x + noise)
        x_adv = x + start_std * torch.randn_like(x)
        for _ in range(int(steps)):
            xg = x_adv.detach().requires_grad_(True)
            with torch.enable_grad():
                g = input_grad(kl_div(logits_nat, model(xg + noise), reduction="sum"), xg)
            x_adv = project(xg.detach() + alpha * normalize_step(g, norm), x, eps, norm)
    return project(x_adv.detach(), x, eps, norm)


@register("trades_smooth")
class TRADESSmooth(Method):
    """TRADES smoothing (Blum et al. 2020; ATENT Table 5 "TRADES (smooth)"): TRADES on inputs with one Gaussian noise
    draw η ~ N(0, σ²I) per batch shared by x and x'. Options: ``beta`` (6), ``steps`` K (10), ``alpha_ratio`` α/ε
    (0.2 = 2/K, Blum et al.'s lr), ``start_std`` (0.001), ``noise_sd`` σ (0.12)."""

    defaults = {"beta": 6.0, "steps": 10, "alpha_ratio": 0.2, "start_std": 0.001, "noise_sd": 0.12}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        if not float(self.hp["noise_sd"]) >= 0:
            raise ValueError(f"trades_smooth option noise_sd must be >= 0, got {self.hp['noise_sd']!r}")

    def noise(self, x: torch.Tensor) -> torch.Tensor:
        """η = σ·N(0, I), one draw for the batch (global torch RNG)."""
        return float(self.hp["noise_sd"]) * torch.randn_like(x)

    def adversarial(self, model, x, y=None, noise=None):
        """The inner maximiser x' for this batch and noise η (drawn when not given; labels unused)."""
        eps = self.cfg.eps
        noise = self.noise(x) if noise is None else noise
        return trades_smooth_adversarial(model, x, noise, eps=eps, alpha=eps * self.hp["alpha_ratio"],
                                         steps=self.hp["steps"], norm=self.cfg.norm, start_std=self.hp["start_std"])

    def loss(self, model, x, y):
        noise = self.noise(x)
        x_adv = self.adversarial(model, x, y, noise)
        return trades_objective(model(x + noise), model(x_adv + noise), y, float(self.hp["beta"]))
