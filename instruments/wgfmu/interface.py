"""The typed WGFMU interface every backend implements (ctypes binding, simulation).

Methods carry the Keysight library's own names without the ``WGFMU_`` prefix
(``WGFMU_setMeasureEvent`` -> ``setMeasureEvent``) so the B1530A programming
guide reads one-to-one. Three Python conventions differ from the C API:

* outputs are returned instead of written through pointers
  (``getMeasureValueSize(ch) -> (measured, total)``);
* a failing call raises :class:`~memlab.errors.InstrumentError` (or its
  timeout/abort subclasses) with the library's code and error summary instead
  of returning a negative int;
* times are seconds and voltages volts as in the library, but arguments are
  checked against the hardware limits (:mod:`.limits`) before anything is sent.

``close()`` (and leaving a ``with`` block by any path, Ctrl-C included) aborts
a running sequence, drives every output to 0 V, disconnects every channel and
ends the session.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from memlab.errors import InstrumentAbortedError, InstrumentError, InstrumentTimeoutError
from memlab.instruments.safe_close import SafeClose

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


@dataclass(frozen=True)
class RunStatus:
    """``getStatus``/``getChannelStatus``: state and times of the sequencer (s)."""

    status: Status
    elapsed_s: float
    total_s: float


@dataclass(frozen=True)
class MeasureEventInfo:
    """``isMeasureEventCompleted``: whether one event occurrence is measured, and where its points are.

    ``offset`` and ``size`` address its points in ``getMeasureValues``;
    ``index`` is the occurrence's running number among the channel's events.
    """

    completed: bool
    index: int
    offset: int
    size: int


def error_for_code(function: str, code: int, summary: str) -> InstrumentError:
    """The exception for a negative library return ``code`` of ``WGFMU_<function>``."""
    try:
        name = ErrorCode(code).name
    except ValueError:
        name = "UNKNOWN"
    text = summary.strip() or name
    message = f"WGFMU_{function} failed: {name}: {text}"
    if "timeout" in text.lower() or "timed out" in text.lower():
        return InstrumentTimeoutError(message, code=code)
    if "abort" in text.lower():
        return InstrumentAbortedError(message, code=code)
    return InstrumentError(message, code=code)


class WGFMU(SafeClose, abc.ABC):
    """One B1530A WGFMU library session (all channels of one B1500A mainframe).

    Channel ids are slot x 100 + channel (101, 102, 201, ...).
    """

    # --- session ---------------------------------------------------------------
    @abc.abstractmethod
    def openSession(self, address: str) -> None:
        """Open the VISA session to the mainframe, e.g. ``"GPIB0::17::INSTR"``."""

    @abc.abstractmethod
    def closeSession(self) -> None:
        """End the session (the library disconnects the channels)."""

    @abc.abstractmethod
    def initialize(self) -> None:
        """Reset every channel to its initial settings with 0 V output."""

    @abc.abstractmethod
    def setTimeout(self, timeout_s: float) -> None:
        """Library timeout for instrument operations (s)."""

    @abc.abstractmethod
    def getChannelIds(self) -> list[int]:
        """Ids of the installed WGFMU channels (``getChannelIdSize`` + ``getChannelIds``)."""

    @abc.abstractmethod
    def getErrorSummary(self) -> str:
        """Text of the errors since the last call (``getErrorSummarySize`` + ``getErrorSummary``)."""

    @property
    @abc.abstractmethod
    def session_open(self) -> bool:
        """Whether ``openSession`` succeeded and ``closeSession`` has not run."""

    # --- channel setup ---------------------------------------------------------
    @abc.abstractmethod
    def setOperationMode(self, channel_id: int, mode: OperationMode) -> None:
        """DC, FASTIV, PG or SMU."""

    @abc.abstractmethod
    def setForceVoltageRange(self, channel_id: int, force_range: ForceVoltageRange) -> None:
        """Output voltage range."""

    @abc.abstractmethod
    def setMeasureMode(self, channel_id: int, mode: MeasureMode) -> None:
        """Measure voltage or current (one or the other per channel)."""

    @abc.abstractmethod
    def setMeasureVoltageRange(self, channel_id: int, measure_range: MeasureVoltageRange) -> None:
        """Voltage measurement range (5 V or 10 V)."""

    @abc.abstractmethod
    def setMeasureCurrentRange(self, channel_id: int, measure_range: MeasureCurrentRange) -> None:
        """Current measurement range (1 uA .. 10 mA)."""

    @abc.abstractmethod
    def setForceDelay(self, channel_id: int, delay_s: float) -> None:
        """Delay of the output relative to the sequence clock (s)."""

    @abc.abstractmethod
    def setMeasureDelay(self, channel_id: int, delay_s: float) -> None:
        """Delay of the measurement relative to the sequence clock (s)."""

    @abc.abstractmethod
    def connect(self, channel_id: int) -> None:
        """Close the output relay of the channel."""

    @abc.abstractmethod
    def disconnect(self, channel_id: int) -> None:
        """Open the output relay of the channel."""

    # --- patterns, events, sequences -------------------------------------------
    @abc.abstractmethod
    def clear(self) -> None:
        """Delete every pattern, event and sequence (setup only, not the session)."""

    @abc.abstractmethod
    def createPattern(self, pattern: str, initial_V: float) -> None:
        """New empty pattern starting at ``initial_V``."""

    @abc.abstractmethod
    def addVector(self, pattern: str, delta_s: float, voltage_V: float) -> None:
        """Ramp linearly to ``voltage_V`` over ``delta_s`` (10 ns grid)."""

    @abc.abstractmethod
    def addVectors(self, pattern: str, deltas_s: Sequence[float], voltages_V: Sequence[float]) -> None:
        """Several ``addVector`` in one call."""

    @abc.abstractmethod
    def setMeasureEvent(self, pattern: str, event: str, time_s: float, points: int,
                        interval_s: float, average_s: float, raw_data: MeasureEventData) -> None:
        """Measure ``points`` points every ``interval_s`` from ``time_s`` into the pattern.

        Each point averages over ``average_s`` (0 = one sample, <= interval);
        ``raw_data`` AVERAGED returns one mean value for the event, RAW every point.
        """

    @abc.abstractmethod
    def setRangeEvent(self, pattern: str, event: str, time_s: float, range_index: int) -> None:
        """Change the measurement range at ``time_s`` into the pattern."""

    @abc.abstractmethod
    def addSequence(self, channel_id: int, pattern: str, loop_count: int) -> None:
        """Append ``pattern`` repeated ``loop_count`` times to the channel's sequence."""

    # --- running ---------------------------------------------------------------
    @abc.abstractmethod
    def execute(self) -> None:
        """Start every channel's sequence (returns at once)."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Stop a running sequence."""

    @abc.abstractmethod
    def waitUntilCompleted(self) -> None:
        """Block until the sequence has finished."""

    @abc.abstractmethod
    def getStatus(self) -> RunStatus:
        """Sequencer status with elapsed and total time (s)."""

    @abc.abstractmethod
    def getChannelStatus(self, channel_id: int) -> RunStatus:
        """One channel's sequencer status."""

    # --- results ---------------------------------------------------------------
    @abc.abstractmethod
    def getMeasureValueSize(self, channel_id: int) -> tuple[int, int]:
        """(points measured so far, points the sequence will measure)."""

    @abc.abstractmethod
    def getMeasureValues(self, channel_id: int, offset: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Points ``offset .. offset + size - 1``: (times_s, values in V or A)."""

    @abc.abstractmethod
    def getCompletedMeasureEventSize(self, channel_id: int) -> tuple[int, int]:
        """(measure events completed so far, events in the whole sequence)."""

    @abc.abstractmethod
    def isMeasureEventCompleted(self, channel_id: int, pattern: str, event: str,
                                cycle: int, loop: int, count: int) -> MeasureEventInfo:
        """Whether one occurrence of ``event`` is measured, and where its points are."""

    # --- DC mode ---------------------------------------------------------------
    @abc.abstractmethod
    def dcforceVoltage(self, channel_id: int, voltage_V: float) -> None:
        """Force a DC voltage (operation mode DC)."""

    @abc.abstractmethod
    def dcmeasureValue(self, channel_id: int) -> float:
        """One DC measurement (V or A, per the measure mode)."""

    @abc.abstractmethod
    def dcmeasureAveragedValue(self, channel_id: int, count: int, interval: int) -> float:
        """Mean of ``count`` DC measurements ``interval`` sample clocks apart (V or A)."""

    # --- safety ----------------------------------------------------------------
    SAFE_START_ACTION = "initialize (every output 0 V, initial settings), then disconnect every channel"

    def outputs_found(self) -> dict | None:
        """The outputs as this session found them when it opened (None: the backend cannot read them back).

        Keysight's library has no read-back of output voltages or relays, so
        the ctypes binding returns None; the simulation returns what the
        previous process left (:mod:`memlab.instruments.output_state`).
        """
        return None

    def safe_open(self, address: str) -> dict:
        """Open the session and, before anything else, drive every output to 0 V and disconnect it.

        A controlling process that died (killed, crashed, power cut on the PC)
        leaves the outputs as they were; this is the first thing every new
        connection does. Returns the record of what was found and done
        (:func:`~memlab.instruments.output_state.safe_record`).
        """
        from memlab.instruments.output_state import safe_record

        self.openSession(address)
        found = self.outputs_found()
        self.initialize()
        for channel_id in self.getChannelIds():
            self.disconnect(channel_id)
        return safe_record(type(self).__name__, address, found, self.SAFE_START_ACTION)

    def snapshot(self) -> dict:
        """Backend settings for the run archive."""
        return {"backend": type(self).__name__}

    def close(self) -> None:
        """Abort, 0 V on every output, disconnect every channel, end the session.

        Every step is attempted even when an earlier one fails; the first
        failure is raised at the end. Does nothing if no session is open.
        """
        if not self.session_open:
            return
        first: BaseException | None = None

        def attempt(step, *args) -> None:
            nonlocal first
            try:
                step(*args)
            except Exception as exc:  # keep going: the outputs must reach 0 V
                first = first or exc

        channels: list[int] = []
        try:
            channels = self.getChannelIds()
        except Exception as exc:
            first = exc
        attempt(self._abort_if_running)
        attempt(self.initialize)
        for channel_id in channels:
            attempt(self.disconnect, channel_id)
        attempt(self.closeSession)
        if first is not None:
            raise first

    def _abort_if_running(self) -> None:
        if self.getStatus().status is Status.RUNNING:
            self.abort()

