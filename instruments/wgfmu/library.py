"""ctypes binding over Keysight's WGFMU Instrument Library (``wgfmu.dll``, stdcall).

The library exists only for Windows (it runs on the B1500A itself or a Windows
PC beside it). Importing this module works everywhere; the DLL is loaded on
the first call, from ``path`` if given, else ``wgfmu.dll`` from the Windows
DLL search path (the installer puts it in ``C:\\Windows\\System32``). Without
it, the first call raises :class:`InstrumentError` saying so. On other
systems only a library given by ``path`` is tried (a shared object with the
same C functions, such as the compiled stand-in the tests build), loaded with
the C calling convention; with no path the error says the library is
Windows-only. A library lacking any of the functions is refused by name.

Each method validates its arguments (:mod:`.limits`) before calling the DLL,
passes pointers for the C outputs and turns a negative return code into an
exception carrying the code and ``WGFMU_getErrorSummary``'s text. Rules that
need the whole setup (events inside patterns, point capacity) are left to the
library, which reports them as PARAMETER_OUT_OF_RANGE.
"""

from __future__ import annotations

import ctypes
import sys
from ctypes import POINTER, c_char_p, c_double, c_int
from typing import Callable, Sequence

import numpy as np

from memlab.errors import InstrumentError, LimitError

from . import limits
from .constants import (
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureEventData,
    MeasureEventState,
    MeasureMode,
    MeasureVoltageRange,
    OperationMode,
    Status,
)
from .interface import WGFMU, MeasureEventInfo, RunStatus, error_for_code

SYSTEM_DLL = "wgfmu.dll"
SYSTEM_LOCATION = r"C:\Windows\System32"

_I, _D, _S, _PI, _PD = c_int, c_double, c_char_p, POINTER(c_int), POINTER(c_double)
SIGNATURES: dict[str, list] = {
    "openSession": [_S], "closeSession": [], "initialize": [], "setTimeout": [_D],
    "getChannelIdSize": [_PI], "getChannelIds": [_PI, _PI],
    "getErrorSummarySize": [_PI], "getErrorSummary": [c_char_p, _PI],
    "setOperationMode": [_I, _I], "setForceVoltageRange": [_I, _I], "setMeasureMode": [_I, _I],
    "setMeasureVoltageRange": [_I, _I], "setMeasureCurrentRange": [_I, _I],
    "setForceDelay": [_I, _D], "setMeasureDelay": [_I, _D], "connect": [_I], "disconnect": [_I],
    "clear": [], "createPattern": [_S, _D], "addVector": [_S, _D, _D], "addVectors": [_S, _PD, _PD, _I],
    "setMeasureEvent": [_S, _S, _D, _I, _D, _D, _I], "setRangeEvent": [_S, _S, _D, _I],
    "addSequence": [_I, _S, _D], "execute": [], "abort": [], "waitUntilCompleted": [],
    "getStatus": [_PI, _PD, _PD], "getChannelStatus": [_I, _PI, _PD, _PD],
    "getMeasureValueSize": [_I, _PI, _PI], "getMeasureValues": [_I, _I, _PI, _PD, _PD],
    "getCompletedMeasureEventSize": [_I, _PI, _PI],
    "isMeasureEventCompleted": [_I, _S, _S, _I, _D, _I, _PI, _PI, _PI, _PI],
    "dcforceVoltage": [_I, _D], "dcmeasureValue": [_I, _PD], "dcmeasureAveragedValue": [_I, _I, _I, _PD],
}
"""Every ``WGFMU_*`` function this binding calls, with its C argument types (from ``wgfmu.h``)."""


def _default_loader(name: str):
    if sys.platform == "win32":
        return ctypes.WinDLL(name)  # stdcall: WinDLL, not CDLL
    return ctypes.CDLL(name)  # elsewhere only a library given by path: C calling convention


