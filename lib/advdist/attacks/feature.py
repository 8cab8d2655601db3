"""FeaAttack: feature-space targeted attack (Lin et al. 2019, "Line290/FeatureAttack"), ADT App. C.5.

For each image x, draw ``n_targets`` target images x' of other classes and solve, for each target,

    δ* = argmin_{δ∈S} L(f'(x + δ), f'(x')),    δ^{t+1} = Π_S(δ^t − α·sign(∇ₓ L)),   δ⁰ ~ U(S),

with ADT's settings α = ε/8, 50 steps, 200 targets. The paper's text calls L_cos "the cosine similarity" but the
descent is meant to bring the features *together*: the official code minimises the cosine distance
max(1 − cos(f'(x + δ), f'(x')), 0), which is what is done here. The image counts as broken if any target's
iterate is misclassified (checked at every iterate x⁰ … x^T; naturally misclassified images are caught at x⁰).

f' is ``model.features(x)`` (flattened) unless ``features=`` is given: the models in ``advdist.models`` expose
the penultimate representation there. (ADT's paper says "before global average pooling"; its code uses the
pooled 640-d feature of the WRN — pass ``features=`` to choose.)

Targets are drawn uniformly with replacement from ``target_pool`` entries whose label differs (ADT draws from the
whole test set); all targets of an image run in one batch of n_targets·B rows, cut into ``batch_size`` chunks.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .core import (
    check_eps,
    check_inputs,
    check_positive,
    chunked,
    frozen,
    input_grad,
    normalize_step,
    project,
    random_start as _random_start,
)
from .gradient import at_least_fp32, chunked_tuple, margin


def draw_targets(y: torch.Tensor, y_pool: torch.Tensor, n_targets: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices (B, n_targets) into the pool, uniform with replacement over entries with a label ≠ y_i."""
    w = (y_pool[None, :] != y[:, None]).float()
    if len(y) and (w.sum(1) == 0).any():
        raise ValueError("target pool has no image of another class for some example")
    if not len(y):
        return torch.zeros(0, n_targets, dtype=torch.long, device=y.device)
    return torch.multinomial(w, n_targets, replacement=True, generator=generator)


def cosine_distance(f: torch.Tensor, f_target: torch.Tensor) -> torch.Tensor:
    """max(1 − cos(f, f_target), 0) per row, over flattened features (at least fp32)."""
    f, f_target = at_least_fp32(f.flatten(1)), at_least_fp32(f_target.flatten(1))
    return (1 - F.cosine_similarity(f, f_target.to(f.dtype), dim=1)).clamp_min(0)


def _head(model: nn.Module, x: torch.Tensor, feat: Callable) -> Callable | None:
    """``model.fc`` when ``model(x) == model.fc(model.features(x))`` (the advdist.models contract), checked on a few
    rows: then one forward pass gives both the logits for the success check and the features for the step."""
    fc = getattr(model, "fc", None)
    if not isinstance(fc, nn.Module) or not len(x):
        return None
    with torch.no_grad():
        probe = x[:4]
        try:
            same = torch.allclose(fc(feat(probe)), model(probe), rtol=1e-4, atol=1e-5)
        except (RuntimeError, TypeError, ValueError):
            return None
    return fc if same else None


