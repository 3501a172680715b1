"""Curve fits used by the extraction: straight line, exponential nonlinearity, power law."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from memlab.errors import ConfigError


@dataclass(frozen=True)
class LinearFit:
    """y = intercept + slope * x (units of y per unit of x), with R² of the fit."""

    slope: float
    intercept: float
    r_squared: float


def linear_fit(x: np.ndarray, y: np.ndarray) -> LinearFit:
    """Least-squares straight line through finite (x, y) pairs."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        raise ConfigError(f"a linear fit needs at least 2 distinct x values, got {x.size} points")
    xm, ym = x.mean(), y.mean()
    sxx = np.sum((x - xm) ** 2)
    sxy = np.sum((x - xm) * (y - ym))
    syy = np.sum((y - ym) ** 2)
    slope = sxy / sxx
    r2 = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    return LinearFit(float(slope), float(ym - slope * xm), float(r2))


def exp_curve(x: np.ndarray, nu: float) -> np.ndarray:
    """Normalised exponential update (1 - e^(-nu x)) / (1 - e^(-nu)); x, result in [0, 1]."""
    x = np.asarray(x, dtype=float)
    if abs(nu) < 1e-9:
        return x
    return np.expm1(-nu * x) / np.expm1(-nu)


def nonlinearity_factor(pulse: np.ndarray, g_S: np.ndarray) -> float:
    """The NeuroSim-style exponential nonlinearity ν of one branch (dimensionless).

    Pulse numbers and conductances are normalised to [0, 1] from the first to
    the last point (so depression is handled as a mirrored potentiation) and
    ``y = (1 - e^(-ν x)) / (1 - e^(-ν))`` is fitted: ν = 0 is linear, ν > 0
    saturating (steps shrink along the train), ν < 0 accelerating. NeuroSim's
    ``A`` is ``P_max / ν`` pulses.
    """
    p = np.asarray(pulse, dtype=float)
    g = np.asarray(g_S, dtype=float)
    if p.size < 3:
        return 0.0
    x = (p - p[0]) / (p[-1] - p[0])
    span = g[-1] - g[0]
    if span == 0 or not np.isfinite(span):
        return 0.0
    y = (g - g[0]) / span

    def sse(nu: float) -> float:
        return float(np.sum((exp_curve(x, nu) - y) ** 2))

    res = optimize.minimize_scalar(sse, bounds=(-50.0, 50.0), method="bounded",
                                   options={"xatol": 1e-6})
    return float(res.x)


@dataclass(frozen=True)
class PowerLawFit:
    """G(t) = g0 * (t / t0) ** -nu, fitted in log-log space."""

    nu: float
    g0: float
    t0_s: float


def power_law_fit(t_s: np.ndarray, g_S: np.ndarray) -> PowerLawFit:
    """Fit the drift exponent ν from reads at times ``t_s`` > 0 (first finite point is t0)."""
    t = np.asarray(t_s, dtype=float)
    g = np.asarray(g_S, dtype=float)
    ok = np.isfinite(t) & np.isfinite(g) & (t > 0) & (g > 0)
    t, g = t[ok], g[ok]
    if t.size < 2:
        raise ConfigError(f"a drift fit needs at least 2 reads with t > 0 and G > 0, got {t.size}")
    t0 = float(t.min())
    fit = linear_fit(np.log(t / t0), np.log(g))
    return PowerLawFit(-fit.slope, float(np.exp(fit.intercept)), t0)
