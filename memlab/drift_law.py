"""The one drift law of memlab: what the virtual device does, what analysis fits, what simulation applies.

A state programmed at ``t = 0`` to ``G(0)`` relaxes as::

    G(t) = G(0) * (1 + t / t0_s) ** -nu          t >= 0 s after programming

``t0_s`` is the law's reference time (a device constant: below it the state
barely moves, far above it the law is the plain power law ``(t / t0) ** -nu``)
and ``nu`` the state's drift exponent. The law is finite at ``t = 0`` (where
the simulation programs its weights), so no evaluation time needs clamping.

Who uses it: :class:`memlab.instruments.virtual_device.VirtualMemristor`
relaxes its conductance with :func:`drift_factor`; ``memlab.analysis.retention``
fits ``nu`` (per state) and ``t0_s`` (per device) with :func:`fit_nu`; the
device file stores both; ``memlab.simulation.analog`` drifts every
programmed device with :func:`drift_factor` again. A foundation module (numpy
only) so that the instruments layer may import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

LAW = "G(t) = G(0) * (1 + t / t0_s) ** -nu"
"""The law in words, as stored in the device file's drift block."""


def drift_factor(t_s: Any, nu: Any, t0_s: float) -> Any:
    """``(1 + t / t0) ** -nu``: G(t) / G(0). Works on floats, numpy arrays and torch tensors
    (``nu`` may be a tensor of per-device exponents, ``t_s`` a float)."""
    if not t0_s > 0:
        raise ValueError(f"t0_s must be > 0, got {t0_s!r}")
    return (1.0 + t_s / t0_s) ** (-nu)


@dataclass(frozen=True)
class NuFit:
    """Least-squares fit of one retention trace for a given ``t0_s``.

    ``log G = log g0_S - nu * log(1 + t / t0)`` is linear in ``nu``, so the fit is
    ordinary least squares: ``nu_se`` is the slope's standard error, ``dof`` its
    degrees of freedom, ``residual_rms`` the residual RMS of log G (relative
    read noise), ``sse`` the residual sum of squares.
    """

    nu: float
    g0_S: float
    nu_se: float
    dof: int
    residual_rms: float
    sse: float
    n_reads: int


def fit_nu(t_s: np.ndarray, g_S: np.ndarray, t0_s: float) -> NuFit:
    """Fit ``nu`` and ``G(0)`` of one trace (reads at ``t_s`` >= 0 s, ``g_S`` > 0) for a given ``t0_s``."""
    t = np.asarray(t_s, dtype=float)
    g = np.asarray(g_S, dtype=float)
    ok = np.isfinite(t) & np.isfinite(g) & (t >= 0) & (g > 0)
    t, g = t[ok], g[ok]
    if t.size < 3:
        raise ValueError(f"a drift fit needs at least 3 reads with t >= 0 and G > 0, got {t.size}")
    x = np.log1p(t / t0_s)
    y = np.log(g)
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    if not sxx > 0:
        raise ValueError("a drift fit needs reads at more than one time")
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    resid = y - (ym + slope * (x - xm))
    sse = float(np.sum(resid ** 2))
    dof = t.size - 2
    se = math.sqrt(sse / dof / sxx) if dof > 0 else math.inf
    g0 = float(np.exp(ym - slope * xm))
    return NuFit(-slope, g0, se, dof, math.sqrt(sse / t.size), sse, int(t.size))
