"""What a protocol will do, worked out without an instrument: ``memlab measure --dry-run``.

:func:`plan_run` gives the instrument time, pulse and point counts, the memory
and disk the run needs; :func:`plausibility_warnings` the likely mistakes
(warnings, never refusals) that ``measure`` also prints before a real run;
:func:`draw_first_cycle` draws the first cycle's programmed waveform to a PNG.
Nothing here opens a session or touches a file other than the PNG.
"""

from __future__ import annotations

import math
import os
import pathlib
from dataclasses import dataclass

import numpy as np

from memlab.instruments.wgfmu.limits import MAX_POINTS_PER_CHANNEL
from memlab.safe_text import figure_text

from .patterns import plan_cycle
from .protocol import IVSweepProtocol, Protocol, PulseCyclingProtocol, RetentionProtocol

LONG_RUN_S = 3600.0
"""Instrument time above which a run earns a warning (an hour)."""
ARCHIVE_OVERHEAD_B = 64 * 1024
"""Fixed part of an archive: attributes, protocol JSON, HDF5 metadata (measured on small runs)."""
IV_STEP_FLOOR_S = 1e-3
"""Least time one SMU sweep step takes (integration and settling), used when the protocol's delay is shorter."""


@dataclass(frozen=True)
class RunPlan:
    """What a run will do. Times in s, sizes in bytes."""

    kind: str
    instrument_time_s: float
    units: int
    """Cycles, states or sweeps."""
    unit: str
    pulses: int
    """Programming pulses applied."""
    reads: int
    points_per_channel: int
    executes: int
    memory_B: int
    """Host memory of the readout (the simulated instrument holds one block)."""
    disk_B: int
    lower_bound: bool = False
    """``instrument_time_s`` is a floor (SMU sweeps: the instrument's integration time is not known here)."""


def _read_bytes(n: int) -> int:
    return n * (3 * 8 + 2)  # time, voltage, current as float64 and a uint16 status per read


def plan_run(protocol: Protocol) -> RunPlan:
    """The counts and sizes of ``protocol``."""
    if isinstance(protocol, PulseCyclingProtocol):
        plan = plan_cycle(protocol)
        block = min(protocol.cycles, plan.max_cycles_per_block)
        reads = protocol.pulses_per_cycle
        samples = int(plan.sample_time_s.size)
        row_B = _read_bytes(reads) + samples * 2 * 8
        return RunPlan("pulse_cycling", protocol.cycles * plan.cycle_duration_s, protocol.cycles, "cycle",
                       protocol.cycles * reads, protocol.cycles * reads, protocol.cycles * plan.points_per_cycle,
                       math.ceil(protocol.cycles / plan.max_cycles_per_block),
                       2 * block * plan.points_per_cycle * 2 * 8, protocol.cycles * row_B + ARCHIVE_OVERHEAD_B)
    if isinstance(protocol, RetentionProtocol):
        from .retention import plan_state

        states = len(protocol.target_pulses)
        duration = sum(plan_state(protocol, k)[0].duration_s for k in range(states))
        pulses = states * protocol.reset.count + sum(protocol.target_pulses)
        return RunPlan("retention", duration, states, "state", pulses, states * protocol.points,
                       states * protocol.points, states, 2 * protocol.points * 2 * 8,
                       states * _read_bytes(protocol.points) + ARCHIVE_OVERHEAD_B)
    assert isinstance(protocol, IVSweepProtocol)
    points = protocol.points_per_sweep
    step_s = max(protocol.delay_s, IV_STEP_FLOOR_S)
    duration = protocol.sweeps * (points * step_s + len(protocol.stops_V) * protocol.hold_s)
    return RunPlan("iv_sweep", duration, protocol.sweeps, "sweep", 0, protocol.sweeps * points,
                   protocol.sweeps * points, protocol.sweeps, points * 2 * 8,
                   protocol.sweeps * points * (2 * 8 + 2) + ARCHIVE_OVERHEAD_B, lower_bound=True)


def check_disk(protocol: Protocol, out: str | os.PathLike, label: str, done: int = 0,
               plan: RunPlan | None = None) -> None:
    """Refuse, before the run starts, a protocol whose archive cannot fit the free disk space at ``out``.

    ``done`` units (cycles, states, sweeps) are already in the archive (a resume);
    ``label`` names what holds the counts (the protocol file, or the archive).
    The file-size limit (``ulimit -f``) is left to the writer, which stops
    cleanly at it with the archive resumable (see ``ArchiveWriter``).
    """
    import shutil

    from memlab.errors import LimitError

    plan = plan or plan_run(protocol)
    left = max(0, plan.units - done)
    need = ARCHIVE_OVERHEAD_B + (plan.disk_B - ARCHIVE_OVERHEAD_B) * left // max(1, plan.units)
    folder = pathlib.Path(out).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if need > free:
        raise LimitError(f"{label}: {left:,} {plan.unit}s need about {_size(need)} of archive, "
                         f"{_size(free)} free at {folder}; fewer {plan.unit}s, record_waveforms = false, "
                         "or another --out")


