"""2-D toy measurements and plots for ATLD's illustrative figures (ATLD Fig. 1, App. B.4 Fig. 4, B.5 Fig. 6,
B.6 Fig. 7).

No official code exists for these figures (atld-atent-baselines.md §A.6); they are rebuilt from the paper's text:

- Fig. 1: a 2-D data set, the boundary of a clean-trained model, and the same points perturbed by PGD (supervised),
  by Feature Scattering (FS, unsupervised OT on the batch) and by ATLD's LMAE (unsupervised, a discriminator on the
  clean model's latents; :func:`advdist.experiments.atld.fit_discriminator`) — :func:`perturb`.
- Fig. 4: the decision boundaries after standard, PGD, FS and ATLD training —
  :func:`advdist.experiments.atld.train_toy` + :func:`plot_boundary`.
- Fig. 6: clean, PGD-perturbed and IMT-adjusted points under the ATLD boundary — :func:`advdist.defenses.IMT`.
- Fig. 7: the perturbation direction fields of PGD, FS and ATLD over a grid — :func:`direction_field`.

Data: scikit-learn's two moons (:mod:`advdist.data.toy`) mapped affinely into the unit square
(:func:`advdist.experiments.atld.toy_splits`) so that the library's attacks, whose iterates live in [0, 1], apply
unchanged; ε is in those unit-square units (config setting ``"atld-toy"``). Models are small ReLU MLPs trained
through the run store like every other model.

The data, configs and trained models (:func:`toy_splits`, :func:`toy_config`, :func:`train_toy`,
:func:`fit_discriminator`, :data:`FIT_ITERS`, :data:`FIG4_METHODS`) live in :mod:`advdist.experiments.atld`; this module
keeps what computes on a given model, and re-exports those names for old callers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from advdist.analysis.discriminator import roc_auc
from advdist.attacks import pgd
from advdist.attacks.core import frozen, input_grad, random_start
from advdist.defenses import imt_transform

# the toy set's data, configs and trained models live in the experiment layer; re-exported here for old callers
from advdist.experiments.atld import (  # noqa: F401  # noqa: F401
    FIG4_METHODS,
    FIT_ITERS,
    TOY_METHOD_KWARGS,
    TOY_SETTING as SETTING,  # noqa: F401
    fit_discriminator,
    toy_config,
    toy_splits,
    train_toy,
)
from advdist.methods.atld import lmae, manifold_perturbation_loss
from advdist.methods.feature_scattering import ot_distance, scatter_perturb

__all__ = ["grid", "predict_grid", "perturb", "direction_field", "plot_boundary", "plot_points", "PERTURBATIONS",
           "perturbation_stats", "boundary_stats", "toward_boundary", "imt_points",
           # re-exported from advdist.experiments.atld (old callers)
           "SETTING", "TOY_METHOD_KWARGS", "toy_splits", "toy_config", "train_toy", "fit_discriminator", "FIT_ITERS",
           "FIG4_METHODS"]

PERTURBATIONS = ("PGD", "FS", "ATLD")


def perturb(kind: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, disc: nn.Module | None = None,
            pgd_steps: int = 10, seed: int = 0) -> torch.Tensor:
    """The Fig. 1 perturbations of a batch by ``kind``: ``"PGD"`` (CE with labels, ``pgd_steps`` steps of ε/4,
    random start), ``"FS"`` (one ε step ascending the batch OT distance from a random start, FS Alg. 1) or
    ``"ATLD"`` (one ε LMAE step on the discriminator ``disc``, no labels, ATLD Eq. (7))."""
    torch.manual_seed(seed)
    if kind == "PGD":
        return pgd(model, x, y, eps=eps, alpha=eps / 4, steps=pgd_steps)
    if kind == "FS":
        return scatter_perturb(model, x, eps=eps)
    if kind == "ATLD":
        if disc is None:
            raise ValueError("ATLD perturbations need the discriminator (fit_discriminator or load_discriminator)")
        return lmae(model, disc, x, eps=eps)
    raise ValueError(f"unknown perturbation {kind!r}; valid: {', '.join(PERTURBATIONS)}")


def grid(n: int = 100, lo: float = 0.0, hi: float = 1.0) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """An n×n grid over [lo, hi]²: (xx, yy) mesh arrays and the points as an (n², 2) float tensor."""
    xs = np.linspace(lo, hi, n, dtype=np.float32)
    xx, yy = np.meshgrid(xs, xs)
    return xx, yy, torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))


@torch.no_grad()
def predict_grid(model: nn.Module, pts: torch.Tensor, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(class map, margin map) of ``model`` on grid points: argmax class and z_1 − z_0 (two classes) or the top-2
    logit gap; the decision boundary is the zero level set of the margin for two classes."""
    was = model.training
    model.eval()
    z = model(pts)
    model.train(was)
    cls = z.argmax(1)
    if z.shape[1] == 2:
        margin = z[:, 1] - z[:, 0]
    else:
        top = z.topk(2, dim=1).values
        margin = top[:, 0] - top[:, 1]
    return cls.view(shape).numpy(), margin.view(shape).numpy()


