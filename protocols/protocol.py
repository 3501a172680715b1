"""Protocol dataclasses: what is applied and recorded, validated before any instrument call.

Three kinds: :class:`PulseCyclingProtocol` (tailored or constant potentiation/
depression trains with a read after every pulse), :class:`RetentionProtocol`
(program states, read at log-spaced times) and :class:`IVSweepProtocol`
(DC double sweeps on a B1500A SMU). All are frozen, SI units in every field
name, and refuse in ``__post_init__`` anything the instrument or the protocol
cannot do, naming the field, the value and the limit (:class:`LimitError`).

Off-grid timings: the dataclasses *refuse* times that are not on the WGFMU's
10 ns grid; the TOML loader (:mod:`memlab.protocols.loader`) *rounds* them to
the nearest grid point first and records a warning in ``warnings`` (stored
with the protocol in the archive). A time that rounds below 10 ns is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from memlab import checks
from memlab.errors import LimitError
from memlab.instruments.wgfmu import grid
from memlab.instruments.wgfmu.constants import MeasureCurrentRange
from memlab.instruments.wgfmu.grid import is_on_grid
from memlab.instruments.wgfmu.limits import (
    AVERAGE_MAX_S,
    MAX_LOOP_COUNT,
    MAX_POINTS_PER_CHANNEL,
    TIME_GRID_S,
    VECTOR_STEP_MAX_S,
    VECTOR_STEP_MIN_S,
    settling_time_s,
)

CURRENT_RANGES: dict[str, MeasureCurrentRange] = {
    "1uA": MeasureCurrentRange.RANGE_1UA,
    "10uA": MeasureCurrentRange.RANGE_10UA,
    "100uA": MeasureCurrentRange.RANGE_100UA,
    "1mA": MeasureCurrentRange.RANGE_1MA,
    "10mA": MeasureCurrentRange.RANGE_10MA,
}
MAX_PULSE_V = 5.0
"""Both polarities share one Fast IV force range, and the widest bipolar one is ±5 V."""
POLARITIES = ("positive", "negative")
WAVEFORM_SAMPLE_S = TIME_GRID_S
"""Raw pulse waveforms are sampled on the WGFMU's 10 ns grid."""


def check_time(field_name: str, value_s: float, low_s: float = VECTOR_STEP_MIN_S,
               high_s: float = VECTOR_STEP_MAX_S) -> None:
    """Refuse a time that is not finite, off the 10 ns grid, or outside [low_s, high_s]."""
    checks.finite(field_name, value_s, "s")
    if not is_on_grid(value_s):
        raise LimitError(f"{field_name}={value_s!r} s: not on the WGFMU's 10 ns grid")
    checks.in_range(field_name, value_s, low_s, high_s, "s", slack=1e-9)


def check_count(field_name: str, value: int, low: int, high: int) -> None:
    checks.whole(field_name, value, low, high)


def check_amplitude(field_name: str, value_V: float, low_V: float, high_V: float) -> None:
    checks.in_range(field_name, value_V, low_V, high_V, "V")


def check_text(field_name: str, value: str) -> None:
    """Names and descriptions are text (they label the archive and the instrument's patterns)."""
    if not isinstance(value, str):
        raise LimitError(f"{field_name}={value!r}: must be text")


def _check_range(field_name: str, value: str) -> MeasureCurrentRange:
    if value not in CURRENT_RANGES:
        raise LimitError(f"{field_name}={value!r}: allowed {', '.join(CURRENT_RANGES)}")
    return CURRENT_RANGES[value]


@dataclass(frozen=True)
class PulseTrain:
    """One programming train: per-pulse magnitudes (V, > 0) and widths (s, flat top).

    ``polarity`` gives the sign actually applied to the top electrode.
    """

    amplitude_V: tuple[float, ...]
    width_s: tuple[float, ...]
    polarity: str = "positive"
    name: str = "train"

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise LimitError(f"{self.name}.polarity={self.polarity!r}: allowed {', '.join(POLARITIES)}")
        if len(self.amplitude_V) == 0:
            raise LimitError(f"{self.name}.count=0: a train needs at least 1 pulse")
        if len(self.amplitude_V) != len(self.width_s):
            raise LimitError(f"{self.name}.width_s has {len(self.width_s)} values: "
                             f"must match amplitude_V's {len(self.amplitude_V)}")
        for i, a in enumerate(self.amplitude_V):
            check_amplitude(f"{self.name}.amplitude_V[{i}]", a, 1e-3, MAX_PULSE_V)
        for i, w in enumerate(self.width_s):
            check_time(f"{self.name}.width_s[{i}]", w)

    @property
    def count(self) -> int:
        return len(self.amplitude_V)

    @property
    def signed_amplitude_V(self) -> tuple[float, ...]:
        sign = 1.0 if self.polarity == "positive" else -1.0
        return tuple(sign * a for a in self.amplitude_V)


