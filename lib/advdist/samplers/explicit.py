"""ADT_EXP inner maximisation, ADT Sec. 3.1, Eq. (8)-(11), Alg. 2; and the EXP attack (ADT Table 4, Fig. 6).

For every example i, the explicit adversarial distribution p_φᵢ (δ = ε·tanh(u), u ~ N(μᵢ, diag σᵢ²), Eq. 8;
:class:`~advdist.samplers.TanhGaussian`) is fitted by T steps of Adam on φᵢ = (μᵢ, ρᵢ), σᵢ = softplus(ρᵢ),
ascending

    J(φᵢ) = E_{p_φᵢ}[ L(f(xᵢ + δᵢ), yᵢ) ] + λ·H(p_φᵢ)                                      (Eq. 9)

with the reparameterised Monte-Carlo gradient of Eq. (10) over k samples r ~ N(0, I), the entropy term being
the sample's negative log-density of Eq. (11). The k samples of a step are evaluated as ONE k·B batch (row
s·B + i is sample s of example i), cut into chunks of ``sample_batch`` rows whose φ-gradients are summed, with
the classifier frozen in eval mode (``attacks.core.frozen``) and gradients taken by ``torch.autograd.grad``
w.r.t. (μ, ρ) only (no weight gradients: the official code's ``loss.backward()`` also fills them).
``sample_batch="auto"`` (default) picks the chunk for the device (:func:`resolve_sample_batch`): on a CPU
whole samples of about :data:`AUTO_ROWS_CPU` rows (one k·B batch was slower per image there, cache-bound),
on a GPU the whole k·B batch. Chunking changes results only by float summation order (not at all when a chunk
holds one sample of every example). bf16 autocast and channels_last apply when the caller enables them
(the training loop's ``amp`` and ``channels_last``); the loss is computed in fp32 either way.
Every sample is clipped to [0, 1] (x + δ), as in the official code; tanh keeps δ in the ε-ball.

The entropy's normalisation and the inner optimiser. Defaults = the official ``adt_exp.py`` (reference note
adt-official.md §1, §8), the setting behind the paper's numbers. The paper prints Eq. (11) as the joint
log-density (a sum over coordinates) but never says in which units λ = 0.01 is meant, nor how Adam's gradients
are reset; its numbers came from the code:

- ``entropy="mean"`` (default): the code's objective Σ_s [mean_i L_is + λ·mean_{i,j} h_isj], h =
  r²/2 + log(σ + 1e-8) + log(1 − tanh²u + 1e-8) (Eq. 11 per coordinate, constants ½·log 2π and log ε dropped):
  the loss a batch mean, the entropy a mean over the batch and the d coordinates, the k sample gradients summed;
  λ weighs the entropy *per coordinate*. Why the default: in the literal form below the entropy outweighs the
  loss on almost every pixel (mini AT_PGD model at μ = 0: loss gradient 1.4e-4 per pixel on average, summed-entropy
  gradient 3.7e-3; sign(∂J/∂μ) follows the loss on 96 % of the coordinates where the loss acts in this form, on
  52 % — chance — in the summed one), the fitted σ sits at the entropy maximum, and ADT_EXP trained with it and
  plain Adam reaches
  34.3 % under PGD-20 against 61.2 % with these defaults and 62.8 % with the official ``adt_loss`` itself
  (issue 14, mini, 1000 test images; AT_PGD 61.9 %);
  and the paper's own claims (Table 4: EXP slightly stronger than PGD-20; Fig. 1: 1.95 vs 1.56; Fig. 5: entropy
  still rising with λ up to 1) need the per-coordinate weight.
- ``entropy="sum"``: Eq. (11) as printed, with λ in per-image units: each example ascends
  (1/k)·Σ_s [L_is + λ·Σ_j −log p(δ_isj)], the log-density summed over the d coordinates with all its constants
  (the gradient of example i does not depend on the batch). λ = 0.01 here is λ·d = 7.84 (Fashion-MNIST) or
  30.72 (CIFAR) in the default's units.
- ``cumulative_grad=True`` (default): the code never calls ``zero_grad`` on its Adam, so step t uses the
  gradient summed over steps 1..t. ``False``: plain Adam on each step's MC gradient (the paper's text read
  literally).
- ``betas=(0.0, 0.0)``, ``lr=0.3``, T = 7, k = 5, λ = 0.01: the paper's own values (Sec. 5, App. C.3); with
  β₁ = β₂ = 0 each Adam step is lr·g/(|g| + 1e-8), essentially sign-ascent of step 0.3 in u-space.
- ``init_scale``: the paper does not state φ's initialisation; μ = 0 and σ = ``init_scale`` = softplus(0) =
  ln 2 (:data:`INIT_SCALE_CODE`, the released code: ρ = 0) by default; :data:`INIT_SCALE_DEV` = softplus(−5) is
  the earlier development code's value.
- ``loss="trades"`` (ADT Sec. 5.4, App. D.2): L = KL(f(x) ‖ f(x + δ)) with f(x) the frozen classifier's clean
  probabilities, instead of L = CE(f(x + δ), y).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from advdist.attacks.core import check_eps, check_inputs, check_positive, frozen
from advdist.runtime import correct
from advdist.samplers.tanh_gaussian import TanhGaussian

LOSSES = ("ce", "trades")
#: the entropy's reduction (module docstring): the official code's per-coordinate mean (default), Eq. 11's sum
ENTROPIES = ("mean", "sum")
#: the per-coordinate density form each reduction uses (:meth:`TanhGaussian.neg_log_prob_from_noise`)
_DENSITY_FORM = {"mean": "code", "sum": "paper"}
#: option values of earlier versions and their new names
_RENAMED = {"code": "mean", "paper": "sum"}


def check_entropy(entropy, who: str = "entropy") -> str:
    """One-line ``ValueError`` unless ``entropy`` is one of :data:`ENTROPIES` (naming the new name of an old one)."""
    if entropy in ENTROPIES:
        return entropy
    hint = f" ({entropy!r} is now called {_RENAMED[entropy]!r})" if entropy in _RENAMED else ""
    raise ValueError(f"unknown {who} {entropy!r}{hint}; valid: {', '.join(ENTROPIES)}")
#: σ₀ of the released code: ρ = 0, σ = softplus(0) = ln 2
INIT_SCALE_CODE = math.log(2.0)
#: σ₀ of the February 2020 development code: ρ = −5, σ = softplus(−5) ≈ 0.0067
INIT_SCALE_DEV = math.log1p(math.exp(-5.0))
#: ``sample_batch="auto"`` on a CPU: chunks of whole samples of about this many rows (TRADES SmallCNN on 2 cores:
#: 128-256 rows per pass were fastest, one 640-row pass ~1.2-1.5x slower; DESIGN.md "Performance conventions")
AUTO_ROWS_CPU = 128


def resolve_sample_batch(sample_batch, batch: int, k: int, device) -> int | None:
    """Rows per inner forward pass of the ADT_EXP objective (ADT Eq. 10's k·B MC rows, chunked).

    An int is kept; ``None`` = all k·B rows at once; ``"auto"``: on CUDA ``None``, elsewhere the largest
    multiple of ``batch`` that is ≤ max(``batch``, :data:`AUTO_ROWS_CPU`) — whole samples per chunk, so with
    ``batch`` ≥ :data:`AUTO_ROWS_CPU` every chunk holds one sample of every example.
    """
    if sample_batch != "auto":
        return sample_batch
    if torch.device(device).type == "cuda":
        return None
    return min(k * batch, batch * max(1, AUTO_ROWS_CPU // max(batch, 1)))


class ExplicitFit(NamedTuple):
    """Fitted per-example parameters φᵢ = (μᵢ, σᵢ) of ADT Eq. (8), shaped like x; ``trace``: per-step stats or None.

    ``trace`` (with ``record=True``) holds T + 1 dicts, for the distributions before step 1 (t = 0) … after step T:
    ``loss`` (mean L over the k samples and the batch: the MC estimate of E[L]), ``acc`` (fraction of samples
    classified correctly), ``acc_all`` (fraction of examples whose k samples are all correct), ``entropy`` (the
    entropy per coordinate, Eq. 11 with all its constants, averaged, whatever ``entropy`` says) — ADT Fig. 6.
    """

    loc: torch.Tensor
    scale: torch.Tensor
    trace: list[dict[str, float]] | None = None

    def distribution(self, eps: float) -> TanhGaussian:
        """The fitted explicit adversarial distribution p_φ* (ADT Eq. 8)."""
        return TanhGaussian(self.loc, self.scale, eps)


class Objective(NamedTuple):
    """One MC evaluation of the inner objective (ADT Eq. 9-10) and its gradient w.r.t. (μ, ρ)."""

    value: torch.Tensor         # scalar J (see the module docstring for its reduction per ``entropy`` form)
    grad_loc: torch.Tensor      # ∂J/∂μ, shaped like x (None when not requested)
    grad_rho: torch.Tensor      # ∂J/∂ρ, σ = softplus(ρ)
    losses: torch.Tensor        # (k, B) classification loss L of every sample
    correct: torch.Tensor       # (k, B) bool: sample classified as y
    neg_log_prob: torch.Tensor  # (k, B) −log p(δ) of every sample, summed over coordinates, in the chosen form


def entropy_terms(dist: TanhGaussian, r: torch.Tensor, entropy: str) -> torch.Tensor:
    """Per-coordinate −log p(δ(r)) of reparameterised samples (ADT Eq. 11), the entropy estimate of Eq. (10), in
    the density form of reduction ``entropy`` ("mean": the code's constant-free terms; "sum": Eq. 11 exactly)."""
    return dist.neg_log_prob_from_noise(r, _DENSITY_FORM[entropy])


def sample_loss(logits: torch.Tensor, y: torch.Tensor, loss: str,
                clean_probs: torch.Tensor | None = None) -> torch.Tensor:
    """Per-row L to maximise: CE(f(x+δ), y) (ADT Eq. 5, 9) or KL(f(x) ‖ f(x+δ)) (TRADES form, ADT Sec. 5.4)."""
    logits = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    return F.kl_div(F.log_softmax(logits, dim=1), clean_probs.to(logits.dtype), reduction="none").sum(1)


def _check(loss: str, entropy: str, sample_batch, lam: float) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    check_entropy(entropy)
    if sample_batch is not None and sample_batch != "auto":
        check_positive("sample_batch", sample_batch, integer=True)
    check_positive("lam", lam, allow_zero=True)


def _objective(model, x, y, loc, rho, noise, *, eps, lam, entropy, loss, clean_probs, sample_batch,
               loss_weight: float = 1.0, need_grad: bool = True) -> Objective:
    """Evaluate J and ∂J/∂(μ, ρ) on the k·B rows ``noise`` (k, B, …) defines; model assumed frozen (eval)."""
    k, b = noise.shape[0], noise.shape[1]
    d = x[0].numel()
    rows = k * b
    sample_batch = resolve_sample_batch(sample_batch, b, k, x.device)
    chunk = rows if sample_batch is None else min(int(sample_batch), rows)
    if entropy == "sum":  # Eq. 11 as printed: each example its own objective, mean over its k samples
        w_loss, w_ent = loss_weight / k, lam / k
    else:                 # official code: batch-mean loss, per-coordinate-mean entropy, summed over samples
        w_loss, w_ent = loss_weight / b, lam / (b * d)
    r_all = noise.reshape(rows, *x.shape[1:])
    value = torch.zeros((), dtype=torch.float64, device=x.device)
    g_loc = torch.zeros_like(loc) if need_grad else None
    g_rho = torch.zeros_like(rho) if need_grad else None
    losses, correct, nlp = [], [], []
    # whole samples per chunk (chunk >= B): μ, σ and x broadcast over the chunk's samples — no row gather, and
    # autograd sums the samples' gradients without a scatter; else row chunks that gather their examples
    per = max(1, chunk // b) if chunk >= b else None
    starts = range(0, k, per) if per else range(0, rows, chunk)
    with torch.enable_grad() if need_grad else torch.no_grad():
        for start in starts:
            if per:
                r = noise[start:start + per]                   # (m, B, ...)
                m = r.shape[0]
                dist = TanhGaussian(loc, F.softplus(rho), eps, validate_args=False)
                x_adv = (x + dist.rsample_from(r)).clamp(0.0, 1.0).reshape(m * b, *x.shape[1:])
                yc = y.repeat(m)
                cp = None if clean_probs is None else clean_probs.repeat(m, 1)
            else:
                idx = torch.arange(start, min(start + chunk, rows), device=x.device) % b
                r = r_all[start:start + chunk]
                dist = TanhGaussian(loc.index_select(0, idx), F.softplus(rho.index_select(0, idx)), eps,
                                    validate_args=False)
                x_adv = (x.index_select(0, idx) + dist.rsample_from(r)).clamp(0.0, 1.0)
                yc = y.index_select(0, idx)
                cp = None if clean_probs is None else clean_probs.index_select(0, idx)
            logits = model(x_adv)
            lc = sample_loss(logits, yc, loss, cp)
            hc = entropy_terms(dist, r, entropy).reshape(len(yc), -1).sum(1)
            j = w_loss * lc.sum() + w_ent * hc.sum()
            if need_grad:
                ga, gb = torch.autograd.grad(j, (loc, rho))
                g_loc += ga
                g_rho += gb
            value += j.detach().double()
            losses.append(lc.detach())
            correct.append(logits.detach().argmax(1) == yc)
            nlp.append(hc.detach())
    cat = lambda ts: torch.cat(ts).view(k, b)  # noqa: E731
    return Objective(value, g_loc, g_rho, cat(losses), cat(correct), cat(nlp))


def explicit_objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loc: torch.Tensor, rho: torch.Tensor,
                       noise: torch.Tensor, *, eps: float, lam: float = 0.01, entropy: str = "mean",
                       loss: str = "ce", loss_weight: float = 1.0,
                       sample_batch: int | str | None = "auto") -> Objective:
    """One MC estimate of the ADT_EXP inner objective (Eq. 9) and its reparameterised gradient (Eq. 10).

    ``loc`` (μ) and ``rho`` (σ = softplus(ρ)) are shaped like ``x`` and must require grad; ``noise`` (k, B, …)
    holds the k standard-normal draws r of every example. The k·B rows are evaluated in chunks of
    ``sample_batch`` rows (None: one batch; "auto": :func:`resolve_sample_batch`) with the model frozen in eval
    mode; the result does not depend on the chunking (up to float summation order). ``entropy``/``loss``: see
    the module docstring; ``loss_weight`` multiplies L (J = E[w·L] + λ·H).
    """
    eps = check_eps(eps)
    _check(loss, entropy, sample_batch, lam)
    if noise.shape[1:] != x.shape:
        raise ValueError(f"noise must have shape (k, {', '.join(map(str, x.shape))}), got {tuple(noise.shape)}")
    with frozen(model) as net:
        clean = _clean_probs(net, x) if loss == "trades" else None
        return _objective(net, x, y, loc, rho, noise, eps=eps, lam=lam, entropy=entropy, loss=loss,
                          clean_probs=clean, sample_batch=sample_batch, loss_weight=loss_weight)


@torch.no_grad()
def _clean_probs(model, x):
    """Softmax of the frozen classifier on the clean inputs (the fixed target of the TRADES KL)."""
    logits = model(x)
    return F.softmax(logits if logits.dtype in (torch.float32, torch.float64) else logits.float(), dim=1)


def _stats(step: int, res: Objective, loc, rho, noise, eps) -> dict[str, float]:
    with torch.no_grad():
        h = TanhGaussian(loc, F.softplus(rho), eps, validate_args=False).entropy_estimate(noise, "paper")
    return {"step": step, "loss": res.losses.mean().item(), "acc": res.correct.float().mean().item(),
            "acc_all": res.correct.all(0).float().mean().item(), "entropy": h.mean().item()}


def fit_explicit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 7, k: int = 5,
                 lr: float = 0.3, betas: tuple[float, float] = (0.0, 0.0), lam: float = 0.01,
                 init_scale: float = INIT_SCALE_CODE, entropy: str = "mean", cumulative_grad: bool = True,
                 loss: str = "ce", loss_weight: float = 1.0, sample_batch: int | str | None = "auto",
                 record: bool = False) -> ExplicitFit:
    """Fit the explicit adversarial distributions φᵢ* of a batch: the inner loop of ADT Alg. 2 (Eq. 8-11).

    Per example, μ = 0 and σ = ``init_scale`` (ρ = softplus⁻¹(σ)); then ``steps`` (T) Adam steps (``lr``,
    ``betas``) ascend J of Eq. (9) with the gradient of Eq. (10) estimated from ``k`` samples, drawn each step as
    one ``torch.randn((k, *x.shape))`` from the global RNG. The classifier is frozen in eval mode throughout.
    ``entropy`` ("mean": the official code's per-coordinate mean, default; "sum": Eq. 11 as printed, λ in
    per-image units), ``cumulative_grad`` (default True, the code's never-zeroed Adam grads), ``init_scale``,
    ``loss``: see the module docstring; ``loss_weight`` w multiplies L (J = E[w·L] + λ·H; ADT_EXP+TRADES uses w = β).
    ``sample_batch`` bounds the rows per forward pass ("auto": :func:`resolve_sample_batch`). ``record=True``
    returns per-step stats in ``trace`` (t = 0 … T; the t = T entry uses k extra samples) for ADT Fig. 6.
    Returns :class:`ExplicitFit`.
    """
    eps = check_eps(eps)
    check_inputs(x, y)
    _check(loss, entropy, sample_batch, lam)
    check_positive("steps", steps, integer=True, allow_zero=True)
    check_positive("k", k, integer=True)
    check_positive("lr", lr)
    check_positive("loss_weight", loss_weight, allow_zero=True)
    check_positive("init_scale", init_scale)
    if not eps > 0:
        raise ValueError("eps must be > 0 for an explicit adversarial distribution")
    betas = tuple(float(v) for v in betas)
    x = x.detach()
    rho0 = math.log(math.expm1(init_scale)) if init_scale < 30 else float(init_scale)
    trace: list[dict[str, float]] = []
    with frozen(model) as net:
        clean = _clean_probs(net, x) if loss == "trades" else None
        loc = torch.zeros_like(x, requires_grad=True)
        rho = torch.full_like(x, rho0, requires_grad=True)
        opt = torch.optim.Adam([loc, rho], lr=lr, betas=betas, maximize=True)
        kw = dict(eps=eps, lam=lam, entropy=entropy, loss=loss, clean_probs=clean, sample_batch=sample_batch,
                  loss_weight=float(loss_weight))
        cum = None
        for t in range(steps):
            noise = torch.randn((k, *x.shape), dtype=x.dtype, device=x.device)
            res = _objective(net, x, y, loc, rho, noise, **kw)
            if record:
                trace.append(_stats(t, res, loc, rho, noise, eps))
            g = (res.grad_loc, res.grad_rho)
            if cumulative_grad:
                cum = g if cum is None else (cum[0] + g[0], cum[1] + g[1])
                g = (cum[0].clone(), cum[1].clone())
            loc.grad, rho.grad = g
            opt.step()
        if record:
            noise = torch.randn((k, *x.shape), dtype=x.dtype, device=x.device)
            res = _objective(net, x, y, loc, rho, noise, need_grad=False, **kw)
            trace.append(_stats(steps, res, loc, rho, noise, eps))
    return ExplicitFit(loc.detach(), F.softplus(rho).detach(), trace if record else None)


def sample_adversarial(fit: ExplicitFit, x: torch.Tensor, eps: float, n: int | None = None) -> torch.Tensor:
    """Fresh samples x + δ, δ ~ p_φ* (Eq. 8), clipped to [0, 1]: shape of x (``n=None``) or (B, n, …)."""
    dist = fit.distribution(eps)
    with torch.no_grad():
        if n is None:
            return (x + dist.sample()).clamp(0.0, 1.0)
        delta = dist.sample((n,)).transpose(0, 1)
        return (x.unsqueeze(1) + delta).clamp(0.0, 1.0)


def explicit_samples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 20,
                     k: int = 10, n_samples: int = 100, batch_size: int | None = None, **fit_kwargs) -> torch.Tensor:
    """The EXP attack's samples (ADT Sec. 5.3, Table 4: T = 20, k = 10): fit φ*, draw ``n_samples`` per example.

    Returns (B, n_samples, …) adversarial inputs in the ε-ball and [0, 1]. ``batch_size`` examples are fitted at a
    time (None: all); ``fit_kwargs`` go to :func:`fit_explicit` (lr 0.3, betas (0, 0), λ 0.01 on the
    per-coordinate mean entropy with cumulative gradients by default, as ADT_EXP's training — the paper gives no
    λ for the attack; its App. D.3 gives lr and betas).
    """
    eps = check_eps(eps)
    check_positive("n_samples", n_samples, integer=True)
    n = len(y)
    bs = n if batch_size is None else int(batch_size)
    out = []
    for i in range(0, n, max(bs, 1)):
        xb, yb = x[i:i + bs], y[i:i + bs]
        fit = fit_explicit(model, xb, yb, eps=eps, steps=steps, k=k, **fit_kwargs)
        out.append(sample_adversarial(fit, xb, eps, n_samples))
    return torch.cat(out) if out else x.new_empty((0, n_samples, *x.shape[1:]))


