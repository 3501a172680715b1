"""Synthetic pulse-cycling data with known truth, for the analysis tests."""

from __future__ import annotations

import numpy as np

from memlab.status import PointStatus

BW_S = 81e-6
SIGMA_S = 23.7e-6
V_READ = -0.1


def ladder(n_up: int = 20, bw: float = BW_S, g0: float = 1.0e-3) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless branch means: 2 small steps, n_up - 5 steps of bw, 3 small steps (16 linear states of 20)."""
    steps = np.array([20e-6, 30e-6] + [bw] * (n_up - 5) + [30e-6, 15e-6, 5e-6])
    up = g0 + np.cumsum(steps) - steps[0]
    down = up[-1] - (np.cumsum(steps) - steps[0])
    return up, down


def pulse_arrays(cycles: int = 60, sigma: float = SIGMA_S, seed: int = 0, n_up: int = 20, offset_S: float = 0.0):
    """(g_S truth, read_current_A, read_voltage_V, read_status) for a synthetic device."""
    rng = np.random.default_rng(seed)
    up, down = ladder(n_up, g0=1.0e-3 + offset_S)
    truth = np.concatenate([up, down])
    g = truth + rng.normal(0.0, sigma, (cycles, truth.size))
    v = np.full(g.shape, V_READ)
    return truth, g * v, v, np.zeros(g.shape, np.uint16)


def pulse_data(cycles: int = 60, sigma: float = SIGMA_S, seed: int = 0, waveform: bool = True,
               samples_per_pulse: int = 20, energy_pulse_J: float = 0.6e-9, flag_every: int = 0,
               offset_S: float = 0.0):
    """A PulseData (protocols.archive) with known truth; waveform energy exactly ``energy_pulse_J`` per pulse."""
    from memlab.protocols.archive import PulseData, WaveformData

    truth, i, v, status = pulse_arrays(cycles, sigma, seed, offset_S=offset_S)
    n = truth.size
    if flag_every:
        status.ravel()[::flag_every] = PointStatus.COMPLIANCE
        i.ravel()[::flag_every] = 1.0  # an absurd value that must never be used
    wf = None
    if waveform:
        # rectangular pulses of 1 V, 1 mA... scaled so that V*I*width = energy_pulse_J
        width = 200e-9
        dt = width / (samples_per_pulse - 1)
        t, idx = [], []
        for p in range(n):
            t0 = p * 1e-6
            t += list(t0 + dt * np.arange(samples_per_pulse)) + [t0 + 0.5e-6]
            idx += [p] * samples_per_pulse + [-1]
        t, idx = np.array(t), np.array(idx)
        volt = np.where(idx >= 0, 1.0, 0.0)
        cur = np.where(idx >= 0, energy_pulse_J / width, 0.0)
        wf = WaveformData(t, np.tile(volt, (cycles, 1)), np.tile(cur, (cycles, 1)), idx, True)
    amps = np.concatenate([np.linspace(0.7, 0.995, n // 2), -np.linspace(0.7, 0.995, n // 2)])
    widths = np.concatenate([np.linspace(160e-9, 350e-9, n // 2)] * 2)
    read_t = np.arange(cycles * n, dtype=float).reshape(cycles, n) * 1e-4
    return truth, PulseData(n // 2, n // 2, amps, widths, read_t, v, i, status, None, wf)
