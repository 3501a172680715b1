"""The pulse-cycling runner: protocol -> WGFMU sequence -> run archive, cycle by cycle.

One pattern per cycle (see :mod:`.patterns`) is added with a loop count, so the
library calls per cycle stay O(1); runs longer than a channel's point memory
are split into blocks executed one after another. While a block runs, the
completed cycles are read and appended to the archive (flushed) at least every
second (:data:`FLUSH_EVERY_S`) and as soon as :data:`FLUSH_CYCLES` wait, so a
SIGKILL or power cut loses about a second of the run.

Stopping: SIGINT (Ctrl-C), SIGTERM and SIGHUP abort the sequence, save the
cycles it measured, drive the outputs to 0 V and close the archive as
``interrupted`` with the signal named (:mod:`.signals`); an instrument error
does the same with ``failed`` and the error as reason. Both re-raise after
cleaning up.
Times in ``read_time_s`` are sequencer time since the run started: host
pauses between blocks (and before a resume) are not counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from memlab.errors import InstrumentError
from memlab.status import PointStatus
from memlab.instruments.wgfmu import (
    WGFMU,
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureEventData,
    MeasureMode,
    MeasureVoltageRange,
    OperationMode,
    Status,
)
from memlab.instruments.wgfmu.limits import MEASURE_CURRENT_FULL_SCALE_A, force_range_for

from .archive import ArchiveWriter
from .patterns import CyclePlan, PatternSpec, plan_cycle
from .protocol import CURRENT_RANGES, PulseCyclingProtocol, RetentionProtocol
from .session import RunResult, record_safe_start, recording
from .signals import critical

TOP, BOTTOM = 101, 102
"""Default channels: 101 forces the pulses on the top electrode, 102 holds the bottom one and measures I."""
CHUNK_CYCLES = 64
"""Most cycles read and written at once (bounds memory)."""
FLUSH_EVERY_S = 1.0
"""Completed cycles reach the archive at least this often (s): what a SIGKILL or power cut loses."""
FLUSH_CYCLES = 64
"""... and as soon as this many are waiting (fast runs write in blocks, not cycle by cycle)."""


@dataclass(frozen=True)
class Channels:
    """Which WGFMU channel does what."""

    top: int = TOP
    bottom: int = BOTTOM


def start_session(w: WGFMU, protocol: PulseCyclingProtocol | RetentionProtocol, channels: Channels,
                  address: str, first: bool, writer: ArchiveWriter | None = None) -> None:
    """Open and connect on the first block; (re)apply the channel setup before every execute.

    Opening drives every output to 0 V before anything else (``safe_open``:
    a previous process may have died with them live), recorded in the archive.
    """
    if first:
        record_safe_start(writer, w.safe_open(address))
    setup_channels(w, protocol, channels)
    if first:
        w.connect(channels.top)
        w.connect(channels.bottom)


def _ground_name(pattern: PatternSpec) -> str:
    return f"{pattern.name}_gnd"


def load_patterns(w: WGFMU, patterns: tuple[PatternSpec, ...], channels: Channels, cycles: int) -> None:
    """Patterns (top electrode + a 0 V twin for the bottom), events, and ``cycles`` repeats of them in turn."""
    w.clear()
    for pat in patterns:
        w.createPattern(pat.name, 0.0)
        w.addVectors(pat.name, pat.top_deltas_s, pat.top_voltages_V)
        w.createPattern(_ground_name(pat), 0.0)
        w.addVector(_ground_name(pat), pat.duration_s, 0.0)
        for name in (pat.name, _ground_name(pat)):
            for ev in pat.events:
                w.setMeasureEvent(name, ev.name, ev.time_s, ev.points, ev.interval_s, ev.average_s,
                                  MeasureEventData.RAW if ev.raw else MeasureEventData.AVERAGED)
    if len(patterns) == 1:
        w.addSequence(channels.top, patterns[0].name, cycles)
        w.addSequence(channels.bottom, _ground_name(patterns[0]), cycles)
    else:  # a cycle split over several patterns cannot use the loop count
        for _ in range(cycles):
            for pat in patterns:
                w.addSequence(channels.top, pat.name, 1)
                w.addSequence(channels.bottom, _ground_name(pat), 1)


def channel_settings(protocol: PulseCyclingProtocol | RetentionProtocol, channels: Channels) -> dict:
    """The channel setup a run applies (also stored in the archive's snapshot)."""
    if isinstance(protocol, RetentionProtocol):
        levels = list(protocol.program.signed_amplitude_V + protocol.reset.signed_amplitude_V)
    else:
        levels = list(protocol.pulse_amplitude_V)
    levels += [protocol.read.amplitude_V, 0.0]
    force = force_range_for(levels, ForceVoltageRange.AUTO)
    return {
        str(channels.top): {"role": "top electrode: forces pulses, measures V", "operation_mode": "FASTIV",
                            "force_voltage_range": force.name, "measure_mode": "VOLTAGE",
                            "measure_voltage_range": "RANGE_5V"},
        str(channels.bottom): {"role": "bottom electrode: 0 V, measures I", "operation_mode": "FASTIV",
                               "force_voltage_range": "RANGE_3V", "measure_mode": "CURRENT",
                               "measure_current_range": CURRENT_RANGES[protocol.current_range].name},
    }


def setup_channels(w: WGFMU, protocol: PulseCyclingProtocol | RetentionProtocol, channels: Channels) -> None:
    """Operation modes and ranges of both channels (the archive snapshot records the same)."""
    settings = channel_settings(protocol, channels)
    top, bottom = settings[str(channels.top)], settings[str(channels.bottom)]
    for ch, s in ((channels.top, top), (channels.bottom, bottom)):
        w.setOperationMode(ch, OperationMode[s["operation_mode"]])
        w.setForceVoltageRange(ch, ForceVoltageRange[s["force_voltage_range"]])
        w.setMeasureMode(ch, MeasureMode[s["measure_mode"]])
    w.setMeasureVoltageRange(channels.top, MeasureVoltageRange[top["measure_voltage_range"]])
    w.setMeasureCurrentRange(channels.bottom, MeasureCurrentRange[bottom["measure_current_range"]])


def status_flags(current_A: np.ndarray, full_scale_A: float) -> np.ndarray:
    """Per-read status: OVERFLOW at the range's full scale (the WGFMU clips there), MISSING for NaN."""
    status = np.zeros(current_A.shape, dtype=np.uint16)
    status[np.abs(current_A) >= full_scale_A] |= np.uint16(PointStatus.OVERFLOW)
    status[~np.isfinite(current_A)] |= np.uint16(PointStatus.MISSING)
    return status


class _Block:
    """Reads one executing block's finished cycles in chunks."""

    def __init__(self, w: WGFMU, plan: CyclePlan, channels: Channels, cycles: int) -> None:
        self.w, self.plan, self.channels, self.cycles = w, plan, channels, cycles
        self.read = 0

    def ready(self) -> int:
        ppc = self.plan.points_per_cycle
        top = self.w.getMeasureValueSize(self.channels.top)[0] // ppc
        bottom = self.w.getMeasureValueSize(self.channels.bottom)[0] // ppc
        return min(top, bottom, self.cycles)

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next ``n`` cycles: (times_s, volts, amps), each (n, points_per_cycle)."""
        ppc = self.plan.points_per_cycle
        offset, size = self.read * ppc, n * ppc
        t, v = self.w.getMeasureValues(self.channels.top, offset, size)
        _, i = self.w.getMeasureValues(self.channels.bottom, offset, size)
        self.read += n
        shape = (n, ppc)
        # The bottom channel measures the current out of its output, i.e. minus the
        # device current; the archive stores the device current (sign follows V).
        return (np.asarray(t, dtype=np.float64).reshape(shape), np.asarray(v, dtype=np.float64).reshape(shape),
                -np.asarray(i, dtype=np.float64).reshape(shape))


def run_pulse_cycling(protocol: PulseCyclingProtocol, w: WGFMU, writer: ArchiveWriter | None, *,
                      address: str, channels: Channels = Channels(), start_cycle: int = 0,
                      progress: bool = True, poll_s: float = 0.05, flush_every_s: float | None = None,
                      flush_cycles: int | None = None) -> RunResult:
    """Run ``protocol`` on ``w`` from ``start_cycle``, appending every finished cycle to ``writer``.

    ``writer=None`` runs without recording (the benchmark's baseline). The
    archive's ``/pulses`` group must already exist when resuming; it is created
    here otherwise. The instrument session is opened here and always closed
    (outputs at 0 V) before the archive is closed. Completed cycles are written
    at least every ``flush_every_s`` and whenever ``flush_cycles`` are waiting
    (None: :data:`FLUSH_EVERY_S`, :data:`FLUSH_CYCLES`, read when the run starts).
    """
    plan = plan_cycle(protocol)
    full_scale = MEASURE_CURRENT_FULL_SCALE_A[CURRENT_RANGES[protocol.current_range]]
    if writer is not None and not writer.has_group("pulses"):
        writer.begin_pulses(n_up=protocol.n_up, n_down=protocol.n_down,
                            pulse_amplitude_V=protocol.pulse_amplitude_V, pulse_width_s=protocol.pulse_width_s,
                            cycles_planned=protocol.cycles,
                            waveform_time_s=plan.sample_time_s if protocol.record_waveforms else None,
                            waveform_pulse_index=plan.sample_pulse if protocol.record_waveforms else None,
                            waveform_measured=True)
    started = time.perf_counter()
    bar = tqdm(total=protocol.cycles, initial=start_cycle, unit="cycle", desc=protocol.name, disable=not progress,
               dynamic_ncols=True, leave=True)
    stream = _Stream(w, plan, channels, writer, protocol, full_scale, bar, start_cycle,
                     FLUSH_EVERY_S if flush_every_s is None else flush_every_s,
                     FLUSH_CYCLES if flush_cycles is None else flush_cycles)
    with recording(w, writer, bar, on_stop=stream.rescue):
        first = True
        while stream.done < protocol.cycles:
            block = min(protocol.cycles - stream.done, plan.max_cycles_per_block)
            load_patterns(w, plan.patterns, channels, block)
            start_session(w, protocol, channels, address, first, writer)
            first = False
            w.execute()
            stream.drain(block, poll_s)
            w.waitUntilCompleted()
    return RunResult("complete", stream.done, "", time.perf_counter() - started)


class _Stream:
    """Moves one run's completed cycles from the instrument to the archive, block by block.

    A write happens once ``flush_cycles`` cycles are waiting or ``flush_every_s``
    has passed with any waiting, so a kill loses about that much of the run.
    """

    def __init__(self, w: WGFMU, plan: CyclePlan, channels: Channels, writer: ArchiveWriter | None,
                 protocol: PulseCyclingProtocol, full_scale: float, bar: tqdm, done: int,
                 flush_every_s: float, flush_cycles: int) -> None:
        if not flush_every_s > 0 or flush_cycles < 1:
            raise ValueError(f"flush_every_s={flush_every_s!r} must be > 0 and flush_cycles={flush_cycles!r} >= 1")
        self.w, self.plan, self.channels, self.writer = w, plan, channels, writer
        self.protocol, self.full_scale, self.bar = protocol, full_scale, bar
        self.done, self.every_s, self.cycles = done, flush_every_s, flush_cycles
        self.reader: _Block | None = None
        self.block_offset_s = 0.0

    def drain(self, block: int, poll_s: float) -> None:
        """Record the executing block's cycles as they finish."""
        reader = self.reader = _Block(self.w, self.plan, self.channels, block)
        self.block_offset_s = self.done * self.plan.cycle_duration_s
        last = time.monotonic()
        while reader.read < block:
            with critical():  # a poll advances the simulated device: a stop must not cut it in half
                waiting = reader.ready() - reader.read
            if waiting and (waiting >= self.cycles or reader.read + waiting == block
                            or time.monotonic() - last >= self.every_s):
                self._write(min(waiting, CHUNK_CYCLES))
                last = time.monotonic()
                continue
            if not waiting:
                with critical():
                    status = self.w.getStatus().status
                    # Finished or stopped yet short of points (looked at twice: the last poll may have finished it).
                    short = status is not Status.RUNNING and reader.ready() == reader.read
                if short:
                    raise InstrumentError(f"sequence ended ({status.name}) after {self.done} cycles "
                                          f"of {self.protocol.cycles}: measured points are missing")
            time.sleep(poll_s)

    def rescue(self) -> None:
        """After an abort: write the cycles measured but not yet written (called on a stop)."""
        reader = self.reader
        if reader is None or self.writer is None or self.writer.closed:
            return
        while (waiting := reader.ready() - reader.read) > 0:
            self._write(min(waiting, CHUNK_CYCLES))

    def _write(self, n: int) -> None:
        with critical():  # a stop signal waits until these cycles are read and appended in full
            self._take_and_append(n)

    def _take_and_append(self, n: int) -> None:
        plan, protocol = self.plan, self.protocol
        t, v, i = self.reader.take(n)
        if self.writer is not None:
            reads_i = i[:, plan.read_index]
            kwargs = {}
            if protocol.record_waveforms:
                kwargs = {"waveform_voltage_V": v[:, plan.sample_index], "waveform_current_A": i[:, plan.sample_index]}
            # The sequencer restarts its clock at every execute: shift to run time.
            read_time = t[:, plan.read_index] + self.block_offset_s
            self.writer.append_cycles(read_time, v[:, plan.read_index], reads_i,
                                      status_flags(reads_i, self.full_scale), **kwargs)
        self.done += n
        self.bar.update(n)
