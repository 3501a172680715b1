"""Device file -> aihwkit: the only module of memlab that imports aihwkit.

The weight mapping follows the reference paper. A weight ``w`` of a tile is
stored on a differential pair, ``w ∝ G+ - G-``; its magnitude becomes a
target of ``n = round(|w| / max|w| * (states - 1))`` state steps on one
device of the pair (``G+`` for positive, ``G-`` for negative weights),
through the measured linear fit (one state step = ``|slope| * m`` siemens);
the other device stays at the start of the linear range, and weight 0 leaves
both there.

Device-to-device (D2D) variation is defined as in aihwkit's pulsed devices,
whose defaults are the paper's "30 % for conductance update and how reliably
we can achieve the minimum/maximum conductance states" (``dw_min_dtod =
w_min_dtod = w_max_dtod = 0.3``): every device has its own step size ``d *
step`` and its own reachable range ``b * span`` (``span`` = the top state's
change), with ``d, b ~ N(1, d2d_fraction)`` drawn per device. How that
spread reaches the weights depends on how the chip is programmed
(``AnalogOptions.programming``):

* ``'write_verify'`` (default): pulses are applied until the read-back
  conductance is nearest the target, so a device ends on its own level
  ``k * d * step`` nearest the target, capped at its own range ``b * span``
  (it saturates there), plus the measured cycle-to-cycle ``sigma[n] * N(0,
  1)`` of the state. D2D then costs resolution and clips the largest
  weights, which is what aihwkit's D2D does to a network trained in place.
* ``'open_loop'``: ``n`` identical pulse trains are applied blind, so the
  change is ``d * (mean[n] - mean[0]) + sigma[n] * N(0, 1)`` with the
  measured per-state means (non-linearity included): D2D becomes a
  multiplicative weight error of ``d2d_fraction`` on every weight (the
  pessimistic case; memlab's only model before 2026-11-27).

Optional stuck devices sit at the first or the last state. Drift is one of:

* ``'measured'``: memlab's one drift law (:mod:`memlab.drift_law`, the law the
  virtual device relaxes by and analysis fits), ``G(t) = G(0) (1 + t/t0)^-nu``,
  any time ``t >= 0``, with the device file's ``t0_s`` and a per-device ``nu``
  drawn at programming from the measured line ``nu(G)`` (clamped to the measured
  states' range) and its spread; at ``t > 0`` each read also carries the read
  noise seen during retention (``drift.read_noise_S``, absolute).
* ``'wan2022'``: aihwkit's own ``ReRamWan2022NoiseModel`` (1 s, 1 day, 2 days):
  the device's state at ``t`` is *replaced* by ``level + sigma(t) N(0, 1)``
  (``level`` the noise-free state the device was programmed to, D2D and
  quantisation included; the measured cycle-to-cycle σ is replaced, not added
  to), computed by the aihwkit model itself in its frame ``0 .. g_max``. The
  scaling is explicit (``AnalogOptions.wan2022_scaling``): ``'absolute'``
  (aihwkit 1.1's literal arithmetic: ``g_max`` = the device's own programming
  range in µS, so σ(t) is the polynomials' µS on the device's µS; its
  ``prog_coeff_g_max_reference = 40`` is set and never used) or ``'relative'``
  (``g_max = 40`` µS, Wan's window: σ(t) as a fraction of Wan's range, about
  30x larger in µS on a 1.2 mS range). At ``t = 0`` the state is the device's
  own programming (the 1 s polynomial is not applied twice).

Read noise (``read_noise_fraction``) is a fraction of G drawn once per
evaluation time, as aihwkit does for PCM.

What is computed where (the speed contract; see :mod:`.crossbar`):

* once per programming (:func:`program`): target conductances, the draw of
  G+/G- (C2C, D2D, stuck), the drift exponents, and aihwkit's global
  drift-compensation baseline;
* once per evaluation time (:func:`drift_to`): drifted conductances, read
  noise, and the compensation factor alpha;
* once per (programming, time) (:func:`freeze`): each tile's effective weights
  and every scale (input range, mapping scales, alpha, ADC step) folded into
  a :class:`~.crossbar.ProgrammedTile`;
* per batch (:mod:`.crossbar`): DAC quantisation of the inputs, the crossbar
  matmul, ADC quantisation and clipping of the outputs, one scale and bias.

Hardware-aware training uses aihwkit's torch tile (``TorchInferenceRPUConfig``)
with a device-derived weight modifier: weights discretised to the pair's
``2 * states - 1`` levels, then additive noise (the two devices' C2C σ) and
the D2D spread as the programming mode delivers it (open loop: multiplicative
noise; write-verify: clipping at a per-device bound): the noise a weight sees
when programmed. Conductances inside aihwkit are in µS (its convention).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from aihwkit.inference.compensation.drift import GlobalDriftCompensation
from aihwkit.inference.converter.conductance import SinglePairConductanceConverter
from aihwkit.inference.noise.base import BaseNoiseModel
from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel
from aihwkit.nn import AnalogConv2d, AnalogLinear
from aihwkit.nn.conversion import convert_to_analog
from aihwkit.simulator.configs import TorchInferenceRPUConfig
from aihwkit.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightModifierType,
    WeightRemapType,
)
from aihwkit.simulator.parameters.inference import WeightModifierParameter
from aihwkit.simulator.tiles.torch_tile import TorchSimulatorTile
from aihwkit.simulator.tiles.utils import UniformQuantize

from memlab.drift_law import LAW as DRIFT_LAW
from memlab.drift_law import drift_factor
from memlab.errors import ConfigError
from memlab.simulation.crossbar import Mvm, ProgrammedConv2d, ProgrammedLayer, ProgrammedTile, ideal_mvm

DRIFT_MODES = ("wan2022", "measured", "none")
WAN2022_SCALINGS = ("absolute", "relative")
PROGRAMMING = ("write_verify", "open_loop")
BRANCHES = ("potentiation", "depression")
WAN2022_TIMES_S = (1.0, 86400.0, 172800.0)  # the only times ReRamWan2022NoiseModel knows
_WAN_G_MAX_uS = 40.0  # the frame its polynomials were fitted in (SIMULATION.md)


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
    seed: default seed for programming and drift draws.
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
    seed: int = 0

    def __post_init__(self) -> None:
        _choice("branch", self.branch, BRANCHES)
        _choice("drift", self.drift, DRIFT_MODES)
        _choice("wan2022_scaling", self.wan2022_scaling, WAN2022_SCALINGS)
        _choice("programming", self.programming, PROGRAMMING)
        _choice("d2d_source", self.d2d_source, ("assumed", "measured"))
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


def _choice(name: str, value: Any, allowed: tuple) -> None:
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


# --------------------------------------------------------------------------- branch numbers

@dataclass(frozen=True)
class MeasuredDrift:
    """The device file's drift block in µS: ``nu(G) = nu_mean + slope (clamp(G) - g_ref)`` plus
    ``nu_spread`` N(0, 1) per device, the law's ``t0_s`` and the retention read noise."""

    t0_s: float
    nu_mean: float
    nu_slope_per_uS: float
    g_ref_uS: float
    g_lo_uS: float  # measured states' G range; nu(G) is held constant beyond it
    g_hi_uS: float
    nu_spread: float
    read_noise_uS: float

    @classmethod
    def from_device(cls, drift: Any) -> "MeasuredDrift":
        g0 = [s.g0_S * 1e6 for s in drift.states]
        slope = drift.nu_slope_per_S * 1e-6 if drift.nu_slope_per_S is not None else 0.0
        return cls(t0_s=drift.t0_s, nu_mean=drift.nu_mean, nu_slope_per_uS=slope,
                   g_ref_uS=drift.nu_g_ref_S * 1e6 if drift.nu_g_ref_S is not None else 0.0,
                   g_lo_uS=min(g0) if g0 else 0.0, g_hi_uS=max(g0) if g0 else 0.0,
                   nu_spread=drift.nu_std if drift.nu_spread is None else drift.nu_spread,
                   read_noise_uS=0.0 if drift.read_noise_S is None else drift.read_noise_S * 1e6)

    def nu(self, g_abs_uS: torch.Tensor) -> torch.Tensor:
        """One drift exponent per device of absolute conductance ``g_abs_uS`` (µS)."""
        g = g_abs_uS.clamp(self.g_lo_uS, self.g_hi_uS) if self.g_hi_uS > self.g_lo_uS else g_abs_uS
        mean = self.nu_mean + self.nu_slope_per_uS * (g - self.g_ref_uS)
        return mean + self.nu_spread * torch.randn_like(g_abs_uS)

