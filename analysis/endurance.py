"""Endurance: HRS / LRS against cycle, and how fast the memory window closes.

Pure: per-cycle arrays in, a frozen :class:`EnduranceResult` out (the reader of
Keithley's per-cycle summary CSV is :mod:`memlab.analysis.import_endurance`).

* ``g_lrs_S`` / ``g_hrs_S``: read conductance of the low / high resistance
  state in each cycle; ``ratio = g_lrs_S / g_hrs_S`` (the on/off ratio).
* **Window closing**: least-squares fit ``log10(ratio) = a + b · log10(cycle)``
  over the cycles with a finite ratio > 0; ``b`` (decades of ratio per decade
  of cycles, negative when the window closes) is ``closing_decades_per_decade``.
  ``projected_cycles_to_min_ratio`` extrapolates that fit to ``ratio = min_ratio``
  (None when ``b >= 0``); it is an extrapolation, labelled as such everywhere.
* ``cycles_to_min_ratio``: the first cycle at which the running median of the
  ratio over ``window`` cycles falls below ``min_ratio`` (None: never, within
  the measured cycles).
* ``first`` / ``last``: medians over the first and last 10 % of cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError

DEFAULT_MIN_RATIO = 10.0


@dataclass(frozen=True, eq=False)
class EnduranceResult:
    """Per-cycle states, the fitted window closing and the cycles to a minimum ratio."""

    cycle: np.ndarray
    g_lrs_S: np.ndarray
    g_hrs_S: np.ndarray
    min_ratio: float
    closing_decades_per_decade: float
    closing_intercept: float  # log10(ratio) at cycle 1 on the fit
    cycles_to_min_ratio: int | None
    projected_cycles_to_min_ratio: float | None
    window: int

    @property
    def ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.g_lrs_S / self.g_hrs_S

    def fitted_ratio(self, cycle: np.ndarray) -> np.ndarray:
        return 10 ** (self.closing_intercept + self.closing_decades_per_decade * np.log10(cycle))

    def _part(self, values: np.ndarray, last: bool) -> float:
        n = max(1, self.cycle.size // 10)
        part = values[-n:] if last else values[:n]
        part = part[np.isfinite(part)]
        return float(np.median(part)) if part.size else float("nan")

    def summary(self) -> dict[str, float]:
        """Medians over the first and last 10 % of cycles (S and ratio)."""
        return {f"{k}_{w}": self._part(v, w == "last") for k, v in
                (("g_lrs_S", self.g_lrs_S), ("g_hrs_S", self.g_hrs_S), ("on_off_ratio", self.ratio))
                for w in ("first", "last")}


def endurance_analysis(cycle: np.ndarray, g_lrs_S: np.ndarray, g_hrs_S: np.ndarray, *,
                       min_ratio: float = DEFAULT_MIN_RATIO, window: int = 25) -> EnduranceResult:
    """Analyse per-cycle LRS / HRS conductances (S); ``cycle`` counts from 1."""
    c, lrs, hrs = (np.asarray(x, dtype=float).ravel() for x in (cycle, g_lrs_S, g_hrs_S))
    if not c.size == lrs.size == hrs.size:
        raise ConfigError(f"endurance: cycle ({c.size}), LRS ({lrs.size}) and HRS ({hrs.size}) differ in length")
    if not min_ratio > 1:
        raise ConfigError(f"min_ratio = {min_ratio}: must be > 1")
    if window < 1:
        raise ConfigError(f"window = {window}: must be >= 1")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = lrs / hrs
    ok = np.isfinite(ratio) & (ratio > 0) & np.isfinite(c) & (c >= 1)
    if ok.sum() < 3:
        raise ConfigError(f"endurance: {int(ok.sum())} cycles with a finite on/off ratio; need at least 3")
    b, a = np.polyfit(np.log10(c[ok]), np.log10(ratio[ok]), 1)
    projected = None
    if b < 0:
        projected = float(10 ** ((np.log10(min_ratio) - a) / b))
    measured = None
    r = np.where(ok, ratio, np.nan)
    w = min(window, int(ok.sum()))
    for k in range(w - 1, r.size):
        part = r[k - w + 1:k + 1]
        part = part[np.isfinite(part)]
        if part.size and np.median(part) < min_ratio:
            measured = int(c[k])
            break
    return EnduranceResult(c, lrs, hrs, float(min_ratio), float(b), float(a), measured, projected, w)
