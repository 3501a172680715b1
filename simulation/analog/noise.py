"""The device noise model: a device file's programming, drift and read noise as an aihwkit ``BaseNoiseModel``.

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
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from aihwkit.inference.converter.conductance import SinglePairConductanceConverter
from aihwkit.inference.noise.base import BaseNoiseModel
from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel

from memlab.drift_law import drift_factor
from memlab.errors import ConfigError
from memlab.simulation.analog.branch import BranchModel, drift_description
from memlab.simulation.analog.options import WAN2022_G_MAX_uS, AnalogOptions, check_drift_time


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
            self.wan_g_max_uS = WAN2022_G_MAX_uS if options.wan2022_scaling == "relative" else branch.span_uS
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
        b, ideal = self.branch, self.options.ideal
        n = self.pulses(g_target)
        # every random term is drawn, used or not: switching one off leaves the others' draws
        z_step, z_range = torch.randn_like(g_target), torch.randn_like(g_target)
        u_stuck = torch.rand(g_target.shape, device=g_target.device)
        z_sigma = torch.randn_like(g_target)
        step_factor = (1.0 + self.options.d2d_fraction * z_step).clamp_(min=0.05)
        wanted = (g_target - b.g_start_uS).clamp(min=0.0)
        if self.options.programming == "open_loop":
            mean = wanted if "states" in ideal else self._delta_mean.to(g_target.device)[n]
            change = step_factor * mean
            top = torch.full_like(g_target, b.delta_mean_uS[-1])
        else:
            top = b.span_uS * (1.0 + self.options.range_fraction * z_range).clamp_(min=0.0)
            step = b.step_uS * step_factor
            reached = wanted if "states" in ideal else torch.round(wanted / step) * step
            change = torch.minimum(reached, top)
        stuck = self.options.stuck_fraction
        low, high = u_stuck < stuck / 2, (u_stuck >= stuck / 2) & (u_stuck < stuck)
        change = torch.where(low, torch.zeros_like(change), torch.where(high, top, change))
        n = torch.where(low, torch.zeros_like(n), torch.where(high, torch.full_like(n, b.states - 1), n))
        level = b.g_start_uS + change
        if self.options.drift == "wan2022":
            self._levels.append(level)
        if "programming_sigma" in ideal:
            return level
        return level + self._sigma.to(g_target.device)[n] * z_sigma

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
        ideal = self.options.ideal
        g_abs = self._absolute(g_prog)
        if self.options.drift == "measured" and t > 0:
            drift = self.branch.drift
            z_read = torch.randn_like(g_abs)  # drawn either way (AnalogOptions.ideal)
            if "drift" not in ideal:
                g_abs = g_abs * drift_factor(t, drift_noise_param, drift.t0_s)
            if "read_noise" not in ideal:
                g_abs = g_abs + drift.read_noise_uS * z_read
        elif self.options.drift == "wan2022" and t > 0:
            drifted = self._absolute(self.wan2022_state(drift_noise_param, t))
            g_abs = g_abs if "drift" in ideal else drifted
        z_read = torch.randn_like(g_abs)
        if "read_noise" not in ideal:
            g_abs = g_abs * (1.0 + self.options.read_noise_fraction * z_read)
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