@dataclass(frozen=True)
class BranchModel:
    """The measured branch in the units aihwkit works in (µS)."""

    g_start_uS: float  # absolute G of the first state: where weight 0 sits
    direction: float  # +1 potentiation (G rises), -1 depression
    step_uS: float  # linear-fit change per state, |slope| * pulses_per_state
    delta_mean_uS: tuple[float, ...]  # |mean[n] - mean[0]|, n = 0 .. states-1
    sigma_uS: tuple[float, ...]  # cycle-to-cycle σ of each state
    states: int
    drift: MeasuredDrift | None  # the device file's retention (None without retention data)

    @property
    def span_uS(self) -> float:
        """Conductance change that max |w| maps to (the fit's top state)."""
        return self.step_uS * (self.states - 1)



def branch_model(device: Any, branch: str) -> BranchModel:
    """Extract the numbers the noise model needs from a ``DeviceFile``."""
    _choice("branch", branch, BRANCHES)
    b = device.branch(branch)
    mean = [g * 1e6 for g in b.state_mean_S]
    step = abs(b.slope_S_per_pulse) * device.pulses_per_state * 1e6
    if not step > 0:
        raise ConfigError(f"branches.{branch}.slope_S_per_pulse is {b.slope_S_per_pulse}; "
                          "a usable branch needs a non-zero slope")
    drift = device.drift
    return BranchModel(
        g_start_uS=mean[0], direction=1.0 if b.slope_S_per_pulse > 0 else -1.0, step_uS=step,
        delta_mean_uS=tuple(abs(m - mean[0]) for m in mean),
        sigma_uS=tuple(s * 1e6 for s in b.state_sigma_S), states=len(mean),
        drift=None if drift is None else MeasuredDrift.from_device(drift))


