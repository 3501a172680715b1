"""Pulse-cycling runs summarised block by block: memory that does not grow with the archive.

The in-memory analysis holds every read and every waveform sample; this one
reads the cycles in blocks (:meth:`Run.pulse_chunks`) and keeps only what the
extraction needs, in one pass over the reads:

1. **per-pulse moments** (count, mean, sum of squared deviations) merged
   block by block with Chan et al.'s update, which is exact up to rounding, so
   means and sample σ equal the in-memory ``nanmean``/``nanstd`` to ~1e-15;
   the read-quality counts; every ``trace_step``-th cycle for the figure; the
   energy of each cycle (one number a cycle: the bootstrap resamples it) and
   the moments of the pulse energies. The raw waveforms are read here only.
2. after the windows are chosen from those moments, the **reads of the chosen
   states**, one row a cycle: the per-cycle values the blocked bootstrap of
   :mod:`.bootstrap` resamples (it needs each cycle's value of every state,
   and nothing else), so it draws exactly the resamples of the in-memory path.
   They are taken from each block's conductances, which the pipeline keeps from
   the first pass (2026-12-03; the archive was read a second time before).

What is kept grows by 8 bytes per pulse and cycle (plus 8 for the energy):
328 B a cycle of 40 pulses, against ~21 kB a cycle of an archive with raw
waveforms (33 MB at 100,000 cycles); everything else is bounded by the block size.
Pure over blocks: the pipeline hands the blocks in, nothing here opens files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memlab.analysis.conductance import ReadCounts, conductance
from memlab.analysis.energy import Energy, pulse_energy
from memlab.analysis.states import BranchStats


@dataclass(frozen=True, eq=False)
class Moments:
    """Per column: count of finite values ``n``, their ``mean`` and the sum ``m2`` of squared
    deviations from it. :meth:`merge` combines two blocks (Chan, Golub & LeVeque 1979)."""

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, width: int) -> "Moments":
        return cls(np.zeros(width, np.int64), np.zeros(width), np.zeros(width))

    @classmethod
    def of(cls, x: np.ndarray) -> "Moments":
        """Moments of the finite values of each column of ``x`` (rows, columns)."""
        x = np.asarray(x, dtype=float)
        finite = np.isfinite(x)
        n = np.count_nonzero(finite, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n > 0, np.where(finite, x, 0.0).sum(axis=0) / n, 0.0)
        d = np.where(finite, x - mean, 0.0)
        return cls(n.astype(np.int64), mean, np.einsum("ij,ij->j", d, d))

    def merge(self, other: "Moments") -> "Moments":
        n = self.n + other.n
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(n > 0, other.n / np.maximum(n, 1), 0.0)
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * frac, self.m2 + other.m2 + delta * delta * self.n * frac)

    def recentred(self, mean: np.ndarray) -> "Moments":
        """The moments of the same values shifted so that their mean is ``mean`` (m2 unchanged)."""
        return Moments(self.n, np.where(self.n > 0, mean, 0.0), self.m2)

    @property
    def mean_or_nan(self) -> np.ndarray:
        return np.where(self.n > 0, self.mean, np.nan)

    @property
    def sigma(self) -> np.ndarray:
        """Sample standard deviation (ddof 1); NaN where fewer than 2 values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n >= 2, np.sqrt(self.m2 / np.maximum(self.n - 1, 1)), np.nan)


def branch_stats_from(moments: Moments, n_up: int, cycles: int) -> tuple[BranchStats, BranchStats]:
    """Potentiation and depression :class:`BranchStats` (without reads) from per-pulse moments."""
    mean, sigma, n = moments.mean_or_nan, moments.sigma, moments.n
    return (BranchStats("potentiation", None, mean[:n_up], sigma[:n_up], n[:n_up], cycles),
            BranchStats("depression", None, mean[n_up:], sigma[n_up:], n[n_up:], cycles))


@dataclass(eq=False)
class Summary:
    """What the first pass keeps of one device's cycles (an accumulator: :meth:`add` each block)."""

    moments: Moments
    counts: ReadCounts = field(default_factory=ReadCounts)
    cycles: int = 0
    usable_cycles: int = 0

    def add(self, block) -> np.ndarray:
        """Add one :class:`PulseData` block; returns its conductance (cycles, pulses), S."""
        c = conductance(block.read_current_A, block.read_voltage_V, block.read_status, block.read_conductance_S)
        self.moments = self.moments.merge(Moments.of(c.g_S))
        self.counts = self.counts + ReadCounts.of(c)
        self.cycles += c.g_S.shape[0]
        self.usable_cycles += int(np.count_nonzero(np.isfinite(c.g_S).any(axis=1)))
        return c.g_S

    def merged(self, other: "Summary") -> "Summary":
        """The summary of both sets of cycles (e.g. two runs of one device, summarised apart)."""
        return Summary(self.moments.merge(other.moments), self.counts + other.counts, self.cycles + other.cycles,
                       self.usable_cycles + other.usable_cycles)


@dataclass(eq=False)
class EnergySummary:
    """Energy of every cycle (kept: the bootstrap resamples it) and the moments of the pulse energies."""

    per_cycle_J: list[np.ndarray] = field(default_factory=list)
    pulse: Moments = field(default_factory=lambda: Moments.empty(1))
    by_pulse: Moments | None = None  # per pulse of the cycle (the energy_per_pulse figure)
    sources: set[str] = field(default_factory=set)

    def add(self, block) -> None:
        wf = block.waveform
        e = pulse_energy(wf.time_s, wf.voltage_V, wf.current_A, wf.pulse_index, block.pulses_per_cycle, wf.measured)
        self.per_cycle_J.append(e.per_cycle_J)
        self.pulse = self.pulse.merge(Moments.of(e.per_pulse_J.reshape(-1, 1)))
        columns = Moments.of(e.per_pulse_J)
        self.by_pulse = columns if self.by_pulse is None else self.by_pulse.merge(columns)
        self.sources.add(e.source)

    def merged(self, other: "EnergySummary") -> "EnergySummary":
        """Both sets of cycles, this one's first."""
        by_pulse = other.by_pulse if self.by_pulse is None else (
            self.by_pulse if other.by_pulse is None else self.by_pulse.merge(other.by_pulse))
        return EnergySummary(self.per_cycle_J + other.per_cycle_J, self.pulse.merge(other.pulse), by_pulse,
                             self.sources | other.sources)

    def energy(self) -> Energy:
        """The :class:`Energy` of the cycles added (no per-pulse matrix: its mean and σ, overall
        and per pulse of the cycle, instead)."""
        n, mean = int(self.pulse.n[0]), float(self.pulse.mean[0])
        stats = (float("nan"), float("nan")) if n == 0 else (mean, float(self.pulse.sigma[0]) if n > 1 else 0.0)
        source = "applied_waveform" if "applied_waveform" in self.sources else "measured"
        by_pulse = None if self.by_pulse is None else (self.by_pulse.mean_or_nan, self.by_pulse.sigma,
                                                       self.by_pulse.n)
        return Energy(None, np.concatenate(self.per_cycle_J), source, stats, by_pulse)