def _programming_amplitudes_V(protocol: Protocol) -> list[float]:
    if isinstance(protocol, PulseCyclingProtocol):
        return list(protocol.pulse_amplitude_V)
    if isinstance(protocol, RetentionProtocol):
        return list(protocol.program.signed_amplitude_V + protocol.reset.signed_amplitude_V)
    return []


def plausibility_warnings(protocol: Protocol, plan: RunPlan | None = None) -> list[str]:
    """Likely mistakes in ``protocol``: a run over an hour, a read that could itself switch the device."""
    plan = plan or plan_run(protocol)
    out = []
    # A retention run's waits are what it asks for; only the time beyond them can be a mistake.
    asked_s = len(protocol.target_pulses) * protocol.duration_s if isinstance(protocol, RetentionProtocol) else 0.0
    if plan.instrument_time_s - asked_s > LONG_RUN_S:
        floor = "at least " if plan.lower_bound else ""
        out.append(f"the run takes {floor}{plan.instrument_time_s:,.0f} s ({plan.instrument_time_s / 3600:.1f} h) "
                   f"of instrument time: {plan.units} {plan.unit}s; check the widths, waits and counts")
    amplitudes = _programming_amplitudes_V(protocol)
    if amplitudes and not isinstance(protocol, IVSweepProtocol):
        read = protocol.read.amplitude_V
        # The weakest pulse that switches the device bounds its threshold from above; a read of
        # that size or more, in either polarity, can program the device it is meant to sense.
        threshold = min(abs(a) for a in amplitudes)
        if abs(read) >= threshold:
            out.append(f"read.amplitude_V = {read:g} V reaches the switching threshold of the protocol's own "
                       f"pulses (the weakest is {threshold:g} V): the reads may program the device")
    return out


def mv_warning(read_voltage_V: float | None, flag: str = "--read-voltage") -> str | None:
    """A warning when a read voltage given in V looks like one meant in mV (|V| above 2 V)."""
    if read_voltage_V is None or not math.isfinite(read_voltage_V) or abs(read_voltage_V) <= 2.0:
        return None
    return (f"{flag} {read_voltage_V:g} V is an unusual read voltage (reads are usually below 1 V); "
            f"if millivolts were meant, give {read_voltage_V / 1000:g}")


def first_cycle_waveform(protocol: Protocol) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """The first cycle's (or state's, or sweep's) programmed V(t): times (s), volts, and read windows (s)."""
    if isinstance(protocol, IVSweepProtocol):
        v = np.concatenate([protocol.branch_voltages_V(stop) for stop in protocol.stops_V])
        step = max(protocol.delay_s, IV_STEP_FLOOR_S)
        return np.arange(v.size) * step, v, []
    if isinstance(protocol, RetentionProtocol):
        from .retention import plan_state

        patterns = (plan_state(protocol, 0)[0],)
    else:
        patterns = plan_cycle(protocol).patterns
    times, volts, reads, start = [0.0], [0.0], [], 0.0
    for pat in patterns:
        t = start + np.cumsum(pat.top_deltas_s)
        times += t.tolist()
        volts += list(pat.top_voltages_V)
        reads += [(start + ev.time_s, start + ev.time_s + max(ev.points - 1, 0) * ev.interval_s + ev.average_s)
                  for ev in pat.events if not ev.raw]
        start += pat.duration_s
    return np.asarray(times), np.asarray(volts), reads


def draw_first_cycle(protocol: Protocol, path: str | os.PathLike) -> pathlib.Path:
    """The first cycle's waveform as a PNG at ``path`` (read windows shaded)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, v, reads = first_cycle_waveform(protocol)
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=110)
    try:
        scale, unit = (1e6, "µs") if t[-1] < 1e-2 else (1.0, "s")
        ax.plot(t * scale, v, lw=0.8, color="C0", label="top electrode (programmed)")
        for i, (a, b) in enumerate(reads):
            ax.axvspan(a * scale, b * scale, color="C1", alpha=0.3, lw=0, label="read" if i == 0 else None)
        ax.set_xlabel(f"time ({unit})" if not isinstance(protocol, IVSweepProtocol) else "time (s, at least)")
        ax.set_ylabel("V")
        ax.set_title(f"{figure_text(protocol.name)}: first {'sweep' if isinstance(protocol, IVSweepProtocol) else 'cycle'}")
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        path = pathlib.Path(path)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _size(n_B: int) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_B >= div:
            return f"{n_B / div:.1f} {unit}"
    return f"{n_B} B"


def format_plan(protocol: Protocol, plan: RunPlan) -> str:
    """The plan as aligned lines for ``measure --dry-run``."""
    floor = "at least " if plan.lower_bound else ""
    lines = [
        ("protocol", f"{protocol.name} ({plan.kind}): valid"),
        ("instrument time", f"{floor}{plan.instrument_time_s:,.6g} s for {plan.units} {plan.unit}(s)"),
        ("pulses", f"{plan.pulses:,} programming pulses, {plan.reads:,} reads"),
        ("points", f"{plan.points_per_channel:,} per channel in {plan.executes} execute(s)"
                   + (f" (at most {MAX_POINTS_PER_CHANNEL:,} per execute)" if plan.kind != "iv_sweep" else "")),
        ("memory", f"{_size(plan.memory_B)} for the readout"),
        ("disk", f"{_size(plan.disk_B)} for the archive"),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)
