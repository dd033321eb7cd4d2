"""The one error family a learner is meant to read.

Every *expected* failure (a corrupt image, a wrong-shape CSV, NaN options, a model.json
whose paths leave their folder) raises a :class:`BadInput`. The CLI and the apps show
its message as one line; anything else is a real bug and keeps its traceback, so the
two never get confused.
"""

from __future__ import annotations

import math
from numbers import Integral, Real


class BadInput(ValueError):
    """Input the learner can fix: the message names the problem and what would work."""


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``; a float such as 2.5 or a bool is refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        if isinstance(value, Real) and not isinstance(value, bool) and float(value).is_integer():
            number = int(float(value))
        else:
            raise BadInput(f"{name} must be a whole number, got {value!r}")
    else:
        number = int(value)
    if number < minimum:
        raise BadInput(f"{name} must be {minimum} or more, got {number}")
    return number


def finite_float(name: str, value: object, low: float | None = None, high: float | None = None,
                 *, low_open: bool = False) -> float:
    """``value`` as a finite float in [low, high] (``(low, high]`` with ``low_open``); NaN, inf and bools refused."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise BadInput(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(f"{name} must be a finite number, got {number}")
    if low is not None and (number <= low if low_open else number < low):
        raise BadInput(f"{name} must be {'more than' if low_open else 'at least'} {low}, got {number}")
    if high is not None and number > high:
        raise BadInput(f"{name} must be at most {high}, got {number}")
    return number