def weight_noise_std(branch: BranchModel) -> float:
    """Additive σ a programmed weight sees, relative to max |w|: both devices' mean C2C σ."""
    sig = torch.tensor(branch.sigma_uS)
    return float(math.sqrt(2.0) * sig.mean() / branch.span_uS)


# --------------------------------------------------------------------------- noise model

class DeviceNoiseModel(BaseNoiseModel):
    """aihwkit noise model drawn from a memlab device file (see module docstring).

    Conductances in the converter's frame are ``g_start + |change|`` in µS,
    whichever direction the branch programs; ``_absolute`` turns them into the
    physical G for drift and read noise.
    """

    def __init__(self, branch: BranchModel, options: AnalogOptions) -> None:
        super().__init__(SinglePairConductanceConverter(
            g_max=branch.g_start_uS + branch.span_uS, g_min=branch.g_start_uS))
        self.branch = branch
        self.options = options
        self.g_max = branch.g_start_uS + branch.span_uS
        self._delta_mean = torch.tensor(branch.delta_mean_uS)
        self._sigma = torch.tensor(branch.sigma_uS)
        self._levels: list[torch.Tensor] = []  # programmed levels, handed to the drift coefficients
        if options.drift == "wan2022":
            self.wan_g_max_uS = _WAN_G_MAX_uS if options.wan2022_scaling == "relative" else branch.span_uS
            self._wan = ReRamWan2022NoiseModel(g_max=self.wan_g_max_uS)
            self._wan_per_uS = self.wan_g_max_uS / branch.span_uS  # device change (µS) -> Wan frame (µS)
        if options.drift == "measured" and branch.drift is None:
            raise ConfigError("drift='measured' needs the device file's 'drift' block "
                              "(retention data); it is null in this device file")

    def __eq__(self, other: object) -> bool:  # aihwkit compares configs; tensors need care
        return isinstance(other, DeviceNoiseModel) and (self.branch, self.options) == (other.branch, other.options)

    def pulses(self, g_target: torch.Tensor) -> torch.Tensor:
        """Pulse count (state index 0 .. states-1) of each target conductance, via the linear fit."""
        n = torch.round((g_target - self.branch.g_start_uS) / self.branch.step_uS)
        return n.clamp_(0, self.branch.states - 1).long()

    @torch.no_grad()
    def apply_programming_noise_to_conductance(self, g_target: torch.Tensor) -> torch.Tensor:
        b = self.branch
        n = self.pulses(g_target)
        d2d = self.options.d2d_fraction
        step_factor = (1.0 + d2d * torch.randn_like(g_target)).clamp_(min=0.05) if d2d > 0 else None
        if self.options.programming == "open_loop":
            mean = self._delta_mean.to(g_target.device)[n]
            change = mean if step_factor is None else step_factor * mean
            top = torch.full_like(g_target, b.delta_mean_uS[-1])
        else:
            step = b.step_uS if step_factor is None else b.step_uS * step_factor
            top = torch.full_like(g_target, b.span_uS)
            d2d_range = self.options.range_fraction
            if d2d_range > 0:
                top = top * (1.0 + d2d_range * torch.randn_like(g_target)).clamp_(min=0.0)
            wanted = (g_target - b.g_start_uS).clamp(min=0.0)
            change = torch.minimum(torch.round(wanted / step) * step, top)
        stuck = self.options.stuck_fraction
        if stuck > 0:
            u = torch.rand(g_target.shape, device=g_target.device)
            low, high = u < stuck / 2, (u >= stuck / 2) & (u < stuck)
            change = torch.where(low, torch.zeros_like(change), torch.where(high, top, change))
            n = torch.where(low, torch.zeros_like(n), torch.where(high, torch.full_like(n, b.states - 1), n))
        sigma = self._sigma.to(g_target.device)[n]
        level = b.g_start_uS + change
        if self.options.drift == "wan2022":
            self._levels.append(level)
        return level + sigma * torch.randn_like(g_target)

    @torch.no_grad()
    def generate_drift_coefficients(self, g_target: torch.Tensor) -> Optional[torch.Tensor]:
        if self.options.drift == "measured":
            return self.branch.drift.nu(self._absolute(g_target))
        if self.options.drift == "wan2022":  # the level just programmed (aihwkit calls this right after)
            level = self._levels.pop() if self._levels else None
            self._levels.clear()
            return level if level is not None and level.shape == g_target.shape else g_target.clone()
        return None

    def _absolute(self, g: torch.Tensor) -> torch.Tensor:
        return self.branch.g_start_uS + self.branch.direction * (g - self.branch.g_start_uS)

    def _relative(self, g_abs: torch.Tensor) -> torch.Tensor:
        return self.branch.g_start_uS + self.branch.direction * (g_abs - self.branch.g_start_uS)

    @torch.no_grad()
    def apply_drift_noise_to_conductance(self, g_prog: torch.Tensor, drift_noise_param: Any,
                                         t_inference: float) -> torch.Tensor:
        t = check_drift_time(self.options.drift, t_inference)
        g_abs = self._absolute(g_prog)
        if self.options.drift == "measured" and t > 0:
            drift = self.branch.drift
            g_abs = g_abs * drift_factor(t, drift_noise_param, drift.t0_s)
            if drift.read_noise_uS > 0:
                g_abs = g_abs + drift.read_noise_uS * torch.randn_like(g_abs)
        elif self.options.drift == "wan2022" and t > 0:
            g_abs = self._absolute(self.wan2022_state(drift_noise_param, t))
        if self.options.read_noise_fraction > 0:
            g_abs = g_abs * (1.0 + self.options.read_noise_fraction * torch.randn_like(g_abs))
        return self._relative(g_abs.clamp(min=0.0))


    @torch.no_grad()
    def wan2022_state(self, level: torch.Tensor, t_s: float) -> torch.Tensor:
        """aihwkit's ReRamWan2022NoiseModel at ``t_s``: the state is replaced by target + σ(t) N(0, 1)
        (clamped at 0 in its frame, i.e. at the idle state), the target being each device's programmed
        ``level`` mapped into the model's 0 .. g_max frame; returned in this model's frame (µS)."""
        g_start = self.branch.g_start_uS
        target = (level - g_start) * self._wan_per_uS
        g_wan = self._wan.apply_drift_noise_to_conductance(target, target, t_s)
        return g_start + g_wan / self._wan_per_uS

    def drift_description(self) -> dict[str, Any]:
        """What drift these numbers carry, for results files and figures."""
        return drift_description(self.branch, self.options)


