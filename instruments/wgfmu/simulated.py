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

from memlab.errors import InstrumentError, LimitError

from ..faults import FaultPlan
from ..ohmic import OhmicDevice
from ..output_state import OutputState, describe_found
from . import limits
from .constants import (
    ErrorCode,
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureMode,
    MeasureVoltageRange,
    OperationMode,
    Status,
)
from .engine import TICK_S, Execution, Pattern
from .interface import WGFMU
from .simulated_patterns import SimulatedPatterns
from .simulated_run import SimulatedRun

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


class SimulatedWGFMU(SimulatedPatterns, SimulatedRun, WGFMU):
    """The WGFMU library in software, running sequences on ``device``.

    The guide's chapters on patterns and sequences (:mod:`.simulated_patterns`) and on
    running, results and DC mode (:mod:`.simulated_run`) are parts of this class, in
    their own modules; session, channel setup and the plumbing they share are here.

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

