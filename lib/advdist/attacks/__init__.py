"""Attacks with one calling shape: ``x_adv = attack(model, x, y, *, eps, ...)`` on [0, 1] inputs.

White-box gradient attacks (``gradient``): :func:`fgsm`, :func:`pgd`, :func:`mim`, :func:`cw_linf`;
feature attack (``feature``): :func:`feature_attack`; transfer (``transfer``): :func:`transfer`,
:func:`transfer_accuracy`; black-box and minimum-norm attacks (``spsa``, ``deepfool``, ``cw_l2``, ``rays``,
``autoattack``) when present; the papers' named settings: ``settings.get("PGD-20", paper="adt")``.
"""

from __future__ import annotations

import importlib
import warnings

from .core import check_eps, chunked, frozen, input_grad, normalize_step, predict, project, random_start
from .feature import cosine_distance, draw_targets, feature_attack
from .gradient import ce_loss, cw_linf, cw_margin_loss, fgsm, margin, mim, pgd, resolve_loss, select_restarts
from .transfer import transfer, transfer_accuracy
from . import settings
from .settings import AttackSpec

__all__ = [
    "fgsm", "pgd", "mim", "cw_linf", "feature_attack", "transfer", "transfer_accuracy",
    "ce_loss", "cw_margin_loss", "margin", "resolve_loss", "select_restarts", "cosine_distance", "draw_targets",
    "check_eps", "chunked", "frozen", "input_grad", "normalize_step", "predict", "project", "random_start",
    "settings", "AttackSpec",
]

# Attacks written in sibling modules that may not exist yet: import each one guarded so the package always imports.
_OPTIONAL = {"spsa": ("spsa",), "deepfool": ("deepfool",), "cw_l2": ("cw_l2",), "rays": ("rays",),
             "autoattack": ("autoattack",)}
for _module, _names in _OPTIONAL.items():
    try:
        _mod = importlib.import_module(f".{_module}", __name__)
    except ImportError as _err:
        # a module not written yet is expected; any other import failure (e.g. an optional third-party
        # dependency) must not break `import advdist.attacks`, but is reported
        if getattr(_err, "name", None) != f"{__name__}.{_module}":
            warnings.warn(f"advdist.attacks.{_module} not available: {_err}", ImportWarning, stacklevel=2)
        continue
    for _name in _names:
        if hasattr(_mod, _name):
            globals()[_name] = getattr(_mod, _name)
            __all__.append(_name)
del _module, _names
