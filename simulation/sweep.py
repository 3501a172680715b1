"""Design-space sweeps on Dask: how good must the device be?

A plan (TOML, :func:`load_plan`) names a task, device files and axes; every
combination of axis values is a *point*, content-addressed by the hash of its
device file, configuration and seed. The work is a dependency graph, not a
loop: one digital training per (task, seed), one hardware-aware training per
distinct training noise (device, D2D, converters, seed), then the points, each
evaluated at the plan's drift times and written atomically to
``OUT/points/HASH.json`` as it finishes. A rerun skips finished points; Ctrl-C
leaves every finished point on disk; a worker that dies mid-point is replaced
and its point rerun by Dask, and a point that keeps failing is reported with
its reason while the rest complete.

Device what-ifs (``states_per_branch``, ``sigma_scale``) are derived from a
measured device file (:func:`derive_device`) and recorded as derived, with the
file they came from, under ``OUT/devices/``; never passed off as measured.

Engines: ``workers=0`` runs the graph in this process; ``workers=N`` starts a
``distributed.LocalCluster`` (N processes, one thread each, a memory limit per
worker); ``scheduler=ADDRESS`` uses a running Dask cluster. Every task runs
torch on one thread, so all three give the same numbers for the same seeds.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import pathlib
import time
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from memlab.errors import ConfigError
from memlab.seeds import derive

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


# --------------------------------------------------------------------------- the tasks (run on workers)

@functools.lru_cache(maxsize=4)
def _data(task: str, data_dir: Optional[str]):
    from memlab.simulation.tasks import get_task

    return get_task(task).load(data_dir)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # the same arithmetic in a worker and in a serial run


def _config(plan: SweepPlan, p: Point, hwat_epochs: Optional[int] = None):
    from memlab.simulation import analog as dm
    from memlab.simulation.experiment import SimulationConfig
    from memlab.simulation.tasks import get_task

    options = dm.AnalogOptions(d2d_fraction=p.d2d, adc_bits=p.adc_bits, dac_bits=p.dac_bits, drift=plan.drift,
                               seed=p.seed)
    cfg = SimulationConfig(task=plan.task, epochs=plan.epochs, hwat_epochs=plan.hwat_epochs, repeats=plan.repeats,
                           seed=p.seed, quick=plan.quick, options=options, times_s=plan.times_s, d2d_sweep=())
    cfg = cfg.resolved(get_task(plan.task))
    return cfg if hwat_epochs is None else dataclasses.replace(cfg, hwat_epochs=hwat_epochs)


def device_for(p: Point, out: pathlib.Path) -> tuple[Any, str, Optional[dict]]:
    """(device file, its SHA-256, lineage of a derived one) for a point; derived files go to OUT/devices/."""
    from memlab.analysis.device_file import load_device_file, save_device_file

    measured = load_device_file(p.device)
    if not p.derived:
        return measured, _file_sha(p.device), None
    derived = derive_device(measured, p.states_per_branch, p.sigma_scale)
    lineage = {"derived_from": pathlib.Path(p.device).name, "derived_from_sha256": _file_sha(p.device),
               "states_per_branch": p.states_per_branch, "sigma_scale": p.sigma_scale,
               "note": "a what-if derived from the measured file (re-quantised states, scaled sigma), not measured"}
    name = _sha(lineage)[:16]
    path = out / "devices" / f"derived-{name}.json"
    if not path.exists():
        save_device_file(derived, path)
        from memlab.files import atomic_write_text

        atomic_write_text(path.with_suffix(".lineage.json"), json.dumps(lineage, indent=2) + "\n")
    return derived, _file_sha(str(path)), lineage


def train_digital(plan: SweepPlan, p: Point, out: pathlib.Path, data_dir: Optional[str]):
    """The task's digital network for ``p.seed`` (checkpointed: HWAT trainings load it)."""
    from memlab.simulation.experiment import trained_networks
    from memlab.simulation.tasks import get_task

    _one_thread()
    device, sha, _ = device_for(dataclasses.replace(p, states_per_branch=None, sigma_scale=1.0), out)
    return trained_networks(get_task(plan.task), _data(plan.task, data_dir), device, _config(plan, p, 0),
                            checkpoint_dir=out / "checkpoints", device_sha256=sha, progress=False)


