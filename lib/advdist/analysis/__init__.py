"""Analyses of trained models (ADT Sec. 2.2.1 and 5.3): input-Hessian eigenvalues, loss surfaces, sample diversity.

- :mod:`.hessian` — dominant eigenvalue of the input Hessian of the CE loss per example, by batched
  Hessian-vector products + Lanczos (:func:`top_eigenvalues`), and the official script's exact
  full-Hessian + ``eigvalsh`` reference (:func:`full_hessian_eigvalsh`); ADT Fig. 2(f).
- :mod:`.landscape` — loss surfaces on the plane of the sign-gradient and an orthogonal Rademacher direction
  (:func:`loss_surface`, :func:`plot_surface`); ADT Fig. 2(a)-(e).
- :mod:`.diversity` — average pairwise ℓ2 distance of adversarial samples (:func:`pairwise_l2`) and their
  joint 2-D PCA (:func:`pca_2d`, :func:`plot_pca`); ADT Fig. 1 and its text (1.95 vs 1.56).

Matplotlib is imported only inside the plotting helpers.
"""

from __future__ import annotations

from .diversity import PCA2D, pairwise_l2, pca_2d, plot_pca
from .hessian import full_hessian_eigvalsh, input_hessian, top_eigenvalues
from .landscape import LossSurface, loss_surface, orthogonal_rademacher, plot_surface
from .smoothing import Certificate, certify, clopper_pearson_lower  # Cohen et al. 2019; ATENT Table 5

__all__ = [
    "top_eigenvalues", "full_hessian_eigvalsh", "input_hessian",
    "loss_surface", "plot_surface", "LossSurface", "orthogonal_rademacher",
    "pairwise_l2", "pca_2d", "plot_pca", "PCA2D",
    "Certificate", "certify", "clopper_pearson_lower",
]
