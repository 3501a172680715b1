"""Retention: the drift law of programmed states, fitted per state.

The law is memlab's one drift law (:mod:`memlab.drift_law`)::

    G(t) = G(0) * (1 + t / t0_s) ** -nu

``t0_s`` is a property of the device (one value for all its states): it is
found by profiling, the value on a log-spaced grid (then refined) that gives
the least total squared residual of log G over all states. For that ``t0_s``
each state's ``nu`` is an ordinary least-squares slope, with its standard
error from the joint fit (all states and ``t0_s`` together) and a
confidence interval that carries the uncertainty of ``t0_s`` (the union of
the t intervals over the plausible ``t0_s``, :func:`_profile_intervals`); the
residual RMS of each trace is the read noise seen during retention. Across states: the mean and spread of
``nu`` (with the t interval of the mean), and a straight line ``nu(G)``
(slope and residual spread) that the simulation uses for the state
dependence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from memlab.analysis.conductance import conductance
from memlab.drift_law import NuFit, fit_nu
from memlab.errors import ConfigError

CI_LEVEL = 0.95
_GRID_PER_DECADE = 4


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Per-state drift exponents ν of G(t) = G(0)·(1 + t/t0)^-ν and their summary.

    Arrays are (states,) over the usable states: ``nu`` with its standard
    error ``nu_se`` and ``level`` interval ``nu_ci_low``/``nu_ci_high``,
    ``g0_S`` = G(0), ``read_noise_S`` the residual RMS of each trace (S),
    ``relative_change`` (G_last - G_first)/G_first. ``t0_s`` the fitted
    reference time of the law, ``first_read_s`` the earliest read, ``span_s``
    the longest measured span; ``t_s`` and ``g_S`` keep the curves (figure).
    """

    nu: np.ndarray
    state_index: np.ndarray
    nu_se: np.ndarray
    nu_cov: np.ndarray
    dof: int
    nu_mean_ci: tuple[float, float]
    nu_ci_low: np.ndarray
    nu_ci_high: np.ndarray
    g0_S: np.ndarray
    read_noise_S: np.ndarray
    n_reads: np.ndarray
    relative_change: np.ndarray
    t0_s: float
    first_read_s: float
    span_s: float
    t_s: np.ndarray
    g_S: np.ndarray
    level: float = CI_LEVEL

    @property
    def nu_mean(self) -> float:
        return float(np.mean(self.nu))

    @property
    def nu_std(self) -> float:
        return float(np.std(self.nu, ddof=1)) if self.nu.size > 1 else 0.0

    @property
    def nu_vs_g(self) -> tuple[float, float, float]:
        """(g_ref_S, slope per S, residual spread) of the straight line ``nu = nu_mean + slope (G - g_ref)``
        over the states; with fewer than 3 states the slope is 0 and the spread ``nu_std``."""
        g_ref = float(np.mean(self.g0_S))
        if self.nu.size < 3 or np.ptp(self.g0_S) == 0:
            return g_ref, 0.0, self.nu_std
        slope, intercept = np.polyfit(self.g0_S - g_ref, self.nu, 1)
        resid = self.nu - (intercept + slope * (self.g0_S - g_ref))
        return g_ref, float(slope), float(math.sqrt(np.sum(resid ** 2) / (self.nu.size - 2)))

    @property
    def read_noise_mean_S(self) -> float:
        return float(np.mean(self.read_noise_S))

    @property
    def relative_change_mean(self) -> float:
        return float(np.mean(self.relative_change))


