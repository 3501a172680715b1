"""Conductance per read, G = I / V_read, with the instrument status carried along."""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from memlab.errors import ConfigError
from memlab.status import PointStatus


@dataclass(frozen=True, eq=False)
class Conductance:
    """Conductance of every read (S), NaN where the point is not usable.

    ``g_S`` (cycles, pulses); ``usable`` the mask of finite, unflagged points;
    ``n_flagged`` points excluded for a non-zero :class:`PointStatus`, of
    which ``n_missing`` are MISSING (padding of ragged imports, lost points);
    ``n_zero_bias`` points excluded because V_read was 0 or not finite;
    ``n_negative`` usable points with G < 0 (kept: read noise near G = 0 can do
    that, a systematic count means a wiring or sign problem).
    """

    g_S: np.ndarray
    usable: np.ndarray
    n_flagged: int
    n_zero_bias: int
    n_negative: int
    n_missing: int = 0

    @property
    def n_excluded(self) -> int:
        return int(self.usable.size - np.count_nonzero(self.usable))


def conductance(read_current_A: np.ndarray, read_voltage_V: np.ndarray | float,
                read_status: np.ndarray | None = None,
                read_conductance_S: np.ndarray | None = None) -> Conductance:
    """G = I / V per read (sign-aware: a -0.1 V read of -10 uA is +100 uS).

    Flagged points (status != 0) are excluded (NaN) and counted, never used.
    When ``read_conductance_S`` is given (imports given as G or R) it is taken
    as is and only the status applies.
    """
    i = np.asarray(read_current_A, dtype=float)
    status = np.zeros(i.shape, dtype=np.uint16) if read_status is None else np.asarray(read_status)
    if status.shape != i.shape:
        raise ConfigError(f"read_status has shape {status.shape}, read_current_A has {i.shape}")
    flagged = status != 0
    if read_conductance_S is not None:
        g = np.array(read_conductance_S, dtype=float)
        zero_bias = np.zeros(i.shape, dtype=bool)
    else:
        v = np.broadcast_to(np.asarray(read_voltage_V, dtype=float), i.shape)
        zero_bias = ~np.isfinite(v) | (v == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = i / np.where(zero_bias, np.nan, v)
    if g.shape != i.shape:
        raise ConfigError(f"read_conductance_S has shape {g.shape}, expected {i.shape}")
    usable = ~flagged & ~zero_bias & np.isfinite(g)
    g = np.where(usable, g, np.nan)
    missing = (status & np.uint16(PointStatus.MISSING)) != 0
    return Conductance(g, usable, int(np.count_nonzero(flagged)),
                       int(np.count_nonzero(zero_bias & ~flagged)),
                       int(np.count_nonzero(usable & (g < 0))), int(np.count_nonzero(missing)))


@dataclass(frozen=True)
class ReadCounts:
    """How many reads there were and why some were excluded (the counts of :class:`Conductance`),
    summed over blocks of cycles with ``+``."""

    n_reads: int = 0
    n_usable: int = 0
    n_flagged: int = 0
    n_zero_bias: int = 0
    n_negative: int = 0
    n_missing: int = 0

    @classmethod
    def of(cls, c: Conductance) -> "ReadCounts":
        return cls(int(c.usable.size), int(np.count_nonzero(c.usable)), c.n_flagged, c.n_zero_bias,
                   c.n_negative, c.n_missing)

    @property
    def n_excluded(self) -> int:
        return self.n_reads - self.n_usable

    def __add__(self, other: "ReadCounts") -> "ReadCounts":
        return ReadCounts(*(a + b for a, b in zip(astuple(self), astuple(other))))