def load_library(path: str | None = None, loader: Callable[[str], object] | None = None):
    """Load ``wgfmu.dll``: ``path`` first, then the system location. Raises InstrumentError if absent.

    Off Windows (and without a test ``loader``) only ``path`` is tried.
    """
    candidates = ([str(path)] if path else []) + [SYSTEM_DLL]
    looked = " then ".join(([str(path)] if path else []) + [f"{SYSTEM_DLL} on the DLL search path ({SYSTEM_LOCATION})"])
    windows_only = (f"the Keysight WGFMU Instrument Library (wgfmu.dll) is Windows-only and this is {sys.platform}; "
                    f"looked for {looked}. Run on the B1500A or a Windows PC with the library installed, "
                    "or use the simulated backend")
    if loader is None:
        if sys.platform != "win32":
            if not path:
                raise InstrumentError(windows_only)
            candidates = [str(path)]
        loader = _default_loader
    failures = []
    for candidate in candidates:
        try:
            dll = loader(candidate)
        except OSError as exc:
            failures.append(f"{candidate}: {exc}")
            continue
        missing = [name for name in SIGNATURES if not hasattr(dll, "WGFMU_" + name)]
        if missing:
            failures.append(f"{candidate}: not the WGFMU library (no WGFMU_{', WGFMU_'.join(missing)})")
            continue
        for name, argtypes in SIGNATURES.items():
            function = getattr(dll, "WGFMU_" + name)
            function.argtypes, function.restype = argtypes, c_int
        return dll
    if sys.platform != "win32" and loader is _default_loader:
        raise InstrumentError(f"{windows_only} ({'; '.join(failures)})")
    raise InstrumentError(
        f"could not load the Keysight WGFMU Instrument Library; looked for {looked} ({'; '.join(failures)})"
    )