def _traces(t: np.ndarray, g: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    out = []
    for k, (ts, gs) in enumerate(zip(t, g)):
        ok = np.isfinite(ts) & np.isfinite(gs) & (ts >= 0) & (gs > 0)
        if np.count_nonzero(ok) >= 3 and np.ptp(ts[ok]) > 0:
            out.append((k, ts[ok], gs[ok]))
    return out


def fit_t0(traces: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The law's reference time: least total squared residual of log G over all traces."""
    t_pos = np.concatenate([t[t > 0] for t, _ in traces])
    lo, hi = math.log10(t_pos.min()) - 3.0, math.log10(t_pos.max()) + 1.0

    def sse(log_t0: float) -> float:
        return sum(fit_nu(t, g, 10.0 ** log_t0).sse for t, g in traces)

    grid = np.linspace(lo, hi, int(math.ceil((hi - lo) * _GRID_PER_DECADE)) + 1)
    values = [sse(x) for x in grid]
    i = int(np.argmin(values))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    best = optimize.minimize_scalar(sse, bounds=(a, b), method="bounded", options={"xatol": 1e-4})
    x = float(best.x) if best.fun <= values[i] else float(grid[i])
    return 10.0 ** x


def _joint_nu_cov(times: list[np.ndarray], fits: list[NuFit], t0_s: float) -> tuple[np.ndarray, int]:
    """Standard errors of every state's nu from the joint least-squares fit (all G(0), all nu and the
    shared log t0): the linearised covariance (J^T W J)^-1, W = 1 / each trace's residual variance, so
    the uncertainty of t0 is in every nu's interval. Returns (covariance of the nus, degrees of freedom)."""
    k = len(fits)
    n = sum(t.size for t in times)
    dof = n - 2 * k - 1
    if dof <= 0:
        return np.diag(np.full(k, math.inf)), dof
    jac = np.zeros((n, 2 * k + 1))
    weight = np.zeros(n)
    row = 0
    for i, (t, f) in enumerate(zip(times, fits)):
        u = t / t0_s
        rows = slice(row, row + t.size)
        jac[rows, i] = 1.0  # d model / d log G(0)
        jac[rows, k + i] = -np.log1p(u)  # d model / d nu
        jac[rows, 2 * k] = f.nu * u / (1.0 + u)  # d model / d log t0
        weight[rows] = max(f.dof, 1) / max(f.sse, 1e-300)  # 1 / this trace's residual variance
        row += t.size
    try:
        cov = np.linalg.inv(jac.T @ (weight[:, None] * jac))
    except np.linalg.LinAlgError:
        return np.diag([f.nu_se ** 2 for f in fits]), dof
    return cov[k:2 * k, k:2 * k], dof


def _profile_intervals(traces: list[tuple[np.ndarray, np.ndarray]], fits: list[NuFit], t0_s: float,
                       level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Intervals of every state's nu and of the mean nu that carry the uncertainty of t0.

    The plausible t0 are those whose weighted residual sum (each trace weighted by its residual
    variance at the best t0) lies within the chi-square(1) quantile of the best; at each, nu is a
    least-squares slope with a t interval. The reported interval is the union over the plausible t0
    (conservative: nu and t0 are strongly correlated when t0 lies inside the measured span). The
    mean's interval adds the spread of nu between programming events (the between-state variance
    beyond the fits' own, t over states) in quadrature."""
    var = np.array([max(f.sse / max(f.dof, 1), 1e-300) for f in fits])
    chi_limit = float(stats.chi2.ppf(level, 1))

    def at(log_t0: float) -> list[NuFit]:
        return [fit_nu(t, g, 10.0 ** log_t0) for t, g in traces]

    def chi2(fs: list[NuFit]) -> float:
        return float(sum(f.sse / v for f, v in zip(fs, var)))

    best = chi2(fits)
    centre = math.log10(t0_s)
    plausible = [fits]
    for direction in (-1.0, 1.0):  # walk out until the profile leaves the plausible region
        for step in range(1, 401):
            fs = at(centre + direction * 0.01 * step)
            if chi2(fs) - best > chi_limit:
                break
            plausible.append(fs)
    k = len(fits)
    n_states = np.array([[f.nu for f in fs] for fs in plausible])
    q = np.array([[float(stats.t.ppf(0.5 + level / 2, max(f.dof, 1))) * f.nu_se for f in fs] for fs in plausible])
    low, high = (n_states - q).min(axis=0), (n_states + q).max(axis=0)
    spread_var = 0.0
    if k > 1:
        own = float(np.mean([f.nu_se ** 2 for f in fits]))
        spread_var = max(0.0, float(np.var([f.nu for f in fits], ddof=1)) - own)
    q_k = float(stats.t.ppf(0.5 + level / 2, k - 1)) if k > 1 else 0.0
    means, halves = [], []
    for fs in plausible:
        fit_var = sum(f.nu_se ** 2 for f in fs) / k ** 2
        q_fit = float(stats.t.ppf(0.5 + level / 2, max(min(f.dof for f in fs), 1)))
        means.append(float(np.mean([f.nu for f in fs])))
        halves.append(math.sqrt(q_fit ** 2 * fit_var + q_k ** 2 * spread_var / k))
    mean_ci = (min(m - h for m, h in zip(means, halves)), max(m + h for m, h in zip(means, halves)))
    return low, high, mean_ci


def retention_drift(time_s: np.ndarray, voltage_V: np.ndarray, current_A: np.ndarray,
                    status: np.ndarray | None = None) -> DriftResult:
    """Fit the drift law from (states, points) reads at times after programming; flagged points are excluded."""
    t = np.atleast_2d(np.asarray(time_s, dtype=float))
    g = conductance(np.atleast_2d(current_A), np.atleast_2d(voltage_V),
                    None if status is None else np.atleast_2d(status)).g_S
    if t.shape != g.shape:
        raise ConfigError(f"retention time_s has shape {t.shape}, current_A {g.shape}")
    traces = _traces(t, g)
    if not traces:
        raise ConfigError("retention data holds no state with >= 3 usable reads at distinct times")
    t0 = fit_t0([(ts, gs) for _, ts, gs in traces])
    fits: list[NuFit] = [fit_nu(ts, gs, t0) for _, ts, gs in traces]
    nu = np.array([f.nu for f in fits])
    cov, dof = _joint_nu_cov([ts for _, ts, _ in traces], fits, t0)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    ci_low, ci_high, mean_ci = _profile_intervals([(ts, gs) for _, ts, gs in traces], fits, t0)
    rel = np.array([(gs[np.argmax(ts)] - gs[np.argmin(ts)]) / gs[np.argmin(ts)] for _, ts, gs in traces])
    first = min(float(ts.min()) for _, ts, _ in traces)
    span = max(float(np.ptp(ts)) for _, ts, _ in traces)
    return DriftResult(nu=nu, state_index=np.array([k for k, _, _ in traces]), nu_se=se, nu_cov=cov, dof=dof,
                       nu_mean_ci=mean_ci, nu_ci_low=ci_low, nu_ci_high=ci_high,
                       g0_S=np.array([f.g0_S for f in fits]),
                       read_noise_S=np.array([f.residual_rms * f.g0_S for f in fits]),
                       n_reads=np.array([f.n_reads for f in fits]), relative_change=rel,
                       t0_s=t0, first_read_s=first, span_s=span, t_s=t, g_S=g)
