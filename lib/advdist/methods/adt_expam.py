"""ADT_EXP-AM: adversarial distributional training with amortised explicit distributions.

ADT (Dong et al., NeurIPS 2020), Sec. 3.2, App. A.2 (Eq. A.1, Alg. 3), App. C.2-C.3. A generator g_φ maps
[x, ∇ₓL(x), ∇ₓL(x_FGSM)] to the parameters (μ, σ) of the per-pixel tanh-Gaussian of Eq. (8),
δ = ε·tanh(μ + σ·r), r ~ N(0, I), and the classifier θ and the generator φ solve

    min_θ max_φ (1/n) Σ_i E_{p_φ(δ|x_i)}[L(f_θ(x_i + δ), y_i)] + λ·H(p_φ(δ|x_i))            (A.1)

by *simultaneous* stochastic gradient descent on θ and ascent on φ, with one reparameterised Monte-Carlo
sample per example (k = 1) and the entropy estimated by the negative log-density of Eq. (11). λ = 0.01
(Sec. 5 (C)); φ is optimised by Adam, lr 2e-4, betas (0.5, 0.999) (App. C.3).

One joint backward pass (the official code's gradient reversal): :meth:`ADTExpAM.loss` returns the
classifier's loss L(f_θ(x_adv), y) evaluated on a detached copy of x_adv = clip(x + δ, 0, 1) and hooks that
copy: when the training loop back-propagates the loss, the classifier's gradient is the *descent* direction
of L, and the hook receives g = ∂L/∂x_adv, pushes −g through the generator's graph together with the
gradient of −λ·H and takes the generator's Adam step, i.e. φ ascends L + λ·H. The generator steps once per
back-propagated loss, with gradients computed at the same (θ, φ) as the classifier's (simultaneous updates,
Alg. 3 lines 6-7). Its gradients stay in ``.grad`` until the next step (useful for inspection).

Generator inputs (App. C.2): g¹ = ∇ₓL(f(x), y), x_FGSM = clip(x + ε·sign g¹, 0, 1), g² = ∇ₓL(f(x_FGSM), y),
computed with the classifier frozen in eval mode (as the official code); the joint pass runs the classifier in
train mode (the loop's mode), the generator always in train mode (batch-statistics BatchNorm).

Options (``cfg.method_kwargs``), defaults first:

- ``lam`` = 0.01: λ of Eq. (A.1) (same name as in ``adt_exp``).
- ``entropy`` = ``"mean"`` (default, the official code: −log p(δ) of Eq. (11) averaged over the C·H·W pixels,
  constants dropped and ``+1e-8`` inside both logs, then averaged over the batch, like the loss) | ``"sum"``
  (Eq. 11 as printed, with λ in per-image units: summed over the d pixels with its constants ½ log 2π and
  log ε; λ = 0.01 there is λ·d = 7.84 on Fashion-MNIST, 30.72 on CIFAR-10 in the default's units). Why the
  default: the paper's numbers came from the code, and in the summed form the entropy saturates — the mini
  EXP-AM's entropy sat at −1.626 … −1.619 nats per coordinate for λ ≥ 0.01, at the tanh-Gaussian maximum
  −1.619 (near input-independent noise; A_rob 32.8 % against AT_PGD's 65.0 %, issue 14), whereas the paper's
  Fig. 5 has the entropy still growing with λ up to 1.
- ``input_grad`` = ``"example"`` (paper: g¹, g² are the per-example gradients ∇ₓL(f(x_i), y_i)) |
  ``"batch_mean"`` (official code: gradients of the batch-*mean* CE, i.e. divided by the batch size; they
  enter the generator raw, without normalisation, in both cases).
- ``width`` = 256: generator width (Table 7: 256-filter stem, 512-filter residual blocks); the CPU scales
  should pass a small width, e.g. 8-16. ``code_layout`` = False: True makes the third residual block end
  with ``width`` filters, as the official release (≈ 10.3 M parameters at width 256).
- ``lr_g`` = 2e-4, ``betas_g`` = (0.5, 0.999): the generator's Adam (App. C.3; the code's never-decaying
  LambdaLR is a constant).
- ``outer`` = ``"ce"`` | ``"trades"``: ADT+TRADES (Sec. 5.4, App. D.2): L is the TRADES loss
  CE(f(x), y) + β·KL(f(x) ‖ f(x + δ)) (KL summed over classes, averaged over the batch, both branches in
  train mode, as in Zhang et al.'s code), so the generator ascends β·KL + λ·H; ``beta`` = 6.0 (Table 5 uses
  1.0 and 6.0). The generator inputs stay the CE gradients (∇ₓKL vanishes at x).

``ADT_EXPAM_OFFICIAL`` holds the ``method_kwargs`` that reproduce the official release (the default objective plus
the code's batch-mean input gradients and layout); ``ADT_EXPAM_LITERAL`` the summed Eq. (11).

Logged per batch: ``train_adv_acc`` (on the generated samples), ``entropy`` (per-coordinate −log p of the
sample, Eq. 11 with all constants whatever ``entropy`` says — the same quantity ``adt_exp`` logs, ADT Fig. 5),
``sigma`` (mean σ); with ``outer="trades"`` also ``train_acc`` (clean) and ``kl``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from advdist import data
from advdist.attacks.core import frozen, input_grad
from advdist.methods.base import register
from advdist.methods.extra_networks import ExtraNetworksMethod
from advdist.methods.trades import kl_div
from advdist.models.generators import ExpAMGenerator
from advdist.runtime import accuracy
from advdist.samplers import TanhGaussian, check_entropy
from advdist.threat import Norm
from advdist.validate import option_betas, option_choice, option_number

INPUT_GRADS = ("example", "batch_mean")
OUTERS = ("ce", "trades")

#: ``method_kwargs`` of the official ``adt_expam.py`` behaviour (adt-official.md §2)
ADT_EXPAM_OFFICIAL = {"entropy": "mean", "input_grad": "batch_mean", "code_layout": True}
#: ``method_kwargs`` of the paper's Eq. (A.1) with Eq. (11) summed over the pixels, λ in per-image units
ADT_EXPAM_LITERAL = {"entropy": "sum"}


# ------------------------------------------------------------------------------------------------
# pieces shared with ADT_IMP-AM
# ------------------------------------------------------------------------------------------------
# the option checks of advdist.validate, under their old names here
_choice, _number, _betas = option_choice, option_number, option_betas


def image_shape(method: str, cfg) -> tuple[int, int, int]:
    """(C, H, W) of the run's dataset; ADT's generators need images and the ℓ∞ threat model (Sec. 2.1)."""
    if Norm.parse(cfg.norm) is not Norm.LINF:
        raise ValueError(f"{method} is defined for the linf threat model only (ADT Sec. 2.1, δ = ε·tanh(·)); "
                         f"got norm={cfg.norm!r}")
    shape = tuple(data.info(cfg.dataset).input_shape)
    if len(shape) != 3:
        raise ValueError(f"{method} needs image data (C, H, W); dataset {cfg.dataset!r} has input shape {shape}")
    return shape  # type: ignore[return-value]


def generator_inputs(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                     input_grad_mode: str = "example") -> torch.Tensor:
    """[x, g¹, g²] of ADT App. C.2, shape (B, 3C, H, W): g¹ = ∇ₓL(f(x), y), g² = ∇ₓL(f(x_FGSM), y) at
    x_FGSM = clip(x + ε·sign g¹, 0, 1), L = cross-entropy, the classifier frozen in eval mode (official code).

    ``input_grad_mode="example"``: per-example gradients (of the summed CE, paper); ``"batch_mean"``: gradients
    of the batch-mean CE, i.e. divided by B (official code). No normalisation either way.
    """
    option_choice("generator_inputs", "input_grad", input_grad_mode, INPUT_GRADS)
    reduction = "sum" if input_grad_mode == "example" else "mean"
    x = x.detach()
    with frozen(model), torch.enable_grad():
        x0 = x.clone().requires_grad_(True)
        g1 = input_grad(F.cross_entropy(model(x0), y, reduction=reduction), x0)
        x1 = (x + eps * g1.sign()).clamp(0.0, 1.0).requires_grad_(True)
        g2 = input_grad(F.cross_entropy(model(x1), y, reduction=reduction), x1)
    return torch.cat([x, g1, g2], dim=1)


def outer_loss(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, *,
               outer: str = "ce", beta: float = 6.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss L the classifier minimises on the generated samples, and its logs (``train_adv_acc``; with
    TRADES also the clean ``train_acc`` and ``kl``).

    ``"ce"``: CE(f(x_adv), y) (ADT Eq. A.1/A.3 with L = cross-entropy). ``"trades"``: CE(f(x), y) +
    β·(1/B)·Σ_i KL(p(x_i) ‖ p(x_adv,i)) (Zhang et al. 2019; ADT Sec. 5.4, App. D.2), gradient through both;
    the KL is :func:`advdist.methods.trades.kl_div` (computed in float32).
    """
    option_choice("outer_loss", "outer", outer, OUTERS)
    logits_adv = model(x_adv)
    logs = {}
    if outer == "ce":
        loss = F.cross_entropy(logits_adv, y)
    else:
        logits_nat = model(x)
        kl = kl_div(logits_nat, logits_adv)
        loss = F.cross_entropy(logits_nat, y) + beta * kl
        logs = {"train_acc": accuracy(logits_nat, y), "kl": kl.item()}
    logs["train_adv_acc"] = accuracy(logits_adv, y)
    return loss, logs


