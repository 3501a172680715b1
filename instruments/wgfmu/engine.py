"""Execution engine of the simulated WGFMU: sequences -> device waveform -> samples.

All times are integer ticks of 10 ns (the WGFMU grid), so a thousand looped
patterns add up exactly. ``execute()`` builds, with numpy:

* each channel's waveform as linear segments over the whole run (patterns are
  continuous piecewise-linear; a pattern's initial voltage may jump);
* the device waveform V(top) - V(bottom) on the union of both channels'
  breakpoints, with runs of identical flat segments merged ("groups");
* every sample's time, the group it falls in and where it goes in the results.

``advance()`` then walks the groups in order: for each group it evaluates the
currents of the samples inside it at the device state at the group's start
(one vectorised ``current_A`` call), then applies the group to the device
(``apply_segment``). Noise comes from one seeded stream per channel, drawn in
sample order, so results do not depend on how the run is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .constants import MeasureEventData
from .limits import TIME_GRID_S as TICK_S
CURRENT_NOISE_FRACTION = 2e-3
"""1-sigma noise of one 10 ns current sample, as a fraction of the range's full scale."""
VOLTAGE_NOISE_FRACTION = 2e-4
"""1-sigma noise of one 10 ns voltage sample, as a fraction of the range's full scale."""


@dataclass(frozen=True)
class MeasureEvent:
    """A measure event of a pattern, in ticks."""

    time: int
    points: int
    interval: int
    average: int
    raw_data: MeasureEventData

    @property
    def end(self) -> int:
        """Tick at which the event's last sample window closes."""
        return self.time + (self.points - 1) * self.interval + max(self.average, 1)

    @property
    def outputs(self) -> int:
        """Values the event returns: every point (RAW) or one mean (AVERAGED)."""
        return self.points if self.raw_data == MeasureEventData.RAW else 1


@dataclass
class Pattern:
    """A named pattern: initial voltage, vectors (ticks, V), events."""

    initial_V: float
    deltas: list[int] = field(default_factory=list)
    voltages_V: list[float] = field(default_factory=list)
    events: dict[str, MeasureEvent] = field(default_factory=dict)
    range_events: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def duration(self) -> int:
        return int(sum(self.deltas))

    def sorted_events(self) -> list[tuple[str, MeasureEvent]]:
        return sorted(self.events.items(), key=lambda item: item[1].time)


def channel_segments(entries: list[tuple[Pattern, int]], hold_V: float, total: int):
    """A channel's whole-run waveform as segments (t0, t1 in ticks; v0, v1 in V).

    After its sequence ends (or without one) the channel holds its last voltage.
    """
    parts, start, last_V = [], 0, hold_V
    for pattern, loops in entries:
        tb = np.concatenate(([0], np.cumsum(pattern.deltas, dtype=np.int64)))
        vb = np.concatenate(([pattern.initial_V], pattern.voltages_V))
        offsets = start + pattern.duration * np.arange(loops, dtype=np.int64)
        parts.append(((offsets[:, None] + tb[None, :-1]).ravel(), (offsets[:, None] + tb[None, 1:]).ravel(),
                      np.tile(vb[:-1], loops), np.tile(vb[1:], loops)))
        start += pattern.duration * loops
        last_V = float(vb[-1])
    if start < total or not parts:
        parts.append((np.array([start]), np.array([max(total, start + 1)]),
                      np.array([last_V]), np.array([last_V])))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def interpolate(segments, times):
    """Voltage of a segment list at ``times`` (ticks, may be fractional)."""
    t0, t1, v0, v1 = segments
    k = np.searchsorted(t0, times, side="right") - 1
    frac = (times - t0[k]) / (t1[k] - t0[k])
    return v0[k] + (v1[k] - v0[k]) * frac


