"""ADT_IMP-AM: adversarial distributional training with amortised implicit distributions.

ADT (Dong et al., NeurIPS 2020), Sec. 3.3, App. A.3 (Eq. A.2-A.3, Alg. 4), App. B.3, App. C.2-C.3. A generator
δ = g_φ(z; x) = ε·tanh(net([x, ∇ₓL(x), ∇ₓL(x_FGSM), e(z)])), z ~ U(−1, 1)^64, defines an implicit conditional
distribution p_φ(δ|x). Its entropy has no closed form and is replaced by the variational lower bound
H(p_φ(δ|x)) ≥ E_{p(z)} log q_ψ(z | g_φ(z; x)) + c (Eq. A.2), with q_ψ a diagonal Gaussian given by the network
of Table 8. The objective

    min_θ max_{φ,ψ} (1/n) Σ_i E_{p(z)}[ L(f_θ(x_i + g_φ(z; x_i)), y_i) + λ·log q_ψ(z | g_φ(z; x_i)) ]   (A.3)

is solved by simultaneous stochastic gradient descent on θ and ascent on (φ, ψ) (Alg. 4), one z per example.
φ: Adam lr 2e-4, betas (0.5, 0.999); ψ: Adam lr 2e-4 (default betas (0.9, 0.999), as in the official code)
(App. C.3).

The joint update is one backward pass with gradient reversal, as in :mod:`advdist.methods.adt_expam`: the
returned loss L(f_θ(x_adv), y) gives the classifier's descent direction; a hook on the detached x_adv sends
−∂L/∂x_adv into the generator together with the gradient of the entropy term below into the generator and q,
then steps both Adam optimisers. The log q term does not depend on θ. q reads the unit-scale perturbation δ/ε
(official code; equivalent to δ because of q's first BatchNorm).

The entropy term. Default = the official ``adt_impam.py`` (adt-official.md §2), the setting behind the paper's
numbers: G and q minimise λ·relu(−mean_B mean_j log q_j − τ) with λ = 1, τ = 0.9, log q averaged over z's 64
dimensions and q's second head read as a *variance*. The paper's Eq. (A.3) as printed (λ = 0.01 on the full
log-density, no hinge, a standard deviation) is :data:`ADT_IMPAM_LITERAL`. Why the default: the paper's numbers
came from the code (its Sec. 5 λ = 0.01 is the EXP value; the authors' development log has IMP-AM at λ = 1,
τ = 0.9), and the two readings disagree on units as ADT_EXP's entropy does (issue 14). Note what the default
does: τ = 0.9 lies above the NLL of the best input-independent predictor N(0, 1/3) of U(−1, 1), 0.870 nats per
dimension (:data:`~advdist.models.generators.CONSTANT_Q_NLL`), so a q that ignores δ already satisfies the hinge
and the term goes quiet once q has found z's variance — a weak "minimum mutual information" constraint, not an
entropy maximiser. The log's ``q_gain`` shows how much q learns.

Options (``cfg.method_kwargs``), defaults first:

- ``lam`` = 1.0: λ of Eq. (A.3) (the code's; the literal reading uses the paper's 0.01).
- ``hinge`` = 0.9 (τ of the code's hinge) | None (Eq. A.3's plain term −λ·mean_B log q).
- ``logq`` = ``"mean"`` (code: log q averaged over the d_z dimensions) | ``"sum"`` (Eq. A.3: the full
  log-density of the d_z-dim diagonal Gaussian, constants included).
- ``q_param`` = ``"var"`` (code: softplus output used as the *variance*, with ``+1e-8`` guards) | ``"std"``
  (paper App. A.3: q's network gives mean and *standard deviation*, σ = softplus).
- ``z_dim`` = 64; ``width`` = 256 (generator body, Table 7), ``z_width`` = 256 (z-encoder's hidden layer,
  Table 7; its own option — tying it to the body's CPU-scale width 8 squeezed z through 8 ReLUs, issue 14),
  ``q_width`` = 32 (q, Table 8); smaller values for the CPU scales (``advdist.scales.METHOD_KWARGS``);
  ``code_layout`` as in ADT_EXP-AM.
- ``input_grad``, ``outer`` (``"ce"`` | ``"trades"``, ADT+TRADES of Sec. 5.4 with ``beta``) and ``lr_g``,
  ``betas_g`` as in :mod:`advdist.methods.adt_expam`; ``lr_q`` = 2e-4, ``betas_q`` = (0.9, 0.999).

Logged per batch: ``train_adv_acc``; when λ > 0 (q is neither used nor trained at λ = 0): ``logq`` (batch mean
of log q(z|δ) in the ``logq`` reduction), ``q_nll`` (−log q per z-dimension, nats) and ``q_gain`` =
:data:`~advdist.models.generators.CONSTANT_Q_NLL` − ``q_nll`` (> 0: q predicts z from δ better than any
input-independent Gaussian); with ``outer="trades"`` also ``train_acc`` and ``kl``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdist.methods.adt_expam import INPUT_GRADS, OUTERS, attach_ascent, generator_inputs, image_shape, outer_loss
from advdist.methods.base import register
from advdist.methods.extra_networks import ExtraNetworksMethod
from advdist.models.generators import CONSTANT_Q_NLL, Q_PARAMS, Q_REDUCTIONS, ImpAMGenerator, VariationalQ
from advdist.validate import option_betas, option_choice, option_number

#: ``method_kwargs`` of the official ``adt_impam.py`` behaviour (adt-official.md §2): the default objective plus the
#: code's batch-mean input gradients and layout
ADT_IMPAM_OFFICIAL = {"lam": 1.0, "hinge": 0.9, "logq": "mean", "q_param": "var", "input_grad": "batch_mean",
                      "code_layout": True}
#: ``method_kwargs`` of the paper's Eq. (A.3) as printed: λ = 0.01 on the full log q (summed over z), no hinge, q's
#: second head a standard deviation (the Table 1 row "literal Eq. A.3")
ADT_IMPAM_LITERAL = {"lam": 0.01, "hinge": None, "logq": "sum", "q_param": "std"}


@register("adt_impam")
class ADTImpAM(ExtraNetworksMethod):
    """ADT_IMP-AM (ADT Sec. 3.3, Eq. A.2-A.3, Alg. 4): amortised implicit adversarial distributions with a
    variational entropy bound; options and paper-vs-code choices in the module docstring."""

    extra = ("generator", "opt_g", "q", "opt_q")
    defaults = {"lam": 1.0, "logq": "mean", "q_param": "var", "hinge": 0.9, "z_dim": 64, "width": 256,
                "z_width": 256, "q_width": 32, "code_layout": False, "input_grad": "example", "lr_g": 2e-4,
                "betas_g": (0.5, 0.999), "lr_q": 2e-4, "betas_q": (0.9, 0.999), "outer": "ce", "beta": 6.0}

    def __init__(self, cfg, model):
        super().__init__(cfg, model)
        hp, name = self.hp, self.name
        c, h, w = image_shape(name, cfg)
        if cfg.eps <= 0:
            raise ValueError(f"{name} needs eps > 0 (δ = ε·tanh(·)), got {cfg.eps!r}")
        option_number(name, "lam", hp["lam"])
        option_number(name, "beta", hp["beta"])
        if hp["hinge"] is not None:
            if isinstance(hp["hinge"], bool) or not isinstance(hp["hinge"], (int, float)):
                raise ValueError(f"{name} option hinge must be None or a number, got {hp['hinge']!r}")
        option_choice(name, "logq", hp["logq"], Q_REDUCTIONS)
        option_choice(name, "q_param", hp["q_param"], Q_PARAMS)
        option_choice(name, "input_grad", hp["input_grad"], INPUT_GRADS)
        option_choice(name, "outer", hp["outer"], OUTERS)
        option_choice(name, "code_layout", hp["code_layout"], (False, True))
        self.generator = ImpAMGenerator(c, (h, w), width=hp["width"], z_dim=hp["z_dim"], z_width=hp["z_width"],
                                        code_layout=hp["code_layout"])
        self.q = VariationalQ(c, z_dim=hp["z_dim"], width=hp["q_width"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(),
                                      lr=option_number(name, "lr_g", hp["lr_g"], positive=True),
                                      betas=option_betas(name, "betas_g", hp["betas_g"]))
        self.opt_q = torch.optim.Adam(self.q.parameters(), lr=option_number(name, "lr_q", hp["lr_q"], positive=True),
                                      betas=option_betas(name, "betas_q", hp["betas_q"]))

    # -- the distribution ------------------------------------------------------------------------
    def inputs(self, model, x, y):
        """Generator inputs [x, g¹, g²] (App. C.2), classifier frozen in eval mode."""
        return generator_inputs(model, x, y, self.cfg.eps, input_grad_mode=self.hp["input_grad"])

    def sample(self, x: torch.Tensor, inp: torch.Tensor,
               z: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One sample per example (Alg. 4 line 4): ``(x_adv, pert, z)`` with pert = δ/ε = tanh(·) ∈ (−1, 1),
        x_adv = clip(x + ε·pert, 0, 1), z ~ U(−1, 1)^{d_z} from the global RNG unless given. Generator in
        train mode; differentiable w.r.t. φ."""
        self.generator.train()
        if z is None:
            z = self.generator.sample_z(len(x), device=x.device, dtype=x.dtype)
        pert = self.generator(inp, z)
        return (x + self.cfg.eps * pert).clamp(0.0, 1.0), pert, z

    def log_q(self, z: torch.Tensor, pert: torch.Tensor) -> torch.Tensor:
        """Per-example log q_ψ(z | δ) (Eq. A.2's integrand; options ``logq``, ``q_param``); q in train mode."""
        self.q.train()
        return self.q.log_prob(z, pert, param=self.hp["q_param"], reduction=self.hp["logq"])

    def entropy_term(self, logq: torch.Tensor) -> torch.Tensor:
        """The scalar the generator and q *minimise* for the entropy bound: λ·relu(−mean_B log q − τ) with
        ``hinge`` = τ (official code, default), or −λ·mean_B log q with ``hinge=None`` (Eq. A.3)."""
        lam, tau = float(self.hp["lam"]), self.hp["hinge"]
        if tau is None:
            return -lam * logq.mean()
        return lam * F.relu(-logq.mean() - float(tau))

    def q_stats(self, logq: torch.Tensor) -> dict[str, float]:
        """``logq`` (batch mean, in the ``logq`` reduction), ``q_nll`` (−log q per z-dimension) and ``q_gain`` =
        :data:`CONSTANT_Q_NLL` − ``q_nll``: nats per dimension q explains beyond the best constant predictor."""
        m = logq.detach().mean().item()
        nll = -m / (self.hp["z_dim"] if self.hp["logq"] == "sum" else 1)
        return {"logq": m, "q_nll": nll, "q_gain": CONSTANT_Q_NLL - nll}

    # -- one training step -----------------------------------------------------------------------
    def loss(self, model, x, y):
        inp = self.inputs(model, x, y)
        x_adv, pert, z = self.sample(x, inp)
        logs = {}
        extra = None
        if float(self.hp["lam"]):
            logq = self.log_q(z, pert)
            extra = self.entropy_term(logq)
            logs.update(self.q_stats(logq))
        x_in = x_adv.detach().requires_grad_(True)
        loss, outer_logs = outer_loss(model, x, x_in, y, outer=self.hp["outer"], beta=self.hp["beta"])
        attach_ascent(x_in, x_adv, extra, [self.opt_g, self.opt_q] if extra is not None else [self.opt_g])
        return loss, {**outer_logs, **logs}