def train_hwat(_digital: Any, plan: SweepPlan, p: Point, out: pathlib.Path, data_dir: Optional[str]):
    """Hardware-aware training against ``p``'s device and converters (after the digital one)."""
    from memlab.simulation.experiment import trained_networks
    from memlab.simulation.tasks import get_task

    _one_thread()
    device, sha, _ = device_for(p, out)
    return trained_networks(get_task(plan.task), _data(plan.task, data_dir), device, _config(plan, p),
                            checkpoint_dir=out / "checkpoints", device_sha256=sha, progress=False)


def evaluate_point(trained: Any, plan: SweepPlan, p: Point, out: pathlib.Path, data_dir: Optional[str]) -> dict:
    """Accuracy at programming time and at the plan's times; written to OUT/points/KEY.json."""
    from memlab.files import atomic_write_text
    from memlab.simulation import experiment as ex
    from memlab.simulation.tasks import get_task

    _one_thread()
    t0 = time.perf_counter()
    task, data = get_task(plan.task), _data(plan.task, data_dir)
    device, sha, lineage = device_for(p, out)
    cfg = _config(plan, p)
    if p.wire_resistance_ohm is not None:
        from memlab.simulation.ir_mvm import ir_drop_transform

        cfg = dataclasses.replace(cfg, tile_transform=ir_drop_transform(True, p.wire_resistance_ohm, plan.array_size))
    model = ex.analog_network(trained, task, data, device, cfg, cfg.options, hwat=p.hwat)
    cost = None
    if plan.energy:  # before programming: the crossbars hold the targets; the read pulse from the measured file's run
        from memlab.simulation.energy import EnergySettings, energy_block

        cost = energy_block(model, data.x_test, p.device, device, cfg.options, EnergySettings(), seed=derive(p.seed, "energy"),
                            tile_transform=cfg.tile_transform)
    at_programming = ex.programming_repeats(model, data, cfg, task, seed=derive(p.seed, "programming"), progress=False)
    over_time = ex.accuracy_vs_time(model, data, cfg, task, seed=derive(p.seed, "drift"), progress=False)
    digital = ex.training.accuracy(trained.digital, data.x_test, data.y_test, batch_size=task.eval_batch_size)
    result = {"key": point_key(plan, p), "point": dataclasses.asdict(p) | {"device": pathlib.Path(p.device).name},
              "device_file_sha256": sha, "lineage": lineage, "config": _config_json(plan),
              "digital_accuracy": digital, "analog_accuracy": ex.accuracy_stats(at_programming),
              "accuracy_vs_time": {"times_s": list(cfg.times_s),
                                   "accuracy": [ex.accuracy_stats(a) for a in over_time]},
              "energy": cost, "versions": ex.library_versions(), "seconds": time.perf_counter() - t0}
    atomic_write_text(out / "points" / f"{result['key']}.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result


# --------------------------------------------------------------------------- the driver

@dataclass
class SweepOutcome:
    results: list[dict]
    computed: int  # points computed by this run (the others were on disk)
    failed: list[dict]
    wall_s: float
    dashboard: Optional[str] = None


def finished(out: pathlib.Path, key: str) -> Optional[dict]:
    path = out / "points" / f"{key}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # a damaged result is computed again


def run_sweep(plan: SweepPlan, out: str | pathlib.Path, *, workers: int = 2, scheduler: Optional[str] = None,
              memory_limit: str = "4GiB", data_dir: Optional[str] = None, progress: bool = True,
              on_result: Optional[Callable[[dict, Any], None]] = None) -> SweepOutcome:
    """Compute every point of ``plan`` not yet in ``out`` (see the module docstring for the engines).

    ``on_result(result, client)`` is called in this process as each point finishes (the client is
    None in a serial run); an exception from it stops the sweep like Ctrl-C.
    """
    from tqdm import tqdm

    out = pathlib.Path(out)
    (out / "points").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    todo, done = [], []
    for p in points(plan):
        found = finished(out, point_key(plan, p))
        (done if found is not None else todo).append(found if found is not None else p)
    failed: list[dict] = []
    bar = tqdm(total=len(todo) + len(done), initial=len(done), desc="sweep", unit="point", disable=not progress)
    dashboard = None
    try:
        if not todo:
            pass  # everything is on disk: nothing to start
        elif workers == 0 and scheduler is None:
            _serial(plan, todo, out, data_dir, done, failed, bar, on_result)
        else:
            dashboard = _distributed(plan, todo, out, data_dir, done, failed, bar, on_result, workers, scheduler,
                                     memory_limit)
    finally:
        bar.close()
    order = {point_key(plan, p): i for i, p in enumerate(points(plan))}
    done.sort(key=lambda r: order.get(r["key"], 0))
    return SweepOutcome(done, len(todo) - len(failed), failed, time.perf_counter() - t0, dashboard)


class _Deferred:
    """An in-process stand-in for a Dask future: computed (once) when its result is asked for, so a
    serial run evaluates the same graph point by point, in order."""

    def __init__(self, fn: Callable, args: tuple) -> None:
        self._fn, self._args, self._done, self._value = fn, args, False, None

    def result(self) -> Any:
        if not self._done:
            args = [a.result() if isinstance(a, _Deferred) else a for a in self._args]
            self._value, self._done = self._fn(*args), True
        return self._value


def _graph(plan, todo, out, data_dir, submit: Callable) -> dict:
    """The sweep's dependency graph through ``submit(fn, *args, key=...)``: one digital training per seed,
    one HWAT per distinct training noise, the points; returns {point future: point}."""
    futures, digital, hwat = {}, {}, {}
    for p in todo:
        dk = _digital_key(plan, p.seed)
        if dk not in digital:
            digital[dk] = submit(train_digital, plan, p, out, data_dir, key=f"digital-{dk}")
        dep = digital[dk]
        if p.hwat:
            hk = _hwat_key(plan, p)
            if hk not in hwat:
                hwat[hk] = submit(train_hwat, dep, plan, p, out, data_dir, key=f"hwat-{hk}")
            dep = hwat[hk]
        futures[submit(evaluate_point, dep, plan, p, out, data_dir, key=f"point-{point_key(plan, p)}")] = p
    return futures


def _collect(finishing, futures, done, failed, bar, on_result, client) -> None:
    """Results in the order ``finishing`` yields the futures; a point whose future raises is reported."""
    for future in finishing:
        p = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, an error in the point: reported, the rest go on
            failed.append({"point": dataclasses.asdict(p), "reason": f"{type(exc).__name__}: {exc}"})
            continue
        done.append(result)
        bar.update()
        if on_result is not None:
            on_result(result, client)


def _serial(plan, todo, out, data_dir, done, failed, bar, on_result) -> None:
    import torch

    threads = torch.get_num_threads()
    try:
        futures = _graph(plan, todo, out, data_dir, lambda fn, *args, key: _Deferred(fn, args))
        _collect(list(futures), futures, done, failed, bar, on_result, None)
    finally:
        torch.set_num_threads(threads)


def _distributed(plan, todo, out, data_dir, done, failed, bar, on_result, workers, scheduler, memory_limit):
    from distributed import as_completed

    from memlab.cluster import dask_client

    with dask_client(workers, scheduler, memory_limit) as client:
        futures = _graph(plan, todo, out, data_dir,
                         lambda fn, *args, key: client.submit(fn, *args, key=key, retries=2))
        _collect(as_completed(list(futures)), futures, done, failed, bar, on_result, client)
        return getattr(client, "dashboard_link", None)


# --------------------------------------------------------------------------- results a person reads

def table(results: list[dict]):
    """One row per point and time: axes, accuracy (mean, std), lineage columns."""
    import pandas as pd

    rows = []
    for r in results:
        p = r["point"]
        lineage = r.get("lineage") or {}
        for t, acc in zip(r["accuracy_vs_time"]["times_s"], r["accuracy_vs_time"]["accuracy"]):
            rows.append({"key": r["key"], **{a: p[a] for a in AXES}, "device": p["device"], "time_s": t,
                         "accuracy_mean": acc["mean"], "accuracy_std": acc["std"], "repeats": len(acc["repeats"]),
                         "analog_at_programming": r["analog_accuracy"]["mean"],
                         "digital_accuracy": r["digital_accuracy"],
                         "analog_minus_digital": r["analog_accuracy"]["mean"] - r["digital_accuracy"],
                         "device_file_sha256": r["device_file_sha256"],
                         "derived_from": lineage.get("derived_from"),
                         "derived_from_sha256": lineage.get("derived_from_sha256"),
                         **_energy_columns(r.get("energy")),
                         "memlab": r["versions"].get("memlab"), "torch": r["versions"].get("torch"),
                         "aihwkit": r["versions"].get("aihwkit")})
    return pd.DataFrame(rows)


def _energy_columns(cost: Optional[dict]) -> dict:
    if not cost:
        return {}
    return {"programming_energy_J": cost["programming"]["energy_J_mean"],
            "programming_time_s": cost["programming"]["time_s_mean"],
            "inference_energy_J_per_image": cost["inference_per_image"]["total_J"]}


def write_outputs(plan: SweepPlan, outcome: SweepOutcome, out: str | pathlib.Path) -> dict[str, str]:
    """results.csv (+ .parquet), heat maps over every pair of varying axes, failed.json, report.html."""
    out = pathlib.Path(out)
    df = table(outcome.results)
    paths = {"csv": str(out / "results.csv")}
    df.to_csv(out / "results.csv", index=False)
    try:
        df.to_parquet(out / "results.parquet", index=False)
        paths["parquet"] = str(out / "results.parquet")
    except ImportError:
        pass
    from memlab.files import atomic_write_text

    atomic_write_text(out / "failed.json", json.dumps(outcome.failed, indent=2) + "\n")
    varying = [a for a in AXES if len(plan.axis(a)) > 1]
    figures = []
    for a, b in itertools.combinations(varying, 2):
        figures.append(heatmap(df, plan, a, b, out / "figures" / f"heatmap_{a}_{b}.png"))
    paths["figures"] = [str(f) for f in figures]
    (out / "report.html").write_text(report(plan, df, outcome, figures, out), encoding="utf-8")
    paths["report"] = str(out / "report.html")
    return paths


def heatmap(df, plan: SweepPlan, a: str, b: str, path: pathlib.Path) -> pathlib.Path:
    """Analog accuracy at programming time minus digital over axes ``a`` x ``b`` (the other axes at their
    first value)."""
    from memlab.simulation.figures import save_figure  # first: it selects the Agg backend

    import matplotlib.pyplot as plt

    sel = df[df["time_s"] == plan.times_s[0]]
    for other in AXES:
        if other not in (a, b) and len(plan.axis(other)) > 1:
            sel = sel[sel[other] == plan.axis(other)[0]]
    grid = sel.pivot_table(index=b, columns=a, values="analog_at_programming", aggfunc="mean")
    digital = float(sel["digital_accuracy"].mean())
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    im = ax.imshow(100 * grid.values, origin="lower", cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns])
    ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index])
    middle = (np.nanmin(grid.values) + np.nanmax(grid.values)) / 2
    for (i, j), v in np.ndenumerate(grid.values):  # light text on the dark half of the colour map
        ax.text(j, i, f"{100 * v:.2f}", ha="center", va="center", color="w" if v < middle else "k", fontsize=8)
    ax.set_xlabel(a.replace("_", " "))
    ax.set_ylabel(b.replace("_", " "))
    ax.set_title(f"{plan.task}: analog accuracy at programming (%), digital {100 * digital:.2f} %", fontsize=9)
    fig.colorbar(im, ax=ax, label="%")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    return path


