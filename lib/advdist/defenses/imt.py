"""Inference with Manifold Transformation (IMT, IMT+), ATLD Sec. 4.2, Eq. (8), App. B.5 (Fig. 5), as ``nn.Module``s.

IMT moves a test input toward the natural side of the trained discriminator before classifying it:

    r* = argmin_{‖r‖∞ ≤ ε} log D_adv(f(x + r))                                                         (8)

(D_adv = P(adversarial) in the paper; with our P(natural) convention D⁰ this is argmin −log D⁰(f(x + r))). Like the
LMAE it is solved by one signed step (supplementary Eq. B.18/B.19):

    x_t = Π_{B(x, ε) ∩ [0,1]}(x − s·m(x)·sign(∇_x(−log D⁰(f(x))))),    prediction = argmax f(x_t),

with step s = ε (paper; the official code uses 4 × the attack's step, which is ε for PGD/CW and 4ε, clipped to ε,
for FGSM) and m(x) = 1 (IMT, "ATLD-IMT"). IMT+ ("ATLD-IMT+", Sec. 5.1) halves the step, m(x) = 0.5, when the
discriminator's output lies in the band [0.3, 0.7] (the band is symmetric, so it reads the same in either
convention). The projection radius is ε in both (the CIFAR-10 code; its CIFAR-100/SVHN scripts use ε·m — equal
for one step of s ≤ ε). Classifier and discriminator are used in eval mode, the class head is unused (code).

Because :class:`IMT` is an ``nn.Module`` whose ``forward`` returns logits, every attack in :mod:`advdist.attacks`
can target the *wrapped* model end to end (Athalye et al. 2018: attack the whole defence):

- ``grad="bpda"`` (default): BPDA with the identity (Athalye et al. 2018, Sec. 4.1): x_t = x + stop_grad(x_t − x),
  so ∂x_t/∂x = I and the attacker's gradient is ∇f at x_t. The IMT step s·m(x)·sign(·) is piecewise constant in x
  (sign and the band mask have zero derivative a.e.), so this equals the exact gradient wherever the box [0, 1]
  does not clip x_t.
- ``grad="exact"``: autograd through the projection with the step detached — the exact gradient a.e., which is 0
  on coordinates clipped by the box (on digits/Fashion-MNIST many pixels sit at 0 and IMT's step clips them, so
  this gradient is weaker: PGD through it fell short of the non-adaptive attack on a smoke model).
- ``grad="tanh"``: a smooth surrogate (BPDA with a differentiable approximation): sign(g) is replaced by
  tanh(g/τ) with g normalised per example by its mean |g|, ``tau`` = 0.1, and the graph is kept (double backward),
  so the attacker also sees how the transformation moves with x.
- ``grad="none"``: the IMT perturbation is detached *and* x_t is made constant (no gradient at all: the
  "obfuscated" baseline; an attack on it degenerates — used only to show why adaptive attacks matter).

IMT is deterministic, so EOT (expectation over transformation) is not needed; :func:`eot_wrap` is provided for
randomised variants (e.g. the code's random start) and averages logits over ``samples`` calls.

Controls (:func:`imt_transform` ``direction``; :mod:`advdist.analysis.discriminator`): ``"discriminator"`` (IMT),
``"flipped"`` (−sign: toward the discriminator's *adversarial* side) and ``"random"`` (a random sign per coordinate,
same step and projection). If a random step of the same size helps as much as D's, D's direction carries nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from advdist.attacks.core import check_eps, project
from advdist.methods.atld import ATLD, load_discriminator

__all__ = ["IMT", "imt_transform", "build_imt", "eot_wrap", "GRADS", "IMT_PLUS_BAND", "DIRECTIONS"]

GRADS = ("bpda", "exact", "tanh", "none")
#: IMT's step direction: the discriminator's (IMT), its opposite, or a random sign per coordinate (controls)
DIRECTIONS = ("discriminator", "flipped", "random")
#: IMT+ halves the step when P(natural) lies in this closed band (ATLD Sec. 5.1)
IMT_PLUS_BAND = (0.3, 0.7)


def _latent(classifier: nn.Module, disc_input: str):
    if disc_input not in ("features", "logits"):
        raise ValueError(f"unknown disc_input {disc_input!r}; valid: 'features', 'logits'")
    return classifier.features if disc_input == "features" else classifier


def imt_transform(classifier: nn.Module, disc: nn.Module, x: torch.Tensor, *, eps: float, step: float | None = None,
                  band: tuple[float, float] | None = None, band_factor: float = 0.5, disc_input: str = "features",
                  grad: str = "bpda", tau: float = 0.1, direction: str = "discriminator",
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t of ATLD Eq. (8) by one signed step (see the module docstring); returns (x_t, P(natural) at x).

    ``band=None``: IMT (m ≡ 1); ``band=(lo, hi)``: IMT+ (m = ``band_factor`` where lo ≤ D⁰ ≤ hi). ``step``
    defaults to ε. Both networks must already be in the mode wanted (eval at inference). ``grad`` selects how
    gradients flow from x_t back to x (``"bpda"`` | ``"exact"`` | ``"tanh"`` | ``"none"``). ``direction``: the
    discriminator's sign (IMT), ``"flipped"`` or ``"random"`` (signs drawn from ``generator``, a CPU generator;
    controls of :mod:`advdist.analysis.discriminator`; not with ``grad="tanh"``).
    """
    eps = check_eps(eps, "linf")
    if grad not in GRADS:
        raise ValueError(f"unknown grad mode {grad!r}; valid: {', '.join(GRADS)}")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown IMT direction {direction!r}; valid: {', '.join(DIRECTIONS)}")
    if grad == "tanh" and direction != "discriminator":
        raise ValueError(f"grad='tanh' smooths the discriminator's direction; direction={direction!r} "
                         f"needs another grad")
    s = eps if step is None else float(step)
    feat = _latent(classifier, disc_input)
    view = (-1,) + (1,) * (x.dim() - 1)
    with torch.enable_grad():
        if grad == "tanh":
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
        else:
            xg = x.detach().requires_grad_(True)
        logit, _ = disc(feat(xg))
        p_nat = torch.sigmoid(logit)
        nll = -F.logsigmoid(logit).sum()            # Σ −log D⁰(f(x))
        (g,) = torch.autograd.grad(nll, xg, create_graph=(grad == "tanh"))
    if band is None:
        m = torch.ones_like(p_nat)
    else:
        lo, hi = band
        inside = (p_nat >= lo) & (p_nat <= hi)
        m = torch.where(inside, torch.full_like(p_nat, band_factor), torch.ones_like(p_nat))
    m = m.detach().view(view)
    if grad == "tanh":
        scale = g.flatten(1).abs().mean(1).view(view).detach() + 1e-12
        direction = torch.tanh(g / (scale * tau))
        x_t = project(x - s * m * direction, x, eps, "linf")
    else:
        sign = g.sign()
        if direction == "flipped":
            sign = -sign
        elif direction == "random":
            sign = (torch.randint(0, 2, g.shape, generator=generator) * 2 - 1).to(g.device, g.dtype)
        x_t = project(x.detach() - s * m * sign, x.detach(), eps, "linf")
        if grad == "bpda":
            x_t = x + (x_t - x).detach()      # straight-through: ∂x_t/∂x = I everywhere
        elif grad == "exact":
            x_t = project(x - (s * m * sign).detach(), x, eps, "linf")  # autograd through the projection
        else:
            x_t = x_t.detach()
    return x_t, p_nat.detach()


