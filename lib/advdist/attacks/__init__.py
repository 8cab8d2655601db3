"""Attacks with one calling shape: ``x_adv = attack(model, x, y, *, eps, ...)`` on [0, 1] inputs.

White-box gradient attacks (``gradient``): :func:`fgsm`, :func:`pgd`, :func:`mim`, :func:`cw_linf`;
feature attack (``feature``): :func:`feature_attack`; transfer (``transfer``): :func:`transfer`,
:func:`transfer_accuracy`; black-box and minimum-norm attacks (``spsa``, ``deepfool``, ``cw_l2``, ``rays``,
``autoattack``); the papers' named settings: ``settings.get("PGD-20", paper="adt")``. Threat models (norm, ε-ball,
projection, steepest-ascent step): :class:`ThreatModel`, :class:`Norm` (``advdist.threat``).
"""

from __future__ import annotations

from advdist.threat import Norm, ThreatModel

from . import settings
from .autoattack import autoattack
from .core import check_eps, chunked, frozen, input_grad, normalize_step, predict, project, random_start
from .cw_l2 import cw_l2
from .deepfool import deepfool, deepfool_boundary_distance
from .feature import cosine_distance, draw_targets, feature_attack
from .gradient import ce_loss, cw_linf, cw_margin_loss, fgsm, margin, mim, pgd, resolve_loss, select_restarts
from .rays import RaysDistance, rays, rays_boundary_distance
from .settings import AttackSpec
from .spsa import spsa, spsa_gradient
from .transfer import transfer, transfer_accuracy

__all__ = [
    "fgsm", "pgd", "mim", "cw_linf", "feature_attack", "transfer", "transfer_accuracy",
    "ce_loss", "cw_margin_loss", "margin", "resolve_loss", "select_restarts", "cosine_distance", "draw_targets",
    "check_eps", "chunked", "frozen", "input_grad", "normalize_step", "predict", "project", "random_start",
    "settings", "AttackSpec",
    "spsa", "spsa_gradient", "deepfool", "deepfool_boundary_distance", "cw_l2", "rays", "rays_boundary_distance",
    "RaysDistance", "autoattack", "Norm", "ThreatModel",
]

