"""Argument checks that fail with one line naming the bad value and listing what is valid.

    choice("norm", "l3", ("linf", "l2"))                  # ValueError: unknown norm 'l3'; valid: linf, l2
    option_choice("adt_impam", "outer", "x", OUTERS)      # ValueError: adt_impam option outer='x'; valid: 'kl', ...
    option_number("l2l", "lr_g", -1, positive=True)       # ValueError: l2l option lr_g must be a finite number > 0, ...

Imports only the standard library.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ["choice", "option_betas", "option_choice", "option_number"]


def choice(name: str, value: Any, valid: Iterable[Any], *, error: type[Exception] = ValueError) -> Any:
    """``value`` when it is one of ``valid``; else ``error("unknown <name> <value!r>; valid: a, b")``."""
    valid = tuple(valid)
    if value not in valid:
        raise error(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")
    return value


def option_choice(method: str, key: str, value: Any, valid: Iterable[Any]) -> Any:
    """``value`` when option ``key`` of ``method`` is one of ``valid``; else a one-line ``ValueError``
    ``"<method> option <key>=<value!r>; valid: 'a', 'b'"``."""
    valid = tuple(valid)
    if value not in valid:
        raise ValueError(f"{method} option {key}={value!r}; valid: {', '.join(map(repr, valid))}")
    return value


def option_number(method: str, key: str, value: Any, *, positive: bool = False) -> float:
    """``float(value)`` when option ``key`` of ``method`` is a finite number ≥ 0 (> 0 with ``positive``; not a
    bool); else a one-line ``ValueError``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{method} option {key} must be a finite number {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def option_betas(method: str, key: str, value: Any) -> tuple[float, float]:
    """Adam betas from option ``key`` of ``method``: a pair of numbers in [0, 1); else a one-line ``ValueError``."""
    try:
        b1, b2 = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{method} option {key} must be a pair of numbers in [0, 1), got {value!r}") from None
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"{method} option {key} must be a pair of numbers in [0, 1), got {value!r}")
    return b1, b2
