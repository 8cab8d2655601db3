"""Diversity of adversarial samples of one input: pairwise ℓ2 distances and a joint 2-D PCA (ADT Sec. 2.2.1, Fig. 1).

ADT Fig. 1 projects the adversarial examples of one test image — PGD with random restarts (blue) and samples
from the adversarial distribution learned by ADT_EXP (orange) — "onto the 2D space spanned by the first two
eigenvectors given by PCA", and measures diversity by "average pairwise distances": the average ℓ2 distance
over 100 test images is 1.95 for ADT_EXP and 1.56 for PGD (CIFAR-10, ε = 8/255). No code for either exists
(adt-official.md §5, "Not in any code found"); the reference's sanity check shows the numbers are plain ℓ2
distances in [0, 1] pixel units over all 3072 dimensions, which is what :func:`pairwise_l2` computes. Since
the samples of one input share x, distances (and the PCA, up to a shift) are the same for adversarial
examples x + δ and for perturbations δ.

The two sample sets of Fig. 1 on a given model: all restarts of PGD (:func:`pgd_restart_samples`) and draws of the
explicit distribution ADT_EXP fits (:func:`explicit_distribution_samples`); :func:`error_rate` is their attack power.
The figure's runner (images, seeds, tables) is :func:`advdist.experiments.adt.sample_diversity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from advdist.attacks import pgd
from advdist.attacks.core import check_eps, check_inputs, check_positive, frozen
from advdist.methods.adt_exp import ADTExp
from advdist.samplers import explicit_samples


def pairwise_l2(samples: torch.Tensor, *, batched: bool = False) -> torch.Tensor:
    """Average pairwise ℓ2 distance ``2/(N(N−1)) Σ_{i<j} ‖sᵢ − sⱼ‖₂`` (ADT Sec. 2.2.1, Fig. 1 text: 1.95 vs 1.56).

    ``samples``: (N, ...) — N adversarial samples of one input — or, with ``batched=True``, (B, N, ...) for B
    inputs (then one value per input; ADT averages those over 100 test images). Computed in float64 with exact
    differences (no ‖a‖² + ‖b‖² − 2ab cancellation). Returns a 0-d tensor (or (B,)).
    """
    s = samples if batched else samples.unsqueeze(0)
    if s.dim() < 2 or s.shape[1] < 2:
        raise ValueError(f"need at least 2 samples per input, got shape {tuple(samples.shape)}"
                         f"{' (batched: (B, N, ...))' if batched else ' ((N, ...))'}")
    f = (s.unsqueeze(-1) if s.dim() == 2 else s.flatten(2)).to(torch.float64)   # scalar samples: d = 1
    n = f.shape[1]
    D = torch.cdist(f, f, compute_mode="donot_use_mm_for_euclid_dist")      # (B, N, N)
    iu = torch.triu_indices(n, n, offset=1, device=f.device)
    out = D[:, iu[0], iu[1]].mean(1)
    return out if batched else out[0]


@dataclass
class PCA2D:
    """Joint 2-D PCA of several methods' samples of one input (ADT Fig. 1).

    ``coords[name]``: (N_name, 2) coordinates; ``components``: (2, d) orthonormal principal axes;
    ``mean``: (d,) joint mean; ``explained_variance_ratio``: (2,); ``reference``: (2,) coordinates of the
    clean input when one was given, else ``None``.
    """

    coords: dict[str, torch.Tensor]
    components: torch.Tensor
    mean: torch.Tensor
    explained_variance_ratio: torch.Tensor
    reference: torch.Tensor | None = None


def pca_2d(samples_by_method: Mapping[str, torch.Tensor], *, reference: torch.Tensor | None = None) -> PCA2D:
    """2-D PCA fitted jointly on all methods' samples of one input, each projected on it (ADT Fig. 1).

    The samples of every method (name → (N_m, ...)) are stacked, centred on their joint mean and decomposed by an
    exact SVD in float64 (deterministic, unlike randomised ``pca_lowrank``); the two leading right singular
    vectors are the principal axes. Each axis' sign is fixed so that its largest-magnitude loading is positive,
    so the figure is reproducible. ``reference`` (e.g. the clean input, any shape with d elements) is projected
    on the same axes.
    """
    if not samples_by_method:
        raise ValueError("samples_by_method is empty; pass e.g. {'PGD': x_pgd, 'ADT_EXP': x_adt}")
    flat = {k: torch.as_tensor(v).flatten(1).to(torch.float64) for k, v in samples_by_method.items()}
    dims = {v.shape[1] for v in flat.values()}
    if len(dims) != 1:
        raise ValueError(f"all methods' samples must have the same dimension, got {sorted(dims)}")
    X = torch.cat(list(flat.values()))
    if X.shape[0] < 2:
        raise ValueError("PCA needs at least 2 samples in total")
    mean = X.mean(0)
    Xc = X - mean
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    comps = Vh[:2].clone()
    if comps.shape[0] < 2:  # d == 1
        comps = torch.cat([comps, torch.zeros_like(comps)])
    idx = comps.abs().argmax(1)
    sign = torch.sign(comps[torch.arange(comps.shape[0]), idx])
    comps = comps * torch.where(sign == 0, 1.0, sign)[:, None]
    var = S ** 2
    ratio = var[:2] / var.sum().clamp_min(torch.finfo(var.dtype).tiny)
    if ratio.numel() < 2:
        ratio = torch.cat([ratio, ratio.new_zeros(2 - ratio.numel())])
    coords = {k: (v - mean) @ comps.T for k, v in flat.items()}
    ref = None
    if reference is not None:
        ref = (torch.as_tensor(reference).flatten().to(torch.float64) - mean) @ comps.T
    return PCA2D(coords=coords, components=comps, mean=mean, explained_variance_ratio=ratio, reference=ref)


def plot_pca(result: PCA2D, ax=None, *, colors: Mapping[str, str] | None = None, title: str | None = None,
             s: float = 12.0):
    """Scatter the joint PCA coordinates of each method, as ADT Fig. 1 (PGD blue, ADT_EXP orange: the default
    colour cycle C0, C1, ... in insertion order); the clean input, if given, as a black star. Returns the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.4))
    for i, (name, xy) in enumerate(result.coords.items()):
        c = (colors or {}).get(name, f"C{i}")
        xy = xy.cpu().numpy()
        ax.scatter(xy[:, 0], xy[:, 1], s=s, alpha=0.7, color=c, label=name, edgecolors="none")
    if result.reference is not None:
        r = result.reference.cpu().numpy()
        ax.scatter([r[0]], [r[1]], marker="*", s=120, color="black", label="clean input")
    evr = result.explained_variance_ratio.cpu().numpy()
    ax.set_xlabel(f"PC 1 ({100 * evr[0]:.1f}%)")
    ax.set_ylabel(f"PC 2 ({100 * evr[1]:.1f}%)")
    ax.legend(frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# ---- the two sample sets of ADT Fig. 1 (PGD restarts, the ADT_EXP distribution) -------------------------------

def pgd_restart_samples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, alpha: float,
                        steps: int, n: int, use_best: bool = False, generator: torch.Generator | None = None,
                        batch_size: int | None = None) -> torch.Tensor:
    """All ``n`` random-restart results of ℓ∞ PGD per example (ADT Fig. 1, blue), shape (B, n, ...).

    :func:`advdist.attacks.pgd` with ``restarts=n`` keeps only the worst restart; here x is repeated n times
    (restart-major: row r·B + i is restart r of example i) and attacked as ONE batch with ``restarts=1``, so
    every restart's own endpoint is kept. ``use_best=False`` (default) returns each restart's last iterate, as
    Madry's PGD; ``True`` its worst iterate. Each sample lies in the ε-ball around x and in [0, 1].
    """
    eps = check_eps(eps)
    check_inputs(x, y)
    check_positive("n", n, integer=True)
    b = x.shape[0]
    xt = x.repeat(n, *([1] * (x.dim() - 1)))
    yt = y.repeat(n)
    out = pgd(model, xt, yt, eps=eps, alpha=alpha, steps=steps, random_start=True, restarts=1,
              use_best=use_best, generator=generator, batch_size=batch_size)
    return out.view(n, b, *x.shape[1:]).transpose(0, 1).contiguous()