def direction_field(kind: str, model: nn.Module, pts: torch.Tensor, *, eps: float, disc: nn.Module | None = None,
                    seed: int = 0) -> torch.Tensor:
    """Unit ascent directions of each scheme's perturbation objective at ``pts`` (ATLD Fig. 7), shape (N, 2):

    - ``"PGD"``: ∇_x CE(f(x), ŷ) with ŷ the model's own prediction (grid points have no labels);
    - ``"FS"``: ∇_{x'} OT(f(pts), f(x')) at the random start x' = x + U(−ε, ε) (at x' = x the OT gradient vanishes:
      the cost is minimal there), the grid being the batch;
    - ``"ATLD"``: ∇_x Σ log(1 − D⁰(f(x))) (the LMAE objective; labels unused).

    The ℓ∞ steps of the schemes are the signs of these vectors; the field shows the unquantised direction.
    """
    torch.manual_seed(seed)
    x = pts.detach()
    with frozen(model), torch.enable_grad():
        if kind == "PGD":
            with torch.no_grad():
                yhat = model(x).argmax(1)
            xg = x.clone().requires_grad_(True)
            g = input_grad(F.cross_entropy(model(xg), yhat, reduction="sum"), xg)
        elif kind == "FS":
            with torch.no_grad():
                z_nat = model(x)
            xg = random_start(x, eps).requires_grad_(True)
            g = input_grad(ot_distance(z_nat, model(xg)), xg)
        elif kind == "ATLD":
            if disc is None:
                raise ValueError("the ATLD field needs the discriminator")
            xg = x.clone().requires_grad_(True)
            g = input_grad(manifold_perturbation_loss(disc, model.features(xg)), xg)
        else:
            raise ValueError(f"unknown perturbation {kind!r}; valid: {', '.join(PERTURBATIONS)}")
    return g / (g.norm(dim=1, keepdim=True) + 1e-12)


def plot_boundary(ax, model: nn.Module, *, n: int = 150, lo: float = 0.0, hi: float = 1.0, fill: bool = True,
                  color: str = "k") -> None:
    """Shade the class regions of ``model`` over [lo, hi]² and draw its decision boundary (zero margin)."""
    xx, yy, pts = grid(n, lo, hi)
    cls, margin = predict_grid(model, pts, xx.shape)
    if fill:
        ax.contourf(xx, yy, cls, levels=np.arange(cls.max() + 2) - 0.5, cmap="coolwarm", alpha=0.18)
    ax.contour(xx, yy, margin, levels=[0.0], colors=color, linewidths=1.2)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_points(ax, x: torch.Tensor, y: torch.Tensor, *, s: float = 6, alpha: float = 0.8, legend: bool = False,
                class_names=None) -> None:
    """Scatter 2-D points coloured by class (blue = 0, red = 1, …, the colours of :func:`plot_boundary`'s regions).
    ``legend=True`` adds a class legend (``class_names`` or "class 0", "class 1", …)."""
    import matplotlib.pyplot as plt

    x, y = x.detach().numpy(), y.numpy()
    vmax = max(1, int(y.max()))
    cmap = plt.get_cmap("coolwarm")
    for c in np.unique(y):
        name = class_names[int(c)] if class_names is not None else f"class {int(c)}"
        pts = x[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], color=cmap(int(c) / vmax), s=s, alpha=alpha, edgecolors="none", label=name)
    if legend:
        ax.legend(loc="lower right", fontsize=7, markerscale=2, framealpha=0.8)


