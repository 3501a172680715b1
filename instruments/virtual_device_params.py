"""Parameters of the virtual memristor, its population, and the ideal device.

Every variability effect of :class:`VirtualDeviceParams` is one field (or one
pair) whose zero switches it off; :meth:`VirtualDeviceParams.ideal` is the
device memlab shipped before the effects existed (equal steps, a hard bound,
noise that grows with the state), kept as the reference that the effects are
measured against. The defaults are *fitted* to the reference paper
(``shared/reference/paper.txt``, section 2 and Fig. 2) by
``benchmarks/virtual_device.py --fit``; the fit and its targets are in that
file, the physics in :mod:`memlab.instruments.virtual_device`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError


def named_rng(name: str, *keys: int) -> np.random.Generator:
    """A generator seeded by ``name`` (hashed) and integer ``keys``: one stream per named purpose."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng([digest, *(int(k) for k in keys)])


@dataclass(frozen=True)
class VirtualDeviceParams:
    """Parameters of the virtual memristor (SI units in every name; bare names are dimensionless).

    Defaults: the nominal device, fitted to the paper (module docstring).
    Each variability effect is off at 0 (``ideal()`` turns them all off).
    """

    # --- conduction --------------------------------------------------------------------
    g_off_S: float = 0.001592
    """Conductance at x = 0 (small signal, at the read voltage)."""
    g_on_S: float = 0.002892
    """Conductance at x = 1."""
    v_nonlinear_V: float = 0.7
    """Scale of the sinh I-V non-linearity: I = G V [1 + h (sinh(V/v)/(V/v) - 1)]; at 0.85 V
    the current is 27 % above ohmic, at the -0.1 V read 0.3 %."""
    high_field_wander_rel_std: float = 0.2113
    """Cycle-to-cycle log-normal spread of h, the high-field (non-ohmic) part of the current.
    The paper's energy spread (1.26 of 23.74 nJ, 5.3 %) is five times its relative state sigma
    (23.7 uS of ~2.5 mS, < 1 %): what changes the energy from cycle to cycle must be nearly
    invisible to the -0.1 V read, as a trap-assisted tunnelling current is. 0 = off."""
    # --- switching ---------------------------------------------------------------------
    v_threshold_V: float = 0.45
    """No state change below this |V| (a -0.1 V read never disturbs the state)."""
    v_slope_V: float = 0.2011
    """Exponential slope of the switching rate with |V|."""
    rate0_per_s: float = 1.479e+05
    """Switching-rate prefactor (potentiation)."""
    depression_rate_ratio: float = 0.9565
    """Depression rate / potentiation rate at equal |V|: the paper's small P/D asymmetry
    (bin widths 80.520 / 81.077 uS, slope ratio 0.993). 1 = symmetric."""
    window_decay: float = 0.8652
    """beta in the update window exp(-beta d): each step raises the barrier for the next."""
    window_knee: float = 0.5935
    """d_c in 1 / (1 + d / d_c): updates slow as the filament grows."""
    saturation_exponent: float = 49.45
    """q in (1 - d**q): the hard bound at the far end of the state variable."""
    # --- variability effects (0 = off) ---------------------------------------------------
    step_roughness: float = 0.1314
    """Uneven steps: relative RMS of a fixed, smooth random texture of the update window along the
    state variable (a rough energy landscape), drawn per device from its device seed. It is what
    brings R^2 of the 16 state means from 0.99999 down to the paper's ~0.999."""
    start_compression: float = 0.2012
    """Gradual compression leaving a bound: the window is scaled by 1 - a exp(-d / w) at a
    distance d from the bound the branch starts at (a = this, w = ``compression_width``)."""
    end_compression: float = 0.4322
    """Gradual compression approaching the far bound: 1 - a exp(-(1 - d) / w)."""
    compression_width: float = 0.08531
    """w of both compressions, in units of the state variable."""
    c2c_rel_std: float = 0.03
    """Relative cycle-to-cycle noise of each pulse's update (accumulates along a branch)."""
    program_noise_std_S: float = 2.143e-05
    """Scatter of the conductance of each programmed state: a fresh filament configuration per
    pulse, which does not feed the next update (so sigma is flat across states, as in Fig. 2f)."""
    read_noise_std_S: float = 3.0e-6
    """Read noise per read (1/f and random telegraph lumped), absolute: it does not grow with G."""
    read_noise_rel_std: float = 0.0
    """White relative read noise per sample (the ideal device's, growing with G)."""
    window_wander_rel_std: float = 0.003
    """Cycle-to-cycle wander of the whole window: g_off and g_on scale together by 1 + N(0, s),
    drawn at the start of every potentiation train that follows a depression train."""
    failed_pulse_probability: float = 3.0e-5
    """Probability that a programming pulse does not switch at all (a failed pulse)."""
    stuck_pulses_mean: float = 1.5
    """Mean length, in pulses, of a failure: once a pulse fails, the next pulses stay stuck with
    probability 1 - 1/mean each (1 = isolated failed pulses)."""
    wear_rel_per_pulse: float = 1.0e-6
    """Slow wear: the window (g_on - g_off) shrinks about its centre by this fraction per
    programming pulse (0.4 % over the paper's 100 cycles; halves after ~7e5 pulses)."""
    # --- retention -----------------------------------------------------------------------
    nu_mean: float = 0.002
    """Mean power-law drift exponent: G(t) = G_p (1 + t/t0)^-nu. 2 % at 1000 s, within the
    paper's "< 3 % drift across the whole range" over its measured span."""
    nu_std: float = 0.0005
    """Spread of the drift exponent between programming events."""
    drift_t0_s: float = 1.0
    """Time constant of the power law."""
    initial_state: float = 0.0
    """State of a fresh device (x): the depressed bound, where every cycle of the tailored scheme
    ends, so the first measured cycle is like the others."""
    # --- population (device_seed != 0), documented spreads ---------------------------------
    d2d_rate_rel_std: float = 0.10
    """Log-normal spread of rate0 between devices (step size)."""
    d2d_g_rel_std: float = 0.05
    """Log-normal spread of g_off and, independently, of the range g_on - g_off."""
    d2d_nu_rel_std: float = 0.30
    """Log-normal spread of nu_mean between devices (drift)."""

    def __post_init__(self) -> None:
        positive = ("g_off_S", "g_on_S", "v_nonlinear_V", "v_slope_V", "rate0_per_s", "depression_rate_ratio",
                    "saturation_exponent", "drift_t0_s", "window_knee", "compression_width", "stuck_pulses_mean")
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"VirtualDeviceParams.{name}={value!r}: must be a positive finite number")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name not in positive and not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"VirtualDeviceParams.{f.name}={value!r}: must be finite and >= 0")
        if self.g_on_S <= self.g_off_S:
            raise ConfigError(f"VirtualDeviceParams.g_on_S={self.g_on_S!r}: must exceed g_off_S={self.g_off_S!r}")
        for name in ("initial_state", "failed_pulse_probability", "start_compression", "end_compression"):
            if getattr(self, name) > 1.0:
                raise ConfigError(f"VirtualDeviceParams.{name}={getattr(self, name)!r}: must lie in [0, 1]")
        if self.stuck_pulses_mean < 1.0:
            raise ConfigError(f"VirtualDeviceParams.stuck_pulses_mean={self.stuck_pulses_mean!r}: must be >= 1")

    @classmethod
    def ideal(cls) -> "VirtualDeviceParams":
        """The device memlab had before the variability effects: every effect off, and the
        switching and conduction parameters it was fitted with (15 equal 81.077 uS steps,
        16.5 % relative update noise, 0.1 % relative read noise)."""
        return cls(g_off_S=1.928e-3, g_on_S=3.261e-3, v_nonlinear_V=1.0, high_field_wander_rel_std=0.0,
                   v_slope_V=0.2086, rate0_per_s=1.697e5, window_decay=0.856, window_knee=0.469,
                   saturation_exponent=49.45,
                   depression_rate_ratio=1.0, step_roughness=0.0, start_compression=0.0, end_compression=0.0,
                   c2c_rel_std=0.156, program_noise_std_S=0.0, read_noise_std_S=0.0, read_noise_rel_std=1.0e-3,
                   window_wander_rel_std=0.0, failed_pulse_probability=0.0, wear_rel_per_pulse=0.0,
                   initial_state=0.12, nu_mean=0.003, nu_std=0.001, d2d_nu_rel_std=0.0)

    def for_device(self, device_seed: int) -> "VirtualDeviceParams":
        """One device of the population: seed 0 is the nominal device (these parameters)."""
        if device_seed == 0:
            return self
        rng = named_rng("virtual-device-population", device_seed)
        g_off = self.g_off_S * float(np.exp(rng.normal(0.0, self.d2d_g_rel_std)))
        span = (self.g_on_S - self.g_off_S) * float(np.exp(rng.normal(0.0, self.d2d_g_rel_std)))
        return dataclasses.replace(
            self, g_off_S=g_off, g_on_S=g_off + span,
            rate0_per_s=self.rate0_per_s * float(np.exp(rng.normal(0.0, self.d2d_rate_rel_std))),
            nu_mean=self.nu_mean * float(np.exp(rng.normal(0.0, self.d2d_nu_rel_std))),
        )