def drift_description(branch: BranchModel, options: AnalogOptions) -> dict[str, Any]:
    """The drift model and its parameters, as a results file names them."""
    if options.drift == "measured":
        d = branch.drift
        return {"model": "measured", "law": DRIFT_LAW, "t0_s": d.t0_s, "nu_mean": d.nu_mean,
                "nu_slope_per_uS": d.nu_slope_per_uS, "nu_spread": d.nu_spread,
                "read_noise_uS": d.read_noise_uS, "source": "device file drift block (retention runs)"}
    if options.drift == "wan2022":
        g_max = _WAN_G_MAX_uS if options.wan2022_scaling == "relative" else branch.span_uS
        return {"model": "wan2022", "scaling": options.wan2022_scaling, "g_max_uS": g_max,
                "device_range_uS": branch.span_uS, "sigma_scale_to_device": branch.span_uS / g_max,
                "implementation": "aihwkit.inference.noise.reram.ReRamWan2022NoiseModel (replaces the state)",
                "times_s": list(WAN2022_TIMES_S)}
    return {"model": "none"}


def drift_label(description: dict[str, Any]) -> str:
    """A short label: 'measured (...)', 'wan2022, absolute (g_max ...)' or 'none'."""
    model = description.get("model", "?")
    if model == "measured":
        return f"measured: {DRIFT_LAW}, t0 {description['t0_s']:.3g} s, nu {description['nu_mean']:.4f}"
    if model == "wan2022":
        return f"wan2022 (aihwkit), {description['scaling']} scaling, g_max {description['g_max_uS']:.0f} µS"
    return model


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