class IMT(nn.Module):
    """ATLD-IMT / ATLD-IMT+ (Sec. 4.2, Eq. (8); Sec. 5.1) as a classifier: ``forward(x) = f(x_t)`` (logits).

    ``plus=True`` uses the IMT+ band :data:`IMT_PLUS_BAND`. Wraps a trained classifier and its ATLD discriminator
    (:func:`advdist.methods.atld.load_discriminator`); any attack can target it (module docstring: ``grad``).
    ``features`` / ``fc`` are those of the classifier evaluated at x_t, so feature-space attacks work too.
    """

    def __init__(self, classifier: nn.Module, disc: nn.Module, *, eps: float, step: float | None = None,
                 plus: bool = False, band: tuple[float, float] | None = None, band_factor: float = 0.5,
                 disc_input: str = "features", grad: str = "bpda", tau: float = 0.1):
        super().__init__()
        self.classifier, self.disc = classifier, disc
        self.eps, self.step, self.disc_input, self.grad, self.tau = check_eps(eps, "linf"), step, disc_input, grad, tau
        self.band = band if band is not None else (IMT_PLUS_BAND if plus else None)
        self.band_factor = band_factor
        if grad not in GRADS:
            raise ValueError(f"unknown grad mode {grad!r}; valid: {', '.join(GRADS)}")

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """x_t (Eq. (8), one step) with the wrapper's settings."""
        return imt_transform(self.classifier, self.disc, x, eps=self.eps, step=self.step, band=self.band,
                             band_factor=self.band_factor, disc_input=self.disc_input, grad=self.grad,
                             tau=self.tau)[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features of the classifier at x_t (ATLD Eq. (8))."""
        return self.classifier.features(self.transform(x))

    @property
    def fc(self) -> nn.Module:
        return self.classifier.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits f(x_t): the ATLD-IMT(+) prediction (Sec. 4.2, App. B.5 Fig. 5)."""
        return self.classifier(self.transform(x))

    def with_grad(self, grad: str) -> "IMT":
        """A copy sharing the networks with another gradient mode (``"bpda"``, ``"exact"``, ``"tanh"``, ``"none"``)."""
        return IMT(self.classifier, self.disc, eps=self.eps, step=self.step, band=self.band,
                   band_factor=self.band_factor, disc_input=self.disc_input, grad=grad, tau=self.tau)


def build_imt(run, model: nn.Module | None = None, *, plus: bool = False, eps: float | None = None,
              grad: str = "bpda", device: str | torch.device = "cpu") -> IMT:
    """IMT / IMT+ around the classifier and discriminator of a finished ATLD ``run`` (eval mode).

    ``eps`` defaults to the run's training ε (the paper uses the same ε = 8/255 for training and IMT).
    """
    if model is None:
        model = run.load_model(device)
    disc = load_discriminator(run, model, device=device)
    imt = IMT(model, disc, eps=run.config.eps if eps is None else eps, plus=plus,
              disc_input={**ATLD.defaults, **run.config.method_kwargs}["disc_input"], grad=grad)
    return imt.to(device).eval()


class _EOT(nn.Module):
    def __init__(self, model: nn.Module, samples: int):
        super().__init__()
        self.model, self.samples = model, int(samples)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.model(x) for _ in range(self.samples)]).mean(0)


def eot_wrap(model: nn.Module, samples: int = 8) -> nn.Module:
    """Expectation over transformation (Athalye et al. 2018, Sec. 4.3): logits averaged over ``samples`` calls of a
    randomised defence, so an attack's gradient estimates that of the expected logits."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples!r}")
    return _EOT(model, samples)
