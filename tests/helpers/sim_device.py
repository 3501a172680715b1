"""Device dicts for the simulation tests, built per docs/DEVICE_FILE.md (no file needed)."""

from __future__ import annotations

import copy

from memlab.analysis.device_file import from_dict

STATES = 16
G0_S = 1.0e-3
STEP_S = 80e-6


def device_dict(*, sigma_S: float = 23.7e-6, nonlinear: bool = False, drift: dict | None = None) -> dict:
    """A 16-state device: potentiation rises from 1 mS in 80 µS steps, depression mirrors it.

    ``nonlinear`` bends the state means (saturating), so the measured means differ from the fit.
    """
    if nonlinear:
        pot = [G0_S + STEP_S * (STATES - 1) * (1 - 0.97 ** (n * 3)) / (1 - 0.97 ** (3 * (STATES - 1)))
               for n in range(STATES)]
    else:
        pot = [G0_S + STEP_S * n for n in range(STATES)]
    dep = [pot[-1] - STEP_S * n for n in range(STATES)]

    def branch(means, slope):
        return {"window_start_pulse": 2, "window_stop_pulse": 2 + STATES, "window_reason": "test",
                "slope_S_per_pulse": slope, "intercept_S": means[0], "r_squared": 0.999,
                "bin_width_S": STEP_S, "nonlinearity": 0.0, "state_mean_S": list(means),
                "state_sigma_S": [sigma_S] * STATES}

    return {
        "schema_version": 1, "kind": "memlab-device-file", "memlab_version": "0.1.0",
        "created_utc": "2026-11-27T21:00:00Z", "source_runs": [], "n_cycles": 100, "k_sigma": 2.0,
        "pulses_per_state": 1, "g_min_S": G0_S, "g_max_S": pot[-1], "dynamic_range": pot[-1] / G0_S,
        "states_per_branch": STATES, "n_bins": 2 * STATES - 1, "sigma_mean_S": sigma_S,
        "branches": {"potentiation": branch(pot, STEP_S), "depression": branch(dep, -STEP_S)},
        "symmetry": {"slope_ratio": 1.0, "nonlinearity_asymmetry": 0.0},
        "energy_per_cycle_J": None, "energy_per_pulse_J": None, "drift": copy.deepcopy(drift),
        "confidence_intervals": {}, "d2d": None,
    }


def device(**kw):
    return from_dict(device_dict(**kw), source="<test device>")