# --------------------------------------------------------------------------- HWAT tile

@dataclass
class DeviceWeightModifier(WeightModifierParameter):
    """Discretise to the pair's levels, then add normal noise (std_dev, relative to
    max |w|), multiplicative noise (mult_std_dev) and clipping at a per-weight
    bound ``max|w| * N(1, range_std_dev)`` (a device whose range is short):
    what a weight sees when programmed."""

    mult_std_dev: float = 0.0
    range_std_dev: float = 0.0


class DeviceAwareTorchTile(TorchSimulatorTile):
    """aihwkit's torch tile with the device-derived training modifier.

    The stock torch tile applies one modifier type at a time; the device needs
    discretisation and two noises together, so only the modifier step differs.
    """

    def forward(self, x_input, bias=False, in_trans=False, out_trans=False, is_test=False,
                non_blocking=False):
        mod = self._modifier
        if is_test or not isinstance(mod, DeviceWeightModifier) or mod.type == WeightModifierType.NONE:
            return super().forward(x_input, bias, in_trans, out_trans, is_test, non_blocking)
        w = self.weight
        wmax = w.abs().max().detach()
        if mod.res > 0:
            w = UniformQuantize.apply(w, mod.res, wmax, False)
        with torch.no_grad():
            noise = mod.std_dev * wmax * torch.randn_like(w)
            if mod.mult_std_dev > 0:
                noise += mod.mult_std_dev * w.detach() * torch.randn_like(w)
            if mod.range_std_dev > 0:  # straight-through: the gradient ignores the clip
                bound = wmax * (1.0 + mod.range_std_dev * torch.randn_like(w)).clamp_(min=0.0)
                wd = w.detach()
                noise += torch.maximum(torch.minimum(wd, bound), -bound) - wd
        return self._analog_mvm.matmul(w + noise, x_input, self._f_io, False, is_test=False,
                                       out_noise_values=self.out_noise_values)