@dataclass
class ChannelPlan:
    """Where a channel's samples are and how to turn them into values."""

    channel_id: int
    kind: str  # "voltage" | "current"
    full_scale: float
    sign: float  # +1 top electrode, -1 bottom electrode, 0 not on the device
    segments: tuple
    raw_start: np.ndarray  # sample window start (ticks)
    raw_mid: np.ndarray  # sample window centre (ticks, float)
    raw_noise: np.ndarray  # 1-sigma noise per sample
    out_start: np.ndarray  # first raw index of each returned value, plus the end
    occ_last_raw: np.ndarray  # last raw index of each event occurrence
    occ_first_raw: np.ndarray
    occ_key: np.ndarray  # index into keys: which (pattern, event) an occurrence is
    keys: list[tuple[str, str]]
    entry_base: list[tuple[int, int]]  # per sequence entry: (first value offset, first occurrence index)
    entries: list[tuple[str, int]]
    rng: np.random.Generator
    raw_values: np.ndarray = None  # filled as the run advances
    raw_group: np.ndarray = None
    out_last_group: np.ndarray = None
    occ_last_group: np.ndarray = None
    bounds: np.ndarray = None  # raw index range per group (current channels)

    @property
    def total_values(self) -> int:
        return len(self.out_start) - 1


def plan_channel(channel_id, kind, full_scale, sign, entries, patterns, segments, rng) -> ChannelPlan:
    """Expand a channel's measure events over its sequence (all loops), in time order."""
    starts, averages, out_starts, occ_first, occ_last, occ_key = [], [], [], [], [], []
    keys: list[tuple[str, str]] = []
    entry_base: list[tuple[int, int]] = []
    t_entry = raw_count = value_count = occ_count = 0
    for name, loops in entries:
        pattern = patterns[name]
        events = pattern.sorted_events()
        entry_base.append((value_count, occ_count))
        if events:
            tpl_start = np.concatenate([ev.time + ev.interval * np.arange(ev.points) for _, ev in events])
            tpl_average = np.concatenate([np.full(ev.points, ev.average) for _, ev in events])
            # first raw index (within one loop) of each returned value, and of each occurrence
            tpl_out, tpl_occ, pos = [], [], 0
            for _, ev in events:
                tpl_occ.append(pos)
                tpl_out.extend(range(pos, pos + ev.points) if ev.outputs > 1 else [pos])
                pos += ev.points
            tpl_out, tpl_occ = np.array(tpl_out), np.array(tpl_occ)
            tpl_occ_last = tpl_occ + np.array([ev.points for _, ev in events]) - 1
            for ev_name, _ in events:
                if (name, ev_name) not in keys:
                    keys.append((name, ev_name))
            tpl_key = np.array([keys.index((name, ev_name)) for ev_name, _ in events])
            loop_offsets = t_entry + pattern.duration * np.arange(loops, dtype=np.int64)
            raw_offsets = raw_count + pos * np.arange(loops, dtype=np.int64)
            starts.append((loop_offsets[:, None] + tpl_start[None, :]).ravel())
            averages.append(np.tile(tpl_average, loops))
            out_starts.append((raw_offsets[:, None] + tpl_out[None, :]).ravel())
            occ_first.append((raw_offsets[:, None] + tpl_occ[None, :]).ravel())
            occ_last.append((raw_offsets[:, None] + tpl_occ_last[None, :]).ravel())
            occ_key.append(np.tile(tpl_key, loops))
            raw_count += pos * loops
            value_count += len(tpl_out) * loops
            occ_count += len(events) * loops
        t_entry += pattern.duration * loops

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    raw_start = cat(starts, np.int64)
    average = cat(averages, float)
    fraction = CURRENT_NOISE_FRACTION if kind == "current" else VOLTAGE_NOISE_FRACTION
    return ChannelPlan(
        channel_id=channel_id, kind=kind, full_scale=full_scale, sign=sign, segments=segments,
        raw_start=raw_start, raw_mid=raw_start + average / 2.0,
        # averaging n samples of 10 ns divides the noise by sqrt(n)
        raw_noise=fraction * full_scale / np.sqrt(np.maximum(average, 1.0)),
        out_start=np.append(cat(out_starts, np.int64), raw_count),
        occ_first_raw=cat(occ_first, np.int64), occ_last_raw=cat(occ_last, np.int64),
        occ_key=cat(occ_key, np.int64), keys=keys, entry_base=entry_base,
        entries=list(entries), rng=rng,
    )


