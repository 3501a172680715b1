"""A sweep's plan: the TOML file, its points, their content keys, and the derived what-if devices.

Pure and quick (no torch, no Dask): :func:`load_plan` checks a plan file and names
what is wrong, :func:`points` enumerates the axes' combinations, :func:`point_key`
addresses a point by the hash of its device file, configuration and seed (the
training keys, by what their networks depend on), and :func:`derive_device` makes
a what-if device from a measured one. :mod:`.sweep` runs the graph.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import pathlib
import tomllib
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from memlab.errors import ConfigError

AXES = ("states_per_branch", "sigma_scale", "d2d", "adc_bits", "dac_bits", "wire_resistance_ohm", "hwat", "seed")
"""The axes of a plan's ``[axes]`` table, in the order points are enumerated."""
TOP_KEYS = ("task", "devices", "repeats", "drift", "times_s", "epochs", "hwat_epochs", "quick", "array_size", "energy",
            "axes")


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep computes (paths of device files resolved against the plan file's folder)."""

    task: str
    devices: tuple[str, ...]
    axes: dict[str, tuple] = field(default_factory=dict)
    repeats: int = 3
    drift: str = "measured"
    times_s: tuple[float, ...] = (1.0,)
    epochs: Optional[int] = None
    hwat_epochs: Optional[int] = None
    quick: bool = False
    array_size: int = 256
    energy: bool = False  # each point's programming and inference cost (simulation/energy.py) in the table

    def axis(self, name: str) -> tuple:
        return self.axes.get(name, DEFAULTS[name])


DEFAULTS = {"states_per_branch": (None,), "sigma_scale": (1.0,), "d2d": (0.3,), "adc_bits": (8,), "dac_bits": (8,),
            "wire_resistance_ohm": (None,), "hwat": (True,), "seed": (0,)}


def load_plan(path: str | pathlib.Path) -> SweepPlan:
    """Read and check a plan file; an unknown key or a bad value is refused naming it."""
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sweep plan not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a TOML plan ({exc})") from None
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(TOP_KEYS)}")
    for key in ("task", "devices"):
        if key not in data:
            raise ConfigError(f"{path}: '{key}' is missing")
    axes = data.get("axes", {})
    bad = sorted(set(axes) - set(AXES))
    if bad:
        raise ConfigError(f"{path}: unknown axis {', '.join(bad)}; allowed: {', '.join(AXES)}")
    clean = {}
    for name, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: axes.{name} must be a non-empty list, got {values!r}")
        clean[name] = tuple(_axis_value(path, name, v) for v in values)
    devices = data["devices"]
    if isinstance(devices, str):
        devices = [devices]
    resolved = tuple(str((path.parent / d).resolve()) if not pathlib.Path(d).is_absolute() else d for d in devices)
    plan = SweepPlan(task=str(data["task"]), devices=resolved, axes=clean,
                     repeats=int(data.get("repeats", 3)), drift=str(data.get("drift", "measured")),
                     times_s=tuple(float(t) for t in data.get("times_s", [1.0])),
                     epochs=data.get("epochs"), hwat_epochs=data.get("hwat_epochs"),
                     quick=bool(data.get("quick", False)), array_size=int(data.get("array_size", 256)),
                     energy=bool(data.get("energy", False)))
    if not 1 <= plan.repeats <= 1000:
        raise ConfigError(f"{path}: repeats is {plan.repeats}; allowed 1 to 1000")
    return plan


def _axis_value(path: pathlib.Path, name: str, v: Any) -> Any:
    ok = {"states_per_branch": lambda x: isinstance(x, int) and 2 <= x <= 1024,
          "sigma_scale": lambda x: isinstance(x, (int, float)) and 0 <= x <= 100,
          "d2d": lambda x: isinstance(x, (int, float)) and 0 <= x <= 2,
          "adc_bits": lambda x: isinstance(x, int) and 2 <= x <= 16,
          "dac_bits": lambda x: isinstance(x, int) and 2 <= x <= 16,
          "wire_resistance_ohm": lambda x: isinstance(x, (int, float)) and 0 < x < 1e6,
          "hwat": lambda x: isinstance(x, bool), "seed": lambda x: isinstance(x, int) and 0 <= x < 2 ** 31}[name]
    if isinstance(v, bool) and name != "hwat" or not ok(v):
        raise ConfigError(f"{path}: axes.{name} value {v!r} is not allowed")
    return float(v) if name in ("sigma_scale", "d2d", "wire_resistance_ohm") else v


# --------------------------------------------------------------------------- devices

def derive_device(device: Any, states: Optional[int] = None, sigma_scale: float = 1.0) -> Any:
    """A what-if device from a measured one: each branch re-quantised to ``states`` levels over the
    same window (state means and σ interpolated along the branch), every σ scaled by ``sigma_scale``."""
    def branch(b):
        n_old = len(b.state_mean_S)
        n = n_old if states is None else states
        pos = np.linspace(0, n_old - 1, n)
        idx = np.arange(n_old)
        means = tuple(float(v) for v in np.interp(pos, idx, b.state_mean_S))
        sigmas = tuple(float(v) * sigma_scale for v in np.interp(pos, idx, b.state_sigma_S))
        slope = b.slope_S_per_pulse * (n_old - 1) / max(n - 1, 1)
        return dataclasses.replace(b, state_mean_S=means, state_sigma_S=sigmas, slope_S_per_pulse=slope,
                                   bin_width_S=b.bin_width_S * (n_old - 1) / max(n - 1, 1))
    n = device.states_per_branch if states is None else states
    return dataclasses.replace(
        device, branches=dataclasses.replace(device.branches, potentiation=branch(device.branches.potentiation),
                                             depression=branch(device.branches.depression)),
        states_per_branch=n, n_bins=min(device.n_bins if states is None else 2 * n - 1, 2 * n - 1),
        sigma_mean_S=device.sigma_mean_S * sigma_scale)


@dataclass(frozen=True)
class Point:
    device: str  # the measured device file
    states_per_branch: Optional[int]
    sigma_scale: float
    d2d: float
    adc_bits: int
    dac_bits: int
    wire_resistance_ohm: Optional[float]
    hwat: bool
    seed: int

    @property
    def derived(self) -> bool:
        return self.states_per_branch is not None or self.sigma_scale != 1.0


def points(plan: SweepPlan) -> list[Point]:
    values = [plan.devices] + [plan.axis(a) for a in AXES]
    return [Point(*combo) for combo in itertools.product(*values)]


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@functools.lru_cache(maxsize=64)
def _file_sha(path: str) -> str:
    from memlab.files import sha256_file

    return sha256_file(path)


def _config_json(plan: SweepPlan) -> dict:
    return {"task": plan.task, "repeats": plan.repeats, "drift": plan.drift, "times_s": list(plan.times_s),
            "epochs": plan.epochs, "hwat_epochs": plan.hwat_epochs, "quick": plan.quick,
            "array_size": plan.array_size, **({"energy": True} if plan.energy else {})}  # keys of earlier plans kept


def point_key(plan: SweepPlan, p: Point) -> str:
    spec = {**dataclasses.asdict(p), "device": _file_sha(p.device), **_config_json(plan)}
    return _sha(spec)[:20]


def _hwat_key(plan: SweepPlan, p: Point) -> str:
    return _sha([_file_sha(p.device), p.states_per_branch, p.sigma_scale, p.d2d, p.adc_bits, p.dac_bits, p.seed,
                 _config_json(plan)])[:20]


def _digital_key(plan: SweepPlan, seed: int) -> str:
    return _sha([plan.task, plan.epochs, plan.quick, seed])[:20]

