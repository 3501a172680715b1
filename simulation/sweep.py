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

The plan file, its points and their keys are :mod:`.sweep_plan`; the table, heat
maps and report, :mod:`.sweep_outputs`; this module holds the tasks and the driver.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from memlab.seeds import derive
# the plan, its points and keys (sweep_plan) and what a person reads (sweep_outputs), re-exported here
from memlab.simulation.sweep_outputs import heatmap, report, table, write_outputs
from memlab.simulation.sweep_plan import (AXES, DEFAULTS, TOP_KEYS, Point, SweepPlan, _config_json, _digital_key,
                                          _file_sha, _hwat_key, _sha, derive_device, load_plan, point_key, points)

__all__ = ["AXES", "DEFAULTS", "TOP_KEYS", "Point", "SweepOutcome", "SweepPlan", "derive_device", "device_for",
           "evaluate_point", "finished", "heatmap", "load_plan", "point_key", "points", "report", "run_sweep",
           "table", "train_digital", "train_hwat", "write_outputs"]

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

