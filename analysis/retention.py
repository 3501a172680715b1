"""Retention: power-law drift of programmed states."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.analysis.conductance import conductance
from memlab.analysis.fits import power_law_fit
from memlab.errors import ConfigError


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Per-state drift exponents ν of G(t) = G(t0)·(t/t0)^-ν and their summary.

    ``nu`` and ``relative_change`` (G_last - G_first)/G_first are (states,);
    ``t_s`` and ``g_S`` keep the curves (for the figure); ``t0_s`` the earliest
    read time, ``span_s`` the longest measured span.
    """

    nu: np.ndarray
    relative_change: np.ndarray
    t0_s: float
    span_s: float
    t_s: np.ndarray
    g_S: np.ndarray

    @property
    def nu_mean(self) -> float:
        return float(np.mean(self.nu))

    @property
    def nu_std(self) -> float:
        return float(np.std(self.nu, ddof=1)) if self.nu.size > 1 else 0.0

    @property
    def relative_change_mean(self) -> float:
        return float(np.mean(self.relative_change))


def retention_drift(time_s: np.ndarray, voltage_V: np.ndarray, current_A: np.ndarray,
                    status: np.ndarray | None = None) -> DriftResult:
    """Fit ν per state from (states, points) reads; flagged points are excluded."""
    t = np.atleast_2d(np.asarray(time_s, dtype=float))
    g = conductance(np.atleast_2d(current_A), np.atleast_2d(voltage_V),
                    None if status is None else np.atleast_2d(status)).g_S
    if t.shape != g.shape:
        raise ConfigError(f"retention time_s has shape {t.shape}, current_A {g.shape}")
    nus, rel, t0s, spans = [], [], [], []
    for ts, gs in zip(t, g):
        ok = np.isfinite(ts) & np.isfinite(gs) & (ts > 0)
        if np.count_nonzero(ok) < 2:
            continue
        fit = power_law_fit(ts[ok], gs[ok])
        first, last = gs[ok][np.argmin(ts[ok])], gs[ok][np.argmax(ts[ok])]
        nus.append(fit.nu)
        rel.append((last - first) / first)
        t0s.append(fit.t0_s)
        spans.append(float(ts[ok].max() - ts[ok].min()))
    if not nus:
        raise ConfigError("retention data holds no state with >= 2 usable reads at t > 0")
    return DriftResult(np.array(nus), np.array(rel), float(min(t0s)), float(max(spans)), t, g)