def attach_ascent(x_in: torch.Tensor, x_adv: torch.Tensor, extra: torch.Tensor | None,
                  optimizers: list[torch.optim.Optimizer]) -> None:
    """Gradient reversal for the simultaneous descent-ascent of ADT Alg. 3/4 (lines 6-8).

    ``x_in`` is the detached leaf the classifier's loss was computed on, ``x_adv`` the same tensor with the
    generator's graph. When the loss is back-propagated, the hook gets g = ∂L/∂x_adv and back-propagates −g
    through ``x_adv`` plus ``extra`` (a scalar the generator side *minimises*, e.g. −λ·H) into the generator
    (and q), then steps ``optimizers``. So φ (ψ) descends −L + extra while θ descends L in the same pass.
    """
    def hook(g: torch.Tensor) -> None:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        tensors, grads = [x_adv], [-g]
        if extra is not None:
            tensors.append(extra)
            grads.append(torch.ones_like(extra))
        torch.autograd.backward(tensors, grads)
        for opt in optimizers:
            opt.step()

    x_in.register_hook(hook)


def tanh_gaussian_neg_log_density(mu: torch.Tensor, sigma: torch.Tensor, r: torch.Tensor, eps: float, *,
                                  form: str = "mean") -> torch.Tensor:
    """Per-example −log p(δ) of δ = ε·tanh(μ + σ·r) (ADT Eq. 11, App. B.2), shape (B,), via
    :class:`advdist.samplers.TanhGaussian`. Its batch mean estimates H(p_φ(δ|x)) (Eq. 10, k = 1).

    ``"mean"`` (official code): the *mean* over the pixels of r²/2 + log(σ + 1e-8) + log(1 − tanh²u + 1e-8),
    constants dropped. ``"sum"`` (Eq. 11 as printed): Σ_j r_j²/2 + ½ log 2π + log σ_j + log(1 − tanh²u_j) + log ε
    over the pixels (exact and finite for any u).
    """
    check_entropy(form, "tanh_gaussian_neg_log_density form")
    density = "paper" if form == "sum" else "code"
    nlp = TanhGaussian(mu, sigma, eps, validate_args=False).neg_log_prob_from_noise(r, density).flatten(1)
    return nlp.sum(1) if form == "sum" else nlp.mean(1)