def explicit_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 20, k: int = 10,
                    n_samples: int = 100, batch_size: int | None = None, **fit_kwargs) -> torch.Tensor:
    """EXP as an attack of the common shape ``x_adv = attack(model, x, y, *, eps)`` (ADT Table 4).

    Fits φ* (:func:`explicit_samples`), draws ``n_samples`` per example and returns, per example, its worst
    sample: the first misclassified one, else the one of highest CE. So ``model(x_adv)`` is correct exactly when
    ALL n samples are (the "all samples correct" rule of the official Table 4 evaluation, reference note §4).
    """
    samples = explicit_samples(model, x, y, eps=eps, steps=steps, k=k, n_samples=n_samples, batch_size=batch_size,
                               **fit_kwargs)
    b, n = samples.shape[:2]
    if b == 0:
        return x.clone()
    with frozen(model), torch.no_grad():
        flat = samples.reshape(b * n, *x.shape[1:])
        yy = y.repeat_interleave(n)
        rows = b * n if batch_size is None else max(int(batch_size), 1) * n
        logits = torch.cat([model(flat[i:i + rows]) for i in range(0, b * n, rows)])
        ce = sample_loss(logits, yy, "ce").view(b, n)
        wrong = (logits.argmax(1) != yy).view(b, n)
        score = torch.where(wrong, torch.full_like(ce, float("inf")), ce)
        pick = score.argmax(1)  # first index of the max: the first misclassified sample, else the highest CE
    return samples[torch.arange(b, device=x.device), pick]


def explicit_robust(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 20, k: int = 10,
                    n_samples: int = 100, batch_size: int | None = None, **fit_kwargs) -> torch.Tensor:
    """Per-example bool: all ``n_samples`` EXP samples classified correctly (ADT Table 4 "EXP" accuracy = mean)."""
    x_adv = explicit_attack(model, x, y, eps=eps, steps=steps, k=k, n_samples=n_samples, batch_size=batch_size,
                            **fit_kwargs)
    with frozen(model), torch.no_grad():
        return correct(model(x_adv), y)
