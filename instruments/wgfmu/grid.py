"""The WGFMU's 10 ns time grid: the one place times are rounded to it or checked against it.

Vector durations, event times, intervals and averaging windows all lie on this
grid. Plans compute in integer ticks (exact); seconds come back as
``ticks * TIME_GRID_S``. ``ticks_up``/``ticks_down`` allow a float error of
1e-9 tick, so a time computed from grid values is not pushed a whole tick away.
"""

from __future__ import annotations

import math

TIME_GRID_S = 10e-9
"""Vector steps, event times and intervals lie on this grid (other values are rounded)."""
_SLACK_TICKS = 1e-9  # float error of a sum of grid times, in ticks
_ON_GRID_TICKS = 1e-6  # how far from a grid point a time may be and still count as on it


def to_ticks(seconds: float) -> int:
    """Seconds to the nearest whole number of 10 ns ticks: plan arithmetic is exact in ticks."""
    return int(round(seconds / TIME_GRID_S))


def ticks_up(seconds: float) -> int:
    """Ticks of the first grid point at or after ``seconds`` (a settling time rounded up)."""
    return math.ceil(seconds / TIME_GRID_S - _SLACK_TICKS)


def ticks_down(seconds: float) -> int:
    """Ticks of the last grid point at or before ``seconds`` (a window that must fit)."""
    return math.floor(seconds / TIME_GRID_S + _SLACK_TICKS)


def snap(seconds: float) -> float:
    """``seconds`` on the nearest grid point (s)."""
    return to_ticks(seconds) * TIME_GRID_S


def up(seconds: float) -> float:
    """``seconds`` rounded up to the grid (s)."""
    return ticks_up(seconds) * TIME_GRID_S


def down(seconds: float) -> float:
    """``seconds`` rounded down to the grid (s)."""
    return ticks_down(seconds) * TIME_GRID_S


def is_on_grid(seconds: float) -> bool:
    """Whether ``seconds`` lies on a grid point (within float error)."""
    return abs(seconds / TIME_GRID_S - round(seconds / TIME_GRID_S)) < _ON_GRID_TICKS