# ------------------------------------------------------------------------------------------------
@register("adt_expam")
class ADTExpAM(ExtraNetworksMethod):
    """ADT_EXP-AM (ADT Sec. 3.2, Eq. A.1, Alg. 3): amortised explicit tanh-Gaussian adversarial distributions;
    options and paper-vs-code choices in the module docstring."""

    extra = ("generator", "opt_g")
    defaults = {"lam": 0.01, "entropy": "mean", "input_grad": "example", "width": 256, "code_layout": False,
                "lr_g": 2e-4, "betas_g": (0.5, 0.999), "outer": "ce", "beta": 6.0}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        hp, name = self.hp, self.name
        c, _, _ = image_shape(name, cfg)
        if cfg.eps <= 0:
            raise ValueError(f"{name} needs eps > 0 (δ = ε·tanh(u), Eq. 8), got {cfg.eps!r}")
        option_number(name, "lam", hp["lam"])
        option_number(name, "beta", hp["beta"])
        check_entropy(hp["entropy"], f"{name} option entropy")
        option_choice(name, "input_grad", hp["input_grad"], INPUT_GRADS)
        option_choice(name, "outer", hp["outer"], OUTERS)
        option_choice(name, "code_layout", hp["code_layout"], (False, True))
        self.generator = ExpAMGenerator(c, width=hp["width"], code_layout=hp["code_layout"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(),
                                      lr=option_number(name, "lr_g", hp["lr_g"], positive=True),
                                      betas=option_betas(name, "betas_g", hp["betas_g"]))

    # -- the distribution ------------------------------------------------------------------------
    def inputs(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Generator inputs [x, g¹, g²] (App. C.2), classifier frozen in eval mode."""
        return generator_inputs(model, x, y, self.cfg.eps, input_grad_mode=self.hp["input_grad"])

    def sample(self, x: torch.Tensor, inp: torch.Tensor, r: torch.Tensor | None = None, *,
               stats: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One reparameterised sample per example (Eq. 8, k = 1): ``(x_adv, neg_log_p)`` with
        x_adv = clip(x + ε·tanh(μ + σ·r), 0, 1) and the per-example −log p(δ) of Eq. (11) (option ``entropy``),
        both differentiable w.r.t. the generator. Generator in train mode; r from the global RNG unless given.
        A ``stats`` dict receives ``entropy`` (per-coordinate Eq. 11 with all constants, whatever the option;
        as ``adt_exp`` logs it, ADT Fig. 5) and ``sigma`` (mean σ)."""
        self.generator.train()
        mu, sigma = self.generator(inp)
        delta, _, r = ExpAMGenerator.sample(mu, sigma, self.cfg.eps, r)
        nlp = tanh_gaussian_neg_log_density(mu, sigma, r, self.cfg.eps, form=self.hp["entropy"])
        if stats is not None:
            with torch.no_grad():
                per_coord = nlp / mu[0].numel() if self.hp["entropy"] == "sum" else \
                    tanh_gaussian_neg_log_density(mu, sigma, r, self.cfg.eps, form="sum") / mu[0].numel()
                stats.update(entropy=per_coord.mean().item(), sigma=sigma.mean().item())
        return (x + delta).clamp(0.0, 1.0), nlp

    # -- one training step -----------------------------------------------------------------------
    def loss(self, model, x, y):
        inp = self.inputs(model, x, y)
        stats: dict[str, float] = {}
        x_adv, nlp = self.sample(x, inp, stats=stats)
        x_in = x_adv.detach().requires_grad_(True)
        loss, logs = outer_loss(model, x, x_in, y, outer=self.hp["outer"], beta=self.hp["beta"])
        lam = float(self.hp["lam"])
        attach_ascent(x_in, x_adv, -lam * nlp.mean() if lam else None, [self.opt_g])
        return loss, {**logs, **stats}