@dataclass(frozen=True)
class ReadPulse:
    """The read: a flat pulse of ``amplitude_V`` for ``width_s`` (flat top).

    The current is averaged over the flat top after the range's settling time.
    ``delay_s``: from the end of a write pulse to the read's start; ``gap_s``:
    from the read's end to the next write pulse.
    """

    amplitude_V: float = -0.1
    width_s: float = 30e-6
    delay_s: float = 20e-6
    gap_s: float = 20e-6

    def check(self, current_range: str, prefix: str = "read") -> None:
        check_amplitude(f"{prefix}.amplitude_V", self.amplitude_V, -MAX_PULSE_V, MAX_PULSE_V)
        if self.amplitude_V == 0:
            raise LimitError(f"{prefix}.amplitude_V=0 V: a read needs a non-zero voltage to give a conductance")
        check_time(f"{prefix}.delay_s", self.delay_s)
        check_time(f"{prefix}.gap_s", self.gap_s)
        settle = settling_time_s(_check_range("current_range", current_range))
        check_time(f"{prefix}.width_s", self.width_s, low_s=settle + TIME_GRID_S)

    def averaging_s(self, current_range: str) -> float:
        """How long the read averages: the flat top after settling, at most 20.97 ms."""
        settle = settling_time_s(CURRENT_RANGES[current_range])
        return min(grid.down(self.width_s - grid.up(settle)), AVERAGE_MAX_S)


@dataclass(frozen=True)
class PulseCyclingProtocol:
    """Potentiation then depression trains, a read after every pulse, repeated ``cycles`` times.

    ``rise_s``/``fall_s`` are the edges of every pulse (write and read);
    ``record_waveforms`` samples each programming pulse at 10 ns (V on channel 1,
    I on channel 2) for the energy per pulse.
    """

    kind: ClassVar[str] = "pulse_cycling"

    name: str
    potentiation: PulseTrain
    depression: PulseTrain
    read: ReadPulse = field(default_factory=ReadPulse)
    cycles: int = 100
    rise_s: float = 20e-9
    fall_s: float = 20e-9
    current_range: str = "10mA"
    record_waveforms: bool = True
    description: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_text("name", self.name)
        check_text("description", self.description)
        if not isinstance(self.record_waveforms, bool):
            raise LimitError(f"record_waveforms={self.record_waveforms!r}: must be true or false")
        check_count("cycles", self.cycles, 1, MAX_LOOP_COUNT)
        check_time("rise_s", self.rise_s)
        check_time("fall_s", self.fall_s)
        _check_range("current_range", self.current_range)
        self.read.check(self.current_range)
        if self.potentiation.polarity == self.depression.polarity:
            raise LimitError(f"depression.polarity={self.depression.polarity!r}: must be opposite to "
                             f"potentiation.polarity={self.potentiation.polarity!r}")
        if self.points_per_cycle > MAX_POINTS_PER_CHANNEL:
            raise LimitError(f"points per cycle={self.points_per_cycle}: one cycle must fit the "
                             f"{MAX_POINTS_PER_CHANNEL} points a WGFMU channel stores "
                             "(shorten the pulses or set record_waveforms = false)")

    @property
    def n_up(self) -> int:
        return self.potentiation.count

    @property
    def n_down(self) -> int:
        return self.depression.count

    @property
    def pulses_per_cycle(self) -> int:
        return self.n_up + self.n_down

    @property
    def pulse_amplitude_V(self) -> tuple[float, ...]:
        """Signed amplitude of every pulse of a cycle (potentiation first)."""
        return self.potentiation.signed_amplitude_V + self.depression.signed_amplitude_V

    @property
    def pulse_width_s(self) -> tuple[float, ...]:
        return self.potentiation.width_s + self.depression.width_s

    @property
    def samples_per_pulse(self) -> tuple[int, ...]:
        """Raw waveform samples per programming pulse: edges and top at 10 ns, both ends included."""
        return tuple(grid.to_ticks(self.rise_s + w + self.fall_s) + 1  # WAVEFORM_SAMPLE_S is the grid
                     for w in self.pulse_width_s)

    @property
    def points_per_cycle(self) -> int:
        """Stored points per channel per cycle: one per read, plus the raw samples."""
        raw = sum(self.samples_per_pulse) if self.record_waveforms else 0
        return self.pulses_per_cycle + raw