# --------------------------------------------------------------------------- public API

def rpu_config(device: Any, options: AnalogOptions, *, hwat: bool) -> TorchInferenceRPUConfig:
    """aihwkit configuration for ``device`` (a ``DeviceFile``) under ``options``.

    ``hwat=True`` adds the device-derived training modifier; inference
    behaviour (noise model, I/O, drift compensation) is the same either way.
    """
    branch = branch_model(device, options.branch)
    cfg = TorchInferenceRPUConfig()
    cfg.simulator_tile_class = DeviceAwareTorchTile
    fwd = cfg.forward
    fwd.inp_res = converter_resolution(options.dac_bits)
    fwd.out_res = converter_resolution(options.adc_bits)
    fwd.inp_bound = 1.0
    fwd.out_bound = options.adc_full_scale
    fwd.out_noise = options.out_noise
    # The learned input range replaces per-sample noise management (a fixed DAC
    # range as on a chip), and the ADC clips rather than retrying (no bound management).
    fwd.noise_management = NoiseManagementType.NONE
    fwd.bound_management = BoundManagementType.NONE
    cfg.pre_post.input_range.enable = True
    cfg.pre_post.input_range.learn_input_range = True
    cfg.pre_post.input_range.init_from_data = 50
    cfg.mapping.max_input_size = options.tile_size
    cfg.mapping.max_output_size = options.tile_size
    cfg.mapping.digital_bias = True
    # Each column uses the full conductance range; its scale is applied digitally.
    cfg.mapping.weight_scaling_omega = 1.0
    cfg.mapping.weight_scaling_columnwise = True
    cfg.remap.type = WeightRemapType.CHANNELWISE_SYMMETRIC
    cfg.noise_model = DeviceNoiseModel(branch, options)
    cfg.drift_compensation = GlobalDriftCompensation() if options.drift_compensation else None
    if hwat:
        mod = DeviceWeightModifier()
        mod.type = WeightModifierType.DISCRETIZE
        mod.res = 1.0 / (2 * (branch.states - 1))  # 2*states-1 levels over ±max|w|
        mod.std_dev = options.hwat_noise_scale * weight_noise_std(branch)
        # open-loop D2D is a multiplicative weight error; write-verify's clips at short ranges
        open_loop = options.programming == "open_loop"
        mod.mult_std_dev = options.hwat_noise_scale * options.d2d_fraction * open_loop
        mod.range_std_dev = options.hwat_noise_scale * options.range_fraction * (not open_loop)
        cfg.modifier = mod
    return cfg


ANALOG_LAYERS = {torch.nn.Linear: AnalogLinear, torch.nn.Conv2d: AnalogConv2d}
"""The layers put on crossbars (the ones :func:`freeze` has a fast path for)."""


def to_analog(model: torch.nn.Module, device: Any, options: AnalogOptions, *, hwat: bool,
              digital_layers: tuple[str, ...] = (), inplace: bool = False) -> torch.nn.Module:
    """An analog copy of ``model`` (every Linear/Conv2d not named in ``digital_layers`` on crossbar
    tiles); ``model`` is untouched unless ``inplace``."""
    return convert_to_analog(model, rpu_config(device, options, hwat=hwat), conversion_map=ANALOG_LAYERS,
                             exclude_modules=list(digital_layers), inplace=inplace)


