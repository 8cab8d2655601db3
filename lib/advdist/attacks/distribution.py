"""ADT's learned adversarial distributions used as attacks on fixed models (ADT Sec. 5.3, Table 4; App. D.3, Fig. 6).

Each attack is judged by the official rule (reference note adt-official.md §4): an example counts as robust only if
**all** ``n_samples`` samples drawn from the learned distribution are classified correctly. Each attack returns, per
example, its worst sample (the first misclassified one, else the one of highest cross-entropy; :func:`worst_of`), so
the common evaluation code (:func:`advdist.evaluate.robustness_matrix`) applies the rule unchanged.

- **EXP**: the per-example explicit distribution of ADT_EXP (Eq. 8-11, Alg. 2) fitted against the frozen classifier,
  :func:`advdist.samplers.explicit_attack`.
- **EXP-AM / IMP-AM** (Sec. 5.3: "we retrain the generator networks for each pretrained defense"):
  :func:`generator_attack` trains a *fresh* generator of the ADT_EXP-AM / ADT_IMP-AM method (the method's own
  training step, :meth:`loss` with its gradient reversal) against the classifier frozen in eval mode — no classifier
  step — on the attacked examples themselves (the authors' scripts train on the test set, batch 64), then draws
  ``n_samples`` samples (z's) per example with the generator in train mode (batch statistics), as those scripts do.
- :func:`exp_convergence`: the EXP attack's cross-entropy and accuracy after 0…T iterations (Fig. 6).

:class:`DistributionAttack` names these as settings of the common calling shape (:class:`~advdist.attacks.AttackSpec`);
the papers' settings of them (budgets per scale) are built by :mod:`advdist.experiments.adt`.

This module builds training methods (:mod:`advdist.methods`) and samplers, so ``advdist.attacks`` does not import it;
it only evaluates (``advdist.store.EVALUATION_ONLY``: not part of any run's key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from advdist import config, methods
from advdist.attacks.core import check_eps, check_positive, frozen
from advdist.attacks.settings import AttackSpec
from advdist.models.generators import ExpAMGenerator
from advdist.samplers import explicit_attack, fit_explicit

#: the training method whose generator each amortised attack retrains
GENERATOR_METHODS = {"EXP-AM": "adt_expam", "IMP-AM": "adt_impam"}


# ------------------------------------------------------------------------------------------------
# the generator attacks (EXP-AM, IMP-AM)
# ------------------------------------------------------------------------------------------------
def attack_method(model: nn.Module, *, method: str, dataset: str, eps: float,
                  method_kwargs: dict | None = None) -> methods.Method:
    """A fresh ADT_EXP-AM / ADT_IMP-AM method object (generator, q, their Adam optimisers) for attacking ``model``
    on ``dataset`` at ℓ∞ budget ``eps``; ``method_kwargs`` as in training (e.g. ``width``)."""
    if method not in GENERATOR_METHODS.values():
        raise ValueError(f"unknown generator method {method!r}; valid: {', '.join(GENERATOR_METHODS.values())}")
    if method not in methods.names():
        raise ValueError(f"method {method!r} is not implemented (advdist.methods.names())")
    cfg = config.TrainConfig(method=method, dataset=dataset, eps=float(eps), norm="linf",
                             method_kwargs=dict(method_kwargs or {}))
    dev = next(model.parameters()).device
    return methods.build(method, cfg, model).to(dev)


def train_generator_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, method: str, dataset: str,
                           eps: float, epochs: int, batch_size: int = 64, method_kwargs: dict | None = None
                           ) -> tuple[methods.Method, pd.DataFrame]:
    """Train a fresh generator of ``method`` against the frozen ``model`` on ``(x, y)`` (the official attack
    scripts: classifier always in eval mode, no classifier step; batch 64, reshuffled every epoch from the
    global RNG). Each step is the method's own training step (``method.loss`` + backward: its gradient
    reversal ascends L + λ·H with the generator's optimiser) with the classifier's parameters frozen.

    Returns ``(method, log)``: the method object holding the trained generator and a per-epoch log with the mean
    classification loss ``loss`` and the accuracy ``adv_acc`` on the generator's training samples.
    """
    check_positive("epochs", epochs, integer=True, allow_zero=True)
    check_positive("batch_size", batch_size, integer=True)
    m = attack_method(model, method=method, dataset=dataset, eps=eps, method_kwargs=method_kwargs)
    n = len(y)
    rows = []
    with frozen(model):
        for epoch in range(1, int(epochs) + 1):
            perm = torch.randperm(n, device=x.device)
            tot_loss = tot_acc = 0.0
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                loss, logs = m.loss(model, x[idx], y[idx])
                loss.backward()  # classifier frozen: the gradient only reaches the generator (and q) via the hook
                tot_loss += loss.item() * len(idx)
                tot_acc += float(logs.get("train_adv_acc", float("nan"))) * len(idx)
            rows.append({"epoch": epoch, "loss": tot_loss / max(n, 1), "adv_acc": tot_acc / max(n, 1)})
    return m, pd.DataFrame(rows, columns=["epoch", "loss", "adv_acc"])


def draw_sampler(m: methods.Method, x: torch.Tensor, inp: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A function drawing one sample x_adv per example of the batch from the trained distribution.

    Generator in train mode (batch statistics), as the official attack scripts. For EXP-AM the generator output
    (μ, σ) of a batch does not depend on the noise, so it is computed once and only δ = ε·tanh(μ + σ·r) redrawn
    (identical to redrawing through :meth:`sample`); IMP-AM needs one generator pass per z.
    """
    eps = m.cfg.eps
    if m.name == "adt_expam":
        m.generator.train()
        mu, sigma = m.generator(inp)
        return lambda: (x + ExpAMGenerator.sample(mu, sigma, eps)[0]).clamp(0.0, 1.0)
    return lambda: m.sample(x, inp)[0]