@dataclass(frozen=True)
class RetentionProtocol:
    """Program states, then read each at log-spaced times.

    For each entry of ``target_pulses`` the device is first reset with the
    ``reset`` train, then given that many pulses of the ``program`` train, then
    read with short ``read`` pulses at ``points`` log-spaced times from
    ``first_read_s`` to ``duration_s`` after programming (0 V in between, so
    the device relaxes freely).
    """

    kind: ClassVar[str] = "retention"

    name: str
    program: PulseTrain
    reset: PulseTrain
    target_pulses: tuple[int, ...]
    read: ReadPulse = field(default_factory=lambda: ReadPulse(delay_s=10e-6, gap_s=10e-6))
    first_read_s: float = 1e-3
    duration_s: float = 1000.0
    points: int = 31
    rise_s: float = 20e-9
    fall_s: float = 20e-9
    current_range: str = "10mA"
    description: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_text("name", self.name)
        check_text("description", self.description)
        _check_range("current_range", self.current_range)
        self.read.check(self.current_range)
        check_time("rise_s", self.rise_s)
        check_time("fall_s", self.fall_s)
        if self.program.polarity == self.reset.polarity:
            raise LimitError(f"reset.polarity={self.reset.polarity!r}: must be opposite to "
                             f"program.polarity={self.program.polarity!r}")
        if not self.target_pulses:
            raise LimitError("target_pulses=[]: give at least one state")
        for i, n in enumerate(self.target_pulses):
            check_count(f"target_pulses[{i}]", n, 0, self.program.count)
        check_count("points", self.points, 2, 10_000)
        # Reads are flat pulses after programming: the first must leave room for one read.
        check_time("first_read_s", self.first_read_s, low_s=self.read.width_s + 2 * TIME_GRID_S)
        check_time("duration_s", self.duration_s, low_s=self.first_read_s * 2)

    def read_times_s(self) -> tuple[float, ...]:
        """Start of every read after programming (s): log-spaced, on the grid, strictly increasing."""
        lo, hi = math.log10(self.first_read_s), math.log10(self.duration_s)
        out: list[float] = []
        for i in range(self.points):
            t = grid.snap(10 ** (lo + (hi - lo) * i / (self.points - 1)))
            # Reads must not overlap: each starts after the previous read and its edges.
            earliest = out[-1] + self.read.width_s + self.rise_s + self.fall_s + TIME_GRID_S if out else t
            out.append(max(t, earliest))
        return tuple(out)


@dataclass(frozen=True)
class IVSweepProtocol:
    """DC double sweeps (start -> stop -> start, WV mode 3) on one B1500A SMU.

    ``stops_V`` lists the turning voltage of each branch of one loop (e.g.
    ``[1.2, -1.2]``: a SET branch then a RESET branch); the loop repeats
    ``sweeps`` times. ``compliance_A`` limits the current (None: the SMU's
    range maximum, as the compliance-free devices allow).
    """

    kind: ClassVar[str] = "iv_sweep"

    name: str
    stops_V: tuple[float, ...] = (1.2, -1.2)
    step_V: float = 0.02
    sweeps: int = 3
    compliance_A: float | None = 10e-3
    hold_s: float = 0.0
    delay_s: float = 0.0
    smu_channel: int = 1
    description: str = ""
    warnings: tuple[str, ...] = ()

    MAX_V: ClassVar[float] = 100.0  # B1517A HRSMU force range
    MAX_A: ClassVar[float] = 0.1  # B1517A HRSMU current limit
    MAX_STEPS: ClassVar[int] = 10_001  # B1500A staircase sweep steps (WV)

    def __post_init__(self) -> None:
        check_text("name", self.name)
        check_text("description", self.description)
        if not self.stops_V:
            raise LimitError("stops_V=[]: give at least one turning voltage")
        for i, v in enumerate(self.stops_V):
            check_amplitude(f"stops_V[{i}]", v, -self.MAX_V, self.MAX_V)
            if v == 0:
                raise LimitError(f"stops_V[{i}]=0 V: a branch must leave 0 V")
        check_amplitude("step_V", self.step_V, 1e-4, 10.0)
        check_count("sweeps", self.sweeps, 1, 10_000)
        check_count("smu_channel", self.smu_channel, 1, 10)
        if self.compliance_A is not None:
            check_amplitude("compliance_A", self.compliance_A, 1e-12, self.MAX_A)
        for name in ("hold_s", "delay_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 655.35:
                raise LimitError(f"{name}={value!r} s: allowed 0 .. 655.35 s (B1500A WT)")
        for i, v in enumerate(self.stops_V):
            if self.branch_steps(v) > self.MAX_STEPS:
                raise LimitError(f"stops_V[{i}]={v!r} V with step_V={self.step_V!r} V gives "
                                 f"{self.branch_steps(v)} steps: the B1500A sweeps at most {self.MAX_STEPS}")

    def branch_steps(self, stop_V: float) -> int:
        """Steps of the staircase 0 -> stop (both ends included)."""
        return int(round(abs(stop_V) / self.step_V)) + 1

    def branch_voltages_V(self, stop_V: float) -> list[float]:
        """Forced voltage of every point of one two-way branch 0 -> stop -> 0 (stop twice, as the B1500A does)."""
        n = self.branch_steps(stop_V)
        up = [stop_V * k / (n - 1) for k in range(n)] if n > 1 else [0.0]
        return up + up[::-1]

    @property
    def points_per_sweep(self) -> int:
        """Points of one whole loop over every branch (the archive's row width)."""
        return sum(2 * self.branch_steps(v) for v in self.stops_V)


Protocol = PulseCyclingProtocol | RetentionProtocol | IVSweepProtocol
