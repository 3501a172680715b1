"""What a device file becomes on a crossbar: :class:`AnalogOptions` and its validation.

Plain Python (no torch, no aihwkit): the options are what a results file, the
CLI and a sweep plan name; :mod:`.noise` and :mod:`.config` turn them into
aihwkit objects. The modes are explained in :mod:`.noise`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from memlab.errors import ConfigError

DRIFT_MODES = ("wan2022", "measured", "none")
WAN2022_SCALINGS = ("absolute", "relative")
PROGRAMMING = ("write_verify", "open_loop")
BRANCHES = ("potentiation", "depression")
IDEAL_SWITCHES = ("states", "programming_sigma", "read_noise", "drift", "dac", "adc")
"""Non-idealities ``AnalogOptions.ideal`` can switch off (the accuracy budget, :mod:`memlab.simulation.budget`)."""
WAN2022_TIMES_S = (1.0, 86400.0, 172800.0)  # the only times ReRamWan2022NoiseModel knows
HWAT_NOISE = ("device", "aihwkit")
HWAT_D2D_HOLD = ("epoch", "training", "step")
HWAT_INPUT_RANGES = ("held", "learned")
INPUT_RANGE_CALIBRATION = ("max", "std3")
WAN2022_G_MAX_uS = 40.0  # the frame its polynomials were fitted in (SIMULATION.md)


@dataclass(frozen=True)
class AnalogOptions:
    """How the device file is turned into an analog crossbar.

    branch: which measured branch programs the weights ('potentiation' or 'depression').
    d2d_fraction: device-to-device σ of each device's step size and reachable range, relative
        (0.3 = 30 %, the paper's and aihwkit's default); see the module docstring.
    d2d_range_fraction: the reachable range's own σ when it differs from the step size's
        (a measured spread, :func:`memlab.simulation.d2d.measured_d2d`); None = d2d_fraction.
    d2d_source: where the spread came from: 'assumed' (given) or 'measured' (the device file's d2d).
    programming: 'write_verify' (program-and-verify to the target: D2D costs resolution and
        clips large weights) or 'open_loop' (blind pulse counts: D2D scales every weight).
    drift: 'wan2022' (aihwkit's ReRAM model, 1 s / 1 day / 2 days), 'measured' (the device
        file's drift law, any time) or 'none'.
    wan2022_scaling: with drift='wan2022', 'absolute' (aihwkit 1.1's arithmetic, g_max = the
        device's range in µS) or 'relative' (Wan's 40 µS window); see the module docstring.
    drift_compensation: aihwkit's GlobalDriftCompensation at every evaluation time.
    adc_bits, dac_bits: converter resolution (8 -> 254 steps over the full range, aihwkit's 1/254).
    adc_full_scale: ADC range ±full scale in units of (max weight x max input) (aihwkit out_bound).
    out_noise: σ of additive output noise in the same units (aihwkit out_noise), per read.
    read_noise_fraction: σ of read noise relative to each device's G, drawn per evaluation time.
    stuck_fraction: fraction of devices stuck (half at the first, half at the last state).
    tile_size: largest crossbar (rows and columns); larger layers are split.
    hwat_noise_scale: scale of the device-derived training noise during HWAT (1 = as programmed).
    hwat_noise: 'device' (the training step computes with the weight as deployed: per-state
        programming σ, a held D2D instance, drift at hwat_drift_horizon_s; see
        :mod:`memlab.simulation.hwat_noise`) or 'aihwkit' (aihwkit's modifier: mean σ, a fresh
        D2D draw every step; the arithmetic tested equal to aihwkit's torch tile).
    hwat_d2d_hold: how long one D2D instance is held in training: 'epoch' (a new chip every
        epoch), 'training' (one chip for the whole training) or 'step' (aihwkit's per-step draw).
    hwat_drift_horizon_s: the time after programming whose drift the training weights carry
        (s; with drift='wan2022' one of its times; 0 = none).
    hwat_clip_sigma: after every HWAT optimizer step, clip each tile's weights at ± this many
        standard deviations of the tile's weights (aihwkit's LAYER_GAUSSIAN); None = no clipping.
    hwat_input_ranges: 'held' (calibrated on the first batches by input_range_calibration, then
        fixed for the training) or 'learned' (aihwkit's learned ranges from its 3·std start).
    input_range_calibration: how input ranges start from the first batches, for the no-HWAT
        baseline and held HWAT ranges: 'max' (the paper's adaptive scaling: nothing of those
        batches clips) or 'std3' (aihwkit's 3·std, which clips the tails).
    seed: default seed for programming and drift draws.
    ideal: non-idealities switched off (the accuracy budget, :mod:`memlab.simulation.budget`):
        'states' (devices reach their exact target, no rounding to the measured states),
        'programming_sigma' (no cycle-to-cycle σ), 'read_noise' (neither the retention read noise
        nor read_noise_fraction), 'drift' (the state at t is the state at programming), 'dac' and
        'adc' (ideal converters in the frozen evaluation: neither rounded nor clipped; aihwkit's own
        tile still clips at its input range). Every random term is drawn whether its effect is on or
        not, so switching one off leaves the others' draws where they were.
    """

    branch: str = "potentiation"
    d2d_fraction: float = 0.3
    d2d_range_fraction: float | None = None
    d2d_source: str = "assumed"
    programming: str = "write_verify"
    drift: str = "wan2022"
    wan2022_scaling: str = "absolute"
    drift_compensation: bool = True
    adc_bits: int = 8
    dac_bits: int = 8
    adc_full_scale: float = 12.0
    out_noise: float = 0.0
    read_noise_fraction: float = 0.0
    stuck_fraction: float = 0.0
    tile_size: int = 512
    hwat_noise_scale: float = 1.0
    hwat_noise: str = "device"
    hwat_d2d_hold: str = "epoch"
    hwat_drift_horizon_s: float = 86400.0
    hwat_clip_sigma: float | None = 2.5
    hwat_input_ranges: str = "held"
    input_range_calibration: str = "max"
    seed: int = 0
    ideal: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AnalogOptions":
        """The options a results file or a JSON configuration records (lists become the tuples they
        were); ConfigError naming any key that is not an option."""
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def __post_init__(self) -> None:
        check_choice("branch", self.branch, BRANCHES)
        check_choice("drift", self.drift, DRIFT_MODES)
        check_choice("wan2022_scaling", self.wan2022_scaling, WAN2022_SCALINGS)
        check_choice("programming", self.programming, PROGRAMMING)
        check_choice("d2d_source", self.d2d_source, ("assumed", "measured"))
        check_choice("hwat_noise", self.hwat_noise, HWAT_NOISE)
        check_choice("hwat_d2d_hold", self.hwat_d2d_hold, HWAT_D2D_HOLD)
        check_choice("hwat_input_ranges", self.hwat_input_ranges, HWAT_INPUT_RANGES)
        check_choice("input_range_calibration", self.input_range_calibration, INPUT_RANGE_CALIBRATION)
        if self.hwat_clip_sigma is not None:
            _in_range("hwat_clip_sigma", self.hwat_clip_sigma, 0.5, 20.0)
        if not isinstance(self.hwat_drift_horizon_s, (int, float)) or isinstance(self.hwat_drift_horizon_s, bool):
            raise ConfigError(f"hwat_drift_horizon_s must be a number of seconds, got {self.hwat_drift_horizon_s!r}")
        try:
            check_drift_time(self.drift, self.hwat_drift_horizon_s)
        except ConfigError as exc:
            raise ConfigError(f"hwat_drift_horizon_s: {exc}") from None
        if not isinstance(self.ideal, tuple):
            raise ConfigError(f"ideal must be a tuple of names, got {self.ideal!r}")
        for name in self.ideal:
            check_choice("ideal", name, IDEAL_SWITCHES)
        if self.d2d_range_fraction is not None:
            _in_range("d2d_range_fraction", self.d2d_range_fraction, 0.0, 2.0)
        for name, lo, hi in (("d2d_fraction", 0.0, 2.0), ("read_noise_fraction", 0.0, 1.0),
                             ("stuck_fraction", 0.0, 1.0), ("out_noise", 0.0, 100.0),
                             ("hwat_noise_scale", 0.0, 10.0)):
            _in_range(name, getattr(self, name), lo, hi)
        for name in ("adc_bits", "dac_bits"):
            _in_range(name, getattr(self, name), 2, 16, integer=True)
        _in_range("tile_size", self.tile_size, 16, 1 << 20, integer=True)
        if not self.adc_full_scale > 0:
            raise ConfigError(f"adc_full_scale must be > 0, got {self.adc_full_scale}")

    @property
    def range_fraction(self) -> float:
        """σ of each device's reachable range, relative (d2d_range_fraction, else d2d_fraction)."""
        return self.d2d_fraction if self.d2d_range_fraction is None else self.d2d_range_fraction


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    """ConfigError naming ``name``, ``value`` and the allowed values unless ``value`` is one of them."""
    if value not in allowed:
        raise ConfigError(f"{name} is {value!r}; allowed: {', '.join(allowed)}")


def _in_range(name: str, value: Any, lo: float, hi: float, integer: bool = False) -> None:
    if integer and (not isinstance(value, int) or isinstance(value, bool)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not (isinstance(value, (int, float)) and lo <= value <= hi):
        raise ConfigError(f"{name} is {value!r}; allowed range {lo} to {hi}")


def converter_resolution(bits: int) -> float:
    """aihwkit's ``inp_res``/``out_res`` for a converter of ``bits``: 1 / (2**bits - 2)."""
    return 1.0 / (2 ** bits - 2)


def check_drift_time(drift: str, t_s: float) -> float:
    """Validate an evaluation time for a drift mode; returns it as float seconds."""
    t = float(t_s)
    if not (math.isfinite(t) and t >= 0):
        raise ConfigError(f"time after programming must be a finite number >= 0 s, got {t_s!r}")
    if drift == "wan2022" and t > 0:
        for known in WAN2022_TIMES_S:
            if math.isclose(t, known, rel_tol=1e-9):
                return known
        raise ConfigError(f"drift='wan2022' (aihwkit ReRamWan2022NoiseModel) knows only t = 1 s, "
                          f"86400 s (1 day) and 172800 s (2 days), got {t_s!r} s; "
                          "use drift='measured' for other times")
    return t
