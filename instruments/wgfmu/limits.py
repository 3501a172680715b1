"""B1530A hardware limits and the pure checks both backends run before sending.

Numbers from ``shared/design/INSTRUMENTS.md`` (Keysight B1530A user guide;
lines marked "field report" there are lab experience, not datasheet). Every
check raises :class:`~memlab.errors.LimitError` naming the field, the value
and the allowed range, so nothing out of range ever reaches the instrument.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from memlab import checks
from memlab.errors import LimitError
from memlab.status import PointStatus

from .constants import (
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureMode,
    MeasureVoltageRange,
    OperationMode,
)

from .grid import TIME_GRID_S, snap, to_ticks  # noqa: F401 (the grid's names, where the limits are)

VECTOR_STEP_MIN_S = 10e-9
VECTOR_STEP_MAX_S = 10995.0  # ~10,995 s (2**40 x 10 ns)
INTERVAL_MIN_S = 10e-9
INTERVAL_MAX_S = 1.34217728  # 2**27 x 10 ns
AVERAGE_MAX_S = 0.020971512  # 20.97 ms (2**21 x 10 ns); 0 means no averaging
MAX_VECTORS_PER_PATTERN = 2048  # field report: split longer patterns
MAX_POINTS_PER_CHANNEL = 4_194_304  # ~4 million stored points per channel
MAX_LOOP_COUNT = 2**40
MAX_ABS_VOLTAGE_V = 10.0

FORCE_RANGE_V: dict[ForceVoltageRange, tuple[float, float]] = {
    ForceVoltageRange.AUTO: (-10.0, 10.0),
    ForceVoltageRange.RANGE_3V: (-3.0, 3.0),
    ForceVoltageRange.RANGE_5V: (-5.0, 5.0),
    ForceVoltageRange.RANGE_10V_NEGATIVE: (-10.0, 0.0),
    ForceVoltageRange.RANGE_10V_POSITIVE: (0.0, 10.0),
}
MEASURE_VOLTAGE_FULL_SCALE_V = {MeasureVoltageRange.RANGE_5V: 5.0, MeasureVoltageRange.RANGE_10V: 10.0}
MEASURE_CURRENT_FULL_SCALE_A = {
    MeasureCurrentRange.RANGE_1UA: 1e-6,
    MeasureCurrentRange.RANGE_10UA: 10e-6,
    MeasureCurrentRange.RANGE_100UA: 100e-6,
    MeasureCurrentRange.RANGE_1MA: 1e-3,
    MeasureCurrentRange.RANGE_10MA: 10e-3,
}
SETTLING_TIME_S = {
    MeasureCurrentRange.RANGE_1UA: 37e-6,
    MeasureCurrentRange.RANGE_10UA: 6.8e-6,
    MeasureCurrentRange.RANGE_100UA: 950e-9,
    MeasureCurrentRange.RANGE_1MA: 240e-9,
    MeasureCurrentRange.RANGE_10MA: 145e-9,
}
"""Minimum time between a voltage change and a settled current reading, per range."""
RANGE_CHANGE_SETTLING_S = 150e-6

# Which measure modes each operation mode allows (PG measures voltage only;
# DC and Fast IV measure either; SMU mode hands the output to the SMU).
MEASURE_MODES: dict[OperationMode, tuple[MeasureMode, ...]] = {
    OperationMode.DC: (MeasureMode.VOLTAGE, MeasureMode.CURRENT),
    OperationMode.FASTIV: (MeasureMode.VOLTAGE, MeasureMode.CURRENT),
    OperationMode.PG: (MeasureMode.VOLTAGE,),
    OperationMode.SMU: (),
}


class SettlingWarning(UserWarning):
    """A current read starts before its range's settling minimum (values may be off)."""