def feature_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float, steps: int,
                   target_pool: tuple[torch.Tensor, torch.Tensor] | None = None, n_targets: int = 200,
                   norm: str = "linf", random_start: bool = True, early_stop: bool = True,
                   features: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   generator: torch.Generator | None = None, batch_size: int | None = 512,
                   return_success: bool = False, targets: torch.Tensor | None = None):
    """FeaAttack (ADT App. C.5): per image, ``n_targets`` feature-matching attacks in one batch; see module doc.

    ``target_pool=(x_pool, y_pool)``: images to draw targets from (default: the batch itself — the paper uses
    the test set). ``early_stop`` stops all copies of an image once one is misclassified (results are the same
    without it; it only saves compute). Returns, per image, the first successful adversarial copy (the one with the
    lowest margin z_y − max_{j≠y} z_j among the misclassified copies), else the copy with the lowest margin after
    ``steps`` updates; with ``return_success`` also the boolean "broken" mask.

    ``targets``: fixed target indices into the pool, shape (B, K) (e.g. from :func:`draw_targets`), used instead
    of drawing them; K replaces ``n_targets`` (the random start still comes from ``generator``).
    """
    eps = check_eps(eps, norm)
    check_inputs(x, y)
    check_positive("alpha", alpha)
    check_positive("steps", steps, integer=True, allow_zero=True)
    check_positive("n_targets", n_targets, integer=True)
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    feat = features if features is not None else getattr(model, "features", None)
    if not callable(feat):
        raise ValueError("feature_attack needs model.features(x) (penultimate features) or features=callable")
    x_pool, y_pool = target_pool if target_pool is not None else (x, y)
    if targets is not None:
        if targets.dim() != 2 or targets.shape[0] != x.shape[0] or targets.shape[1] < 1 or targets.is_floating_point():
            raise ValueError(f"targets must be integer indices of shape ({x.shape[0]}, K), K >= 1, "
                             f"got {tuple(targets.shape)} {targets.dtype}")
        if targets.numel() and (targets.min() < 0 or targets.max() >= len(y_pool)):
            raise ValueError(f"targets must index the target pool (0 … {len(y_pool) - 1})")
        n_targets = targets.shape[1]
    b, k = x.shape[0], n_targets
    tgt_idx = (targets.to(y.device, torch.long) if targets is not None
               else draw_targets(y, y_pool.to(y.device), k, generator))  # (B, K)
    xt = x.detach().repeat_interleave(k, 0)  # row i·K + j: copy j of image i
    yt = y.repeat_interleave(k)
    x_adv = _random_start(xt, eps, norm, generator) if random_start else xt.clone()
    out = x.detach().clone()
    done = torch.zeros(b, dtype=torch.bool, device=x.device)
    row_margin = torch.full((b * k,), float("inf"), device=x.device, dtype=torch.promote_types(x.dtype, torch.float32))
    row_wrong = torch.zeros(b * k, dtype=torch.bool, device=x.device)
    with frozen(model):
        uniq, inv = tgt_idx.flatten().unique(return_inverse=True)
        with torch.no_grad():
            f_uniq = chunked(lambda xb: feat(xb).flatten(1), x_pool[uniq.to(x_pool.device)].to(x.device),
                             batch_size=batch_size)
        head = _head(model, x, feat) if features is None else None

        def step(rows, update: bool):
            """Margins and predictions at the current iterate of ``rows``, and their next iterate."""
            xa = x_adv[rows]
            with torch.enable_grad():
                xa.requires_grad_(update)
                f = feat(xa) if (update or head is not None) else None
                if head is not None:
                    logits = head(f)
                else:
                    with torch.no_grad():
                        logits = model(xa)
                if not update:
                    return margin(logits, yt[rows]).detach(), logits.argmax(1) != yt[rows], xa.detach()
                g = input_grad(cosine_distance(f, f_uniq[inv[rows]]).sum(), xa)
            with torch.no_grad():
                nxt = project(xa.detach() - alpha * normalize_step(g, norm), xt[rows], eps, norm)
            return margin(logits, yt[rows]).detach(), logits.argmax(1) != yt[rows], nxt

        for t in range(steps + 1):
            img_active = ~done if early_stop else torch.ones_like(done)
            rows = img_active.repeat_interleave(k).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                break
            row_margin[rows], row_wrong[rows], nxt = chunked_tuple(
                lambda r: step(r, update=t < steps), rows, batch_size=batch_size)
            wrong, marg = row_wrong.view(b, k), row_margin.view(b, k)
            newly = wrong.any(1) & ~done
            if newly.any():  # x_adv still holds iterate t here
                pick = torch.where(wrong, marg, torch.full_like(marg, float("inf"))).argmin(1)
                out[newly] = x_adv.view(b, k, *x.shape[1:])[newly, pick[newly]]
                done |= newly
            if t == steps:
                break
            write = ~done[rows // k] if early_stop else torch.ones_like(rows, dtype=torch.bool)
            x_adv[rows[write]] = nxt[write]
        rest = ~done
        if rest.any():
            pick = row_margin.view(b, k).argmin(1)
            out[rest] = x_adv.view(b, k, *x.shape[1:])[rest, pick[rest]]
    out = out.detach()
    return (out, done) if return_success else out
