"""From a cycle × pulse conductance matrix to every number of the device file.

Pure: arrays in, a frozen :class:`Extraction` out; :func:`to_device_file`
turns it into a :class:`~memlab.analysis.device_file.DeviceFile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from memlab import __version__
from memlab.analysis import device_file as dfm
from memlab.analysis.bins import BinLadder, differential_bins
from memlab.analysis.bootstrap import PrefetchedWeights, bootstrap_headline
from memlab.analysis.energy import Energy
from memlab.analysis.fits import LinearFit, linear_fit, nonlinearity_factor
from memlab.analysis.retention import DriftResult
from memlab.analysis.single_trace import within_trace_branches
from memlab.analysis.states import BranchStats, split_branches
from memlab.analysis.window import DEFAULT_K_SIGMA, DEFAULT_R2_MIN, Window, choose_windows
from memlab.errors import ConfigError


@dataclass(frozen=True, eq=False)
class BranchResult:
    """One branch inside its window: states, fit (slope S/pulse, intercept at the first state)."""

    stats: BranchStats
    window: Window
    fit: LinearFit
    state_mean_S: np.ndarray
    state_sigma_S: np.ndarray
    bin_width_S: float
    nonlinearity: float

    @property
    def state_pulses(self) -> np.ndarray:
        return self.window.pulses

    @property
    def state_g_S(self) -> np.ndarray | None:
        """(cycles, states) reads of the chosen states (None when the cycles were read in blocks)."""
        return None if self.stats.g_S is None else self.stats.g_S[:, self.window.pulses]


@dataclass(frozen=True, eq=False)
class Extraction:
    """Everything extracted from one set of cycles (all SI units)."""

    up: BranchResult
    down: BranchResult
    ladder: BinLadder
    k_sigma: float
    n_cycles: int
    energy: Energy | None
    drift: DriftResult | None
    intervals: dict[str, dfm.Interval]
    trace_g_S: np.ndarray | None = None  # every trace_step-th cycle's reads (cycles, pulses), for Fig. 2d
    trace_step: int = 1
    sigma_source: str = "cycle_to_cycle"  # or "within_trace" (one trace: analysis/single_trace.py)

    @property
    def states_per_branch(self) -> int:
        return int(self.up.state_mean_S.size)

    @property
    def sigma_mean_S(self) -> float:
        return float(np.mean(np.concatenate([self.up.state_sigma_S, self.down.state_sigma_S])))

    @property
    def g_min_S(self) -> float:
        return float(min(self.up.state_mean_S.min(), self.down.state_mean_S.min()))

    @property
    def g_max_S(self) -> float:
        return float(max(self.up.state_mean_S.max(), self.down.state_mean_S.max()))


def _branch(stats: BranchStats, window: Window) -> BranchResult:
    idx = window.pulses
    mean, sigma = stats.mean_S[idx], stats.sigma_S[idx]
    fit = linear_fit((idx - idx[0]).astype(float), mean)  # n = pulses since the window's first state
    return BranchResult(stats, window, fit, mean, sigma, float(np.mean(np.abs(np.diff(mean)))),
                        nonlinearity_factor(idx, mean))


TRACES = 200
"""Cycles a figure overlays at most: every ``trace_step(n)``-th of n."""


def trace_step(n_cycles: int) -> int:
    return max(1, n_cycles // TRACES)


def extract(g_S: np.ndarray, n_up: int, n_down: int, *, energy: Energy | None = None,
            drift: DriftResult | None = None, k_sigma: float = DEFAULT_K_SIGMA,
            r2_min: float = DEFAULT_R2_MIN, pulses_per_state: int | None = None,
            fixed_windows: dict[str, tuple[int, int]] | None = None, n_boot: int = 1000,
            level: float = 0.95, seed: int = 0) -> Extraction:
    """Extract states, window, fits, bins and intervals from ``g_S`` (cycles, n_up + n_down), S."""
    up_stats, down_stats = split_branches(g_S, n_up, n_down)
    g = np.asarray(g_S, dtype=float)
    step = trace_step(g.shape[0])
    return extract_stats(up_stats, down_stats, int(np.count_nonzero(np.isfinite(g).any(axis=1))),
                         lambda up, down: (up_stats.g_S[:, up], down_stats.g_S[:, down]),
                         traces=(g[::step], step), energy=energy, drift=drift, k_sigma=k_sigma, r2_min=r2_min,
                         pulses_per_state=pulses_per_state, fixed_windows=fixed_windows, n_boot=n_boot,
                         level=level, seed=seed)


def extract_stats(up_stats: BranchStats, down_stats: BranchStats, usable_cycles: int,
                  state_reads: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], *,
                  traces: tuple[np.ndarray, int] | None = None, energy: Energy | None = None,
                  drift: DriftResult | None = None, k_sigma: float = DEFAULT_K_SIGMA,
                  r2_min: float = DEFAULT_R2_MIN, pulses_per_state: int | None = None,
                  fixed_windows: dict[str, tuple[int, int]] | None = None, n_boot: int = 1000,
                  level: float = 0.95, seed: int = 0, prefetched: PrefetchedWeights | None = None) -> Extraction:
    """:func:`extract` from per-pulse statistics (the one path of both the in-memory and the
    block-by-block analysis). ``usable_cycles``: cycles with any usable read;
    ``state_reads(up_pulses, down_pulses)`` returns the (cycles, states) reads of the
    chosen states, called once and only for the bootstrap (the per-cycle values it resamples).
    With a single usable cycle (one pulse-response trace, which ``traces`` then holds) σ is
    the scatter within the trace (:mod:`memlab.analysis.single_trace`) and ``sigma_source`` says so.
    """
    sigma_source = "cycle_to_cycle"
    if usable_cycles == 1 and traces is not None:
        rows = traces[0][np.isfinite(traces[0]).any(axis=1)]
        if rows.shape[0] == 1:
            up_stats, down_stats = within_trace_branches(rows, up_stats.n_pulses, down_stats.n_pulses)
            sigma_source = "within_trace"
    if usable_cycles < 2 and sigma_source != "within_trace":
        raise ConfigError(f"{usable_cycles} cycle(s) with usable reads: the cycle-to-cycle sigma of a state "
                          "needs at least 2 cycles (or the single trace itself, for a within-trace sigma)")
    w_up, w_down = choose_windows(up_stats, down_stats, k_sigma=k_sigma, r2_min=r2_min,
                                  pulses_per_state=pulses_per_state, fixed=fixed_windows)
    up, down = _branch(up_stats, w_up), _branch(down_stats, w_down)
    ladder = differential_bins(up.state_mean_S, up.state_sigma_S, down.state_mean_S, down.state_sigma_S, k_sigma)
    intervals: dict[str, dfm.Interval] = {}
    if n_boot >= 1 and up_stats.cycles >= 2:
        up_g, down_g = state_reads(w_up.pulses, w_down.pulses)
        intervals = bootstrap_headline(up_g, down_g, k_sigma, None if energy is None else energy.per_cycle_J,
                                       n_boot=n_boot, level=level, seed=seed, prefetched=prefetched)
    trace_g, step = traces if traces is not None else (None, 1)
    return Extraction(up, down, ladder, k_sigma, up_stats.cycles, energy, drift, intervals, trace_g, step,
                      sigma_source)


def _file_branch(b: BranchResult) -> dfm.Branch:
    return dfm.Branch(b.window.start, b.window.stop, b.window.reason, b.fit.slope, b.fit.intercept,
                      b.fit.r_squared, b.bin_width_S, b.nonlinearity,
                      tuple(float(x) for x in b.state_mean_S), tuple(float(x) for x in b.state_sigma_S))


def to_device_file(ex: Extraction, source_runs: tuple[dfm.SourceRun, ...] = (),
                   d2d: dfm.D2D | None = None) -> dfm.DeviceFile:
    """The device file of an extraction."""
    energy_cycle = energy_pulse = None
    if ex.energy is not None:
        mean, std = ex.energy.cycle_mean_std_J
        if np.isfinite(mean):
            energy_cycle = dfm.EnergyPerCycle(mean, std, ex.energy.source)
            energy_pulse = dfm.EnergyPerPulse(*ex.energy.pulse_mean_std_J)
    drift = None
    if ex.drift is not None:
        d = ex.drift
        g_ref, slope, spread = d.nu_vs_g
        low, high = d.nu_mean_ci
        states = tuple(dfm.DriftState(float(g0), float(nu), float(se), float(lo), float(hi), float(rn), int(n),
                                      float(rc))
                       for g0, nu, se, lo, hi, rn, n, rc in zip(d.g0_S, d.nu, d.nu_se, d.nu_ci_low, d.nu_ci_high,
                                                                d.read_noise_S, d.n_reads, d.relative_change))
        drift = dfm.Drift(d.nu_mean, d.nu_std, d.t0_s, d.relative_change_mean, d.span_s,
                          nu_mean_ci=dfm.Interval(low, high, d.level), first_read_s=d.first_read_s,
                          read_noise_S=d.read_noise_mean_S, nu_g_ref_S=g_ref, nu_slope_per_S=slope,
                          nu_spread=spread, states=states)
    up, down = ex.up, ex.down
    return dfm.DeviceFile(
        schema_version=dfm.SCHEMA_VERSION, kind=dfm.KIND, memlab_version=__version__,
        created_utc=dfm.utc_now(), source_runs=tuple(source_runs), n_cycles=ex.n_cycles,
        k_sigma=float(ex.k_sigma), pulses_per_state=up.window.m, g_min_S=ex.g_min_S, g_max_S=ex.g_max_S,
        dynamic_range=ex.g_max_S / ex.g_min_S if ex.g_min_S > 0 else 0.0,
        states_per_branch=ex.states_per_branch, n_bins=ex.ladder.n_bins, sigma_mean_S=ex.sigma_mean_S,
        branches=dfm.Branches(_file_branch(up), _file_branch(down)),
        symmetry=dfm.Symmetry(abs(down.fit.slope) / up.fit.slope if up.fit.slope else 0.0,
                              up.nonlinearity - down.nonlinearity),
        energy_per_cycle_J=energy_cycle, energy_per_pulse_J=energy_pulse, drift=drift,
        confidence_intervals=dict(ex.intervals),
        d2d=d2d, sigma_source=ex.sigma_source)
