"""Does the ATLD discriminator tell natural from perturbed latents, and does IMT use that? (ATLD Sec. 4.2, Eq. (8)).

IMT (Inference with Manifold Transformation) moves a test input one signed step of size s toward the natural side of
the trained discriminator D⁰ (P(natural) convention, :mod:`advdist.models.discriminator`). Whether that can help rests
on two things this module measures on a trained classifier f and its discriminator, both in eval mode (as IMT uses
them):

- :func:`discriminator_auc`: D⁰'s ROC-AUC for natural latents f(x) (positives) against perturbed ones f(x_adv)
  (negatives), scored by P(natural): 0.5 = D⁰ cannot tell them apart, 1 = it ranks every natural latent above every
  perturbed one, < 0.5 = it rates perturbed latents *more* natural. Also the mean P(natural) of both sets.
- :func:`probe_auc`: how separable two sets of latents are at all — the held-out ROC-AUC of a probe (logistic
  regression, or a small MLP) fitted on other latents of the two sets. If a probe fitted on clean vs attacked latents
  separates them far better than D⁰ does, D⁰ is the bottleneck; if not, the latents themselves overlap.
- :func:`imt_controls`: accuracy (%) and mean change of P(natural) after one IMT step on clean inputs and on each
  set of attacked inputs, for D's sign (IMT), the flipped sign and a random sign per coordinate, at steps
  s = r·ε for ``step_ratios`` (r = 0 is no IMT). If the random sign does as well as D's, D's direction carries no
  information; if the flipped sign does better, it points the wrong way.

:func:`roc_auc` is the Mann–Whitney statistic P(S_pos > S_neg) + ½·P(S_pos = S_neg) from mid-ranks (exact, ties
counted half), the area under the empirical ROC curve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from advdist.attacks.core import frozen
from advdist.defenses.imt import DIRECTIONS, imt_transform
from advdist.runtime import correct, eval_mode

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["roc_auc", "p_natural", "latents", "discriminator_auc", "probe_auc", "imt_controls", "STEP_RATIOS",
           "DIRECTIONS", "PROBES"]

#: IMT step sizes of the controls, as multiples of ε (0 = no IMT; 1 = the paper's step)
STEP_RATIOS = (0.0, 0.125, 0.25, 0.5, 1.0)


def roc_auc(pos, neg) -> float:
    """Area under the ROC curve of scores ``pos`` (positives) against ``neg``: P(pos > neg) + ½·P(pos = neg)."""
    pos = np.asarray(pos, dtype=np.float64).ravel()
    neg = np.asarray(neg, dtype=np.float64).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"roc_auc needs both classes, got {len(pos)} positives and {len(neg)} negatives")
    ranks = rankdata(np.concatenate([pos, neg]))  # mid-ranks: ties share their mean rank
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def _latent(classifier: nn.Module, disc_input: str):
    if disc_input not in ("features", "logits"):
        raise ValueError(f"unknown disc_input {disc_input!r}; valid: 'features', 'logits'")
    return classifier.features if disc_input == "features" else classifier


@torch.no_grad()
def p_natural(classifier: nn.Module, disc: nn.Module, x: torch.Tensor, *, disc_input: str = "features",
              batch_size: int = 500) -> torch.Tensor:
    """sigmoid(D⁰(f(x))) per example, classifier and discriminator in eval mode (modes restored)."""
    feat = _latent(classifier, disc_input)
    with eval_mode(disc), frozen(classifier):
        return torch.cat([torch.sigmoid(disc(feat(x[i:i + batch_size]))[0]) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def latents(classifier: nn.Module, x: torch.Tensor, *, disc_input: str = "features", batch_size: int = 500
            ) -> torch.Tensor:
    """The latents D reads (``model.features`` or the logits) of the eval-mode classifier, (N, d)."""
    feat = _latent(classifier, disc_input)
    with frozen(classifier):
        return torch.cat([feat(x[i:i + batch_size]).flatten(1) for i in range(0, len(x), batch_size)])


#: probes of :func:`probe_auc`
PROBES = ("linear", "mlp")


def probe_auc(pos_train, neg_train, pos_test, neg_test, *, probe: str = "linear", seed: int = 0) -> float:
    """Held-out ROC-AUC of a probe separating positives from negatives: standardised features, then logistic
    regression (``"linear"``) or a one-hidden-layer MLP of 128 ReLUs (``"mlp"``, scikit-learn), fitted on the
    ``*_train`` arrays and scored by P(positive) on the ``*_test`` arrays (:func:`roc_auc`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}; valid: {', '.join(PROBES)}")
    arr = lambda a: (a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)).reshape(len(a), -1)  # noqa: E731
    xtr = np.concatenate([arr(pos_train), arr(neg_train)])
    ytr = np.r_[np.ones(len(pos_train)), np.zeros(len(neg_train))]
    clf = (LogisticRegression(max_iter=5000) if probe == "linear" else
           MLPClassifier(hidden_layer_sizes=(128,), max_iter=500, early_stopping=True, random_state=seed))
    model = make_pipeline(StandardScaler(), clf).fit(xtr, ytr)
    return roc_auc(model.predict_proba(arr(pos_test))[:, 1], model.predict_proba(arr(neg_test))[:, 1])


