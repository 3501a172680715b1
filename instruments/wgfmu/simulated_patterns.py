"""The pattern, measure-event and sequence functions of the simulated WGFMU library.

One chapter of Keysight's WGFMU programming guide (``WGFMU_clear`` ..
``WGFMU_addSequence``), as a part of :class:`.simulated.SimulatedWGFMU`: the
state (``_patterns``, ``_sequences``) and the call checks (``_enter``,
``_pattern``, ``_fail``) are the class's; the rules enforced are listed in
:mod:`.simulated`. Setup is host-side, so these calls work before
``openSession``, as the library's do.
"""

from __future__ import annotations

from typing import Sequence

from memlab.errors import LimitError

from . import limits
from .constants import ErrorCode, MeasureCurrentRange, MeasureEventData, MeasureVoltageRange
from .engine import TICK_S, MeasureEvent, Pattern
from .limits import to_ticks


class SimulatedPatterns:
    """``clear``, ``createPattern``, ``addVector(s)``, ``setMeasureEvent``, ``setRangeEvent``, ``addSequence``."""

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


def _name(field: str, value: str) -> None:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise LimitError(f"{field}={value!r}: must be a non-empty printable string")