@torch.no_grad()
def perturbation_stats(model: nn.Module, x: torch.Tensor, y: torch.Tensor, perturbed: dict,
                       disc: nn.Module | None = None) -> pd.DataFrame:
    """One row per perturbation scheme (plus ``original``): the model's accuracy (%) on the points, the mean
    |logit margin| (how close the points sit to the decision boundary, in logit units; smaller = closer) and the mean
    ℓ∞ displacement from x; with ``disc``, also the discriminator's mean P(natural) and its ROC-AUC for the original
    points (positives) against this set (:func:`advdist.analysis.discriminator.roc_auc`; 0.5 for the original row).
    Quantifies ATLD Fig. 1's claim that supervised (PGD) perturbations crowd the boundary, and Fig. 6's that IMT
    moves points back."""
    was = model.training
    model.eval()
    d_was = disc.training if disc is not None else False
    if disc is not None:
        disc.eval()
    rows = []
    p_orig = torch.sigmoid(disc(model.features(x))[0]) if disc is not None else None
    for name, xp in {"original": x, **perturbed}.items():
        z = model(xp)
        top = z.topk(2, dim=1).values
        row = {"points": name, "accuracy": 100 * (z.argmax(1) == y).float().mean().item(),
               "mean abs margin": (top[:, 0] - top[:, 1]).mean().item(),
               "mean linf shift": (xp - x).abs().amax(1).mean().item()}
        if disc is not None:
            p = torch.sigmoid(disc(model.features(xp))[0])
            row["mean P(natural)"] = p.mean().item()
            row["D ROC-AUC original vs these"] = roc_auc(p_orig.numpy(), p.numpy())
        rows.append(row)
    model.train(was)
    if disc is not None:
        disc.train(d_was)
    return pd.DataFrame(rows)


@torch.no_grad()
def boundary_stats(models: dict, splits, *, reference: str = "standard", n: int = 150) -> pd.DataFrame:
    """ATLD Fig. 4 in numbers: per model, clean test accuracy (%) and the share of the unit square (an n×n grid)
    whose predicted class differs from the ``reference`` model's (%): how far training moved the boundary."""
    xx, _, pts = grid(n)
    ref = predict_grid(models[reference], pts, xx.shape)[0]
    rows = []
    for name, m in models.items():
        was = m.training
        m.eval()
        acc = (m(splits.x_test).argmax(1) == splits.y_test).float().mean().item()
        m.train(was)
        cls = predict_grid(m, pts, xx.shape)[0]
        rows.append({"model": name, "test accuracy": 100 * acc,
                     f"area changed vs {reference} (%)": 100 * float((cls != ref).mean())})
    return pd.DataFrame(rows)


def toward_boundary(model: nn.Module, pts: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Per point, cos(angle) between a direction and −∇_x |margin(x)| (margin = top-2 logit gap): +1 = straight at
    the decision boundary, −1 = straight away. ATLD Fig. 7's observation ("most PGD directions point to the
    boundary") as a number."""
    with frozen(model), torch.enable_grad():
        xg = pts.detach().clone().requires_grad_(True)
        top = model(xg).topk(2, dim=1).values
        g = input_grad((top[:, 0] - top[:, 1]).sum(), xg)
    toward = -g / (g.norm(dim=1, keepdim=True) + 1e-12)
    return (toward * dirs / (dirs.norm(dim=1, keepdim=True) + 1e-12)).sum(1)


def imt_points(model: nn.Module, disc: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
               pgd_steps: int = 10, seed: int = 0, disc_input: str = "features") -> dict:
    """ATLD Fig. 6: {"clean": x, "PGD": PGD(x) on ``model``, "IMT": IMT(PGD(x))} (IMT one ε step, Eq. (8))."""
    x_pgd = perturb("PGD", model, x, y, eps=eps, pgd_steps=pgd_steps, seed=seed)
    was = model.training
    model.eval()
    x_imt, _ = imt_transform(model, disc.eval(), x_pgd, eps=eps, disc_input=disc_input)
    model.train(was)
    return {"clean": x, "PGD": x_pgd, "IMT": x_imt.detach()}