def worst_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor, draw: Callable[[], torch.Tensor],
             n_samples: int) -> torch.Tensor:
    """Per example, the worst of ``n_samples`` draws: the first misclassified sample, else the one of highest CE.

    So ``model(result)`` is correct exactly when all the draws are (the official Table 4 rule). ``draw()``
    returns one sample per example of ``x``; called under ``no_grad`` with ``model`` frozen.
    """
    check_positive("n_samples", n_samples, integer=True)
    best = x.clone()
    best_score = torch.full((len(y),), -float("inf"), device=x.device)
    with frozen(model), torch.no_grad():
        for _ in range(int(n_samples)):
            xs = draw()
            logits = model(xs)
            logits = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()
            ce = F.cross_entropy(logits, y, reduction="none")
            score = torch.where(logits.argmax(1) != y, torch.full_like(ce, float("inf")), ce)
            better = score > best_score  # strict: the first misclassified draw is kept
            best[better] = xs[better]
            best_score = torch.where(better, score, best_score)
    return best


def generator_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, method: str,
                     dataset: str, epochs: int = 400, batch_size: int = 64, n_samples: int = 100,
                     method_kwargs: dict | None = None) -> torch.Tensor:
    """EXP-AM / IMP-AM as an attack of the common shape (ADT Table 4): train a fresh generator of ``method`` on
    ``(x, y)`` against the frozen ``model`` (:func:`train_generator_attack`), then draw ``n_samples`` per example
    in batches of ``batch_size`` (generator in train mode) and return each example's worst sample
    (:func:`worst_of`): ``model(x_adv)`` is correct iff all samples are. Pass all attacked examples in one call:
    the generator is trained on exactly the examples given.
    """
    eps = check_eps(eps)
    x, y = x.detach(), y.detach()
    m, _ = train_generator_attack(model, x, y, method=method, dataset=dataset, eps=eps, epochs=epochs,
                                  batch_size=batch_size, method_kwargs=method_kwargs)
    out = []
    for i in range(0, len(y), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        inp = m.inputs(model, xb, yb)
        with torch.no_grad():
            out.append(worst_of(model, xb, yb, draw_sampler(m, xb, inp), n_samples))
    return torch.cat(out) if out else x.clone()


# ------------------------------------------------------------------------------------------------
# named settings
# ------------------------------------------------------------------------------------------------
_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {"explicit_attack": explicit_attack,
                                                      "generator_attack": generator_attack}


@dataclass(frozen=True, eq=False)
class DistributionAttack(AttackSpec):
    """A named setting of an attack defined outside ``advdist.attacks``' own table (EXP, EXP-AM, IMP-AM); same calling
    shape and caching as :class:`advdist.attacks.AttackSpec`. A generator attack is trained on the examples it is
    given, so :func:`advdist.evaluate.robustness_matrix` passes it all of them at once (:attr:`whole_batch`)."""

    def resolve(self) -> Callable[..., torch.Tensor]:
        return _FUNCTIONS[self.fn]

    @property
    def whole_batch(self) -> bool:
        return self.fn == "generator_attack"


# ------------------------------------------------------------------------------------------------
# Fig. 6: the EXP attack's convergence
# ------------------------------------------------------------------------------------------------
def exp_convergence(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 100,
                    k: int = 10, lr: float = 0.3, betas: tuple[float, float] = (0.0, 0.0), lam: float = 0.01,
                    entropy: str = "mean", cumulative_grad: bool = True, batch_size: int | None = None,
                    sample_batch: int | None = None) -> pd.DataFrame:
    """The EXP attack's convergence (ADT App. D.3, Fig. 6): after t = 0 … ``steps`` iterations of fitting the
    explicit distributions (:func:`advdist.samplers.fit_explicit` with ``record=True``), the mean cross-entropy
    ``loss`` of the k samples, their accuracy ``acc`` (fraction of samples classified correctly) and ``acc_all``
    (fraction of examples whose k samples are all correct), and the per-coordinate ``entropy``.

    ``entropy``, ``cumulative_grad``: the entropy's normalisation and the inner gradients
    (:func:`~advdist.samplers.fit_explicit`; default = ADT_EXP's, the authors' per-coordinate mean with cumulative
    gradients, as Table 4's EXP).
    ``batch_size`` examples are fitted together (None: all); statistics are averaged over examples (weighted by
    batch size), so the result does not depend on the batching beyond the random draws. Returns a DataFrame
    with columns ``step, loss, acc, acc_all, entropy`` (``steps + 1`` rows).
    """
    eps = check_eps(eps)
    n = len(y)
    if n == 0:
        raise ValueError("exp_convergence needs at least one example")
    bs = n if batch_size is None else int(batch_size)
    frames = []
    for i in range(0, n, max(bs, 1)):
        xb, yb = x[i:i + bs], y[i:i + bs]
        fit = fit_explicit(model, xb, yb, eps=eps, steps=steps, k=k, lr=lr, betas=betas, lam=lam, entropy=entropy,
                           cumulative_grad=cumulative_grad, sample_batch=sample_batch, record=True)
        df = pd.DataFrame(fit.trace)
        frames.append(df.assign(w=len(yb)))
    allf = pd.concat(frames)
    cols = ["loss", "acc", "acc_all", "entropy"]
    for c in cols:
        allf[c] = allf[c] * allf["w"]
    g = allf.groupby("step", sort=True)[cols + ["w"]].sum()
    res = g[cols].div(g["w"], axis=0).reset_index()
    res["step"] = res["step"].astype(int)
    return res[["step", *cols]]


__all__ = ["GENERATOR_METHODS", "attack_method", "train_generator_attack", "worst_of", "generator_attack",
           "DistributionAttack", "exp_convergence", "explicit_attack"]
