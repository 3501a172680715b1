"""The retention runner: program each state, then short reads at log-spaced times.

Per state one WGFMU pattern: the reset train, the first ``n`` pulses of the
program train, then 0 V with a short read at every read time (the device
relaxes freely in between). Each state is one execute; its reads are
appended to ``/retention`` as one row when they are all in. Short reads in
Fast IV mode (not DC mode) keep one code path for the simulated and the real
WGFMU; waits longer than one vector (~10,995 s) are split.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from memlab.errors import InstrumentError, LimitError
from memlab.instruments.wgfmu import WGFMU, Status, grid
from memlab.instruments.wgfmu.limits import (
    MAX_VECTORS_PER_PATTERN,
    MEASURE_CURRENT_FULL_SCALE_A,
    TIME_GRID_S,
    VECTOR_STEP_MAX_S,
    settling_time_s,
)

from .archive import ArchiveWriter
from .patterns import EventSpec, PatternSpec
from .protocol import CURRENT_RANGES, PulseTrain, RetentionProtocol
from .runner import Channels, load_patterns, start_session, status_flags
from .session import RunResult, recording


def _pulses(train: PulseTrain, count: int, p: RetentionProtocol) -> list[tuple[float, float]]:
    """(duration, end voltage) vectors of the first ``count`` pulses of ``train``, each followed by a pause."""
    out: list[tuple[float, float]] = []
    for amp, width in list(zip(train.signed_amplitude_V, train.width_s))[:count]:
        out += [(p.rise_s, amp), (width, amp), (p.fall_s, 0.0), (p.read.delay_s, 0.0)]
    return out


def _wait(duration_s: float) -> list[tuple[float, float]]:
    """0 V for ``duration_s``, split into vectors the WGFMU accepts."""
    ticks = grid.to_ticks(duration_s)
    step = grid.ticks_down(VECTOR_STEP_MAX_S)
    out = []
    while ticks > 0:
        n = min(ticks, step)
        if 0 < ticks - n < 1:  # never leave a remainder below one tick
            n -= 1
        out.append((n * TIME_GRID_S, 0.0))
        ticks -= n
    return out


def plan_state(protocol: RetentionProtocol, state: int) -> tuple[PatternSpec, float]:
    """The pattern of one state and when its programming ends (s into the pattern)."""
    p = protocol
    vectors = _pulses(p.reset, p.reset.count, p) + _pulses(p.program, p.target_pulses[state], p)
    programmed_s = sum(d for d, _ in vectors)
    settle = grid.up(settling_time_s(CURRENT_RANGES[p.current_range]))
    average = p.read.averaging_s(p.current_range)
    events, t = [], programmed_s
    for k, read_at in enumerate(p.read_times_s()):
        vectors += _wait(programmed_s + read_at - t)
        t = programmed_s + read_at
        events.append(EventSpec(f"read{k}", t + p.rise_s + settle, 1, average, average, False))
        vectors += [(p.rise_s, p.read.amplitude_V), (p.read.width_s, p.read.amplitude_V), (p.fall_s, 0.0)]
        t += p.rise_s + p.read.width_s + p.fall_s
    vectors.append((p.read.gap_s, 0.0))
    if len(vectors) > MAX_VECTORS_PER_PATTERN:
        raise LimitError(f"retention state {state}: {len(vectors)} vectors, a pattern holds at most "
                         f"{MAX_VECTORS_PER_PATTERN} (fewer pulses or read points)")
    deltas, volts = zip(*vectors)
    return PatternSpec(f"state{state}", tuple(deltas), tuple(volts), float(sum(deltas)), tuple(events)), programmed_s


def run_retention(protocol: RetentionProtocol, w: WGFMU, writer: ArchiveWriter, *, address: str,
                  channels: Channels = Channels(), progress: bool = True, poll_s: float = 0.5) -> RunResult:
    """Program and read every state of ``protocol``; continues after the states already in ``writer``."""
    p = protocol
    full_scale = MEASURE_CURRENT_FULL_SCALE_A[CURRENT_RANGES[p.current_range]]
    if not writer.has_group("retention"):
        writer.begin_retention(target_pulses=p.target_pulses, points=p.points)
    done = writer.rows("retention")
    started = time.perf_counter()
    bar = tqdm(total=len(p.target_pulses) * p.points, initial=done * p.points, unit="read", desc=p.name,
               disable=not progress, dynamic_ncols=True)
    with recording(w, writer, bar):
        for state in range(done, len(p.target_pulses)):
            pattern, programmed_s = plan_state(p, state)
            load_patterns(w, (pattern,), channels, 1)
            start_session(w, p, channels, address, state == done, writer)
            w.execute()
            seen = 0
            while True:  # poll so the bar shows progress through long waits
                measured = min(w.getMeasureValueSize(channels.top)[0], w.getMeasureValueSize(channels.bottom)[0])
                bar.update(measured - seen)
                seen = measured
                if measured >= p.points:
                    break
                if w.getStatus().status is not Status.RUNNING and seen < p.points:
                    if min(w.getMeasureValueSize(ch)[0] for ch in (channels.top, channels.bottom)) < p.points:
                        raise InstrumentError(f"retention state {state}: sequence ended with {seen} of "
                                              f"{p.points} reads")
                    continue
                time.sleep(poll_s)
            t, v = w.getMeasureValues(channels.top, 0, p.points)
            _, i = w.getMeasureValues(channels.bottom, 0, p.points)
            current = -np.asarray(i, dtype=np.float64)  # bottom channel: current out of its output
            writer.append_retention(np.asarray(t) - programmed_s, v, current, status_flags(current, full_scale))
            w.waitUntilCompleted()
    return RunResult("complete", len(p.target_pulses), "", time.perf_counter() - started, "state")
