"""The one range checker: a value refused names the field, the value and the allowed range.

Used by the instrument drivers' limits, the protocol dataclasses and the
B1500 driver, so every refusal reads the same way::

    voltage_V=150.0 V: allowed -100 .. 100 V
    cycles=0: allowed whole numbers 1 .. 4194304
    read.width_s=nan: must be a finite number of seconds

Every refusal is a :class:`~memlab.errors.LimitError` (a ``ValueError``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from memlab.errors import LimitError

_UNIT_WORDS = {"V": "volts", "s": "seconds", "A": "amperes"}


def finite(field: str, value: Any, unit: str = "") -> float:
    """``value`` as a float; refuses text, booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        of = f" of {_UNIT_WORDS.get(unit, unit)}" if unit else ""
        raise LimitError(f"{field}={value!r}: must be a finite number{of}")
    return float(value)


def in_range(field: str, value: Any, low: float, high: float, unit: str = "", *, slack: float = 0.0) -> float:
    """``value`` as a float when finite and in [low, high]; ``slack`` widens both ends by that fraction
    (for times computed from grid values)."""
    v = finite(field, value, unit)
    lo = low - abs(low) * slack
    hi = high + abs(high) * slack
    if not lo <= v <= hi:
        u = f" {unit}" if unit else ""
        raise LimitError(f"{field}={value!r}{u}: allowed {low:g} .. {high:g}{u}")
    return v


def whole(field: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int when it is an integer (not a bool, not a float) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise LimitError(f"{field}={value!r}: allowed whole numbers {low} .. {high}")
    return int(value)
