"""Pure translation of a pulse-cycling protocol into WGFMU patterns and measure events.

One cycle is one pattern per channel: channel 1 (top electrode) forces the
pulses and measures voltage, channel 2 (bottom electrode) holds 0 V and
measures current. Both carry the same measure events: an averaged point per
read, and (with ``record_waveforms``) raw 10 ns samples over every programming
pulse. Cycles are identical, so the runner adds the pattern once with a loop
count; only when a cycle needs more than the ~2,048 vectors a pattern holds is
it split into several patterns added in turn (still O(1) calls per cycle).

Nothing here talks to an instrument; the tests check the plan directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.instruments.wgfmu import grid
from memlab.instruments.wgfmu.limits import (
    MAX_POINTS_PER_CHANNEL,
    MAX_VECTORS_PER_PATTERN,
    TIME_GRID_S,
    settling_time_s,
    to_ticks,
)

from .protocol import CURRENT_RANGES, WAVEFORM_SAMPLE_S, PulseCyclingProtocol


@dataclass(frozen=True)
class EventSpec:
    """One measure event: ``points`` points every ``interval_s`` from ``time_s`` into the pattern."""

    name: str
    time_s: float
    points: int
    interval_s: float
    average_s: float
    raw: bool


@dataclass(frozen=True)
class PatternSpec:
    """One pattern: start voltage and (duration, end voltage) vectors per channel, plus events."""

    name: str
    top_deltas_s: tuple[float, ...]
    top_voltages_V: tuple[float, ...]
    duration_s: float
    events: tuple[EventSpec, ...]


@dataclass(frozen=True)
class CyclePlan:
    """Everything the runner needs to program and decode one cycle.

    ``read_index`` (pulses,) and ``sample_index`` (samples,) locate each read
    and each raw sample in the cycle's points of one channel (points come back
    in time order); ``sample_time_s`` is relative to the cycle start and
    ``sample_pulse`` names each sample's programming pulse.
    """

    patterns: tuple[PatternSpec, ...]
    cycle_duration_s: float
    points_per_cycle: int
    read_index: np.ndarray
    sample_index: np.ndarray
    sample_time_s: np.ndarray
    sample_pulse: np.ndarray
    read_offset_s: np.ndarray

    @property
    def max_cycles_per_block(self) -> int:
        """Cycles whose points fit one execution (the channel's point memory)."""
        return max(1, MAX_POINTS_PER_CHANNEL // self.points_per_cycle)


def _pulse_slots(p: PulseCyclingProtocol) -> tuple[list[list[tuple[int, float]]], list[list[tuple[int, EventSpec]]]]:
    """Per pulse, its slot's (ticks, voltage) vectors and its events (start tick relative to the slot)."""
    rise, fall = to_ticks(p.rise_s), to_ticks(p.fall_s)
    read = p.read
    read_width, delay, gap = to_ticks(read.width_s), to_ticks(read.delay_s), to_ticks(read.gap_s)
    # The read point starts once the range has settled (rounded up to the grid).
    settle = grid.ticks_up(settling_time_s(CURRENT_RANGES[p.current_range]))
    average = to_ticks(read.averaging_s(p.current_range))

    # Per pulse: (ticks, voltage) vectors; a pulse slot is
    # rise, top, fall, delay at 0 V, read rise, read top, read fall, gap at 0 V.
    per_pulse: list[list[tuple[int, float]]] = []
    events: list[list[tuple[int, EventSpec]]] = []  # start tick relative to slot start
    for i, (amp, width) in enumerate(zip(p.pulse_amplitude_V, p.pulse_width_s)):
        w = to_ticks(width)
        vectors = [(rise, amp), (w, amp), (fall, 0.0), (delay, 0.0),
                   (rise, read.amplitude_V), (read_width, read.amplitude_V), (fall, 0.0), (gap, 0.0)]
        slot_events = []
        if p.record_waveforms:
            n = rise + w + fall + 1  # both ends: 0 V at each, so integrals across gaps add nothing
            slot_events.append((0, EventSpec(f"pulse{i}", 0.0, n, WAVEFORM_SAMPLE_S, 0.0, True)))
        read_start = rise + w + fall + delay + rise + settle
        slot_events.append((read_start, EventSpec(f"read{i}", 0.0, 1, average * TIME_GRID_S,
                                                     average * TIME_GRID_S, False)))
        per_pulse.append(vectors)
        events.append(slot_events)
    return per_pulse, events


def plan_cycle(protocol: PulseCyclingProtocol) -> CyclePlan:
    """Build the pattern(s), events and decoding indices of one cycle of ``protocol``."""
    per_pulse, events = _pulse_slots(protocol)

    # Split pulses into patterns of at most MAX_VECTORS_PER_PATTERN vectors.
    per_pattern = max(1, MAX_VECTORS_PER_PATTERN // 8)
    patterns: list[PatternSpec] = []
    read_offset: list[int] = []
    sample_time: list[np.ndarray] = []
    sample_pulse: list[np.ndarray] = []
    cycle_ticks = 0
    for k, first in enumerate(range(0, len(per_pulse), per_pattern)):
        deltas: list[float] = []
        volts: list[float] = []
        pattern_events: list[EventSpec] = []
        t = 0
        for i in range(first, min(first + per_pattern, len(per_pulse))):
            for start, ev in events[i]:
                pattern_events.append(EventSpec(ev.name, (t + start) * TIME_GRID_S, ev.points,
                                                   ev.interval_s, ev.average_s, ev.raw))
                if ev.raw:
                    sample_time.append((cycle_ticks + t + start + np.arange(ev.points)) * TIME_GRID_S)
                    sample_pulse.append(np.full(ev.points, i, dtype=np.int32))
                else:
                    read_offset.append(cycle_ticks + t + start)
            for dt, v in per_pulse[i]:
                deltas.append(dt * TIME_GRID_S)
                volts.append(v)
                t += dt
        name = "cycle" if len(per_pulse) <= per_pattern else f"cycle{k}"
        patterns.append(PatternSpec(name, tuple(deltas), tuple(volts), t * TIME_GRID_S, tuple(pattern_events)))
        cycle_ticks += t

    # Points come back in time order; each read or raw sample's place in the cycle.
    read_index, sample_index, pos = [], [], 0
    for slot_events in events:
        for _, ev in slot_events:
            if ev.raw:
                sample_index.append(np.arange(pos, pos + ev.points))
            else:
                read_index.append(pos)
            pos += ev.points
    empty_f = np.zeros(0, dtype=np.float64)
    return CyclePlan(
        patterns=tuple(patterns),
        cycle_duration_s=cycle_ticks * TIME_GRID_S,
        points_per_cycle=pos,
        read_index=np.asarray(read_index, dtype=np.int64),
        sample_index=np.concatenate(sample_index) if sample_index else np.zeros(0, dtype=np.int64),
        sample_time_s=np.concatenate(sample_time) if sample_time else empty_f,
        sample_pulse=np.concatenate(sample_pulse) if sample_pulse else np.zeros(0, dtype=np.int32),
        read_offset_s=np.asarray(read_offset, dtype=np.float64) * TIME_GRID_S,
    )
