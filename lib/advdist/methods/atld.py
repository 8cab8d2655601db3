"""ATLD: adversarial training with latent distribution (ICLR 2021 submission, Sec. 4.1, Eq. (6)-(7), Fig. 2).

A classifier f_θ and a latent discriminator D_W (:mod:`advdist.models.discriminator`, 1 + C outputs) play

    min_θ Σ_i L(x_i^adv, y_i; θ) + sup_W Σ_i [L⁰_d] + min_W Σ_i [l(D^{1:C}(f(x_i)), y_i) + l(D^{1:C}(f(x_i^adv)), y_i)]
    s.t. x_i^adv = argmax_{x' ∈ B(x_i, ε)} L⁰_d(x'),                                                        (7)

with the manifold loss, in our P(natural) convention for D⁰ (the paper's "(1 − log D)" is a typo for log(1 − D);
atld-atent-baselines.md §A.1):

    L⁰_d(x', x) = log(1 − D⁰(f(x'))) + log D⁰(f(x)) = −BCE(D⁰(f(x')), 0) − BCE(D⁰(f(x)), 1).

Per batch (:meth:`ATLD.loss`):

1. **LMAE** (the adversarial example, unsupervised): one ℓ∞ step on L⁰_d w.r.t. x',
   x^adv = Π_{B(x,ε) ∩ [0,1]}(x' + α·sign(∇_{x'} log(1 − D⁰(f(x'))))), α = ε — the step *raises* the discriminator's
   "perturbed" score 1 − D⁰. No labels are used. The classifier is frozen in eval mode (official code).
2. **Discriminator**: ``d_steps`` SGD steps on BCE(D⁰(z_nat), 1) + BCE(D⁰(z_adv), 0) + CE_ls(D^{1:C}(z_nat), y)
   + CE_ls(D^{1:C}(z_adv), y), latents detached (maximises L⁰_d, minimises L^{1:C}_d).
3. **Classifier** (returned, back-propagated by the training loop): CE_ls(f(x^adv), y) + the invariance term.

Options (``cfg.method_kwargs``), paper defaults first; the official code's choices are named alternatives
(atld-atent-baselines.md §A.4):

- ``disc_input`` = ``"features"`` (paper App. A: the last hidden layer, ``model.features``) | ``"logits"`` (code).
- ``invariance`` = ``"adversarial"`` (paper Eq. (7): the classifier minimises L⁰_d through D_W, i.e. confuses the
  discriminator; weight ``lam``) | ``"logit_mse"`` (code: the classifier never receives the discriminator's
  gradient; instead MSE(z_adv, z_nat) with the adaptive weight scale/``mse_div``, scale =
  max ∂CE/∂x^adv ÷ max ∂MSE/∂x^adv (raw max over the batch, a constant), ``mse_div`` = 2 (CIFAR-10, SVHN) or 10
  (CIFAR-100); z_nat from the eval-mode classifier, without gradient).
- ``lam`` = 1.0: weight of the adversarial invariance term (Eq. (7) has weight 1). The CPU scales use 0.1
  (``scales.METHOD_KWARGS``): with λ = 1 the game collapsed on Fashion-MNIST (test accuracy 0.68 → 0.26 in two mini
  epochs) and on the toy moons (constant classifier); λ = 0.1 trains. A non-saturating variant (−log D⁰(z_adv)
  only, λ = 1) collapsed as well (0.53 → 0.22).
- ``random_start`` = False: the paper's LMAE steps from x (supplementary Eq. B.17); True = the code's
  x' = x + U(−ε, ε) before the step.
- ``alpha_ratio`` = 1.0: LMAE step α = alpha_ratio·ε (paper and code: one step of ε).
- ``label_smoothing`` = 0.5 (Sec. 5; code): smoothed-label CE for the classifier and the discriminator's class head.
- ``d_steps`` = 2, ``lr_d`` = 1e-3, ``momentum_d`` = 0.9, ``wd_d`` = 2e-4: discriminator SGD (the paper gives none;
  these are the code's values).
- ``disc_size`` = ``"small"``: see :data:`advdist.models.discriminator.SIZES` (``"wrn-28-5"`` = the code's widths).
- ``disc_batches`` = ``"mixed"`` | ``"pure"`` (code): how natural and perturbed latents pass D's BatchNorm. The
  official code calls D once on an all-natural and once on an all-perturbed batch; in train mode BatchNorm then
  normalises each batch by its own statistics, which removes exactly the shift between the two distributions that
  D⁰ must detect (a synthetic mean shift that a linear rule separates with ROC-AUC 0.98 is learnt to ~0.5 that way:
  ``tests/test_atld.py``). ``"pure"`` (default, the code's two calls) is what produced the paper's numbers: on the mini
  model the fixed D (``ATLD_INFORMATIVE_D``) raised D's ROC-AUC from 0.531 to 0.789 but took ATLD's PGD-20 accuracy
  without IMT from 55.2 % to 36.0 % (1000 images), far from the paper's ATLD row, so the fix is a named option.
  ``"mixed"`` passes the concatenated batch [z_nat; z_adv] through D in *every*
  training-time call (its update, the LMAE, the invariance term), so BatchNorm sees — and its running statistics,
  used at inference, average — the mixture; D⁰ can then learn the shift.
- ``disc_latents`` = ``"eval"`` | ``"code"``: which classifier mode produces the latents D is *trained* on.
  ``"eval"``: both z_nat and z_adv from the eval-mode classifier (as IMT reads them at inference), so D
  cannot tell them apart by BatchNorm mode; ``"code"`` (default, as the official code): z_nat from the eval-mode copy,
  z_adv from the train-mode forward (with a BatchNorm classifier D may learn "which mode" instead of "perturbed").

``ATLD_OFFICIAL`` is the official release's step (logits input, logit MSE with the adaptive weight, random start,
pure batches, mixed modes); ``ATLD_INFORMATIVE_D`` is issue 15's fix (mixed batches, eval-mode latents), a named
option because it changes ATLD's own robustness (see ``disc_batches``); ``ATLD_PURE_D`` spells out the defaults.

The discriminator is in train mode during training (as in the code) and in eval mode at inference
(:func:`load_discriminator`, :mod:`advdist.defenses.imt`). Logged per batch: ``train_adv_acc``, ``d_loss``,
``d_nat`` and ``d_adv`` (mean P(natural) on natural / perturbed latents, after the discriminator's steps).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from advdist import data
from advdist.attacks.core import check_eps, frozen, input_grad, project, random_start as _random_start
from advdist.methods.base import register
from advdist.methods.extra_networks import ExtraNetworksMethod
from advdist.methods.feature_scattering import smooth_labels, soft_cross_entropy
from advdist.models.discriminator import SIZES, LatentDiscriminator, build_discriminator
from advdist.run_files import read_torch  # one-line UnreadableRunFile instead of torch's traceback
from advdist.runtime import accuracy
from advdist.threat import Norm

DISC_INPUTS = ("features", "logits")
INVARIANCES = ("adversarial", "logit_mse")
DISC_BATCHES = ("mixed", "pure")
DISC_LATENTS = ("eval", "code")

#: ``method_kwargs`` of the official code's discriminator batching and latent modes (the defaults, spelled out)
ATLD_PURE_D = {"disc_batches": "pure", "disc_latents": "code"}
#: ``method_kwargs`` of issue 15's informative discriminator: mixed natural/perturbed batches, eval-mode latents
ATLD_INFORMATIVE_D = {"disc_batches": "mixed", "disc_latents": "eval"}
#: ``method_kwargs`` that reproduce the official release's training step (CIFAR-10/SVHN; CIFAR-100: mse_div=10)
ATLD_OFFICIAL = {"disc_input": "logits", "invariance": "logit_mse", "random_start": True, "mse_div": 2.0,
                 **ATLD_PURE_D}


def latent_fn(model: nn.Module, disc_input: str):
    """The map x -> z the discriminator reads: ``model.features`` (paper) or ``model`` itself (logits, code)."""
    if disc_input not in DISC_INPUTS:
        raise ValueError(f"unknown disc_input {disc_input!r}; valid: {', '.join(DISC_INPUTS)}")
    return model.features if disc_input == "features" else model


def latent_dim(model: nn.Module, disc_input: str, num_classes: int, input_shape) -> int:
    """Width of the discriminator's input for ``model`` (one dummy forward when the model does not say)."""
    if disc_input == "logits":
        return int(num_classes)
    d = getattr(model, "feature_dim", None)
    if d:
        return int(d)
    p = next(model.parameters())
    with torch.no_grad(), frozen(model):
        return int(model.features(torch.zeros((2, *input_shape), device=p.device)).shape[1])


