"""Per-point measurement status: a foundation contract of every backend, the archive and analysis.

Stored as an unsigned integer beside every measured value; 0 means a normal
reading. Flags combine (a point can be both in compliance and clipped).
The B1500A FMT1 status letters map onto these in ``memlab.instruments.b1500``.
"""

from __future__ import annotations

import enum


class PointStatus(enum.IntFlag):
    """Why a measured point should not be trusted as-is (0 = normal)."""

    OK = 0
    COMPLIANCE = 1  # this channel hit its compliance (FMT1 'C')
    OTHER_COMPLIANCE = 2  # another channel hit compliance (FMT1 'T')
    OVERFLOW = 4  # measurement range overflow; value stored as NaN (FMT1 'V')
    OSCILLATION = 8  # FMT1 'X'
    FORCE_SATURATION = 16  # FMT1 'F'
    MISSING = 32  # no value: padding of ragged imported data, or a lost point
    NOT_SETTLED = 64  # measured before the range's settling time elapsed

    @classmethod
    def describe(cls, value: int) -> str:
        """Human-readable names of the flags set in ``value``."""
        if value == 0:
            return "OK"
        return "|".join(f.name for f in cls if f and (value & f) and f.name)