def report(plan: SweepPlan, df, outcome: SweepOutcome, figures: list[pathlib.Path], out: pathlib.Path) -> str:
    from memlab.report import CSS, esc

    axes = "".join(f"<tr><th>{esc(a)}</th><td>{esc(', '.join(map(str, plan.axis(a))))}</td></tr>" for a in AXES)
    figs = "".join(f'<figure><img src="{esc(f.relative_to(out).as_posix())}" alt="{esc(f.stem)}">'
                   f"<figcaption>{esc(f.stem.replace('_', ' '))}: analog accuracy at programming time over two "
                   "axes, the others at their first value.</figcaption></figure>" for f in figures)
    failed = "".join(f"<li>{esc(f['point'])}: {esc(f['reason'])}</li>" for f in outcome.failed) or "<li>none</li>"
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>sweep: {esc(plan.task)}</title>"
            f"<style>{CSS}</style></head><body><h1>Sweep: {esc(plan.task)}, {len(outcome.results)} points</h1>"
            f"<p>Table: <a href='results.csv'>results.csv</a>. Derived devices (what-ifs, not measurements) are "
            f"in <code>devices/</code> with their lineage.</p><table>{axes}</table>{figs}"
            f"<h2>Failed points</h2><ul>{failed}</ul></body></html>\n")
