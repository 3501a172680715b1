"""The measured branch in aihwkit's units (µS): what the noise model and the HWAT modifier read.

torch only (no aihwkit): :func:`branch_model` extracts from a ``DeviceFile`` the
numbers :class:`~.noise.DeviceNoiseModel` draws from, :class:`MeasuredDrift` is
the device file's drift block, and :func:`drift_description` names the drift
model a results file carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from memlab.drift_law import LAW as DRIFT_LAW
from memlab.errors import ConfigError
from memlab.simulation.analog.options import BRANCHES, WAN2022_G_MAX_uS, WAN2022_TIMES_S, AnalogOptions, check_choice


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
    check_choice("branch", branch, BRANCHES)
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


def drift_description(branch: BranchModel, options: AnalogOptions) -> dict[str, Any]:
    """The drift model and its parameters, as a results file names them."""
    if options.drift == "measured":
        d = branch.drift
        return {"model": "measured", "law": DRIFT_LAW, "t0_s": d.t0_s, "nu_mean": d.nu_mean,
                "nu_slope_per_uS": d.nu_slope_per_uS, "nu_spread": d.nu_spread,
                "read_noise_uS": d.read_noise_uS, "source": "device file drift block (retention runs)"}
    if options.drift == "wan2022":
        g_max = WAN2022_G_MAX_uS if options.wan2022_scaling == "relative" else branch.span_uS
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
