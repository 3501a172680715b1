"""One pulse-response trace (a single cycle): σ from the scatter within the trace.

A single up/down ramp (e.g. Gong et al. 2018's 1,000-pulse trace) has no second
cycle, so no cycle-to-cycle σ. What it does show is how much each read scatters
around the trace's local trend. Here, per pulse:

* the state mean is a centred moving average of the reads over
  ``2 · half_width + 1`` pulses (shrunk at the branch ends);
* σ is the root-mean-square residual of the reads around that trend over the
  same neighbourhood, scaled by √(n / (n − 1)) for the degree of freedom the
  mean took.

This σ is *within-trace* scatter, stated as such (device-file key
``sigma_source = "within_trace"``): it equals the cycle-to-cycle σ only if the
device's programming noise is stationary along the ramp and uncorrelated from
pulse to pulse, which one trace cannot test. It includes read noise.
"""

from __future__ import annotations

import numpy as np

from memlab.analysis.states import BRANCHES, BranchStats
from memlab.errors import ConfigError

DEFAULT_HALF_WIDTH = 5


def _moving_sum(x: np.ndarray, h: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x)])
    k = np.arange(x.size)
    lo, hi = np.clip(k - h, 0, x.size), np.clip(k + h + 1, 0, x.size)
    return c[hi] - c[lo]


def within_trace_stats(name: str, g_S: np.ndarray, half_width: int = DEFAULT_HALF_WIDTH) -> BranchStats:
    """BranchStats of one branch of one trace: local mean and within-trace σ per pulse."""
    if name not in BRANCHES:
        raise ConfigError(f"branch must be one of {BRANCHES}, got {name!r}")
    if half_width < 1:
        raise ConfigError(f"half_width = {half_width}: must be >= 1 pulse")
    g = np.atleast_2d(np.asarray(g_S, dtype=float))
    if g.shape[0] != 1 or g.shape[1] < 2 * half_width + 1:
        raise ConfigError(f"{name}: within-trace sigma needs one trace of at least {2 * half_width + 1} pulses, "
                          f"got shape {g.shape}")
    row = g[0]
    ok = np.isfinite(row)
    x = np.where(ok, row, 0.0)
    n = _moving_sum(ok.astype(float), half_width)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = _moving_sum(x, half_width) / n
        resid2 = np.where(ok, (row - mean) ** 2, 0.0)
        sigma = np.sqrt(_moving_sum(resid2, half_width) / (n - 1))
    bad = n < 2
    mean[bad | ~np.isfinite(mean)] = np.nan
    sigma[bad | ~np.isfinite(sigma)] = np.nan
    return BranchStats(name, g, mean, sigma, n.astype(int))


def within_trace_branches(g_S: np.ndarray, n_up: int, n_down: int,
                          half_width: int = DEFAULT_HALF_WIDTH) -> tuple[BranchStats, BranchStats]:
    """Potentiation and depression stats of a single (1, n_up + n_down) trace."""
    g = np.atleast_2d(np.asarray(g_S, dtype=float))
    if g.shape[1] != n_up + n_down:
        raise ConfigError(f"conductance has shape {g.shape}; expected (1, n_up + n_down = {n_up + n_down})")
    return (within_trace_stats("potentiation", g[:, :n_up], half_width),
            within_trace_stats("depression", g[:, n_up:], half_width))