def _seeded():
    """Leave torch's global RNG (CPU and CUDA) as it was after a seeded draw."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    return torch.random.fork_rng(devices=devices)


@torch.no_grad()
def program(model: torch.nn.Module, seed: Optional[int] = None) -> None:
    """Draw every device's conductance once (C2C, D2D, stuck) and the drift exponents.

    Also sets aihwkit's drift-compensation baseline. ``seed`` defaults to the
    options' seed; torch's global RNG is left as it was.
    """
    seed = _noise_options(model).seed if seed is None else seed
    model.eval()
    with _seeded():
        torch.manual_seed(seed)
        model.program_analog_weights()


@torch.no_grad()
def drift_to(model: torch.nn.Module, t_s: float, seed: Optional[int] = None) -> None:
    """Set the weights to their state ``t_s`` seconds after programming (drift,
    read noise, and the compensation factor when compensation is on)."""
    options = _noise_options(model)
    t = check_drift_time(options.drift, t_s)
    model.eval()
    with _seeded():
        torch.manual_seed(options.seed if seed is None else seed)
        model.drift_analog_weights(t)


def _noise_options(model: torch.nn.Module) -> AnalogOptions:
    for tile in analog_tiles(model):
        return tile.rpu_config.noise_model.options
    raise ConfigError("model has no analog layers (convert it with to_analog first)")


def analog_tiles(model: torch.nn.Module):
    """Every aihwkit tile of ``model``, in module order."""
    for layer in model.analog_layers():
        yield from layer.analog_tiles()


def analog_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """aihwkit's AnalogSGD (momentum 0.9) for hardware-aware training of ``model``;
    it remaps the tiles' weights after every step."""
    from aihwkit.optim import AnalogSGD

    opt = AnalogSGD(model.parameters(), lr=lr, momentum=0.9)
    opt.regroup_param_groups(model)
    return opt


@torch.no_grad()
def calibrate_input_ranges(model: torch.nn.Module, batches) -> None:
    """Initialise input ranges from data (as aihwkit does in its first training
    batches) for a network that gets no hardware-aware training.

    Only the analog layers learn here: batch-norm layers stay in eval mode so
    their running statistics (from training) are not overwritten."""
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()


def _tile_blocks(layer) -> list[tuple[Any, int, int, int, int]]:
    """(tile, in_start, in_stop, out_start, out_stop) for an analog layer."""
    module = layer.analog_module
    if not hasattr(module, "array"):
        return [(module, 0, module.in_size, 0, module.out_size)]
    blocks = []
    in_start = 0
    for in_size, row in zip(module.in_sizes, module.array):
        out_start = 0
        for out_size, tile in zip(module.out_sizes, row):
            blocks.append((tile, in_start, in_start + in_size, out_start, out_start + out_size))
            out_start += out_size
        in_start += in_size
    return blocks


@torch.no_grad()
def _programmed_tile(tile, span: tuple[int, int, int, int]) -> ProgrammedTile:
    io = tile.rpu_config.forward
    noise_model = tile.rpu_config.noise_model
    weight = tile.tile.get_weights().detach().clone()
    dac_step = 2.0 * io.inp_bound * io.inp_res
    adc_step = 2.0 * io.out_bound * io.out_res
    scale = torch.full((weight.shape[0],), adc_step, dtype=weight.dtype, device=weight.device)
    r = float(tile.input_range.abs().item()) if tile.input_range is not None else 1.0
    scale = scale * r
    if tile.mapping_scales is not None:
        scale = scale * tile.get_mapping_scales().view(-1).to(scale)
    if tile.rpu_config.drift_compensation is not None:
        scale = scale * tile.alpha.view(-1).to(scale)
    if tile.out_scaling_alpha is not None:
        scale = scale * tile.out_scaling_alpha.view(-1).to(scale)
    ref = tile.reference_combined_weights
    absmax = float(ref.abs().max()) if ref is not None else float(weight.abs().max())
    branch = noise_model.branch
    return ProgrammedTile(
        in_start=span[0], in_stop=span[1], out_start=span[2], out_stop=span[3],
        weight=weight, weight_codes_T=(weight * (dac_step / adc_step)).T.contiguous(),
        input_range=r, dac_step=dac_step, dac_levels=math.floor(io.inp_bound / dac_step + 1e-6),
        adc_step=adc_step, adc_levels=math.floor(io.out_bound / adc_step + 1e-6),
        out_noise_codes=io.out_noise / adc_step, out_scale=scale,
        g_per_weight_S=branch.span_uS * 1e-6 / max(absmax, 1e-12),
        g_idle_S=branch.g_start_uS * 1e-6, g_direction=branch.direction)


