"""Running a sequence, reading its results, and DC mode, in the simulated WGFMU library.

Two chapters of Keysight's WGFMU programming guide (``WGFMU_execute`` ..
``WGFMU_isMeasureEventCompleted``, and the ``WGFMU_dc*`` functions), as a part of
:class:`.simulated.SimulatedWGFMU`, whose ``__init__`` holds the state these
methods use; the time model (the clock advances when the host polls) is
described in :mod:`.simulated`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from memlab.errors import InstrumentAbortedError, LimitError

from . import limits
from .constants import ErrorCode, MeasureMode, OperationMode, Status
from .engine import TICK_S, Execution, channel_segments, plan_channel
from .interface import MeasureEventInfo, RunStatus

if TYPE_CHECKING:
    from .simulated import _Channel

DC_SAMPLE_S = 5e-9  # one unit of dcmeasureAveragedValue's interval (B1530A guide; unverified)
DC_MEASURE_S = 10e-6  # time one dcmeasureValue takes, during which the bias stays applied
MAX_SIMULATED_VECTORS = 50_000_000  # host memory, not an instrument limit


class SimulatedRun:
    """``execute``, ``abort``, ``waitUntilCompleted``, the status and result queries, ``dc*``."""

    def execute(self) -> None:
        self._enter("execute", idle=True)
        if not any(self._sequences.values()):
            raise self._fail("execute", ErrorCode.CONTEXT, "no sequence: call addSequence first")
        total = 0
        for channel_id, entries in self._sequences.items():
            total = max(total, self._validate_channel(channel_id, entries))
        segments = {
            c: channel_segments([(self._patterns[n], loops) for n, loops in self._sequences.get(c, [])],
                                ch.output_V, total)
            for c, ch in self._channels.items()
        }
        plans = []
        for c, entries in self._sequences.items():
            ch = self._channels[c]
            if not any(self._patterns[n].events for n, _ in entries):
                continue
            kind = "current" if ch.measure_mode is MeasureMode.CURRENT else "voltage"
            sign = 1.0 if c == self.top_channel else -1.0 if c == self.bottom_channel else 0.0
            plans.append(plan_channel(c, kind, ch.full_scale, sign, entries, self._patterns, segments[c],
                                      np.random.default_rng([self.seed, c, self._executions])))
        connected = all(self._channels[c].connected for c in (self.top_channel, self.bottom_channel)
                        if c in self._channels)
        run = Execution(self.device, segments[self.top_channel], segments[self.bottom_channel],
                        connected, plans, total)
        for plan in plans:
            if plan.kind == "current":
                ch = self._channels[plan.channel_id]
                need = limits.settling_time_s(ch.current_range) / TICK_S
                unsettled = run.unsettled_reads(plan, need)
                if unsettled:
                    limits.warn_unsettled(plan.channel_id, unsettled, ch.current_range)
        self._run, self._plans = run, {p.channel_id: p for p in plans}
        self._status, self._stale = Status.RUNNING, False
        self._executions += 1
        for c, entries in self._sequences.items():
            if entries:
                self._channels[c].output_V = float(segments[c][3][-1])
        self._persist()

    def _validate_channel(self, channel_id: int, entries) -> int:
        """Checks a channel's sequence before it runs; returns its duration (ticks)."""
        ch = self._channels[channel_id]
        if ch.mode not in (OperationMode.FASTIV, OperationMode.PG):
            raise LimitError(f"channel {channel_id}: sequences run in FASTIV or PG mode, not {ch.mode.name}")
        if not ch.connected:
            raise self._fail("execute", ErrorCode.CONTEXT, f"channel {channel_id} has a sequence but is not connected")
        limits.check_measure_mode(ch.mode, ch.measure_mode)
        voltages, duration, vectors, values = [], 0, 0, 0
        for name, loops in entries:
            p = self._patterns[name]
            if not p.deltas:
                raise LimitError(f"pattern {name!r}: has no vectors (add at least one with addVector)")
            if p.range_events:
                raise self._fail("execute", ErrorCode.FUNCTION_NOT_SUPPORTED,
                                 f"pattern {name!r}: range events are not simulated")
            for event_name, ev in p.events.items():
                if ev.end > p.duration:
                    raise LimitError(
                        f"measure event {event_name!r} of pattern {name!r}: ends at {ev.end * TICK_S:g} s, "
                        f"outside the pattern (0 .. {p.duration * TICK_S:g} s)"
                    )
            voltages.extend((p.initial_V, min(p.voltages_V), max(p.voltages_V)))
            duration += p.duration * loops
            vectors += len(p.deltas) * loops
            values += sum(ev.outputs for ev in p.events.values()) * loops
        if values > limits.MAX_POINTS_PER_CHANNEL:
            raise LimitError(
                f"channel {channel_id}: the sequence measures {values} values, allowed at most "
                f"{limits.MAX_POINTS_PER_CHANNEL} per channel (fewer loops or points per execute)"
            )
        limits.force_range_for(voltages, ch.force_range)
        if vectors > MAX_SIMULATED_VECTORS:
            raise LimitError(f"channel {channel_id}: {vectors} vectors in one execute, the simulation "
                             f"handles at most {MAX_SIMULATED_VECTORS}")
        return duration

    def abort(self) -> None:
        self._enter("abort")
        if self._status is not Status.RUNNING:
            raise self._fail("abort", ErrorCode.SEQUENCER_NOT_RUNNING, "no sequence is running")
        self._abort_run()

    def waitUntilCompleted(self) -> None:
        self._enter("waitUntilCompleted")
        if self._status is Status.ABORTED:
            raise self._fail("waitUntilCompleted", ErrorCode.ERROR, "the sequence was aborted", InstrumentAbortedError)
        if self._status is Status.RUNNING:
            self._run.advance(math.inf)
            self._finish_if_done()

    def _run_status(self) -> RunStatus:
        if self._run is None:
            return RunStatus(self._status, 0.0, 0.0)
        return RunStatus(self._status, self._run.elapsed_s, self._run.total * TICK_S)

    def getStatus(self) -> RunStatus:
        self._enter("getStatus")
        self._poll()
        return self._run_status()

    def getChannelStatus(self, channel_id: int) -> RunStatus:
        self._enter("getChannelStatus")
        self._channel("getChannelStatus", channel_id)
        self._poll()
        return self._run_status()

    # --- results -----------------------------------------------------------------
    def _results(self, function: str, channel_id: int):
        """The channel's plan, or None when it measures nothing; refuses stale or absent results."""
        self._channel(function, channel_id)
        if self._run is None:
            raise self._fail(function, ErrorCode.RESULT_NOT_READY, "nothing executed yet")
        if self._stale:
            raise self._fail(function, ErrorCode.RESULT_OUT_OF_DATE,
                             "the setup changed after execute; execute again")
        return self._plans.get(int(channel_id))

    def getMeasureValueSize(self, channel_id: int) -> tuple[int, int]:
        self._enter("getMeasureValueSize")
        plan = self._results("getMeasureValueSize", channel_id)
        self._poll()
        return (0, 0) if plan is None else (self._run.measured(plan), plan.total_values)

    def getMeasureValues(self, channel_id: int, offset: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        self._enter("getMeasureValues")
        plan = self._results("getMeasureValues", channel_id)
        total = 0 if plan is None else plan.total_values
        if offset < 0 or size < 0 or offset + size > total:
            raise LimitError(f"getMeasureValues offset={offset!r}, size={size!r}: allowed 0 .. {total} values")
        measured = 0 if plan is None else self._run.measured(plan)
        if offset + size > measured:
            raise self._fail("getMeasureValues", ErrorCode.RESULT_NOT_READY,
                             f"values {offset}..{offset + size - 1} requested, {measured} measured so far")
        if size == 0:
            return np.zeros(0), np.zeros(0)
        return self._run.values(plan, offset, size)

    def getCompletedMeasureEventSize(self, channel_id: int) -> tuple[int, int]:
        self._enter("getCompletedMeasureEventSize")
        plan = self._results("getCompletedMeasureEventSize", channel_id)
        self._poll()
        return (0, 0) if plan is None else (self._run.completed_events(plan), len(plan.occ_last_raw))

    def isMeasureEventCompleted(self, channel_id: int, pattern: str, event: str,
                                cycle: int, loop: int, count: int) -> MeasureEventInfo:
        """``cycle``: which addSequence entry of ``pattern`` on this channel (0 = first);
        ``loop``: repetition within it; ``count``: 0 (event names are unique per pattern)."""
        self._enter("isMeasureEventCompleted")
        plan = self._results("isMeasureEventCompleted", channel_id)
        p = self._pattern("isMeasureEventCompleted", pattern)
        events = [name for name, _ in p.sorted_events()]
        if event not in events:
            raise self._fail("isMeasureEventCompleted", ErrorCode.EVENT_NOT_FOUND,
                             f"event {event!r} not in pattern {pattern!r}")
        entries = [i for i, (n, _) in enumerate(plan.entries if plan else []) if n == pattern]
        if not 0 <= cycle < len(entries) or count != 0 or not 0 <= loop < plan.entries[entries[cycle]][1]:
            raise LimitError(f"isMeasureEventCompleted cycle={cycle!r}, loop={loop!r}, count={count!r}: "
                             f"pattern {pattern!r} runs {len(entries)} time(s) on channel {channel_id}")
        self._poll()
        value_base, occ_base = plan.entry_base[entries[cycle]]
        per_loop = sum(ev.outputs for _, ev in p.sorted_events())
        before = sum(ev.outputs for name, ev in p.sorted_events()[:events.index(event)])
        index = occ_base + loop * len(events) + events.index(event)
        done = index < self._run.completed_events(plan)
        return MeasureEventInfo(done, index, value_base + loop * per_loop + before, p.events[event].outputs)

    # --- DC mode -------------------------------------------------------------------
    def _dc_channel(self, function: str, channel_id: int) -> _Channel:
        self._enter(function, idle=True)
        ch = self._channel(function, channel_id)
        self._require_mode(function, ch, (OperationMode.DC,))
        if not ch.connected:
            raise self._fail(function, ErrorCode.CONTEXT, f"channel {channel_id} is not connected")
        return ch

    def dcforceVoltage(self, channel_id: int, voltage_V: float) -> None:
        ch = self._dc_channel("dcforceVoltage", channel_id)
        voltage_V = limits.check_voltage("voltage", voltage_V, self.voltage_limit_V)
        limits.force_range_for([voltage_V], ch.force_range)
        ch.output_V = voltage_V
        self._persist()

    def _dc_bias_V(self) -> float | None:
        top, bottom = self._channels.get(self.top_channel), self._channels.get(self.bottom_channel)
        if top is None or bottom is None or not (top.connected and bottom.connected):
            return None
        return top.output_V - bottom.output_V

    def advance_time(self, duration_s: float) -> None:
        """Simulation only: let ``duration_s`` pass with the present DC outputs applied (retention waits)."""
        bias = self._dc_bias_V()
        if bias is None or bias == 0.0:
            self.device.relax(duration_s)
        else:
            self.device.apply_segment(bias, bias, duration_s)

    def _dc_measure(self, channel_id: int, ch: _Channel, duration_s: float, n: int) -> float:
        bias = self._dc_bias_V()
        if ch.measure_mode is MeasureMode.VOLTAGE:
            ideal, fraction = ch.output_V, 2e-4
        else:
            sign = 1.0 if channel_id == self.top_channel else -1.0 if channel_id == self.bottom_channel else 0.0
            ideal = 0.0 if bias is None else sign * float(self.device.current_A(bias))
            fraction = 2e-3
        self.advance_time(duration_s)
        noisy = ideal + fraction * ch.full_scale / math.sqrt(n) * float(self._dc_rng.standard_normal())
        return float(np.clip(noisy, -ch.full_scale, ch.full_scale))

    def dcmeasureValue(self, channel_id: int) -> float:
        ch = self._dc_channel("dcmeasureValue", channel_id)
        return self._dc_measure(int(channel_id), ch, DC_MEASURE_S, 1)

    def dcmeasureAveragedValue(self, channel_id: int, count: int, interval: int) -> float:
        ch = self._dc_channel("dcmeasureAveragedValue", channel_id)
        if not 1 <= int(count) <= 65535 or not 1 <= int(interval) <= 65535:
            raise LimitError(f"count={count!r}, interval={interval!r}: each allowed 1 .. 65535")
        return self._dc_measure(int(channel_id), ch, int(count) * int(interval) * DC_SAMPLE_S, int(count))