def _finite(field: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LimitError(f"{field}={value!r}: must be a number") from None
    if not math.isfinite(value):
        raise LimitError(f"{field}={value!r}: must be finite")
    return value


def check_enum(cls, value, field: str):
    """``value`` as a member of the enum ``cls``, or LimitError listing the allowed members."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(f"{m.name} ({m.value})" for m in cls)
        raise LimitError(f"{field}={value!r}: allowed {allowed}") from None


def check_delay(field: str, delay_s: float) -> float:
    """Force/measure delay: -50 ns .. 50 ns."""
    delay_s = _finite(field, delay_s)
    if abs(delay_s) > 50e-9:
        raise LimitError(f"{field}={delay_s!r} s: allowed -50e-9 .. 50e-9 s")
    return delay_s


def check_positive(field: str, value: float) -> float:
    """A finite number > 0."""
    value = _finite(field, value)
    if value <= 0:
        raise LimitError(f"{field}={value!r}: must be > 0")
    return value


def on_grid(field: str, value_s: float, low_s: float, high_s: float, *, allow_zero: bool = False) -> float:
    """Round a time to the 10 ns grid and check it lies in [low_s, high_s] (seconds)."""
    value_s = _finite(field, value_s)
    if allow_zero and value_s == 0.0:
        return 0.0
    snapped = snap(value_s)
    if not low_s <= snapped <= high_s * (1 + 1e-12):
        zero = "0 or " if allow_zero else ""
        raise LimitError(f"{field}={value_s!r} s: allowed {zero}{low_s:g} .. {high_s:g} s on the 10 ns grid")
    return snapped


def check_voltage(field: str, voltage_V: float, limit_V: float = MAX_ABS_VOLTAGE_V) -> float:
    """Check |voltage_V| <= limit_V (the user's safety limit, at most the hardware's 10 V)."""
    return checks.in_range(field, voltage_V, -limit_V, limit_V, "V")


def check_vector_step(field: str, delta_s: float) -> float:
    """A vector's duration, snapped to 10 ns, in [10 ns, ~10,995 s]."""
    return on_grid(field, delta_s, VECTOR_STEP_MIN_S, VECTOR_STEP_MAX_S)


def check_measure_event(points: int, interval_s: float, average_s: float) -> tuple[int, float, float]:
    """Validate a measure event's points, interval and averaging; returns them snapped."""
    if isinstance(points, bool) or int(points) != points or not 1 <= points <= MAX_POINTS_PER_CHANNEL:
        raise LimitError(f"measurementPoints={points!r}: allowed 1 .. {MAX_POINTS_PER_CHANNEL}")
    interval_s = on_grid("measurementInterval", interval_s, INTERVAL_MIN_S, INTERVAL_MAX_S)
    average_s = on_grid("averagingTime", average_s, TIME_GRID_S, AVERAGE_MAX_S, allow_zero=True)
    if average_s > interval_s:
        raise LimitError(
            f"averagingTime={average_s!r} s: must not exceed measurementInterval={interval_s!r} s"
        )
    return int(points), interval_s, average_s


def check_loop_count(loop_count: float) -> int:
    """``addSequence``'s loop count: a whole number in 1 .. 2**40."""
    value = _finite("loopCount", loop_count)
    if value != int(value) or not 1 <= value <= MAX_LOOP_COUNT:
        raise LimitError(f"loopCount={loop_count!r}: allowed whole numbers 1 .. {MAX_LOOP_COUNT}")
    return int(value)


def check_measure_mode(operation_mode: OperationMode, measure_mode: MeasureMode) -> None:
    """PG measures voltage only; SMU mode measures nothing through the WGFMU."""
    allowed = MEASURE_MODES[OperationMode(operation_mode)]
    if MeasureMode(measure_mode) not in allowed:
        names = ", ".join(m.name for m in allowed) or "none"
        raise LimitError(
            f"measureMode={MeasureMode(measure_mode).name}: not allowed in operation mode "
            f"{OperationMode(operation_mode).name} (allowed: {names})"
        )


def force_range_for(voltages_V, requested: ForceVoltageRange) -> ForceVoltageRange:
    """The force range a channel uses for ``voltages_V``; AUTO picks the smallest that fits.

    Raises LimitError if the voltages do not fit the requested fixed range.
    """
    low, high = (min(voltages_V), max(voltages_V)) if len(voltages_V) else (0.0, 0.0)
    requested = ForceVoltageRange(requested)
    if requested is ForceVoltageRange.AUTO:
        for candidate in (ForceVoltageRange.RANGE_3V, ForceVoltageRange.RANGE_5V,
                          ForceVoltageRange.RANGE_10V_NEGATIVE, ForceVoltageRange.RANGE_10V_POSITIVE):
            lo, hi = FORCE_RANGE_V[candidate]
            if lo <= low and high <= hi:
                return candidate
        raise LimitError(
            f"force voltages {low:g} .. {high:g} V: no single force range covers both polarities above 5 V"
        )
    lo, hi = FORCE_RANGE_V[requested]
    if low < lo or high > hi:
        raise LimitError(
            f"force voltages {low:g} .. {high:g} V: outside forceVoltageRange {requested.name} ({lo:g} .. {hi:g} V)"
        )
    return requested


def settling_time_s(current_range: MeasureCurrentRange) -> float:
    """Minimum settling after a voltage change before a current reading is valid (s)."""
    return SETTLING_TIME_S[MeasureCurrentRange(current_range)]


def warn_unsettled(channel_id: int, reads: list[tuple[str, str, float, int]],
                   current_range: MeasureCurrentRange) -> None:
    """Warn (not refuse) that current reads start before their range has settled.

    ``reads``: (pattern, event, shortest settling time in s, occurrences) per event.
    Warning rather than refusing: the right range depends on the device's
    resistance, which only the measurement reveals (a 30 us read at -0.1 V is
    fine on 1 mA but not on 1 uA), and raw captures during a pulse are unsettled
    on purpose; the analysis can flag such reads as NOT_SETTLED.
    """
    need = settling_time_s(current_range)
    shortest = min(r[2] for r in reads)
    names = ", ".join(f"{pattern}/{event}" for pattern, event, _, _ in reads[:5])
    more = f" and {len(reads) - 5} more" if len(reads) > 5 else ""
    warnings.warn(
        f"channel {channel_id}: {len(reads)} measure event(s) ({names}{more}) start as early as "
        f"{shortest * 1e6:.3g} us after the last voltage change, below the {need * 1e6:.3g} us settling "
        f"of range {MeasureCurrentRange(current_range).name} ({sum(r[3] for r in reads)} occurrence(s))",
        SettlingWarning,
        stacklevel=3,
    )


def flag_values(values, measure_range: MeasureCurrentRange | MeasureVoltageRange) -> np.ndarray:
    """PointStatus per value (uint16): OVERFLOW where a value sits at the range's full scale.

    The WGFMU returns no status; a value clipped at full scale is the sign of
    an overflow, so the runner stores this beside every read.
    """
    if int(measure_range) in {int(r) for r in MeasureCurrentRange}:
        full_scale = MEASURE_CURRENT_FULL_SCALE_A[MeasureCurrentRange(measure_range)]
    else:
        full_scale = MEASURE_VOLTAGE_FULL_SCALE_V[MeasureVoltageRange(measure_range)]
    values = np.asarray(values, dtype=float)
    flags = np.where(np.abs(values) >= full_scale * (1 - 1e-9), int(PointStatus.OVERFLOW), 0)
    return flags.astype(np.uint16)
