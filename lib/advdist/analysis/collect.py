"""Data collection for ADT's analysis figures: Fig. 1 (diversity of adversarial samples, Sec. 2.2.1) and
Fig. 2 (input-space loss surfaces and input-Hessian eigenvalues, Sec. 5.3).

The notebooks ``notebooks/adt/fig1_pca.ipynb`` and ``notebooks/adt/fig2_landscape.ipynb`` call these and plot;
the loops over images, samples and models live here.

Fig. 1 (ADT Sec. 2.2.1): "for each data we generate a set of adversarial examples by PGD with random restarts and
sample another set of adversarial examples from the adversarial distribution learned by ADT_EXP [...] targeted
at a standard trained model", projected by a joint 2-D PCA; the average pairwise ℓ2 distance over 100 CIFAR-10
test images is 1.95 (ADT_EXP) vs 1.56 (PGD). So the attacked model is the *Standard* model and "ADT_EXP" names
the explicit adversarial distribution (ADT Eq. 8) fitted by ADT_EXP's inner maximisation against it, not an
ADT_EXP-trained classifier. The paper states neither the PGD settings, the number of samples, nor whether the
ADT_EXP distribution is fitted with the training inner loop or the EXP attack's longer one (no code exists,
adt-official.md §5). Our choices (assumptions, all arguments): PGD = the paper's PGD-20 (α = ε/4, uniform random
start), each restart's *last* iterate (Madry's PGD; ``use_best=False``); the distribution = ADT_EXP's training
inner loop (T = 7, k = 5, lr 0.3, betas (0, 0), λ = 0.01 on the entropy averaged per coordinate, cumulative
gradients: :class:`ADTExp.defaults`, the official code's normalisation); the same number N of samples per image
for both.

Fig. 2 (ADT Sec. 5.3): loss surfaces on the plane of the sign-gradient and an orthogonal Rademacher direction
for Standard, AT_PGD, ADT_EXP, ADT_EXP-AM and ADT_IMP-AM, panels (a)-(e)
(:func:`advdist.analysis.loss_surface`), and (f) the dominant eigenvalue of the input Hessian of the CE loss,
mean ± std over 1000 test images (:func:`advdist.analysis.top_eigenvalues`, per-example scale; the official
script's numbers are 1/100 of these, adt-official.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from advdist import scales
from advdist.analysis.diversity import pairwise_l2
from advdist.analysis.hessian import top_eigenvalues
from advdist.analysis.landscape import LossSurface, loss_surface
from advdist.attacks import pgd
from advdist.attacks.core import check_eps, check_inputs, check_positive, frozen

#: ADT Sec. 2.2.1 (text under Fig. 1): average pairwise ℓ2 distance of the adversarial examples of one image,
#: averaged over 100 CIFAR-10 test images (ε = 8/255), for PGD with random restarts and the ADT_EXP distribution.
PAPER_FIG1 = {"PGD": 1.56, "ADT_EXP": 1.95}
#: the models of ADT Fig. 2 (a)-(e), in panel order, and their display names
FIG2_METHODS = ("standard", "at_pgd", "adt_exp", "adt_expam", "adt_impam")
LABELS = {"standard": "Standard", "at_pgd": "AT_PGD", "adt_exp": "ADT_EXP", "adt_expam": "ADT_EXP-AM",
          "adt_impam": "ADT_IMP-AM", "at_fgsm": "AT_FGSM", "alp": "ALP", "trades": "TRADES",
          "feature_scattering": "FeaScatter", "adt_exp_trades": "ADT_EXP+TRADES"}

#: explicit-distribution variants of Fig. 1 (name → :func:`explicit_distribution_samples` arguments): ADT_EXP's
#: default objective (the official code's: entropy averaged per coordinate, cumulative Adam gradients;
#: adt-official.md §1), Eq. 11 read literally (entropy summed over the coordinates, λ in per-image units, plain
#: Adam) and λ = 0 (no entropy: the distribution may collapse towards PGD-like points).
FIG1_VARIANTS: dict[str, dict] = {
    "ADT_EXP": {},
    "ADT_EXP (literal Eq. 11)": dict(entropy="sum", cumulative_grad=False),
    "ADT_EXP (λ = 0)": dict(lam=0.0),
}

#: per-scale sizes of the analyses. Paper: Fig. 1 text (100 images; N unstated, 100 assumed), Sec. 5.3 (1000
#: images for the eigenvalues; the script's 200 × 200 grid, here 201 so that the clean input lies on it).
SIZES: dict[str, dict[str, int]] = scales.ANALYSIS_SIZES


def sizes(scale: str, **overrides: int) -> dict[str, int]:
    """The analysis sizes of ``scale`` (:data:`SIZES`), with every non-zero ``override`` replacing its entry.

    Notebook parameters use 0 for "the scale's default", so ``sizes("mini", fig1_images=0)`` keeps 100.
    """
    if scale not in SIZES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SIZES)}")
    out = dict(SIZES[scale])
    for k, v in overrides.items():
        if k not in out:
            raise ValueError(f"unknown size {k!r}; valid: {', '.join(out)}")
        if v:
            check_positive(k, v, integer=True)
            out[k] = int(v)
    return out


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# ------------------------------------------------------------------------------------------------- Fig. 1

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
    from advdist.methods.adt_exp import ADTExp

    kw = {k: v for k, v in ADTExp.defaults.items() if k != "sample_batch"}
    kw["betas"] = tuple(float(v) for v in kw["betas"])
    return kw


def explicit_distribution_samples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, n: int,
                                  batch_size: int | None = None, **fit_kwargs) -> torch.Tensor:
    """``n`` samples per example of the explicit adversarial distribution ADT_EXP learns (ADT Fig. 1, orange).

    Fits φᵢ* = (μᵢ, σᵢ) of ADT Eq. (8) against ``model`` by ADT_EXP's inner maximisation (Eq. 9-11,
    :func:`advdist.samplers.fit_explicit`; settings :func:`explicit_fit_defaults`, overridable by ``fit_kwargs``,
    e.g. ``steps=20, k=10`` for the EXP attack's), then draws ``n`` fresh x + δ, δ ~ p_φᵢ*, clipped to [0, 1].
    Returns (B, n, ...). Uses the global RNG (seed it, or call :func:`sample_diversity`).
    """
    from advdist.samplers import explicit_samples

    kw = {**explicit_fit_defaults(), **fit_kwargs}
    return explicit_samples(model, x, y, eps=eps, n_samples=n, batch_size=batch_size, **kw)


@dataclass
class Diversity:
    """Adversarial samples of test images by several methods (ADT Fig. 1 and its text).

    ``distances[name]``: (B,) average pairwise ℓ2 distance of each image's N samples; ``errors[name]``: (B,)
    fraction of each image's samples the model misclassifies (attack power); ``samples[name]``: (K, N, ...) the
    samples of the first K images (for the PCA panels) and ``x``/``y`` those images; ``settings``: what ran.
    """

    distances: dict[str, torch.Tensor]
    errors: dict[str, torch.Tensor]
    samples: dict[str, torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor
    settings: dict = field(default_factory=dict)


def sample_diversity(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, n_samples: int,
                     pgd_steps: int = 20, pgd_alpha: float | None = None, keep: int = 4, image_batch: int = 16,
                     seed: int = 0, variants: dict[str, dict] | None = None,
                     batch_size: int | None = 1024) -> Diversity:
    """PGD-with-restarts samples vs ADT_EXP-distribution samples of each image, and their diversity (ADT Fig. 1).

    For each image (``image_batch`` at a time): ``n_samples`` PGD endpoints (:func:`pgd_restart_samples`,
    ``pgd_steps`` steps of ``pgd_alpha`` = ε/4 by default: ADT's PGD-20), stored as ``"PGD"``, and ``n_samples``
    draws of each fitted explicit distribution in ``variants`` (name → extra :func:`explicit_distribution_samples`
    arguments; default ``{"ADT_EXP": {}}``, ADT_EXP's own inner loop); then the average pairwise ℓ2 distance of each
    set (:func:`advdist.analysis.pairwise_l2`) and the fraction of misclassified samples. The samples of the first
    ``keep`` images are returned for the PCA panels. The RNG is seeded with ``seed`` inside a forked RNG state (the
    caller's global RNG is untouched; every variant starts from the same RNG state), so results are reproducible.
    ``batch_size``: rows per forward pass of the attacks.
    """
    eps = check_eps(eps)
    check_inputs(x, y)
    check_positive("n_samples", n_samples, integer=True)
    check_positive("image_batch", image_batch, integer=True)
    check_positive("keep", keep, integer=True, allow_zero=True)
    if n_samples < 2:
        raise ValueError("n_samples must be >= 2 (pairwise distances)")
    variants = {"ADT_EXP": {}} if variants is None else dict(variants)
    if "PGD" in variants:
        raise ValueError("'PGD' names the PGD samples; give the explicit variants other names")
    alpha = eps / 4 if pgd_alpha is None else float(pgd_alpha)
    dev = _device_of(model)
    x, y = x.to(dev), y.to(dev)
    fit_kw = {k: {**explicit_fit_defaults(), **v} for k, v in variants.items()}
    names = ("PGD", *variants)
    dist = {k: [] for k in names}
    err = {k: [] for k in names}
    kept = {k: [] for k in names}
    devices = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        gen = torch.Generator(device=dev).manual_seed(seed)
        for i in range(0, x.shape[0], image_batch):
            xb, yb = x[i:i + image_batch], y[i:i + image_batch]
            sets = {"PGD": pgd_restart_samples(model, xb, yb, eps=eps, alpha=alpha, steps=pgd_steps, n=n_samples,
                                               generator=gen, batch_size=batch_size)}
            state = _rng_state(dev)
            for k, kw in fit_kw.items():
                _set_rng_state(dev, state)
                sets[k] = explicit_distribution_samples(model, xb, yb, eps=eps, n=n_samples, **kw)
            for k, s in sets.items():
                dist[k].append(pairwise_l2(s, batched=True).cpu())
                err[k].append(_error_rate(model, s, yb, batch_size).cpu())
                if i < keep:
                    kept[k].append(s[: keep - i].cpu())
    cat = lambda d: {k: torch.cat(v) if v else torch.empty(0) for k, v in d.items()}  # noqa: E731
    settings = dict(eps=eps, n_samples=n_samples, n_images=int(x.shape[0]), pgd_steps=pgd_steps, pgd_alpha=alpha,
                    explicit=fit_kw, seed=seed)
    return Diversity(distances=cat(dist), errors=cat(err), samples=cat(kept), x=x[:keep].cpu(), y=y[:keep].cpu(),
                     settings=settings)


def _rng_state(dev: torch.device):
    return torch.random.get_rng_state(), (torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None)


def _set_rng_state(dev: torch.device, state) -> None:
    torch.random.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], dev)


@torch.no_grad()
def _error_rate(model: nn.Module, samples: torch.Tensor, y: torch.Tensor, batch_size: int | None) -> torch.Tensor:
    """(B,) fraction of each example's samples (B, N, ...) that ``model`` misclassifies."""
    b, n = samples.shape[:2]
    flat = samples.reshape(b * n, *samples.shape[2:])
    yy = y.repeat_interleave(n)
    bs = flat.shape[0] if batch_size is None else batch_size
    with frozen(model):
        pred = torch.cat([model(flat[j:j + bs]).argmax(1) for j in range(0, flat.shape[0], bs)])
    return (pred != yy).view(b, n).float().mean(1)


def diversity_table(div: Diversity) -> pd.DataFrame:
    """One row per method: mean (and std over images) of the average pairwise ℓ2 distance — the quantity ADT
    reports (1.95 vs 1.56) — and the mean fraction (%) of misclassified samples."""
    rows = []
    for k, d in div.distances.items():
        rows.append({"model": k, "pairwise_l2": d.double().mean().item(),
                     "pairwise_l2 std": d.double().std().item() if d.numel() > 1 else float("nan"),
                     "error %": 100 * div.errors[k].double().mean().item(), "images": int(d.numel()),
                     "samples/image": int(div.settings.get("n_samples", 0))})
    return pd.DataFrame(rows)


def paper_fig1() -> pd.DataFrame:
    """ADT's numbers for Fig. 1 (Sec. 2.2.1 text), in the ``report.beside_paper`` layout."""
    return pd.DataFrame([{"model": k, "pairwise_l2": v} for k, v in PAPER_FIG1.items()])


# ------------------------------------------------------------------------------------------------- Fig. 2

@dataclass
class TrainedModels:
    """Models of one paper setting at one scale, from the run store (``store.get_or_train``)."""

    models: dict[str, nn.Module]
    runs: dict
    skipped: list[str]
    splits: object
    cfg: object


def trained_models(scale: str, methods_: tuple[str, ...] | list[str] = FIG2_METHODS, *,
                   setting: str = "adt-cifar10", seed: int = 0, device: str = "auto",
                   progress: bool = False) -> TrainedModels:
    """Load (training when missing) the model of every implemented method in ``methods_`` (ADT Fig. 2 (a)-(e)).

    Methods not in :func:`advdist.methods.names` are listed in ``skipped``. The models are shared with the
    tables through the run store (same setting, scale and seed ⇒ same run).
    """
    from advdist import config, data, methods, store

    models, runs, skipped, splits, cfg = {}, {}, [], None, None
    for m in methods_:
        if m not in methods.names():
            skipped.append(m)
            continue
        cfg = config.resolve(scale, setting, method=m, seed=seed)
        if splits is None:
            splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        models[m], runs[m] = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
    if cfg is None:
        cfg = config.resolve(scale, setting, seed=seed)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
    return TrainedModels(models=models, runs=runs, skipped=skipped, splits=splits, cfg=cfg)


def loss_surfaces(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int,
                  span: float = 10.0, seed: int = 0, batch_size: int | None = 2048) -> dict[str, LossSurface]:
    """Per model, the CE loss on the plane x + a·d_g + b·d_r through each input (ADT Fig. 2 (a)-(e)).

    d_g = sign(∇ₓ CE) of that model, d_r an orthogonal Rademacher direction drawn from a generator seeded with
    ``seed`` (fresh for each model), a, b ∈ [−span·ε, span·ε] on ``steps`` points (defaults of
    :func:`advdist.analysis.loss_surface`: the official script's ±10ε, no clamping). Returns name → surface.
    """
    out = {}
    for name, model in models.items():
        dev = _device_of(model)
        gen = torch.Generator().manual_seed(seed)
        out[name] = loss_surface(model, x.to(dev), y.to(dev), eps=eps, steps=steps, span=span, generator=gen,
                                 batch_size=batch_size)
    return out


def _grid_parts(s: LossSurface, radius: float):
    """(losses (B, S, S) float64 on the CPU, clean-point losses (B,), losses on the ±radius·ε sub-grid)."""
    L = (s.losses if s.losses.dim() == 3 else s.losses.unsqueeze(0)).double().cpu()
    steps = s.alphas.numel()
    if steps % 2 == 0:
        raise ValueError("surface statistics need an odd number of grid steps (the clean input on the grid)")
    c = steps // 2
    tol = 1e-6 * max(s.eps, 1e-12)
    inside_a = (s.alphas.abs() <= radius * s.eps + tol).cpu()
    inside_b = (s.betas.abs() <= radius * s.eps + tol).cpu()
    return L, L[:, c, c], L[:, inside_b][:, :, inside_a]


def surface_rises(surfaces: dict[str, LossSurface], *, radius: float = 1.0) -> dict[str, torch.Tensor]:
    """Per model, (B,) max of L − L(x) over the grid points with |a|, |b| ≤ ``radius``·ε: how much the loss can
    rise on the plotted plane inside the threat model (a number per panel of ADT Fig. 2 (a)-(e))."""
    out = {}
    for name, s in surfaces.items():
        _, center, sub = _grid_parts(s, radius)
        out[name] = sub.flatten(1).amax(1) - center
    return out


def surface_stats(surfaces: dict[str, LossSurface], *, radius: float = 1.0) -> pd.DataFrame:
    """Flatness of each model's loss surfaces, averaged over the inputs (numbers for ADT Fig. 2 (a)-(e)).

    Columns: ``loss(x)`` — the loss at the clean input; ``rise ±rε`` — :func:`surface_rises` (max over the grid
    points with |a|, |b| ≤ ``radius``·ε of L − L(x)); ``rise grid`` — the same over the whole grid;
    ``range grid`` — max − min over the grid. Smaller rises mean a flatter surface. Needs the clean point
    a = b = 0 on the grid (odd ``steps``).
    """
    rows = []
    rises = surface_rises(surfaces, radius=radius)
    for name, s in surfaces.items():
        L, center, _ = _grid_parts(s, radius)
        flat = L.flatten(1)
        rows.append({"model": name, "loss(x)": center.mean().item(),
                     f"rise ±{radius:g}ε": rises[name].mean().item(),
                     "rise grid": (flat.amax(1) - center).mean().item(),
                     "range grid": (flat.amax(1) - flat.amin(1)).mean().item(), "inputs": int(L.shape[0])})
    return pd.DataFrame(rows)


def dominant_eigenvalues(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *, iters: int = 100,
                         tol: float = 1e-5, batch_size: int | None = 128,
                         seed: int = 0) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Per model, the dominant (largest algebraic) eigenvalue of each input's CE Hessian (ADT Fig. 2 (f)).

    :func:`advdist.analysis.top_eigenvalues` (Lanczos on batched Hessian-vector products), per-example scale.
    Returns (name → (B,) eigenvalues on the CPU, name → convergence info).
    """
    vals, infos = {}, {}
    for name, model in models.items():
        dev = _device_of(model)
        v, info = top_eigenvalues(model, x.to(dev), y.to(dev), iters=iters, tol=tol, batch_size=batch_size,
                                  seed=seed, return_info=True)
        vals[name] = v.detach().cpu()
        infos[name] = {k: t.cpu() for k, t in info.items()}
    return vals, infos


def eigen_table(eigs: dict[str, torch.Tensor], infos: dict[str, dict] | None = None) -> pd.DataFrame:
    """Mean and std (ddof = 1, as ``cal_hessian.py``) of the dominant eigenvalue per model (ADT Fig. 2 (f))."""
    rows = []
    for name, v in eigs.items():
        v = v.double()
        row = {"model": name, "eig mean": v.mean().item(),
               "eig std": v.std().item() if v.numel() > 1 else float("nan"), "images": int(v.numel())}
        if infos and name in infos:
            row["converged"] = int(infos[name]["converged"].sum().item())
        rows.append(row)
    return pd.DataFrame(rows)


def compare(values: dict[str, torch.Tensor], rows, baseline: str, *, what: str, expect: str = "smaller",
            z: float = 2.0) -> list[str]:
    """Plain sentences: is the per-image quantity ``values[row]`` ``expect`` (``"smaller"`` | ``"larger"``) than
    ``values[baseline]`` on the same images, as the paper claims (ADT Fig. 2: ADT flatter than AT_PGD; Fig. 1:
    ADT_EXP samples more diverse than PGD's)?

    The images are shared, so the test is paired: Δ = mean over images of (row − baseline), with its standard
    error SE = std(row − baseline)/√n; |Δ| ≤ ``z``·SE (or n < 2) is reported as "no clear difference". Rows
    absent from ``values`` are skipped; an absent baseline is reported.
    """
    if expect not in ("smaller", "larger"):
        raise ValueError(f"unknown expect {expect!r}; valid: smaller, larger")
    base = LABELS.get(baseline, baseline)
    if baseline not in values:
        return [f"{base} not available; no comparison"]
    b = values[baseline].double().flatten()
    out = []
    for r in rows:
        if r not in values:
            continue
        a = values[r].double().flatten()
        if a.shape != b.shape:
            raise ValueError(f"{r} and {baseline} must be measured on the same images, got {a.numel()} vs {b.numel()}")
        d = a - b
        n = d.numel()
        m = d.mean().item()
        se = d.std().item() / n ** 0.5 if n > 1 else float("nan")
        if n < 2 or abs(m) <= z * se:
            verdict = f"no clear difference (|Δ| ≤ {z:g} SE)"
        elif (m < 0) == (expect == "smaller"):
            verdict = f"{expect}, as the paper claims"
        else:
            verdict = f"NOT {expect}, contrary to the paper's claim"
        out.append(f"{LABELS.get(r, r)}: {what} {a.mean().item():.3g} vs {base} {b.mean().item():.3g} "
                   f"(paired Δ {m:+.3g} ± {se:.2g} SE, {n} images) — {verdict}")
    return out