def disc_pair(disc: LatentDiscriminator, z_nat: torch.Tensor, z_adv: torch.Tensor, batches: str = "mixed"
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """D on natural and perturbed latents: (manifold logits nat, class logits nat, manifold logits adv, class logits
    adv). ``batches="mixed"``: one call on [z_nat; z_adv] (BatchNorm sees the mixture); ``"pure"``: one call per
    batch (official code; in train mode each batch is normalised by its own statistics)."""
    if batches not in DISC_BATCHES:
        raise ValueError(f"unknown disc_batches {batches!r}; valid: {', '.join(DISC_BATCHES)}")
    if batches == "pure":
        ln, cn = disc(z_nat)
        la, ca = disc(z_adv)
        return ln, cn, la, ca
    n = z_nat.shape[0]
    logit, cls = disc(torch.cat([z_nat.flatten(1), z_adv.flatten(1)]))
    return logit[:n], cls[:n], logit[n:], cls[n:]


def manifold_perturbation_loss(disc: LatentDiscriminator, z_adv: torch.Tensor, z_nat: torch.Tensor | None = None
                               ) -> torch.Tensor:
    """Σ_i log(1 − D⁰(z_adv,i)) = −Σ_i BCE(D⁰(z_adv,i), 0): the part of L⁰_d (ATLD Eq. (6)) that depends on x'.

    Ascending it w.r.t. the input raises the discriminator's "perturbed" score 1 − D⁰ (D⁰ = P(natural)). With
    ``z_nat`` (detached natural latents) D sees the mixed batch [z_nat; z_adv] (``disc_batches="mixed"``); the sum
    runs over the perturbed half only.
    """
    if z_nat is None:
        logit, _ = disc(z_adv)
    else:
        logit = disc_pair(disc, z_nat.detach(), z_adv, "mixed")[2]
    return F.logsigmoid(-logit).sum()


@contextlib.contextmanager
def _no_param_grad(module: nn.Module):
    """Parameters of ``module`` excluded from autograd while building a graph (mode unchanged); restored."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, f in flags:
            p.requires_grad_(f)


def lmae(model: nn.Module, disc: LatentDiscriminator, x: torch.Tensor, *, eps: float, alpha: float | None = None,
         disc_input: str = "features", random_start: bool = False, z_nat: torch.Tensor | None = None
         ) -> torch.Tensor:
    """Manifold adversarial example (LMAE), ATLD Eq. (6)-(7) constraint / supplementary Eq. B.17, one ℓ∞ step:

        x^adv = Π_{B(x,ε) ∩ [0,1]}(x' + α·sign(∇_{x'} Σ log(1 − D⁰(f(x'))))),  x' = x (paper) or x + U(−ε, ε) (code).

    Unsupervised (no labels). The classifier is frozen in eval mode; the discriminator keeps its mode (train mode
    during ATLD training, as the code) and gets no parameter gradients. ``alpha`` defaults to ε. ``z_nat``: natural
    latents that accompany f(x') through D as one mixed batch (``disc_batches="mixed"``); None = f(x') alone.
    """
    eps = check_eps(eps, "linf")
    alpha = eps if alpha is None else float(alpha)
    x = x.detach()
    feat = latent_fn(model, disc_input)
    with frozen(model), _no_param_grad(disc):
        x0 = _random_start(x, eps, "linf") if random_start else x.clone()
        xg = x0.requires_grad_(True)
        with torch.enable_grad():
            g = input_grad(manifold_perturbation_loss(disc, feat(xg), z_nat), xg)
    return project(x0.detach() + alpha * g.sign(), x, eps, "linf").detach()


def discriminator_loss(disc: LatentDiscriminator, z_nat: torch.Tensor, z_adv: torch.Tensor,
                       target: torch.Tensor, batches: str = "mixed") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """−L⁰_d + L^{1:C}_d of ATLD Eq. (7), minimised by W (batch means):

    BCE(D⁰(z_nat), 1) + BCE(D⁰(z_adv), 0) + CE(D^{1:C}(z_nat), t) + CE(D^{1:C}(z_adv), t), ``t`` a (smoothed) label
    distribution; D sees the two batches as one (``batches="mixed"``) or separately (``"pure"``, code;
    :func:`disc_pair`). Returns (loss, mean P(natural) on z_nat, on z_adv).
    """
    ln, cn, la, ca = disc_pair(disc, z_nat, z_adv, batches)
    loss = (F.binary_cross_entropy_with_logits(ln, torch.ones_like(ln))
            + F.binary_cross_entropy_with_logits(la, torch.zeros_like(la))
            + soft_cross_entropy(cn, target) + soft_cross_entropy(ca, target))
    return loss, torch.sigmoid(ln).mean().detach(), torch.sigmoid(la).mean().detach()


@register("atld")
class ATLD(ExtraNetworksMethod):
    """ATLD training (ICLR 2021 submission Sec. 4.1, Eq. (7), Fig. 2); options and paper-vs-code choices in the
    module docstring. Owns the discriminator ``self.disc`` and its SGD optimiser ``self.opt_d``."""

    extra = ("disc", "opt_d")
    defaults = {"disc_input": "features", "invariance": "adversarial", "lam": 1.0, "random_start": False,
                "alpha_ratio": 1.0, "label_smoothing": 0.5, "d_steps": 2, "lr_d": 1e-3, "momentum_d": 0.9,
                "wd_d": 2e-4, "disc_size": "small", "mse_div": 2.0, "disc_batches": "pure", "disc_latents": "code"}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        hp = self.hp
        if hp["disc_input"] not in DISC_INPUTS:
            raise ValueError(f"atld option disc_input={hp['disc_input']!r}; valid: {', '.join(DISC_INPUTS)}")
        if hp["invariance"] not in INVARIANCES:
            raise ValueError(f"atld option invariance={hp['invariance']!r}; valid: {', '.join(INVARIANCES)}")
        if hp["disc_size"] not in SIZES:
            raise ValueError(f"atld option disc_size={hp['disc_size']!r}; valid: {', '.join(SIZES)}")
        if hp["disc_batches"] not in DISC_BATCHES:
            raise ValueError(f"atld option disc_batches={hp['disc_batches']!r}; valid: {', '.join(DISC_BATCHES)}")
        if hp["disc_latents"] not in DISC_LATENTS:
            raise ValueError(f"atld option disc_latents={hp['disc_latents']!r}; valid: {', '.join(DISC_LATENTS)}")
        if not 0 <= hp["label_smoothing"] < 1:
            raise ValueError(f"atld option label_smoothing must be in [0, 1), got {hp['label_smoothing']!r}")
        if int(hp["d_steps"]) < 0:
            raise ValueError(f"atld option d_steps must be >= 0, got {hp['d_steps']!r}")
        if Norm.parse(cfg.norm) is not Norm.LINF:
            raise ValueError(f"atld is defined for the linf threat model (ATLD Sec. 5); got norm={cfg.norm!r}")
        info = data.info(cfg.dataset)
        self.num_classes = info.num_classes
        d_in = latent_dim(model, hp["disc_input"], info.num_classes, tuple(info.input_shape))
        p = next(model.parameters())
        self.disc = build_discriminator(d_in, info.num_classes, hp["disc_size"]).to(p.device)
        self.opt_d = torch.optim.SGD(self.disc.parameters(), lr=hp["lr_d"], momentum=hp["momentum_d"],
                                     weight_decay=hp["wd_d"])

    # -- pieces --------------------------------------------------------------------------------------------
    def adversarial(self, model, x, y=None, z_nat=None):
        """The LMAE batch (:func:`lmae`; labels unused). With ``disc_batches="mixed"`` the natural latents of the
        eval-mode classifier (``z_nat``, computed when not given) accompany the perturbed ones through D."""
        self.disc.train()
        if self.hp["disc_batches"] == "mixed" and z_nat is None:
            with torch.no_grad(), frozen(model):
                z_nat = latent_fn(model, self.hp["disc_input"])(x)
        return lmae(model, self.disc, x, eps=self.cfg.eps, alpha=self.cfg.eps * self.hp["alpha_ratio"],
                    disc_input=self.hp["disc_input"], random_start=self.hp["random_start"],
                    z_nat=z_nat if self.hp["disc_batches"] == "mixed" else None)

    def update_discriminator(self, z_nat, z_adv, target) -> tuple[float, float, float]:
        """``d_steps`` SGD steps of the discriminator on detached latents; returns (loss, P_nat(nat), P_nat(adv))."""
        self.disc.train()
        z_nat, z_adv = z_nat.detach(), z_adv.detach()
        loss = pn = pa = torch.zeros(())
        for _ in range(int(self.hp["d_steps"])):
            loss, pn, pa = discriminator_loss(self.disc, z_nat, z_adv, target, self.hp["disc_batches"])
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_d.step()
        return float(loss.detach()), float(pn), float(pa)

    def loss(self, model, x, y):
        hp = self.hp
        feat = latent_fn(model, hp["disc_input"])
        target = smooth_labels(y, self.num_classes, hp["label_smoothing"])
        with torch.no_grad(), frozen(model):  # natural latents from the eval-mode classifier (code), no gradient
            z_nat_fixed = feat(x)
        x_adv = self.adversarial(model, x, z_nat=z_nat_fixed)
        if hp["invariance"] == "logit_mse":
            x_adv = x_adv.requires_grad_(True)
        # classifier forward in train mode on the perturbed batch
        if hp["disc_input"] == "features":
            z_adv = model.features(x_adv)
            logits_adv = model.fc(z_adv)
        else:
            logits_adv = z_adv = model(x_adv)
        if hp["disc_latents"] == "eval":  # D learns from the latents IMT will read: both from the eval-mode classifier
            with torch.no_grad(), frozen(model):
                z_adv_d = feat(x_adv)
        else:  # code: perturbed latents from the train-mode forward (BatchNorm with batch statistics)
            z_adv_d = z_adv
        d_loss, d_nat, d_adv = self.update_discriminator(z_nat_fixed, z_adv_d, target)

        ce = soft_cross_entropy(logits_adv, target)
        if hp["invariance"] == "adversarial":
            z_nat = feat(x)  # train mode, with gradient: the classifier also moves natural latents (Eq. (7))
            self.disc.train()
            with _no_param_grad(self.disc):
                ln, _, la, _ = disc_pair(self.disc, z_nat, z_adv, hp["disc_batches"])
                # L⁰_d = log(1 − D⁰(z_adv)) + log D⁰(z_nat) (batch means); the classifier minimises it
                manifold = F.logsigmoid(-la).mean() + F.logsigmoid(ln).mean()
            loss = ce + hp["lam"] * manifold
        else:
            mse = F.mse_loss(z_adv.float(), z_nat_fixed.float())
            g_ce = torch.autograd.grad(ce, x_adv, retain_graph=True)[0]
            g_mse = torch.autograd.grad(mse, x_adv, retain_graph=True)[0]
            scale = (g_ce.max() / g_mse.max()).detach() if float(g_mse.max()) != 0 else torch.zeros(())
            loss = ce + mse * scale / hp["mse_div"]
        with torch.no_grad():
            logs = {"train_adv_acc": accuracy(logits_adv, y), "d_loss": d_loss,
                    "d_nat": d_nat, "d_adv": d_adv}
        return loss, logs

    # -- state (checkpointed through ``extra``) ---------------------------------------------------------------
    def to(self, device):
        super().to(device)  # the discriminator; then its optimiser's state
        for st in self.opt_d.state.values():
            for k, v in st.items():
                if torch.is_tensor(v):
                    st[k] = v.to(device)
        return self


def load_discriminator(run, model: nn.Module | None = None, device: str | torch.device = "cpu") -> LatentDiscriminator:
    """The trained discriminator of a finished ATLD ``run`` (an ``advdist.store.Run``), in eval mode.

    Read from the run's last checkpoint (``checkpoint.pt``, key ``"method"``), where the training loop saves the
    method state (ATLD Sec. 4.2 needs it for IMT). ``model``: the run's classifier (loaded when omitted).
    """
    if run.config.method != "atld":
        raise ValueError(f"run {run.path.name} was trained with {run.config.method!r}, not 'atld'")
    path = Path(run.path) / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint with the discriminator in {run.path}")
    if model is None:
        model = run.load_model("cpu")
    method = ATLD(run.config, model)
    state = read_torch(path, map_location="cpu", weights_only=False, keys=("method",))["method"]
    method.load_state_dict(state)
    return method.disc.to(device).eval()