def _bytes(field: str, text: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise LimitError(f"{field}={text!r}: must be a non-empty string")
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise LimitError(f"{field}={text!r}: must be ASCII (the library takes C strings)") from None


class WGFMULibrary(WGFMU):
    """The real WGFMU through ``wgfmu.dll``; ``loader`` is for tests (a stand-in DLL)."""

    def __init__(self, path: str | None = None, *, loader: Callable[[str], object] | None = None,
                 voltage_limit_V: float = limits.MAX_ABS_VOLTAGE_V) -> None:
        if not 0 < voltage_limit_V <= limits.MAX_ABS_VOLTAGE_V:
            raise LimitError(f"voltage_limit_V={voltage_limit_V!r}: allowed (0, {limits.MAX_ABS_VOLTAGE_V:g}] V")
        self.path, self._loader, self.voltage_limit_V = path, loader, float(voltage_limit_V)
        self._dll = None
        self._open = False
        self._vectors: dict[str, int] = {}

    def _call(self, name: str, *args) -> None:
        if self._dll is None:
            self._dll = load_library(self.path, self._loader)
        code = getattr(self._dll, "WGFMU_" + name)(*args)
        if code < 0:
            raise error_for_code(name, code, self._summary())

    def _summary(self) -> str:
        """The library's error text, or '' if even that fails (never raises)."""
        try:
            size = c_int(0)
            if self._dll.WGFMU_getErrorSummarySize(ctypes.pointer(size)) < 0 or size.value <= 0:
                return ""
            buffer = ctypes.create_string_buffer(size.value + 1)
            length = c_int(size.value + 1)
            if self._dll.WGFMU_getErrorSummary(buffer, ctypes.pointer(length)) < 0:
                return ""
            return buffer.value.decode("ascii", "replace")
        except Exception:
            return ""

    # --- session ---------------------------------------------------------------
    @property
    def session_open(self) -> bool:
        return self._open

    def openSession(self, address: str) -> None:
        self._call("openSession", _bytes("address", address))
        self._open = True

    def closeSession(self) -> None:
        try:
            self._call("closeSession")
        finally:
            self._open = False

    def initialize(self) -> None:
        self._call("initialize")

    def setTimeout(self, timeout_s: float) -> None:
        self._call("setTimeout", c_double(limits.check_positive("timeout", timeout_s)))

    def getChannelIds(self) -> list[int]:
        size = c_int(0)
        self._call("getChannelIdSize", ctypes.pointer(size))
        ids = (c_int * max(size.value, 1))()
        length = c_int(size.value)
        self._call("getChannelIds", ids, ctypes.pointer(length))
        return list(ids[: length.value])

    def getErrorSummary(self) -> str:
        if self._dll is None:
            self._dll = load_library(self.path, self._loader)
        return self._summary()

    # --- channel setup ---------------------------------------------------------
    def setOperationMode(self, channel_id: int, mode: OperationMode) -> None:
        self._call("setOperationMode", int(channel_id), int(limits.check_enum(OperationMode, mode, "operationMode")))

    def setForceVoltageRange(self, channel_id: int, force_range: ForceVoltageRange) -> None:
        self._call("setForceVoltageRange", int(channel_id), int(limits.check_enum(ForceVoltageRange, force_range, "forceVoltageRange")))

    def setMeasureMode(self, channel_id: int, mode: MeasureMode) -> None:
        self._call("setMeasureMode", int(channel_id), int(limits.check_enum(MeasureMode, mode, "measureMode")))

    def setMeasureVoltageRange(self, channel_id: int, measure_range: MeasureVoltageRange) -> None:
        self._call("setMeasureVoltageRange", int(channel_id), int(limits.check_enum(MeasureVoltageRange, measure_range, "measureVoltageRange")))

    def setMeasureCurrentRange(self, channel_id: int, measure_range: MeasureCurrentRange) -> None:
        self._call("setMeasureCurrentRange", int(channel_id), int(limits.check_enum(MeasureCurrentRange, measure_range, "measureCurrentRange")))

    def setForceDelay(self, channel_id: int, delay_s: float) -> None:
        self._call("setForceDelay", int(channel_id), c_double(limits.check_delay("forceDelay", delay_s)))

    def setMeasureDelay(self, channel_id: int, delay_s: float) -> None:
        self._call("setMeasureDelay", int(channel_id), c_double(limits.check_delay("measureDelay", delay_s)))

    def connect(self, channel_id: int) -> None:
        self._call("connect", int(channel_id))

    def disconnect(self, channel_id: int) -> None:
        self._call("disconnect", int(channel_id))

    # --- patterns, events, sequences ---------------------------------------------
    def clear(self) -> None:
        self._call("clear")
        self._vectors.clear()

    def createPattern(self, pattern: str, initial_V: float) -> None:
        name = _bytes("patternName", pattern)
        self._call("createPattern", name, c_double(limits.check_voltage("initialVoltage", initial_V, self.voltage_limit_V)))
        self._vectors[pattern] = 0

    def addVector(self, pattern: str, delta_s: float, voltage_V: float) -> None:
        self._count_vectors(pattern, 1)
        self._call("addVector", _bytes("patternName", pattern), c_double(limits.check_vector_step("deltaTime", delta_s)),
                   c_double(limits.check_voltage("voltage", voltage_V, self.voltage_limit_V)))
        self._vectors[pattern] = self._vectors.get(pattern, 0) + 1

    def addVectors(self, pattern: str, deltas_s: Sequence[float], voltages_V: Sequence[float]) -> None:
        if len(deltas_s) != len(voltages_V):
            raise LimitError(f"addVectors: {len(deltas_s)} deltaTimes but {len(voltages_V)} voltages")
        self._count_vectors(pattern, len(deltas_s))
        n = len(deltas_s)
        deltas = (c_double * n)(*[limits.check_vector_step("deltaTime", d) for d in deltas_s])
        volts = (c_double * n)(*[limits.check_voltage("voltage", v, self.voltage_limit_V) for v in voltages_V])
        self._call("addVectors", _bytes("patternName", pattern), deltas, volts, n)
        self._vectors[pattern] = self._vectors.get(pattern, 0) + n

    def _count_vectors(self, pattern: str, extra: int) -> None:
        if self._vectors.get(pattern, 0) + extra > limits.MAX_VECTORS_PER_PATTERN:
            raise LimitError(f"pattern {pattern!r}: {self._vectors.get(pattern, 0) + extra} vectors, allowed at most "
                             f"{limits.MAX_VECTORS_PER_PATTERN} per pattern (split it into several patterns)")

    def setMeasureEvent(self, pattern: str, event: str, time_s: float, points: int,
                        interval_s: float, average_s: float, raw_data: MeasureEventData) -> None:
        time_s = limits.on_grid("time", time_s, 0.0, limits.VECTOR_STEP_MAX_S, allow_zero=True)
        points, interval_s, average_s = limits.check_measure_event(points, interval_s, average_s)
        self._call("setMeasureEvent", _bytes("patternName", pattern), _bytes("eventName", event), c_double(time_s),
                   points, c_double(interval_s), c_double(average_s), int(limits.check_enum(MeasureEventData, raw_data, "rawData")))

    def setRangeEvent(self, pattern: str, event: str, time_s: float, range_index: int) -> None:
        time_s = limits.on_grid("time", time_s, 0.0, limits.VECTOR_STEP_MAX_S, allow_zero=True)
        self._call("setRangeEvent", _bytes("patternName", pattern), _bytes("eventName", event),
                   c_double(time_s), int(range_index))

    def addSequence(self, channel_id: int, pattern: str, loop_count: int) -> None:
        loops = limits.check_loop_count(loop_count)
        self._call("addSequence", int(channel_id), _bytes("patternName", pattern), c_double(loops))

    # --- running -------------------------------------------------------------------
    def execute(self) -> None:
        self._call("execute")

    def abort(self) -> None:
        self._call("abort")

    def waitUntilCompleted(self) -> None:
        self._call("waitUntilCompleted")

    def getStatus(self) -> RunStatus:
        status, elapsed, total = c_int(0), c_double(0), c_double(0)
        self._call("getStatus", ctypes.pointer(status), ctypes.pointer(elapsed), ctypes.pointer(total))
        return RunStatus(_status("getStatus", status.value), elapsed.value, total.value)

    def getChannelStatus(self, channel_id: int) -> RunStatus:
        status, elapsed, total = c_int(0), c_double(0), c_double(0)
        self._call("getChannelStatus", int(channel_id), ctypes.pointer(status), ctypes.pointer(elapsed),
                   ctypes.pointer(total))
        return RunStatus(_status("getChannelStatus", status.value), elapsed.value, total.value)

    # --- results -------------------------------------------------------------------
    def _two_ints(self, name: str, channel_id: int) -> tuple[int, int]:
        first, second = c_int(0), c_int(0)
        self._call(name, int(channel_id), ctypes.pointer(first), ctypes.pointer(second))
        return first.value, second.value

    def getMeasureValueSize(self, channel_id: int) -> tuple[int, int]:
        return self._two_ints("getMeasureValueSize", channel_id)

    def getCompletedMeasureEventSize(self, channel_id: int) -> tuple[int, int]:
        return self._two_ints("getCompletedMeasureEventSize", channel_id)

    def getMeasureValues(self, channel_id: int, offset: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        if offset < 0 or size < 0 or size > limits.MAX_POINTS_PER_CHANNEL:
            raise LimitError(f"getMeasureValues offset={offset!r}, size={size!r}: "
                             f"allowed offset >= 0, 0 <= size <= {limits.MAX_POINTS_PER_CHANNEL}")
        times, values = (c_double * max(size, 1))(), (c_double * max(size, 1))()
        length = c_int(size)
        self._call("getMeasureValues", int(channel_id), int(offset), ctypes.pointer(length), times, values)
        n = length.value
        if not 0 <= n <= size:  # the arrays hold `size` values: anything else is the library's fault
            raise InstrumentError(f"WGFMU_getMeasureValues returned size {n} for a request of {size} values")
        return np.ctypeslib.as_array(times)[:n].copy(), np.ctypeslib.as_array(values)[:n].copy()

    def isMeasureEventCompleted(self, channel_id: int, pattern: str, event: str,
                                cycle: int, loop: int, count: int) -> MeasureEventInfo:
        completed, index, offset, size = c_int(0), c_int(0), c_int(0), c_int(0)
        self._call("isMeasureEventCompleted", int(channel_id), _bytes("patternName", pattern),
                   _bytes("eventName", event), int(cycle), c_double(loop), int(count), ctypes.pointer(completed),
                   ctypes.pointer(index), ctypes.pointer(offset), ctypes.pointer(size))
        return MeasureEventInfo(completed.value == MeasureEventState.COMPLETED, index.value, offset.value, size.value)

    # --- DC mode ---------------------------------------------------------------------
    def dcforceVoltage(self, channel_id: int, voltage_V: float) -> None:
        self._call("dcforceVoltage", int(channel_id), c_double(limits.check_voltage("voltage", voltage_V, self.voltage_limit_V)))

    def dcmeasureValue(self, channel_id: int) -> float:
        value = c_double(0)
        self._call("dcmeasureValue", int(channel_id), ctypes.pointer(value))
        return value.value

    def dcmeasureAveragedValue(self, channel_id: int, count: int, interval: int) -> float:
        if not 1 <= int(count) <= 65535 or not 1 <= int(interval) <= 65535:
            raise LimitError(f"count={count!r}, interval={interval!r}: each allowed 1 .. 65535")
        value = c_double(0)
        self._call("dcmeasureAveragedValue", int(channel_id), int(count), int(interval), ctypes.pointer(value))
        return value.value

    def snapshot(self) -> dict:
        return {"backend": "WGFMULibrary", "path": self.path, "voltage_limit_V": self.voltage_limit_V}


def _status(function: str, value: int) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise InstrumentError(f"WGFMU_{function} returned an unknown status {value}") from None
