"""SPSA: gradient-free ℓ∞ attack of Uesato et al. 2018 ("Adversarial risk and the dangers of evaluating
against weak attacks", ICML), Alg. 1 — used by ADT as its query-based black-box attack (ADT §5.2, Table 3:
SPSA_256…SPSA_2048, perturbation size δ = 0.001, Adam lr 0.01, 100 iterations, early stop, ε = 8/255).

Gradient estimate (Uesato et al. Alg. 1, antithetic Rademacher SPSA of Spall 1992):

    ĝ(x) = 1/P Σ_p [L(x + δ v_p) − L(x − δ v_p)] / (2δ) · v_p,        v_p ∈ {−1, +1}^n,

with ``samples = 2P`` loss evaluations per example and step (ADT's "batch size" = ``samples``: its
``samples_per_draw`` of 256 is evaluated as 128 antithetic pairs). ``L`` is the margin
``z_y − max_{j≠y} z_j``, minimised with Adam on the image, followed by the ℓ∞ projection onto the ε-ball
and [0, 1] after every step. The noise is independent per example, and every sample of every image is
one row of a batched forward pass (chunked by ``batch_size`` rows).

Known bugs not reproduced here (peers.md §0.6, adt-official.md §4): cleverhans evaluates the estimate at
2x instead of x + δv; the ADT reference ``spsa.py`` before 1 Nov 2020 projected an alias of the clean
image, so the ε-projection did nothing.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .core import RowAdam, check_eps, chunked, frozen, logit_margin, project


def _check_samples(samples: int) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2 or samples % 2:
        raise ValueError(f"samples must be an even int >= 2 (antithetic pairs), got {samples!r}")
    return samples


def _rademacher(shape: tuple[int, ...], like: torch.Tensor,
                generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else like.device
    v = torch.randint(0, 2, shape, generator=generator, device=device, dtype=torch.int8)
    return (2 * v - 1).to(device=like.device, dtype=like.dtype)


def spsa_gradient(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, delta: float,
                  samples: int, generator: torch.Generator | None = None, *,
                  pairs_per_chunk: int | None = None) -> torch.Tensor:
    """SPSA estimate of ∇ₓL for every example (Uesato et al. 2018, Alg. 1; Spall 1992).

    ``loss_fn`` maps a tensor of shape ``(B, S, *x.shape[1:])`` (S perturbed copies of each of the B
    inputs) to per-copy losses of shape ``(B, S)``. ``samples`` = loss evaluations per example = 2 × the
    number of antithetic Rademacher pairs. The estimate is taken at ``x ± δv`` (never at ``2x``).
    ``pairs_per_chunk`` bounds how many pairs are evaluated per call (memory); the estimate is the mean
    over all pairs either way.
    """
    _check_samples(samples)
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    n_pairs = samples // 2
    chunk = n_pairs if pairs_per_chunk is None else max(1, min(int(pairs_per_chunk), n_pairs))
    b, feat = x.shape[0], x.shape[1:]
    grad = torch.zeros_like(x)
    for start in range(0, n_pairs, chunk):
        p = min(chunk, n_pairs - start)
        v = _rademacher((b, p) + tuple(feat), x, generator)                  # (B, p, ...)
        xs = torch.cat([x[:, None] + delta * v, x[:, None] - delta * v], dim=1)  # (B, 2p, ...)
        losses = loss_fn(xs)                                                 # (B, 2p)
        coef = (losses[:, :p] - losses[:, p:]) / (2 * delta)                 # (B, p)
        grad += (coef.view(b, p, *([1] * len(feat))) * v).sum(dim=1)
    return grad / n_pairs


def spsa(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, lr: float = 0.01,
         delta: float = 1e-3, samples: int = 256, iterations: int = 100, early_stop: bool = True,
         generator: torch.Generator | None = None, batch_size: int | None = None) -> torch.Tensor:
    """ℓ∞ SPSA attack (Uesato et al. 2018, Alg. 1) with ADT Table 3's settings as defaults.

    Minimises the margin ``z_y − max_{j≠y} z_j`` with Adam (lr ``lr``) on the SPSA gradient estimate
    (``samples`` evaluations per example and step, perturbation size ``delta``), projecting onto the
    ℓ∞ ε-ball ∩ [0, 1] after each step. With ``early_stop`` an example stops as soon as it is
    misclassified (checked before each step; already-misclassified inputs are returned unchanged).
    Queries per example: at most ``iterations · (samples + 1)``. ``batch_size`` caps the rows of one
    forward pass (B·samples rows per step in total). Only forward passes are used (no gradients).
    """
    eps = check_eps(eps, "linf")
    _check_samples(samples)
    if not lr > 0 or not delta > 0:
        raise ValueError(f"lr and delta must be > 0, got lr={lr!r}, delta={delta!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
    x = x.detach()
    x_adv = x.clone()
    if eps == 0 or iterations == 0 or x.shape[0] == 0:
        return x_adv
    adam = RowAdam(x_adv, lr=lr)
    pairs_per_chunk = None if batch_size is None else max(1, batch_size // 2)

    with frozen(model), torch.no_grad():
        def forward_margin(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return chunked(lambda zz, yy: logit_margin(model(zz), yy), z, labels, batch_size=batch_size)

        active = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(iterations):
            if early_stop:
                rows = active.nonzero().squeeze(1)
                still = forward_margin(x_adv[rows], y[rows]) >= 0
                active[rows[~still]] = False
            rows = active.nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            y_rows = y[rows]

            def loss_fn(xs: torch.Tensor, y_rows=y_rows) -> torch.Tensor:
                b, s = xs.shape[:2]
                return forward_margin(xs.flatten(0, 1), y_rows.repeat_interleave(s)).view(b, s)

            # one chunk of pairs covers ~batch_size rows across all active examples
            ppc = None if pairs_per_chunk is None else max(1, pairs_per_chunk // rows.numel())
            g = spsa_gradient(loss_fn, x_adv[rows], delta, samples, generator, pairs_per_chunk=ppc)
            adam.step(rows, g)                                    # descend the margin
            x_adv[rows] = project(x_adv[rows], x[rows], eps, "linf")
    return x_adv