def explicit_fit_defaults() -> dict:
    """ADT_EXP's inner-loop settings (ADT Sec. 5, App. C.3: T = 7, k = 5, lr 0.3, betas (0, 0), λ = 0.01), as
    :func:`advdist.samplers.fit_explicit` keyword arguments — the defaults of the ``adt_exp`` training method."""
    kw = {k: v for k, v in ADTExp.defaults.items() if k != "sample_batch"}
    kw["betas"] = tuple(float(v) for v in kw["betas"])
    return kw


def explicit_distribution_samples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, n: int,
                                  batch_size: int | None = None, **fit_kwargs) -> torch.Tensor:
    """``n`` samples per example of the explicit adversarial distribution ADT_EXP learns (ADT Fig. 1, orange).

    Fits φᵢ* = (μᵢ, σᵢ) of ADT Eq. (8) against ``model`` by ADT_EXP's inner maximisation (Eq. 9-11,
    :func:`advdist.samplers.fit_explicit`; settings :func:`explicit_fit_defaults`, overridable by ``fit_kwargs``,
    e.g. ``steps=20, k=10`` for the EXP attack's), then draws ``n`` fresh x + δ, δ ~ p_φᵢ*, clipped to [0, 1].
    Returns (B, n, ...). Uses the global RNG (seed it, or call :func:`advdist.experiments.adt.sample_diversity`).
    """
    kw = {**explicit_fit_defaults(), **fit_kwargs}
    return explicit_samples(model, x, y, eps=eps, n_samples=n, batch_size=batch_size, **kw)


@torch.no_grad()
def error_rate(model: nn.Module, samples: torch.Tensor, y: torch.Tensor, batch_size: int | None) -> torch.Tensor:
    """(B,) fraction of each example's samples (B, N, ...) that ``model`` misclassifies."""
    b, n = samples.shape[:2]
    flat = samples.reshape(b * n, *samples.shape[2:])
    yy = y.repeat_interleave(n)
    bs = flat.shape[0] if batch_size is None else batch_size
    with frozen(model):
        pred = torch.cat([model(flat[j:j + bs]).argmax(1) for j in range(0, flat.shape[0], bs)])
    return (pred != yy).view(b, n).float().mean(1)
