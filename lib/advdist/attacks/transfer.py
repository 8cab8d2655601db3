"""Transfer (black-box) attacks: craft on a source model, evaluate on a target model.

ADT §5.2 / Fig. 4: PGD-20 and MIM crafted on one WRN-28-10 and evaluated on another; ATLD Table 3: FGSM, PGD20
and CW20 crafted on Vanilla / AT / Feature-Scattering / ATLD models. (ADT's script also runs a wasted PGD pass
before every transfer attack; not reproduced.)
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from . import settings
from .core import check_inputs, predict

Attack = Callable[..., torch.Tensor]


def _resolve(attack: Attack | str) -> Attack:
    if isinstance(attack, str):
        return settings.get(attack)
    if not callable(attack):
        raise ValueError(f"attack must be a callable attack(model, x, y, **kw) or a setting name, got {attack!r}")
    return attack


def transfer(attack: Attack | str, source_model: nn.Module, target_model: nn.Module | None, x: torch.Tensor,
             y: torch.Tensor, **kw: Any) -> torch.Tensor:
    """Adversarial examples crafted on ``source_model`` with ``attack(source_model, x, y, **kw)``.

    ``attack`` is an attack function, an ``AttackSpec`` or a setting name (``settings.get(name)``, ADT paper
    scale). ``target_model`` is not queried: the examples depend on the source only (it is in the signature so
    that calls read source → target); use :func:`transfer_accuracy` to score them on the target.
    """
    check_inputs(x, y)
    return _resolve(attack)(source_model, x, y, **kw)


def transfer_accuracy(attack: Attack | str, source_model: nn.Module, target_model: nn.Module, x: torch.Tensor,
                      y: torch.Tensor, *, eval_batch_size: int | None = None,
                      **kw: Any) -> tuple[float, torch.Tensor]:
    """(accuracy, per-example "still correct" mask) of ``target_model`` on examples crafted on ``source_model``."""
    x_adv = transfer(attack, source_model, target_model, x, y, **kw)
    correct = predict(target_model, x_adv, batch_size=eval_batch_size) == y
    return (correct.float().mean().item() if len(y) else float("nan")), correct