def discriminator_auc(classifier: nn.Module, disc: nn.Module, x_clean: torch.Tensor, x_adv: torch.Tensor, *,
                      disc_input: str = "features", batch_size: int = 500) -> dict[str, float]:
    """D⁰'s ROC-AUC for natural (f(x_clean)) vs perturbed (f(x_adv)) latents in eval mode, and the mean P(natural)
    of each set: ``{"auc", "p_nat_clean", "p_nat_adv", "n"}``."""
    pc = p_natural(classifier, disc, x_clean, disc_input=disc_input, batch_size=batch_size)
    pa = p_natural(classifier, disc, x_adv, disc_input=disc_input, batch_size=batch_size)
    return {"auc": roc_auc(pc.cpu().numpy(), pa.cpu().numpy()), "p_nat_clean": float(pc.mean()),
            "p_nat_adv": float(pa.mean()), "n": int(len(pc))}


def imt_controls(classifier: nn.Module, disc: nn.Module, y: torch.Tensor, inputs: dict[str, torch.Tensor], *,
                 eps: float, step_ratios=STEP_RATIOS, directions=DIRECTIONS, disc_input: str = "features",
                 seed: int = 0, batch_size: int = 500) -> "pd.DataFrame":
    """Accuracy (%) of f after one IMT step on each set of ``inputs`` (e.g. ``{"clean": x, "PGD-20": x_pgd}``, all
    labelled ``y``), per step direction (D's sign, flipped, random) and step s = r·ε, r in ``step_ratios``.

    One row per (direction, r, input): ``direction``, ``step/eps``, ``step``, ``input``, ``acc`` (%),
    ``dP_nat`` (mean change of P(natural) from x to x_t), ``raised`` (% of examples whose P(natural) rose), ``n``.
    The projection is onto the ε-ball around the input and [0, 1], as IMT's. Random signs come from a CPU generator
    seeded by ``seed`` (the same signs for every step size of one input set).
    """
    import pandas as pd

    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown:
        raise ValueError(f"unknown IMT direction {unknown[0]!r}; valid: {', '.join(DIRECTIONS)}")
    rows = []
    with eval_mode(disc), frozen(classifier):
        for k, (name, x) in enumerate(inputs.items()):
            p0 = p_natural(classifier, disc, x, disc_input=disc_input, batch_size=batch_size)
            for direction in directions:
                for r in step_ratios:
                    gen = torch.Generator().manual_seed(seed * 1000 + k)
                    hits, p1 = [], []
                    for i in range(0, len(x), batch_size):
                        xb = x[i:i + batch_size]
                        x_t, _ = imt_transform(classifier, disc, xb, eps=eps, step=float(r) * eps, grad="none",
                                               disc_input=disc_input, direction=direction, generator=gen)
                        with torch.no_grad():
                            hits.append(correct(classifier(x_t), y[i:i + batch_size]).cpu())
                        p1.append(p_natural(classifier, disc, x_t, disc_input=disc_input, batch_size=batch_size))
                    d = torch.cat(p1) - p0
                    rows.append({"direction": direction, "step/eps": float(r), "step": float(r) * eps,
                                 "input": name, "acc": 100 * torch.cat(hits).float().mean().item(),
                                 "dP_nat": float(d.mean()), "raised": 100 * float((d > 0).float().mean()),
                                 "n": int(len(y))})
    return pd.DataFrame(rows)
