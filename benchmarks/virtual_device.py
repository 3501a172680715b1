"""Calibration table of the virtual memristor under the paper's tailored scheme.

Drives ``VirtualMemristor`` directly (no instrument layer) with the reference
paper's protocol: 20 up + 20 down pulses ramping 0.7 -> 0.995 V and
160 -> 350 ns (10 ns rise/fall), each followed 20 us later by a -0.1 V, 30 us
read; 100 cycles. Prints target vs obtained, then a RESULT line.

    .venv/bin/python benchmarks/virtual_device.py [--cycles 100] [--device-seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from memlab.errors import ConfigError
from memlab.instruments.virtual_device import VirtualDeviceParams, VirtualMemristor

N_PULSES = 20
AMPLITUDES_V = np.linspace(0.7, 0.995, N_PULSES)
WIDTHS_S = np.linspace(160e-9, 350e-9, N_PULSES)
EDGE_S = 10e-9
READ_V, READ_WIDTH_S, READ_DELAY_S = -0.1, 30e-6, 20e-6
DT_S = 10e-9  # WGFMU sampling grid for the energy integral


def pulse_energy_J(device: VirtualMemristor, amplitude_V: float, width_s: float) -> float:
    """Apply one trapezoidal pulse and return its energy, integral of V*I over the pulse."""
    energy = 0.0
    for v0, v1, dur in ((0.0, amplitude_V, EDGE_S), (amplitude_V, amplitude_V, width_s), (amplitude_V, 0.0, EDGE_S)):
        n = max(1, round(dur / DT_S))
        v = np.linspace(v0, v1, n + 1)[1:]
        energy += float(np.sum(v * device.current_A(v)) * DT_S)
        device.apply_segment(v0, v1, dur)
    return energy


def run_tailored(device: VirtualMemristor, cycles: int) -> tuple[np.ndarray, np.ndarray]:
    """Conductance read after every pulse (cycles, 40) and energy per cycle (cycles,)."""
    g = np.empty((cycles, 2 * N_PULSES))
    energy = np.zeros(cycles)
    for c in range(cycles):
        for k in range(2 * N_PULSES):
            sign = 1.0 if k < N_PULSES else -1.0
            i = k % N_PULSES
            energy[c] += pulse_energy_J(device, sign * AMPLITUDES_V[i], WIDTHS_S[i])
            device.apply_segment(0.0, 0.0, READ_DELAY_S)
            g[c, k] = device.current_A(READ_V) / READ_V
            device.apply_segment(READ_V, READ_V, READ_WIDTH_S)
    return g, energy


def branch_stats(g_branch: np.ndarray, window: slice) -> dict:
    mean = g_branch.mean(axis=0)[window]
    sigma = g_branch.std(axis=0, ddof=1)[window]
    n = np.arange(mean.size)
    slope, intercept = np.polyfit(n, mean, 1)
    fit = slope * n + intercept
    r2 = 1 - np.sum((mean - fit) ** 2) / np.sum((mean - mean.mean()) ** 2)
    return {"bin_width_S": float(np.mean(np.abs(np.diff(mean)))), "sigma_S": float(sigma.mean()),
            "r2": float(r2), "steps_uS": np.diff(g_branch.mean(axis=0)) * 1e6}


FIT_PARAMS = ("g_off_S", "g_on_S", "v_slope_V", "rate0_per_s", "window_decay", "saturation_exponent", "window_knee")


def fit_params() -> dict:
    """Least-squares fit of the switching parameters to the paper's step profile (noise off)."""
    from scipy.optimize import least_squares

    nominal = VirtualDeviceParams()
    x0 = np.array([getattr(nominal, n) for n in FIT_PARAMS])

    def residuals(x: np.ndarray) -> np.ndarray:
        try:
            params = dataclasses.replace(nominal, c2c_rel_std=0.0, read_noise_rel_std=0.0,
                                         **dict(zip(FIT_PARAMS, x * x0)))
        except ConfigError:
            return np.full(35, 1e3)
        device = VirtualMemristor(params)
        run_tailored(device, 3)
        g, energy = run_tailored(device, 1)
        out = []
        for steps_uS, target_uS in ((np.diff(g[0, :N_PULSES]) * 1e6, 81.077), (-np.diff(g[0, N_PULSES:]) * 1e6, 80.520)):
            out += [2 * (steps_uS[:15] - target_uS), np.maximum(steps_uS[15:] - 40.0, 0.0)]
        out.append([5 * (energy[0] * 1e9 - 23.74)])
        return np.concatenate(out)

    result = least_squares(residuals, np.ones(len(FIT_PARAMS)), diff_step=1e-3, max_nfev=400)
    return dict(zip(FIT_PARAMS, (result.x * x0).tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--device-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fit", action="store_true", help="refit the switching parameters and print them")
    args = parser.parse_args()
    if args.fit:
        print(fit_params())
    device = VirtualMemristor(device_seed=args.device_seed, seed=args.seed)
    t0 = time.perf_counter()
    run_tailored(device, 5)  # settle into the cycle
    g, energy = run_tailored(device, args.cycles)
    wall = time.perf_counter() - t0
    up = branch_stats(g[:, :N_PULSES], slice(0, 16))
    down = branch_stats(g[:, N_PULSES:], slice(0, 16))
    print("mean step per pulse, potentiation (uS):", np.round(up["steps_uS"], 1))
    print("mean step per pulse, depression   (uS):", np.round(down["steps_uS"], 1))
    print(f"{'quantity':32s} {'paper':>12s} {'virtual':>12s}")
    rows = [
        ("bin width up (uS, reads 1-16)", 81.077, up["bin_width_S"] * 1e6),
        ("bin width down (uS)", 80.520, down["bin_width_S"] * 1e6),
        ("sigma per state (uS)", 23.700, (up["sigma_S"] + down["sigma_S"]) / 2 * 1e6),
        ("R2 up", 0.99898, up["r2"]),
        ("R2 down", 0.99925, down["r2"]),
        ("energy per cycle (nJ)", 23.74, energy.mean() * 1e9),
        ("energy std (nJ)", 1.26, energy.std(ddof=1) * 1e9),
        ("G range (mS)", float("nan"), (g.max() - g.min()) * 1e3),
    ]
    for name, ref, got in rows:
        print(f"{name:32s} {ref:12.5g} {got:12.5g}")
    print(f"RESULT bin_width_up_uS={rows[0][2]:.2f} bin_width_down_uS={rows[1][2]:.2f} sigma_uS={rows[2][2]:.2f} "
          f"r2_up={rows[3][2]:.5f} r2_down={rows[4][2]:.5f} energy_nJ={rows[5][2]:.2f} "
          f"g_min_mS={g.min()*1e3:.3f} g_max_mS={g.max()*1e3:.3f} wall_s={wall:.2f}")


if __name__ == "__main__":
    main()
