"""The virtual memristor: a seeded stochastic model of one bipolar resistive memory.

The simulated WGFMU and B1500A drive this model so that every protocol,
archive and analysis path runs without hardware. It is calibrated to the
reference device (HfOxSy/HfS2, ``shared/reference/paper.txt``): under the
paper's tailored scheme (20 up + 20 down pulses, 0.7 -> 0.995 V and
160 -> 350 ns, -0.1 V / 30 us reads) it gives 16 usable states per branch with
~81 uS steps, R^2 ~0.999, a flat ~23.7 uS cycle-to-cycle sigma per state and
23.7 +- 1.3 nJ per cycle. ``benchmarks/virtual_device.py`` measures that through
measure -> archive -> analyze and prints it beside the paper's numbers; the
parameters and their defaults are in :mod:`memlab.instruments.virtual_device_params`.

Model
-----
State ``x`` in [0, 1]. Programmed conductance (``g_lo``/``g_hi``: the window
after wear and this cycle's wander, ``eta``: this pulse's configuration scatter)::

    G_p = g_lo + (g_hi - g_lo) x + eta,     G(t) = G_p (1 + t / t0) ** -nu

Current, with ``h`` the cycle's high-field conduction factor (log-normal around 1)
and ``dG`` the read noise of this read (absolute, independent of the state)::

    I(V) = (G + dG) V [1 + h (sinh(V / v_nl) / (V / v_nl) - 1)]

Switching: above ``v_threshold_V`` a bias drives ``x`` with a rate that grows
exponentially with |V| (ion hopping over a field-lowered barrier)::

    rate(V)  = rate0 * (exp((|V| - v_th) / v_slope) - 1)     [1/s], 0 below v_th
    exposure = integral of rate over the applied segment
    window(d) = exp(-beta d) / (1 + d / d_c) * (1 - d**q)            d = distance from the start bound
                * (1 - a_s exp(-d / w)) * (1 - a_e exp(-(1 - d) / w))  compression near both ends
                * (1 + r T(x))                                         uneven steps (fixed texture)
    dx = +window(x)     * (1 - exp(-exposure))           * (1 + c2c N)   for V > 0 (potentiation)
    dx = -window(1 - x) * (1 - exp(-exposure * ratio))   * (1 + c2c N)   for V < 0 (depression)

``T`` is a smooth random function of the state (unit RMS, a sum of sines
with phases from the device seed): the device's own uneven steps. The growing
pulses of the tailored scheme compensate the window's decay, so 16 steps per
branch are nearly linear; the compressions shorten the steps gradually at both
ends, after which the state saturates: the analysis finds 16 states out of 20.

Pulses: a pulse is a run of segments above threshold. At its first segment
the model draws its update noise, its configuration scatter ``eta``, whether
it fails (a failed pulse starts a stuck run of geometric length), counts it for
wear, and, when a potentiation pulse follows a depression pulse, draws the
new cycle's window wander and ``h``. Every random draw comes from its own
named stream, so switching one effect off does not reshuffle the others.

Device-to-device: ``device_seed=0`` is the calibrated nominal device; any
other seed draws one device of the population (see ``for_device``) and its
own step texture. Retention: after each pulse the conductance relaxes as the
law above (memlab's one drift law, :mod:`memlab.drift_law`, which analysis fits and the
simulation applies) with ``nu`` drawn per pulse from N(nu_mean, nu_std) (clipped
at 0); the next pulse starts from the relaxed state.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from memlab.drift_law import drift_factor
from memlab.errors import ConfigError
from memlab.instruments.virtual_device_params import VirtualDeviceParams, named_rng

__all__ = ["VirtualDeviceParams", "VirtualMemristor"]

_RAMP_POINTS = 9  # trapezoid points for the switching exposure of a voltage ramp
_TEXTURE_FREQUENCIES = np.array([2.0, 3.0, 4.5, 6.0, 8.0, 11.0])  # cycles per unit of x
_STREAMS = ("update", "program", "read", "fail", "cycle", "drift", "white")


def _texture(device_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(amplitudes, phases) of the unit-RMS step texture T(x) of one device."""
    rng = named_rng("virtual-device-step-texture", device_seed)
    amps = rng.normal(0.0, 1.0, _TEXTURE_FREQUENCIES.size) / _TEXTURE_FREQUENCIES**0.5
    phases = rng.uniform(0.0, 2 * math.pi, _TEXTURE_FREQUENCIES.size)
    x = np.linspace(0.0, 1.0, 1001)
    t = np.sin(2 * math.pi * np.outer(x, _TEXTURE_FREQUENCIES) + phases) @ amps
    return amps / float(np.sqrt(np.mean(t**2))), phases


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
        self._rng = {name: named_rng(f"virtual-device-{name}", seed, device_seed) for name in _STREAMS}
        self._texture = _texture(self.device_seed)
        self._x = self.params.initial_state
        self.elapsed_s = 0.0
        self._programmed_at_s = 0.0
        self._nu = self._draw_nu()
        self._eta_S = 0.0
        self._wander = 0.0
        self._high_field = 1.0
        self._pulses = 0
        self._stuck_left = 0
        self._in_pulse = False
        self._pulse_noise = 1.0
        self._pulse_failed = False
        self._last_polarity = -1  # a fresh device counts as depressed: its first potentiation opens a cycle

    # --- state ---------------------------------------------------------------------
    def _window_S(self) -> tuple[float, float]:
        """(g_lo, g_hi): the conductance window after wear and this cycle's wander."""
        p = self.params
        centre, half = (p.g_on_S + p.g_off_S) / 2, (p.g_on_S - p.g_off_S) / 2
        half *= math.exp(-p.wear_rel_per_pulse * self._pulses)
        scale = 1.0 + self._wander
        return (centre - half) * scale, (centre + half) * scale

    def _drift_factor(self) -> float:
        """G(t)/G(0) of memlab's one drift law (:mod:`memlab.drift_law`), t = time since programming."""
        return drift_factor(self.elapsed_s - self._programmed_at_s, self._nu, self.params.drift_t0_s)

    @property
    def state(self) -> float:
        """Present state x in [0, 1] (configuration scatter excluded), drift included."""
        lo, hi = self._window_S()
        return ((lo + (hi - lo) * self._x) * self._drift_factor() - lo) / (hi - lo)

    @property
    def conductance_S(self) -> float:
        """Small-signal conductance now without read noise: programmed state, scatter and relaxation."""
        lo, hi = self._window_S()
        return (lo + (hi - lo) * self._x + self._eta_S) * self._drift_factor()

    def _draw_nu(self) -> float:
        return max(0.0, float(self._rng["drift"].normal(self.params.nu_mean, self.params.nu_std)))

    # --- electrical ----------------------------------------------------------------
    def current_A(self, voltage_V):
        """Current for ``voltage_V`` (scalar or array: the samples of one read) with read noise."""
        p = self.params
        v = np.asarray(voltage_V, dtype=float)
        u = v / p.v_nonlinear_V
        with np.errstate(invalid="ignore", divide="ignore"):
            excess = np.where(np.abs(u) > 1e-6, np.sinh(u) / np.where(u == 0, 1.0, u) - 1.0, u * u / 6)
        g = self.conductance_S + p.read_noise_std_S * float(self._rng["read"].standard_normal())
        ideal = g * v * (1.0 + self._high_field * excess)
        if p.read_noise_rel_std:
            ideal = ideal * (1.0 + p.read_noise_rel_std * self._rng["white"].standard_normal(v.shape))
        return float(ideal) if ideal.ndim == 0 else ideal

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

    def _window(self, distance: float, x: float) -> float:
        """Update window at ``distance`` from the branch's starting bound, state ``x``."""
        p = self.params
        w = (math.exp(-p.window_decay * distance) / (1.0 + distance / p.window_knee)
             * (1.0 - distance**p.saturation_exponent))
        w *= 1.0 - p.start_compression * math.exp(-distance / p.compression_width)
        w *= 1.0 - p.end_compression * math.exp(-(1.0 - distance) / p.compression_width)
        if p.step_roughness:
            amps, phases = self._texture
            texture = float(np.sin(2 * math.pi * _TEXTURE_FREQUENCIES * x + phases) @ amps)
            w *= max(0.0, 1.0 + p.step_roughness * texture)
        return w

    def _start_pulse(self, polarity: int) -> None:
        """The random draws of a new pulse (and of a new cycle, when it opens one)."""
        p = self.params
        self._in_pulse = True
        self._pulses += 1
        self._pulse_noise = 1.0 + p.c2c_rel_std * float(self._rng["update"].standard_normal())
        u = float(self._rng["fail"].random())
        if self._stuck_left > 0:
            self._stuck_left -= 1
            self._pulse_failed = True
        elif u < p.failed_pulse_probability:
            self._pulse_failed = True
            self._stuck_left = int(self._rng["fail"].geometric(1.0 / p.stuck_pulses_mean)) - 1
        else:
            self._pulse_failed = False
        if polarity > 0 and self._last_polarity < 0:  # a new cycle: the whole window wanders
            self._wander = p.window_wander_rel_std * float(self._rng["cycle"].standard_normal())
            s = p.high_field_wander_rel_std
            self._high_field = math.exp(s * float(self._rng["cycle"].standard_normal()) - s * s / 2)
        self._last_polarity = polarity

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
            polarity = 1 if v_start_V + v_end_V >= 0 else -1
            exposure = self._exposure(v_start_V, v_end_V, duration_s)
            if exposure > 0:
                lo, hi = self._window_S()
                x = ((lo + (hi - lo) * self._x) * self._drift_factor() - lo) / (hi - lo)  # relaxation baked in
                x = min(max(x, 0.0), 1.0)
                if not self._in_pulse:
                    self._start_pulse(polarity)
                if not self._pulse_failed:
                    if polarity > 0:
                        dx = self._window(x, x) * -math.expm1(-exposure)
                    else:
                        dx = -self._window(1.0 - x, x) * -math.expm1(-exposure * p.depression_rate_ratio)
                    x = min(max(x + dx * self._pulse_noise, 0.0), 1.0)
                    self._eta_S = p.program_noise_std_S * float(self._rng["program"].standard_normal())
                    self._nu = self._draw_nu()
                # a failed pulse leaves the state where it had relaxed to and restarts its clock
                self._x = x
                self._programmed_at_s = self.elapsed_s + duration_s
        else:
            self._in_pulse = False
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