class Execution:
    """One ``execute()``: the device waveform in groups and a cursor over them."""

    def __init__(self, device, top_segments, bottom_segments, device_connected: bool,
                 plans: list[ChannelPlan], total: int) -> None:
        self.device = device
        self.total = total
        self.plans = plans
        times = sorted_union(top_segments[0], bottom_segments[0], np.array([total], dtype=np.int64))
        times = times[times <= total]
        t0, t1 = times[:-1], times[1:]
        top0, bot0 = interpolate(top_segments, t0), interpolate(bottom_segments, t0)
        # the end value lies on the segment holding the start: evaluate it there (jumps stay exact)
        top1 = _segment_end_values(top_segments, t0, t1)
        bot1 = _segment_end_values(bottom_segments, t0, t1)
        if device_connected:
            v0, v1 = top0 - bot0, top1 - bot1
        else:
            v0 = v1 = np.zeros(len(t0))
        self.device_connected = device_connected
        current_raw_mid = [p.raw_mid for p in plans if p.kind == "current"]
        has_samples = np.zeros(len(t0), bool)
        for mids in current_raw_mid:
            has_samples[np.searchsorted(t0, mids, side="right") - 1] = True
        flat = v0 == v1
        same_as_previous = np.zeros(len(t0), bool)
        same_as_previous[1:] = flat[1:] & flat[:-1] & (v0[1:] == v0[:-1]) & ~has_samples[1:]
        first = np.flatnonzero(~same_as_previous)
        self.g_t0 = t0[first]
        self.g_t1 = np.append(t0[first[1:]], t1[-1]) if len(first) else t1
        self.g_v0 = v0[first]
        self.g_v1 = v1[np.append(first[1:] - 1, len(t0) - 1)] if len(first) else v1
        self.n_groups = len(first)
        self.cursor = 0
        for plan in plans:
            plan.raw_values = np.full(len(plan.raw_start), np.nan)
            plan.raw_group = np.searchsorted(self.g_t0, plan.raw_mid, side="right") - 1
            plan.out_last_group = plan.raw_group[plan.out_start[1:] - 1] if plan.total_values else np.zeros(0, int)
            plan.occ_last_group = plan.raw_group[plan.occ_last_raw] if len(plan.occ_last_raw) else np.zeros(0, int)
            if plan.kind == "current":
                plan.bounds = np.searchsorted(plan.raw_group, np.arange(self.n_groups + 1))

    # --- settling ---------------------------------------------------------------
    def unsettled_reads(self, plan: ChannelPlan, need_ticks: float):
        """(pattern, event, shortest settling in s, count) for flat-voltage reads that start too early.

        Only events lying entirely on one flat stretch of the device voltage are
        reads; an event overlapping a ramp is a transient capture, unsettled on purpose.
        """
        if not len(plan.occ_first_raw):
            return []
        flat = self.g_v0 == self.g_v1
        jump = np.ones(self.n_groups, bool)
        jump[1:] = (self.g_v0[1:] != self.g_v1[:-1]) | ~flat[:-1]
        settle_from = np.maximum.accumulate(np.where(jump, self.g_t0, 0))
        start = plan.raw_start[plan.occ_first_raw]
        end = plan.raw_start[plan.occ_last_raw] + 1
        gs = np.searchsorted(self.g_t0, start, side="right") - 1
        ge = np.searchsorted(self.g_t0, end - 0.5, side="right") - 1
        read = flat[gs] & flat[ge] & (settle_from[gs] == settle_from[ge])
        settled = start - settle_from[gs]
        bad = read & (settled < need_ticks - 1e-9)
        out = []
        for key in np.unique(plan.occ_key[bad]):
            mask = bad & (plan.occ_key == key)
            out.append((*plan.keys[key], float(settled[mask].min()) * TICK_S, int(mask.sum())))
        return out

    # --- running ----------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.cursor >= self.n_groups

    @property
    def elapsed_s(self) -> float:
        return float(self.g_t0[self.cursor]) * TICK_S if not self.done else self.total * TICK_S

    def advance(self, until_ticks: float, max_groups: int | None = None) -> None:
        """Run every group that starts before ``until_ticks`` (at most ``max_groups`` of them, at least one)."""
        g1 = int(np.searchsorted(self.g_t0, until_ticks, side="left"))
        g1 = max(min(g1, self.n_groups), self.cursor + 1 if not self.done else self.cursor)
        if max_groups is not None:
            g1 = min(g1, self.cursor + max(int(max_groups), 1))
        g0 = self.cursor
        if g1 <= g0:
            return
        currents = [p for p in self.plans if p.kind == "current"]
        for plan in self.plans:
            if plan.kind == "voltage":
                a, b = np.searchsorted(plan.raw_group, [g0, g1])
                v = interpolate(plan.segments, plan.raw_mid[a:b])
                self._store(plan, a, b, v)
        a_b = [(int(p.bounds[g0]), int(p.bounds[g1])) for p in currents]
        # Python floats for the per-group loop, converted for this stretch only (a run may hold millions).
        v0s = self.g_v0[g0:g1].tolist()
        v1s = self.g_v1[g0:g1].tolist()
        dts = ((self.g_t1[g0:g1] - self.g_t0[g0:g1]) * TICK_S).tolist()
        device = self.device
        g_t0, g_t1 = self.g_t0, self.g_t1
        for k, g in enumerate(range(g0, g1)):
            for plan in currents:
                a, b = plan.bounds[g], plan.bounds[g + 1]
                if a < b:
                    if self.device_connected and plan.sign:
                        frac = (plan.raw_mid[a:b] - g_t0[g]) / (g_t1[g] - g_t0[g])
                        v = v0s[k] + (v1s[k] - v0s[k]) * frac
                        plan.raw_values[a:b] = plan.sign * np.asarray(device.current_A(v))
                    else:
                        plan.raw_values[a:b] = 0.0
            if self.device_connected:
                device.apply_segment(v0s[k], v1s[k], dts[k])
            else:
                device.relax(dts[k])
        for plan, (a, b) in zip(currents, a_b):
            self._store(plan, a, b, plan.raw_values[a:b])
        self.cursor = g1

    @staticmethod
    def _store(plan: ChannelPlan, a: int, b: int, ideal: np.ndarray) -> None:
        noisy = ideal + plan.raw_noise[a:b] * plan.rng.standard_normal(b - a)
        # the ADC saturates at the range's full scale (the protocol flags it)
        plan.raw_values[a:b] = np.clip(noisy, -plan.full_scale, plan.full_scale)

    # --- results ----------------------------------------------------------------
    def measured(self, plan: ChannelPlan) -> int:
        """Values of ``plan`` whose samples have all been taken."""
        return int(np.searchsorted(plan.out_last_group, self.cursor, side="left"))

    def completed_events(self, plan: ChannelPlan) -> int:
        return int(np.searchsorted(plan.occ_last_group, self.cursor, side="left"))

    def values(self, plan: ChannelPlan, offset: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Values ``offset .. offset+size-1``: (times_s, means of their samples)."""
        starts = plan.out_start[offset:offset + size + 1]
        a, b = int(starts[0]), int(starts[-1])
        sums = np.add.reduceat(plan.raw_values[a:b], starts[:-1] - a) if b > a else np.zeros(0)
        return plan.raw_start[starts[:-1]] * TICK_S, sums / np.diff(starts)


def sorted_union(*arrays: np.ndarray) -> np.ndarray:
    """Sorted unique values of sorted integer arrays (``np.union1d`` hashes; a merge sort of runs is far faster)."""
    merged = np.concatenate(arrays)
    merged.sort(kind="stable")  # timsort: linear on a few sorted runs
    if merged.size < 2:
        return merged
    return merged[np.concatenate(([True], merged[1:] != merged[:-1]))]


def _segment_end_values(segments, t0, t1):
    """Voltage at the end ``t1`` of union segments that start at ``t0``, on the segment holding t0."""
    s0, s1, v0, v1 = segments
    k = np.searchsorted(s0, t0, side="right") - 1
    return v0[k] + (v1[k] - v0[k]) * (t1 - s0[k]) / (s1[k] - s0[k])
