"""A device file as the closest aihwkit pulsed device: ``PiecewiseStepDevice`` parameters.

What ``memlab export DEVICE.json --to aihwkit`` writes, so that users of
aihwkit's pulsed (SGD) training can take the measured device with them. This
module builds plain dicts and text; it does not import aihwkit (the one
aihwkit importer of simulation is :mod:`.analog`), and the tests
construct the result in aihwkit.

Mapping (aihwkit's weights are unitless; the device's conductance window is
mapped linearly onto ``w_min = -1`` .. ``w_max = +1``, as aihwkit's own
device-fitting example does with a measured pulse response):

* ``scale_S_per_weight = (g_max_S - g_min_S) / 2``; ``w = (G - g_center_S) / scale``.
* ``dw_min``: the mean of the two branches' |slope_S_per_pulse| / scale (one pulse).
* ``piecewise_up`` / ``piecewise_down``: the measured step per pulse between
  neighbouring states, relative to ``dw_min``, at nodes equally spaced from
  ``w_min`` to ``w_max`` (linear interpolation, held at the measured ends);
  the up/down asymmetry lives here, so ``up_down`` is 0.
* ``write_noise_std``: the measured cycle-to-cycle σ of a programmed state
  (``sigma_mean_S``) in units of ``dw_min``. The device file's σ is the spread
  of a state over cycles, which does not grow with the number of pulses, so it
  is a write noise on the state, not a per-step ``dw_min_std`` (set to 0; the
  device file holds no per-step spread).
* ``dw_min_dtod``, ``w_min_dtod``, ``w_max_dtod``: device-to-device spreads
  (relative std) from the device file's ``d2d`` section; 0 when it was
  extracted from one device (``notes`` says so).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from memlab.files import atomic_write_text

DEVICE_CLASS = "PiecewiseStepDevice"
MODULE = "aihwkit.simulator.configs.devices"


def _steps(mean_S: tuple[float, ...], m: int, scale: float, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """(weight at each step's midpoint, |step per pulse| in weight units), ordered by weight."""
    g = np.asarray(mean_S, dtype=float)
    w = (g[:-1] + g[1:]) / 2 / scale
    step = np.abs(np.diff(g)) / m / scale
    order = np.argsort(w)
    return w[order], step[order]


def piecewise_step_parameters(device, *, nodes: int | None = None) -> dict:
    """``{"device_class", "module", "parameters", "memlab"}`` for ``device`` (a DeviceFile).

    ``parameters`` are keyword arguments of aihwkit's ``PiecewiseStepDevice``;
    ``memlab`` holds the weight ↔ conductance mapping and notes.
    """
    g_min, g_max = device.g_min_S, device.g_max_S
    scale = (g_max - g_min) / 2
    center = (g_max + g_min) / 2
    up, down = device.branch("potentiation"), device.branch("depression")
    m = device.pulses_per_state
    dw_min = (abs(up.slope_S_per_pulse) + abs(down.slope_S_per_pulse)) / 2 / scale
    n = nodes or max(2, device.states_per_branch)
    grid = np.linspace(-1.0, 1.0, n)
    rel = {}
    for name, b, d in (("up", up, 1), ("down", down, -1)):
        w, step = _steps(tuple(x - center for x in b.state_mean_S), m, scale, d)
        rel[name] = [round(float(v), 6) for v in np.interp(grid, w, step) / dw_min]
    notes = ["weights map linearly onto the conductance window: G = g_center_S + w * scale_S_per_weight",
             "write_noise_std is the measured cycle-to-cycle sigma of a state (sigma_mean_S) in units of dw_min",
             "dw_min_std = 0: the device file holds no per-step spread"]
    dtod = {"dw_min_dtod": 0.0, "w_min_dtod": 0.0, "w_max_dtod": 0.0}
    if device.d2d is not None:
        q = device.d2d.quantities
        slopes = [q.get(f"branches.{b}.slope_S_per_pulse") for b in ("potentiation", "depression")]
        rel_slope = [s.std / abs(s.mean) for s in slopes if s is not None and s.mean]
        if rel_slope:
            dtod["dw_min_dtod"] = float(np.mean(rel_slope))
        for key, name in (("g_min_S", "w_min_dtod"), ("g_max_S", "w_max_dtod")):
            if key in q:  # a bound's spread in S, relative to the bound's distance from the centre (1 = scale)
                dtod[name] = float(q[key].std / scale)
        notes.append(f"device-to-device spreads from {device.d2d.n_devices} devices (d2d section)")
    else:
        notes.append("one device analysed: device-to-device spreads are 0 (not measured)")
    params = {"dw_min": float(dw_min), "dw_min_std": 0.0, "up_down": 0.0, "up_down_dtod": 0.0,
              "w_min": -1.0, "w_max": 1.0, **dtod,
              "piecewise_up": rel["up"], "piecewise_down": rel["down"],
              "write_noise_std": float(device.sigma_mean_S / (dw_min * scale)),
              "construction_seed": 0}
    return {"device_class": DEVICE_CLASS, "module": MODULE, "parameters": params,
            "memlab": {"scale_S_per_weight": scale, "g_center_S": center, "g_min_S": g_min, "g_max_S": g_max,
                       "pulses_per_state": m, "states_per_branch": device.states_per_branch,
                       "source_runs": [r.uuid for r in device.source_runs], "notes": notes}}


def python_snippet(config: dict, device_file: str = "") -> str:
    """A short Python script that builds the device and an RPU config with it."""
    params = json.dumps(config["parameters"], indent=4)
    src = f" from {device_file}" if device_file else ""
    return (f'"""aihwkit {config["device_class"]} of the measured device{src} (written by memlab export)."""\n'
            f"from {config['module']} import {config['device_class']}\n"
            "from aihwkit.simulator.configs import SingleRPUConfig\n\n"
            f"PARAMETERS = {params}\n\n"
            f"device = {config['device_class']}(**PARAMETERS)\n"
            "rpu_config = SingleRPUConfig(device=device)\n"
            f"# 1 weight unit = {config['memlab']['scale_S_per_weight']:.6g} S around "
            f"{config['memlab']['g_center_S']:.6g} S\n"
            "if __name__ == '__main__':\n"
            "    print(device)\n")


def export_aihwkit(device_path: str | pathlib.Path, out: str | pathlib.Path | None = None, *,
                   overwrite: bool = False) -> pathlib.Path:
    """Write the aihwkit config of the device file: JSON, or a Python snippet when ``out`` ends in ``.py``."""
    from memlab.analysis.device_file import load_device_file
    from memlab.errors import ConfigError

    device_path = pathlib.Path(device_path)
    out = pathlib.Path(out) if out is not None else device_path.with_name(device_path.stem + ".aihwkit.json")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out}: file exists (use --overwrite or choose another --out)")
    config = piecewise_step_parameters(load_device_file(device_path))
    config["memlab"]["device_file"] = device_path.name
    text = (python_snippet(config, device_path.name) if out.suffix == ".py"
            else json.dumps(config, indent=2) + "\n")
    return atomic_write_text(out, text)
