"""The virtual memristor: a seeded stochastic model of one bipolar resistive memory.

The simulated WGFMU and B1500A drive this model so that every protocol,
archive and analysis path runs without hardware. It is calibrated to the
reference device (HfOxSy/HfS2, ``shared/reference/paper.txt``): under the
paper's tailored scheme (20 up + 20 down pulses, 0.7 -> 0.995 V and
160 -> 350 ns, -0.1 V / 30 us reads) it gives 16 usable states per branch with
~81 uS steps, ~23.7 uS cycle-to-cycle sigma per state and ~23.7 nJ per cycle.
``benchmarks/virtual_device.py`` prints the calibration table.

Model
-----
State ``x`` in [0, 1]; small-signal conductance ``G = g_off + (g_on - g_off) x``.

Current (mild non-ohmic conduction, as in tunnelling/hopping oxides)::

    I(V) = G * v_nl * sinh(V / v_nl) * (1 + read_noise * N(0, 1))

Switching: above the threshold ``v_threshold_V`` a bias drives ``x`` with a rate
that grows exponentially with |V| (ion hopping over a field-lowered barrier)::

    rate(V)  = rate0 * (exp((|V| - v_th) / v_slope) - 1)     [1/s], 0 below v_th
    exposure = integral of rate over the applied segment     (exact for flat tops)
    window(d) = exp(-beta d) / (1 + d / d_c) * (1 - d**q)    d = distance from the start bound
    dx = +window(x)     * (1 - exp(-exposure))               for V > 0 (potentiation)
    dx = -window(1 - x) * (1 - exp(-exposure * ratio))       for V < 0 (depression)

The window makes each step harder than the last (the ``1/(1 + d/d_c)`` term
is what a growing pulse width compensates, the ``exp(-beta d)`` term what a
growing amplitude compensates), and ``1 - d**q`` is the hard bound. So
identical pulses give the familiar saturating, non-linear update, while the
tailored scheme's growing pulses give a linear one for 16 reads per branch,
after which the state saturates at its bound: the analysis' window selection
finds 16 states out of 20, as in the paper.

Cycle-to-cycle noise multiplies each update: ``dx * (1 + c2c_rel_std * N(0,1))``.
Device-to-device variation: ``device_seed=0`` is the calibrated nominal device;
any other seed draws one device of a population with log-normal spreads of
``rate0`` (``d2d_rate_rel_std``) and of ``g_on``/``g_off`` (``d2d_g_rel_std``).

Retention: after each programming event the conductance relaxes as a power
law ``G(t) = G_p * (1 + t / t0) ** -nu`` with ``nu`` drawn per programming event
from N(nu_mean, nu_std) (clipped at 0); the next programming event starts from
the relaxed value. The paper reports < 3 % drift over its retention span.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError


@dataclass(frozen=True)
class VirtualDeviceParams:
    """Parameters of the virtual memristor (SI units in every name).

    Defaults are calibrated to the reference paper's device under its tailored
    scheme (see module docstring and ``benchmarks/virtual_device.py``).
    """

    # g_off_S .. saturation_exponent were fitted together by least squares
    # (``benchmarks/virtual_device.py --fit``): 15 equal steps of 81.077 uS per
    # branch, the following steps below 2 sigma, and 23.74 nJ per cycle
    # (paper's Fig. 2 and text); c2c_rel_std was then set for 23.7 uS per state.
    g_off_S: float = 1.928e-3
    """Conductance at x = 0 (small signal, at the read voltage)."""
    g_on_S: float = 3.261e-3
    """Conductance at x = 1."""
    v_nonlinear_V: float = 1.0
    """Scale of the sinh I-V non-linearity: I = G v_nl sinh(V/v_nl); at 1 V the
    current is 17.5 % above ohmic (mild, as for the compliance-free device)."""
    v_threshold_V: float = 0.45
    """No state change below this |V| (a -0.1 V read never disturbs the state)."""
    v_slope_V: float = 0.2086
    """Exponential slope of the switching rate with |V|."""
    rate0_per_s: float = 1.697e5
    """Switching-rate prefactor (potentiation)."""
    depression_rate_ratio: float = 1.0
    """Depression rate / potentiation rate at equal |V| (1 = symmetric)."""
    window_decay: float = 0.856
    """beta in the update window exp(-beta x): each step raises the barrier for the next."""
    window_knee: float = 0.469
    """d_c in 1 / (1 + x / d_c): updates slow as the filament grows."""
    saturation_exponent: float = 49.45
    """q in (1 - x**q): hard saturation as the state reaches its bound."""
    c2c_rel_std: float = 0.156
    """Relative cycle-to-cycle noise of each update (gives ~23.7 uS per state)."""
    read_noise_rel_std: float = 1.0e-3
    """Relative device read noise (1/f and RTN lumped), per read."""
    nu_mean: float = 0.003
    """Mean power-law drift exponent (paper: < 3 % drift over its span)."""
    nu_std: float = 0.001
    """Spread of the drift exponent between programming events."""
    drift_t0_s: float = 1.0
    """Time constant of the power law G(t) = G_p (1 + t/t0)^-nu."""
    initial_state: float = 0.12
    """State of a fresh device (x); near the depressed end of the cycle."""
    d2d_rate_rel_std: float = 0.10
    """Device-to-device log-normal spread of rate0 (for device_seed != 0)."""
    d2d_g_rel_std: float = 0.05
    """Device-to-device log-normal spread of g_on and g_off (device_seed != 0)."""

    def __post_init__(self) -> None:
        positive = ("g_off_S", "g_on_S", "v_nonlinear_V", "v_slope_V", "rate0_per_s",
                    "depression_rate_ratio", "saturation_exponent", "drift_t0_s", "window_knee")
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"VirtualDeviceParams.{name}={value!r}: must be a positive finite number")
        for name in ("v_threshold_V", "window_decay", "c2c_rel_std", "read_noise_rel_std", "nu_mean", "nu_std",
                     "d2d_rate_rel_std", "d2d_g_rel_std"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"VirtualDeviceParams.{name}={value!r}: must be finite and >= 0")
        if self.g_on_S <= self.g_off_S:
            raise ConfigError(f"VirtualDeviceParams.g_on_S={self.g_on_S!r}: must exceed g_off_S={self.g_off_S!r}")
        if not 0.0 <= self.initial_state <= 1.0:
            raise ConfigError(f"VirtualDeviceParams.initial_state={self.initial_state!r}: must lie in [0, 1]")

    def for_device(self, device_seed: int) -> "VirtualDeviceParams":
        """One device of the population: seed 0 is the nominal device."""
        if device_seed == 0:
            return self
        rng = np.random.default_rng([0xD2D, int(device_seed)])
        g_scale = float(np.exp(rng.normal(0.0, self.d2d_g_rel_std)))
        return dataclasses.replace(
            self,
            g_off_S=self.g_off_S * g_scale,
            g_on_S=self.g_on_S * g_scale * float(np.exp(rng.normal(0.0, self.d2d_g_rel_std))),
            rate0_per_s=self.rate0_per_s * float(np.exp(rng.normal(0.0, self.d2d_rate_rel_std))),
        )


def _window(distance: float, p: VirtualDeviceParams) -> float:
    """Update window for a state ``distance`` from the starting bound (0..1)."""
    return (math.exp(-p.window_decay * distance) / (1.0 + distance / p.window_knee)
            * (1.0 - distance**p.saturation_exponent))


_RAMP_POINTS = 9  # trapezoid points for the switching exposure of a voltage ramp


class VirtualMemristor:
    """One simulated bipolar memristor, reproducible for a given (device_seed, seed).

    ``device_seed`` picks the device of the population (0 = nominal), ``seed``
    the cycle-to-cycle and read noise of this particular run.
    """

    def __init__(self, params: VirtualDeviceParams | None = None, device_seed: int = 0, seed: int = 0) -> None:
        self.nominal_params = params or VirtualDeviceParams()
        self.params = self.nominal_params.for_device(device_seed)
        self.device_seed = int(device_seed)
        self.seed = int(seed)
        self._rng = np.random.default_rng([int(seed), int(device_seed)])
        self._x = self.params.initial_state
        self.elapsed_s = 0.0
        self._programmed_at_s = 0.0
        self._nu = self._draw_nu()

    # --- state ---------------------------------------------------------------------
    @property
    def state(self) -> float:
        """Present state x in [0, 1], drift included."""
        p = self.params
        return (self.conductance_S - p.g_off_S) / (p.g_on_S - p.g_off_S)

    @property
    def conductance_S(self) -> float:
        """Noiseless small-signal conductance now, relaxation since programming included."""
        p = self.params
        g_programmed = p.g_off_S + (p.g_on_S - p.g_off_S) * self._x
        age_s = self.elapsed_s - self._programmed_at_s
        return g_programmed * (1.0 + age_s / p.drift_t0_s) ** (-self._nu)

    def _draw_nu(self) -> float:
        return max(0.0, float(self._rng.normal(self.params.nu_mean, self.params.nu_std)))

    # --- electrical ----------------------------------------------------------------
    def current_A(self, voltage_V):
        """Current for ``voltage_V`` (scalar or array) at the present state, with read noise."""
        p = self.params
        v = np.asarray(voltage_V, dtype=float)
        ideal = self.conductance_S * p.v_nonlinear_V * np.sinh(v / p.v_nonlinear_V)
        noisy = ideal * (1.0 + p.read_noise_rel_std * self._rng.standard_normal(v.shape))
        return float(noisy) if noisy.ndim == 0 else noisy

    def _rate_per_s(self, magnitude_V: np.ndarray) -> np.ndarray:
        p = self.params
        over = np.maximum(magnitude_V - p.v_threshold_V, 0.0)
        return p.rate0_per_s * np.expm1(over / p.v_slope_V)

    def _exposure(self, v_start_V: float, v_end_V: float, duration_s: float) -> float:
        """Integral of the switching rate over a linear ramp (dimensionless)."""
        if v_start_V == v_end_V:
            return float(self._rate_per_s(np.array(abs(v_start_V)))) * duration_s
        v = np.linspace(v_start_V, v_end_V, _RAMP_POINTS)
        # A ramp through 0 V switches in both directions; count only the dominant polarity.
        return float(np.trapezoid(self._rate_per_s(np.abs(v)), dx=duration_s / (_RAMP_POINTS - 1)))

    def apply_segment(self, v_start_V: float, v_end_V: float, duration_s: float) -> None:
        """Apply a linear voltage ramp from ``v_start_V`` to ``v_end_V`` over ``duration_s``.

        Advances the device clock; changes the state only where |V| exceeds the
        threshold. Call once per waveform vector, in order.
        """
        if duration_s < 0 or not math.isfinite(duration_s):
            raise ConfigError(f"duration_s={duration_s!r}: must be finite and >= 0")
        p = self.params
        peak = max(abs(v_start_V), abs(v_end_V))
        if peak > p.v_threshold_V and duration_s > 0:
            polarity = v_start_V + v_end_V
            exposure = self._exposure(v_start_V, v_end_V, duration_s)
            if exposure > 0:
                x = (self.conductance_S - p.g_off_S) / (p.g_on_S - p.g_off_S)  # relaxation baked in
                x = min(max(x, 0.0), 1.0)
                if polarity >= 0:
                    dx = _window(x, p) * -math.expm1(-exposure)
                else:
                    dx = -_window(1.0 - x, p) * -math.expm1(-exposure * p.depression_rate_ratio)
                dx *= 1.0 + p.c2c_rel_std * float(self._rng.standard_normal())
                self._x = min(max(x + dx, 0.0), 1.0)
                self._programmed_at_s = self.elapsed_s + duration_s
                self._nu = self._draw_nu()
        self.elapsed_s += duration_s

    def relax(self, duration_s: float) -> None:
        """Let ``duration_s`` pass with no bias (retention)."""
        self.apply_segment(0.0, 0.0, duration_s)

    def snapshot(self) -> dict:
        """Parameters and seeds, for the run archive's instrument snapshot."""
        return {
            "model": "memlab.virtual_device.VirtualMemristor",
            "device_seed": self.device_seed,
            "seed": self.seed,
            "nominal_params": dataclasses.asdict(self.nominal_params),
            "device_params": dataclasses.asdict(self.params),
        }
