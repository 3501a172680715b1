"""The first pass of ``memlab analyze``: every run's cycles, a block at a time, pooled.

:func:`pool_runs` reads each run once (:func:`first_pass`: streaming moments, read
counts, the traces the figures show, the energy of raw waveforms), groups runs into
devices by their ``device_id`` attribute, and moves every device's cycles onto the
average device (:func:`_typical_device`), so the spread left is cycle-to-cycle and
the device-to-device spread goes to ``d2d``. :mod:`.pipeline` extracts from the pool.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from memlab.analysis.conductance import ReadCounts
from memlab.analysis.energy import Energy
from memlab.analysis.extraction import trace_step
from memlab.analysis.streaming import EnergySummary, Moments, Summary
from memlab.errors import ConfigError


def device_id(run) -> str:
    """The device a run measured: its ``device_id`` (or ``device``) attribute, else the run itself."""
    for key in ("device_id", "device"):
        value = run.attrs.get(key)
        if value not in (None, ""):
            return str(value)
    return run.uuid


def selected_cycles(n_cycles: int, ranges: list[tuple[int, int]] | None) -> int:
    """How many of a run's ``n_cycles`` the (start, stop) ``ranges`` select (None: all)."""
    if ranges is None:
        return n_cycles
    return sum(max(0, min(b, n_cycles) - a) for a, b in ranges)


@dataclass(eq=False)
class Pool:
    """The cycles of all runs after the first pass: the average device's moments and what the
    extraction, the bootstrap's second pass and the per-device statistics need."""

    moments: Moments
    cycles: int
    usable_cycles: int
    counts: ReadCounts
    devices: dict[str, Summary]
    traces: tuple[np.ndarray, int]
    energy: Energy | None
    state_reads: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    skipped: tuple[str, ...] = ()


@dataclass(eq=False)
class RunPass:
    """The first pass over one run's cycles (mergeable with the other runs' in run order)."""

    summary: Summary
    traces: list[np.ndarray]
    energy: EnergySummary
    g_S: list[np.ndarray]  # every block's conductance (cycles, pulses): the bootstrap's reads, not read again


def first_pass(run, ranges, chunk: int, step: int, row0: int) -> RunPass:
    """One run's cycles a block at a time: moments, read counts, every ``step``-th cycle of the
    pooled row count (from ``row0``) as a trace, and the energy of its raw waveforms."""
    summary, energy, traces, row = Summary(Moments.empty(sum(run.pulse_counts))), EnergySummary(), [], row0
    blocks = []
    for block in run.pulse_chunks(ranges, chunk_cycles=chunk):
        g = summary.add(block)
        blocks.append(g)
        traces.append(g[np.arange(-row % step, g.shape[0], step)])
        row += g.shape[0]
        if block.waveform is not None:
            energy.add(block)
    return RunPass(summary, traces, energy, blocks)


def _serial_map(fn, arguments: list[tuple]) -> list:
    return [fn(*a) for a in arguments]


def pool_runs(pulse_runs, ranges, chunk: int, n_up: int, total: int, notes: list[str], map_runs=None) -> Pool:
    """First pass over every run's cycles (devices: see :func:`_typical_device`). ``map_runs(fn,
    arguments)`` runs :func:`first_pass` over the runs (default: here, in turn; a Dask engine:
    :func:`memlab.cluster.run_mapper`); a run whose pass fails there is reported and left out."""
    step, rows = trace_step(total), np.cumsum([0] + [selected_cycles(r.n_cycles, ranges) for r in pulse_runs])
    passes = (map_runs or _serial_map)(first_pass, [(r, ranges, chunk, step, int(rows[i]))
                                                    for i, r in enumerate(pulse_runs)])
    kept, skipped = [], []
    for r, p in zip(pulse_runs, passes):
        if isinstance(p, Exception):
            notes.append(f"{r.path.name}: skipped, its cycles could not be read ({type(p).__name__}: {p})")
            skipped.append(str(r.path))
        else:
            kept.append((r, p))
    if not kept:
        raise ConfigError("no run could be read: " + "; ".join(n for n in notes if "skipped" in n))
    pulse_runs = [r for r, _ in kept]
    devices: dict[str, Summary] = {}
    run_device, traces = [], []
    energy, with_energy = EnergySummary(), 0
    for r, p in kept:
        # one run is one device: its provenance attributes (a file open and JSON parse) are not needed
        dev = device_id(r) if len(pulse_runs) > 1 else r.uuid
        run_device.append(dev)
        devices[dev] = devices[dev].merged(p.summary) if dev in devices else p.summary
        traces += [(dev, t) for t in p.traces]
        with_energy += r.has_waveform
        energy = energy.merged(p.energy)
    shift = _typical_device(devices)
    counts = sum((s.counts for s in devices.values()), ReadCounts())
    _quality_notes(counts, notes)
    trace_g = np.vstack([g + shift[d] if shift else g for d, g in traces])
    moments = devices[run_device[0]].moments
    if shift:
        grand = np.nanmean(np.vstack([s.moments.mean_or_nan for s in devices.values()]), axis=0)
        moments = Moments.empty(grand.size)
        for s in devices.values():
            moments = moments.merge(s.moments.recentred(grand))

    def state_reads(up: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the first pass's conductances (320 bytes a cycle of 40 pulses), not a second read of the archive
        columns = np.concatenate([up, n_up + down])
        rows = np.vstack([g[:, columns] + shift[d][columns] if shift else g[:, columns]
                          for (_, p), d in zip(kept, run_device) for g in p.g_S] or [np.empty((0, columns.size))])
        return rows[:, :up.size], rows[:, up.size:]

    e = None
    if with_energy:
        e = energy.energy()
        if e.source == "applied_waveform":
            notes.append("energy uses the programmed voltage waveform (V not measured) with the measured current")
        if with_energy < len(pulse_runs):
            notes.append(f"energy from the {with_energy} of {len(pulse_runs)} runs that hold raw waveforms")
    else:
        notes.append("no raw waveforms recorded: energy per cycle is not available")
    return Pool(moments, sum(s.cycles for s in devices.values()), sum(s.usable_cycles for s in devices.values()),
                 counts, devices, (trace_g, step), e, state_reads, tuple(skipped))


def _quality_notes(quality: ReadCounts, notes: list[str]) -> None:
    if quality.n_missing:
        notes.append(f"{quality.n_missing} of {quality.n_reads} reads are missing (ragged data or lost points)")
    if quality.n_flagged > quality.n_missing:
        notes.append(f"{quality.n_flagged - quality.n_missing} of {quality.n_reads} reads carry an instrument "
                     "status flag (compliance, overflow, ...) and were excluded")
    if quality.n_zero_bias:
        notes.append(f"{quality.n_zero_bias} reads had a zero or unknown read voltage and were excluded")
    if quality.n_negative:
        notes.append(f"{quality.n_negative} reads gave a negative conductance (kept; check wiring if many)")


def _typical_device(devices: dict[str, Summary]) -> dict[str, np.ndarray]:
    """Per device, the shift (per pulse, S) that moves its cycles onto the average device: its
    per-pulse mean is replaced by the mean over devices, so the spread left is cycle-to-cycle
    only (the device-to-device spread goes to ``d2d`` instead of inflating sigma). Empty for
    one device."""
    if len(devices) < 2:
        return {}
    means = {d: s.moments.mean_or_nan for d, s in devices.items()}
    with warnings.catch_warnings():  # a pulse with no read in some device
        warnings.simplefilter("ignore", RuntimeWarning)
        grand = np.nanmean(np.vstack(list(means.values())), axis=0)
    return {d: grand - m for d, m in means.items()}