@torch.no_grad()
def freeze(model: torch.nn.Module, mvm: Mvm = ideal_mvm, seed: int = 0,
           tile_transform: Optional[Callable[[ProgrammedTile], ProgrammedTile]] = None) -> torch.nn.Module:
    """A plain-torch copy of a programmed (and drifted) analog ``model`` for fast evaluation.

    Each aihwkit layer becomes a :class:`~.crossbar.ProgrammedLayer` (or
    ``ProgrammedConv2d``) holding its tiles' effective weights and folded
    scales. A non-ideal crossbar enters here, in one place: ``tile_transform``
    maps each programmed tile once (an IR-drop solve returning
    ``tile.with_weight(W_eff)``; a transform with a ``transform_tiles(tiles)``
    method gets each layer's tiles together), ``mvm`` replaces the per-batch crossbar
    product. ``seed`` seeds the per-read output noise.
    """
    model.eval()
    layers = list(model.named_analog_layers())
    # Copy everything but the aihwkit layers (their tiles are replaced anyway).
    memo = {id(layer): torch.nn.Identity() for _, layer in layers}
    out = copy.deepcopy(model, memo)
    for index, (name, layer) in enumerate(layers):
        tiles = [_programmed_tile(tile, tuple(span)) for tile, *span in _tile_blocks(layer)]
        if tile_transform is not None:  # a transform may take a layer's tiles together
            many = getattr(tile_transform, "transform_tiles", None)
            tiles = many(tiles) if many is not None else [tile_transform(t) for t in tiles]
        bias = _layer_bias(layer)
        in_size, out_size = layer.analog_module.in_size, layer.analog_module.out_size
        prog = ProgrammedLayer(tiles, in_size, out_size, bias, mvm=mvm, seed=seed * 1000 + index)
        if isinstance(layer, AnalogConv2d):
            prog = ProgrammedConv2d(prog, layer.in_channels, layer.kernel_size, layer.stride,
                                    layer.padding, layer.dilation)
        elif not isinstance(layer, AnalogLinear):
            raise ConfigError(f"layer {name} ({type(layer).__name__}) has no fast evaluation path")
        _set_submodule(out, name, prog)
    return _plain(out)


def _layer_bias(layer) -> Optional[torch.Tensor]:
    module = layer.analog_module
    bias = getattr(module, "bias", None)
    if bias is None and not hasattr(module, "array"):
        return None
    return None if bias is None else bias.detach().clone().view(-1)


def _set_submodule(root: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    if not name:
        raise ConfigError("the model itself is a single analog layer; wrap it in a Sequential")
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def _plain(model: torch.nn.Module) -> torch.nn.Module:
    """Swap aihwkit's AnalogSequential containers for torch.nn.Sequential (same children)."""
    from aihwkit.nn import AnalogSequential

    if isinstance(model, AnalogSequential):
        plain = torch.nn.Sequential()
        for name, child in model.named_children():
            plain.add_module(name, _plain(child))
        return plain
    for name, child in list(model.named_children()):
        setattr(model, name, _plain(child))
    return model


@torch.no_grad()
def analog_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Tensors that define a trained analog network: its digital weights and input ranges.

    Saved with ``torch.save`` and read with ``weights_only=True``; restore with
    :func:`load_analog_state` on a fresh ``to_analog`` copy of the same network.
    """
    state = {}
    for name, layer in model.named_analog_layers():
        weight, bias = layer.get_weights()
        state[f"{name}.weight"] = weight.detach().clone()
        if bias is not None:
            state[f"{name}.bias"] = bias.detach().clone()
        for i, tile in enumerate(layer.analog_tiles()):
            if tile.input_range is not None:
                state[f"{name}.input_range.{i}"] = tile.input_range.detach().clone().view(-1)
    return state


@torch.no_grad()
def load_analog_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`analog_state`."""
    for name, layer in model.named_analog_layers():
        layer.set_weights(state[f"{name}.weight"], state.get(f"{name}.bias"))
        for i, tile in enumerate(layer.analog_tiles()):
            key = f"{name}.input_range.{i}"
            if key in state and tile.input_range is not None:
                tile.input_range.data[:] = state[key].to(tile.input_range)
                tile.input_range_update_idx.data[:] = tile.rpu_config.pre_post.input_range.init_from_data
