"""A simulated WGFMU library that enforces the B1530A's rules and drives a virtual device.

Wiring: channel ``top_channel`` (default 101) forces its waveform on the top
electrode, channel ``bottom_channel`` (102) the bottom one (normally 0 V); the
device sees V(top) - V(bottom). A current-measuring channel reads the current
*out of* its output, as the instrument does: the bottom channel therefore
reads -I(device) (a -0.1 V read gives a positive bottom current).

Time model (streaming readout): ``execute()`` validates and plans the run;
the sequencer clock then advances only when the host polls (``getStatus``,
``getChannelStatus``, ``getMeasureValueSize``, ``getCompletedMeasureEventSize``,
``isMeasureEventCompleted``), by ``1/steps_per_run`` of the run per poll but
by at most ``max_groups_per_poll`` stretches of the device waveform (a few
cycles of a pulse train: a poll returns within tens of ms), and
``waitUntilCompleted`` runs it to the end. Measured points therefore become
readable as the clock passes them, as on the instrument, where a host reads
them while the sequence runs. Values are reproducible for a seed whatever
the polling pattern.

Rules enforced (LimitError for values, InstrumentError with the library code
for call order): 10 ns grid; vector steps 10 ns..10,995 s; at most 2,048
vectors per pattern; measure events inside their pattern and not overlapping,
averaging <= interval; loop counts 1..2**40; 4,194,304 values per channel;
force voltages inside the channel's force range and the user's
``voltage_limit_V``; measure modes and ranges per operation mode; nothing but
pattern setup before ``openSession``; no setup changes while running; no
values before they are measured; results of an older setup are out of date.
The current-range settling minimum is a warning (:class:`SettlingWarning`),
not a refusal: see :func:`.limits.warn_unsettled`. ``setRangeEvent`` is
accepted but not simulated (``execute`` refuses a sequence that uses one).
Outputs beyond a measure range's full scale are clipped to it (flag them with
:func:`.limits.flag_values`). Force and measure delays are checked and stored,
not simulated.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from memlab.errors import InstrumentAbortedError, InstrumentError, LimitError

from ..faults import FaultPlan
from ..ohmic import OhmicDevice
from ..output_state import OutputState, describe_found
from . import limits
from .constants import (
    ErrorCode,
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureEventData,
    MeasureMode,
    MeasureVoltageRange,
    OperationMode,
    Status,
)
from .engine import TICK_S, Execution, MeasureEvent, Pattern, channel_segments, plan_channel
from .limits import to_ticks
from .interface import WGFMU, MeasureEventInfo, RunStatus

DC_SAMPLE_S = 5e-9  # one unit of dcmeasureAveragedValue's interval (B1530A guide; unverified)
DC_MEASURE_S = 10e-6  # time one dcmeasureValue takes, during which the bias stays applied
MAX_SIMULATED_VECTORS = 50_000_000  # host memory, not an instrument limit
MAX_GROUPS_PER_POLL = 4096
"""Most waveform stretches one poll simulates (~10 cycles of the paper's pulse train, ~50 ms here)."""


@dataclass
class _Channel:
    mode: OperationMode = OperationMode.FASTIV
    force_range: ForceVoltageRange = ForceVoltageRange.AUTO
    measure_mode: MeasureMode = MeasureMode.VOLTAGE
    voltage_range: MeasureVoltageRange = MeasureVoltageRange.RANGE_5V
    current_range: MeasureCurrentRange = MeasureCurrentRange.RANGE_10MA
    force_delay_s: float = 0.0
    measure_delay_s: float = 0.0
    connected: bool = False
    output_V: float = 0.0

    @property
    def full_scale(self) -> float:
        if self.measure_mode is MeasureMode.CURRENT:
            return limits.MEASURE_CURRENT_FULL_SCALE_A[self.current_range]
        return limits.MEASURE_VOLTAGE_FULL_SCALE_V[self.voltage_range]


class SimulatedWGFMU(WGFMU):
    """The WGFMU library in software, running sequences on ``device``.

    ``device`` needs ``current_A(v)``, ``apply_segment(v0, v1, dt)``,
    ``relax(dt)`` and ``snapshot()`` (a :class:`VirtualMemristor`); ``seed``
    seeds the instrument noise; ``fail_at``/``failure`` inject faults
    (see :mod:`memlab.instruments.faults`). With ``state_dir`` the outputs live
    on across processes as on the hardware: ``openSession(address)`` takes over
    what the last process at that address left (connected channels, forced
    voltages, a running sequence) and every change is recorded in
    ``state_dir/wgfmu-ADDRESS.json`` (:mod:`memlab.instruments.output_state`).
    """

    def __init__(self, device=None, *, seed: int = 0, channel_ids: Sequence[int] = (101, 102),
                 top_channel: int = 101, bottom_channel: int = 102, voltage_limit_V: float = 10.0,
                 steps_per_run: int = 20, max_groups_per_poll: int | None = MAX_GROUPS_PER_POLL,
                 fail_at: Mapping | None = None, failure: str = "io",
                 state_dir: str | os.PathLike | None = None) -> None:
        if not 0 < voltage_limit_V <= limits.MAX_ABS_VOLTAGE_V:
            raise LimitError(f"voltage_limit_V={voltage_limit_V!r}: allowed (0, {limits.MAX_ABS_VOLTAGE_V:g}] V")
        if steps_per_run < 1:
            raise LimitError(f"steps_per_run={steps_per_run!r}: must be >= 1")
        self.device = device if device is not None else OhmicDevice()
        self.seed = int(seed)
        self.top_channel, self.bottom_channel = int(top_channel), int(bottom_channel)
        self.voltage_limit_V = float(voltage_limit_V)
        self.steps_per_run = int(steps_per_run)
        if max_groups_per_poll is not None and max_groups_per_poll < 1:
            raise LimitError(f"max_groups_per_poll={max_groups_per_poll!r}: must be >= 1 (or None: no bound)")
        self.max_groups_per_poll = max_groups_per_poll
        self.faults = FaultPlan(fail_at, failure)
        self._channel_ids = [int(c) for c in channel_ids]
        for field, channel in (("top_channel", top_channel), ("bottom_channel", bottom_channel)):
            if int(channel) not in self._channel_ids:
                raise LimitError(f"{field}={channel!r}: must be one of channel_ids {self._channel_ids}")
        self._channels = {c: _Channel() for c in self._channel_ids}
        self._open = False
        self._errors: list[str] = []
        self._patterns: dict[str, Pattern] = {}
        self._sequences: dict[int, list[tuple[str, int]]] = {}
        self._run: Execution | None = None
        self._plans: dict[int, object] = {}
        self._status = Status.IDLE
        self._stale = False
        self._executions = 0
        self._dc_rng = np.random.default_rng([self.seed, 0xDC])
        self.state_dir = state_dir
        self._state: OutputState | None = None
        self._found: dict | None = None

    # --- plumbing ---------------------------------------------------------------
    def _fail(self, function: str, code: ErrorCode, text: str, cls=InstrumentError):
        self._errors.append(f"WGFMU_{function}: {text}")
        return cls(f"WGFMU_{function} failed: {code.name}: {text}", code=int(code))

    def _enter(self, function: str, *, session: bool = True, idle: bool = False) -> None:
        """Fault injection and call-order checks common to every call."""
        kind = self.faults.tick(function)
        if kind is not None:
            if kind == "abort":
                self._abort_run()
            raise FaultPlan.error(kind, f"WGFMU_{function}")
        if session and not self._open:
            raise self._fail(function, ErrorCode.CONTEXT, "no session: call openSession first")
        if idle and self._status is Status.RUNNING:
            raise self._fail(function, ErrorCode.CONTEXT, "not allowed while a sequence is running")

    def _channel(self, function: str, channel_id: int) -> _Channel:
        try:
            return self._channels[int(channel_id)]
        except (KeyError, TypeError, ValueError):
            raise self._fail(function, ErrorCode.CHANNEL_NOT_FOUND,
                             f"channel {channel_id!r} not installed (channels: {self._channel_ids})") from None

    def _pattern(self, function: str, name: str) -> Pattern:
        try:
            return self._patterns[name]
        except KeyError:
            raise self._fail(function, ErrorCode.PATTERN_NOT_FOUND, f"pattern {name!r} does not exist") from None

    def _setup_changed(self) -> None:
        if self._run is not None:
            self._stale = True

    def _poll(self) -> None:
        """Simulated time passes when the host looks (see module docstring)."""
        if self._status is Status.RUNNING:
            run = self._run
            run.advance(run.elapsed_s / TICK_S + max(run.total / self.steps_per_run, 1.0), self.max_groups_per_poll)
            self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self._run is not None and self._run.done and self._status is Status.RUNNING:
            self._status = Status.COMPLETED
            self._persist()

    def _abort_run(self) -> None:
        if self._status is Status.RUNNING:
            self._status = Status.ABORTED
            for ch in self._channels.values():
                ch.output_V = 0.0
            self._persist()

    # --- outputs kept across processes (see memlab.instruments.output_state) -----
    def _persist(self) -> None:
        """Record the outputs in the state file (with ``state_dir``), as the hardware keeps them."""
        if self._state is None:
            return
        self._state.save(session_open=self._open, sequence_running=self._status is Status.RUNNING,
                         channels={str(c): {"connected": ch.connected, "output_V": ch.output_V,
                                            "mode": ch.mode.name} for c, ch in self._channels.items()})

    def _inherit(self, address: str) -> None:
        """At ``openSession``: take over the outputs a previous process left at ``address``."""
        self._state = OutputState(self.state_dir, "wgfmu", address)
        prior = self._state.load()
        self._found = describe_found(prior)
        channels = prior.get("channels") if isinstance(prior, dict) and isinstance(prior.get("channels"), dict) else {}
        for key, saved in channels.items():
            ch = self._channels.get(int(key)) if str(key).isdigit() else None
            if ch is None or not isinstance(saved, dict):
                continue
            ch.connected = bool(saved.get("connected"))
            volts = saved.get("output_V", 0.0)
            ch.output_V = float(volts) if isinstance(volts, (int, float)) and math.isfinite(volts) else 0.0

    def outputs_found(self) -> dict | None:
        """What the outputs were when the session opened: as a previous process left them
        (with ``state_dir``), or as this object holds them."""
        if self._found is not None:
            return self._found
        live = {str(c): {"connected": ch.connected, "output_V": ch.output_V}
                for c, ch in self._channels.items() if ch.connected or ch.output_V != 0.0}
        return {"live": bool(live), "channels": live, "sequence_running": self._status is Status.RUNNING,
                "session_open": False}

    # --- session ---------------------------------------------------------------
    @property
    def session_open(self) -> bool:
        return self._open

    def openSession(self, address: str) -> None:
        self._enter("openSession", session=False)
        if self._open:
            raise self._fail("openSession", ErrorCode.CONTEXT, "a session is already open")
        if not isinstance(address, str) or not address:
            raise LimitError(f"address={address!r}: must be a VISA resource string")
        self.address = address
        if self.state_dir is not None:
            self._inherit(address)
        self._open = True
        self._persist()

    def closeSession(self) -> None:
        # closing must never leave an output live: reset before the fault hook can raise
        self._abort_run()
        for ch in self._channels.values():
            ch.output_V, ch.connected = 0.0, False
        self._open = False
        self._persist()
        self._enter("closeSession", session=False)

    def initialize(self) -> None:
        self._enter("initialize")
        self._abort_run()
        for channel_id, ch in self._channels.items():
            self._channels[channel_id] = _Channel(connected=ch.connected)
        if self._status is not Status.IDLE:
            self._status = Status.IDLE
        self._persist()

    def setTimeout(self, timeout_s: float) -> None:
        self._enter("setTimeout", session=False)
        self.timeout_s = limits.check_positive("timeout", timeout_s)

    def getChannelIds(self) -> list[int]:
        self._enter("getChannelIds")
        return list(self._channel_ids)

    def getErrorSummary(self) -> str:
        self._enter("getErrorSummary", session=False)
        text, self._errors = "\n".join(self._errors), []
        return text

    # --- channel setup -----------------------------------------------------------
    def setOperationMode(self, channel_id: int, mode: OperationMode) -> None:
        self._enter("setOperationMode", idle=True)
        ch = self._channel("setOperationMode", channel_id)
        ch.mode = limits.check_enum(OperationMode, mode, "operationMode")
        if ch.measure_mode not in limits.MEASURE_MODES[ch.mode]:
            ch.measure_mode = MeasureMode.VOLTAGE  # PG resets a current measurement, as the library does
        self._setup_changed()

    def _require_mode(self, function: str, ch: _Channel, allowed: tuple[OperationMode, ...]) -> None:
        if ch.mode not in allowed:
            names = ", ".join(m.name for m in allowed)
            raise LimitError(f"{function}: not available in operation mode {ch.mode.name} (allowed: {names})")

    def setForceVoltageRange(self, channel_id: int, force_range: ForceVoltageRange) -> None:
        self._enter("setForceVoltageRange", idle=True)
        ch = self._channel("setForceVoltageRange", channel_id)
        self._require_mode("setForceVoltageRange", ch, (OperationMode.DC, OperationMode.FASTIV, OperationMode.PG))
        ch.force_range = limits.check_enum(ForceVoltageRange, force_range, "forceVoltageRange")

    def setMeasureMode(self, channel_id: int, mode: MeasureMode) -> None:
        self._enter("setMeasureMode", idle=True)
        ch = self._channel("setMeasureMode", channel_id)
        mode = limits.check_enum(MeasureMode, mode, "measureMode")
        limits.check_measure_mode(ch.mode, mode)
        ch.measure_mode = mode

    def setMeasureVoltageRange(self, channel_id: int, measure_range: MeasureVoltageRange) -> None:
        self._enter("setMeasureVoltageRange", idle=True)
        ch = self._channel("setMeasureVoltageRange", channel_id)
        self._require_mode("setMeasureVoltageRange", ch, (OperationMode.DC, OperationMode.FASTIV, OperationMode.PG))
        ch.voltage_range = limits.check_enum(MeasureVoltageRange, measure_range, "measureVoltageRange")

    def setMeasureCurrentRange(self, channel_id: int, measure_range: MeasureCurrentRange) -> None:
        self._enter("setMeasureCurrentRange", idle=True)
        ch = self._channel("setMeasureCurrentRange", channel_id)
        self._require_mode("setMeasureCurrentRange", ch, (OperationMode.DC, OperationMode.FASTIV))
        ch.current_range = limits.check_enum(MeasureCurrentRange, measure_range, "measureCurrentRange")

    def setForceDelay(self, channel_id: int, delay_s: float) -> None:
        self._enter("setForceDelay", idle=True)
        self._channel("setForceDelay", channel_id).force_delay_s = limits.check_delay("forceDelay", delay_s)

    def setMeasureDelay(self, channel_id: int, delay_s: float) -> None:
        self._enter("setMeasureDelay", idle=True)
        self._channel("setMeasureDelay", channel_id).measure_delay_s = limits.check_delay("measureDelay", delay_s)

    def connect(self, channel_id: int) -> None:
        self._enter("connect", idle=True)
        self._channel("connect", channel_id).connected = True
        self._persist()

    def disconnect(self, channel_id: int) -> None:
        self._enter("disconnect", idle=True)
        ch = self._channel("disconnect", channel_id)
        ch.connected, ch.output_V = False, 0.0
        self._persist()

    # --- patterns, events, sequences ----------------------------------------------
    def clear(self) -> None:
        self._enter("clear", session=False, idle=True)
        self._patterns.clear()
        self._sequences.clear()
        self._setup_changed()

    def createPattern(self, pattern: str, initial_V: float) -> None:
        self._enter("createPattern", session=False, idle=True)
        _name("patternName", pattern)
        if pattern in self._patterns:
            raise self._fail("createPattern", ErrorCode.PATTERN_ALREADY_EXISTS, f"pattern {pattern!r} already exists")
        self._patterns[pattern] = Pattern(limits.check_voltage("initialVoltage", initial_V, self.voltage_limit_V))
        self._setup_changed()

    def addVector(self, pattern: str, delta_s: float, voltage_V: float) -> None:
        self.addVectors(pattern, [delta_s], [voltage_V], _function="addVector")

    def addVectors(self, pattern: str, deltas_s: Sequence[float], voltages_V: Sequence[float],
                   _function: str = "addVectors") -> None:
        self._enter(_function, session=False, idle=True)
        p = self._pattern(_function, pattern)
        if len(deltas_s) != len(voltages_V):
            raise LimitError(f"{_function}: {len(deltas_s)} deltaTimes but {len(voltages_V)} voltages")
        if len(p.deltas) + len(deltas_s) > limits.MAX_VECTORS_PER_PATTERN:
            raise LimitError(
                f"pattern {pattern!r}: {len(p.deltas) + len(deltas_s)} vectors, allowed at most "
                f"{limits.MAX_VECTORS_PER_PATTERN} per pattern (split it into several patterns)"
            )
        ticks = [to_ticks(limits.check_vector_step("deltaTime", d)) for d in deltas_s]
        volts = [limits.check_voltage("voltage", v, self.voltage_limit_V) for v in voltages_V]
        p.deltas.extend(ticks)
        p.voltages_V.extend(volts)
        self._setup_changed()

    def setMeasureEvent(self, pattern: str, event: str, time_s: float, points: int,
                        interval_s: float, average_s: float, raw_data: MeasureEventData) -> None:
        self._enter("setMeasureEvent", session=False, idle=True)
        p = self._pattern("setMeasureEvent", pattern)
        _name("eventName", event)
        if event in p.events:
            raise self._fail("setMeasureEvent", ErrorCode.PARAMETER_OUT_OF_RANGE,
                             f"event {event!r} already exists in pattern {pattern!r}")
        time_s = limits.on_grid("time", time_s, 0.0, limits.VECTOR_STEP_MAX_S, allow_zero=True)
        points, interval_s, average_s = limits.check_measure_event(points, interval_s, average_s)
        new = MeasureEvent(to_ticks(time_s), points, to_ticks(interval_s), to_ticks(average_s),
                           limits.check_enum(MeasureEventData, raw_data, "rawData"))
        for other_name, other in p.events.items():
            if new.time < other.end and other.time < new.end:
                raise LimitError(
                    f"measure event {event!r} ({new.time * TICK_S:g} .. {new.end * TICK_S:g} s) overlaps "
                    f"event {other_name!r} ({other.time * TICK_S:g} .. {other.end * TICK_S:g} s) in pattern {pattern!r}"
                )
        p.events[event] = new
        self._setup_changed()

    def setRangeEvent(self, pattern: str, event: str, time_s: float, range_index: int) -> None:
        self._enter("setRangeEvent", session=False, idle=True)
        p = self._pattern("setRangeEvent", pattern)
        time_s = limits.on_grid("time", time_s, 0.0, limits.VECTOR_STEP_MAX_S, allow_zero=True)
        valid = {int(r) for r in MeasureCurrentRange} | {int(r) for r in MeasureVoltageRange}
        if int(range_index) not in valid:
            raise LimitError(f"rangeIndex={range_index!r}: allowed {sorted(valid)}")
        p.range_events[event] = (to_ticks(time_s), int(range_index))
        self._setup_changed()

    def addSequence(self, channel_id: int, pattern: str, loop_count: int) -> None:
        self._enter("addSequence", session=False, idle=True)
        if int(channel_id) not in self._channels:
            self._channel("addSequence", channel_id)
        self._pattern("addSequence", pattern)
        loops = limits.check_loop_count(loop_count)
        self._sequences.setdefault(int(channel_id), []).append((pattern, loops))
        self._setup_changed()

    # --- running -----------------------------------------------------------------
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

    # --- inspection (simulation only) ----------------------------------------------
    def output_V(self, channel_id: int) -> float:
        """Voltage the channel's output holds now (0 when disconnected)."""
        ch = self._channels[int(channel_id)]
        return ch.output_V if ch.connected else 0.0

    def is_connected(self, channel_id: int) -> bool:
        return self._channels[int(channel_id)].connected

    def snapshot(self) -> dict:
        return {
            "backend": "SimulatedWGFMU", "seed": self.seed, "top_channel": self.top_channel,
            "bottom_channel": self.bottom_channel, "voltage_limit_V": self.voltage_limit_V,
            "device": self.device.snapshot(),
        }


def _name(field: str, value: str) -> None:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise LimitError(f"{field}={value!r}: must be a non-empty printable string")
