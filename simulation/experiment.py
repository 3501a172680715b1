"""One experiment for every task (the paper's Figs 3 and 5): :func:`run_experiment`.

``run_experiment(device_file, plan, task)`` loads the device file and the task's data, gets the
trained networks (loaded or trained by the task's recipe: :mod:`.stages`), then evaluates:
accuracy at programming time (with the network's energy when the plan asks), accuracy against
time for {HWAT, no HWAT} x {global drift compensation, none} on every branch of
``plan.drift_branches``, the D2D sweep and, when asked, its open-loop twin. It returns one
:class:`~memlab.simulation.results.Results` and, with ``out``, rewrites the results JSON after
every stage (``complete`` false until the end), so a run cut off still leaves what it finished.
``memlab simulate``, :func:`memlab.simulate` and a notebook call this function; tasks are plug-ins
(:mod:`memlab.simulation.tasks`), the plan a frozen dataclass (:mod:`.plan`).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from typing import Any, Callable, Optional

import torch

from memlab import reference as ref
from memlab.files import sha256_file as _sha256
from memlab.seeds import derive, table
from memlab.simulation import analog as dm
from memlab.simulation import training
from memlab.simulation.plan import (DAY_S, DEFAULT_D2D_SWEEP, HOUR_S, MEASURED_TIMES_S, MONTH_S,  # noqa: F401
                                    QUICK_CONFIG, TIME_LABELS, YEAR_S, ExperimentPlan, SimulationConfig,
                                    default_drift, default_plan, default_times)
from memlab.simulation.results import (RESULTS_KIND, RESULTS_VERSION, Results, accuracy_stats,  # noqa: F401
                                       library_versions, monotone_within_spread, portable_path, summary)
from memlab.simulation.stages import (SEEDS_SCHEME, Clock, TrainedNetworks, analog_network,  # noqa: F401
                                      calibration_batches, d2d_sweep, accuracy_vs_time, evaluate_programmed,
                                      hwat_for_branch, programming_repeats, train_hwat, trained_networks)
from memlab.simulation.tasks import Task, get_task

SEED_STAGES = ("network", "digital_training", "calibration", "programming", "drift", "d2d_sweep", "energy",
               "budget")
"""The stages whose seeds are derived by name from the run's root seed (:func:`memlab.seeds.derive`)."""


def seed_table(root: int) -> dict[str, Any]:
    """The seeds a results file records: the root and every stage's, derived by name."""
    hwat = {f"hwat_{b}": derive(root, "hwat", b) for b in dm.BRANCHES}  # one HWAT network per branch
    return {"root": root, "scheme": SEEDS_SCHEME, **table(root, SEED_STAGES), **hwat}


def default_task(data_dir: str | None = None) -> str:
    """'mnist' when its IDX files are found (same search as the loader), else 'digits'."""
    from memlab.errors import DataNotFoundError
    from memlab.simulation.datasets import find_mnist

    try:
        find_mnist(data_dir)
    except DataNotFoundError:
        return "digits"
    return "mnist"


def drift_model(device_file: Any, options: dm.AnalogOptions) -> dict[str, Any]:
    """The drift model and scaling of ``options`` on ``device_file``, with a label (results and figures)."""
    desc = dm.drift_description(dm.branch_model(device_file, options.branch), options)
    desc["branch"] = options.branch
    desc["label"] = dm.drift_label(desc)
    return desc


def _hardware(device: str) -> dict[str, str]:
    card = (torch.cuda.get_device_name(0) if device == "cuda"
            else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)")
    return {"device": device, "card": card}


def _network(net: torch.nn.Module) -> dict[str, Any]:
    """Parameters, layers, and what goes on crossbars (conv kernels and linear matrices, 2 devices each)."""
    tiles = [(name, m.weight[0].numel(), m.weight.shape[0]) for name, m in net.named_modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    weights = sum(rows * cols for _, rows, cols in tiles)
    biases = sum(m.bias.numel() for m in net.modules()
                 if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None)
    return {**training.describe(net), "weights": weights, "memristors": 2 * weights, "digital_biases": biases,
            "tiles": [list(t) for t in tiles]}


def _paper(task: str) -> Optional[dict[str, Any]]:
    """The paper's numbers for ``task`` (memlab.reference), None where it reports none."""
    if task not in ref.ACCURACY:
        return None
    digital, analog = ref.ACCURACY[task]
    return {"digital_accuracy": digital.si, "analog_accuracy": analog.si, "source": f"{ref.PAPER}, {digital.source}"}


def accuracy_budget(trained: TrainedNetworks, task: Task, data: Any, device_file: Any, cfg: ExperimentPlan,
                    settings: Any, *, digital_accuracy: Optional[float] = None,
                    progress: bool = True) -> dict[str, Any]:
    """The accuracy budget (:mod:`memlab.simulation.budget`) of the HWAT network (or the no-HWAT
    baseline) under ``cfg.options`` on the test set, with ``cfg.tile_transform`` as its IR-drop stage.
    ``digital_accuracy``: the digital network's (its first line; the HWAT network's digital part may
    carry other BatchNorm statistics)."""
    from memlab.simulation import budget as bd

    if settings.network == "hwat":  # with the HWAT run's BatchNorm state, as the plain evaluation
        state, digital = trained.hwat_state, trained.hwat_digital or trained.digital
    else:
        state = dm.analog_state(analog_network(trained, task, data, device_file, cfg, cfg.options, hwat=False))
        digital = trained.digital

    def evaluate(model: torch.nn.Module) -> float:
        return training.accuracy(model.to(cfg.device), data.x_test, data.y_test, batch_size=task.eval_batch_size,
                                 device=cfg.device)

    out = bd.accuracy_budget(digital, state, device_file, cfg.options, evaluate, settings,
                             seed=derive(cfg.seed, "budget"), digital_accuracy=digital_accuracy,
                             tile_transform=cfg.tile_transform, device=cfg.device, progress=progress)
    out["drift_model"] = drift_model(device_file, cfg.options)["label"]
    return out


class _Run:
    """The state of one experiment between its stages (see :func:`run_experiment`)."""

    def __init__(self, device_path: pathlib.Path, plan: ExperimentPlan, task: Task, *, data_dir, out,
                 checkpoint_dir, progress: bool, log: Callable[[str], None]) -> None:
        from memlab.analysis.device_file import load_device_file

        self.clock = Clock(plan.deadline_s)
        self.device_path, self.task, self.progress, self.log = device_path, task, progress, log
        self.device = load_device_file(device_path)
        self.sha = _sha256(device_path)
        self.plan = plan.resolved(task)
        self.out = None if out is None else pathlib.Path(out)
        if checkpoint_dir is None and self.out is not None:
            checkpoint_dir = self.out.parent / "checkpoints"
        self.checkpoint_dir = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir)
        t = time.perf_counter()
        self.data = task.load_for(data_dir, self.plan)
        base = None if self.out is None else self.out.parent
        self.parts: dict[str, Any] = {
            "task": task.name, "device_file": portable_path(device_path, base), "device_file_sha256": self.sha,
            "config": self.plan.to_json(), "drift_model": drift_model(self.device, self.plan.options),
            "seeds": seed_table(self.plan.seed), "versions": library_versions(),
            "dataset": self.data.provenance() if hasattr(self.data, "provenance") else {},
            "hardware": _hardware(self.plan.device), "paper": _paper(task.name),
            "timings_s": {"data_load_s": time.perf_counter() - t}}

    def results(self, complete: bool = False) -> Results:
        return Results(**self.parts, complete=complete)

    def save(self) -> None:
        if self.out is not None:
            self.results().write_json(self.out)

    def networks(self) -> TrainedNetworks:
        p = self.plan
        trained = trained_networks(self.task, self.data, self.device, p, checkpoint_dir=self.checkpoint_dir,
                                   device_sha256=self.sha, progress=self.progress, log=self.log, clock=self.clock)
        self.parts["timings_s"].update(digital_training_s=trained.train_time_s, hwat_training_s=trained.hwat_time_s)
        t = time.perf_counter()
        net = trained.digital.to(p.device)
        self.parts["digital_accuracy"] = training.accuracy(net, self.data.x_test, self.data.y_test,
                                                           batch_size=self.task.eval_batch_size, device=p.device)
        trained.digital.cpu()
        self.parts["timings_s"]["digital_eval_s"] = time.perf_counter() - t
        self.parts["network"] = _network(trained.digital)
        self.parts["training"] = {"digital": trained.records["digital"], "hwat": trained.records["hwat"]}
        self.parts["checkpoints"] = {
            "dir": None if self.checkpoint_dir is None else portable_path(self.checkpoint_dir),
            "digital_reused": trained.digital_from_checkpoint, "hwat_reused": trained.hwat_from_checkpoint}
        self.log(f"digital: {trained.records['digital']['epochs_run']} epochs, test accuracy "
                 f"{self.parts['digital_accuracy']:.4f}")
        self.save()
        return trained

    def programming(self, trained: TrainedNetworks) -> float:
        """Accuracy at programming time (and the energy, before programming); returns s per repeat."""
        p, t = self.plan, time.perf_counter()
        model = analog_network(trained, self.task, self.data, self.device, p, p.options, hwat=True)
        if p.energy is not None:  # before programming: the crossbars hold the targets
            from memlab.simulation.energy import energy_block

            self.parts["energy"] = energy_block(model, self.data.x_test, self.device_path, self.device, p.options,
                                                p.energy, seed=derive(p.seed, "energy"),
                                                tile_transform=p.tile_transform)
        t_eval = time.perf_counter()
        accs = programming_repeats(model, self.data, p, self.task, seed=derive(p.seed, "programming"),
                                   progress=self.progress)
        self.parts["analog_accuracy"] = accuracy_stats(accs)
        self.parts["timings_s"]["programming_repeats_s"] = time.perf_counter() - t
        a = self.parts["analog_accuracy"]
        self.log(f"analog (HWAT, D2D {p.options.d2d_fraction:.0%}, t = 0): {a['mean']:.4f} ± {a['std']:.4f}")
        self.save()
        return (time.perf_counter() - t_eval) / p.repeats

    def budget(self, trained: TrainedNetworks) -> None:
        t = time.perf_counter()
        self.parts["budget"] = accuracy_budget(trained, self.task, self.data, self.device, self.plan, self.plan.budget,
                                               digital_accuracy=self.parts["digital_accuracy"], progress=self.progress)
        self.parts["timings_s"]["budget_s"] = time.perf_counter() - t
        self.save()

    def drift(self, trained: TrainedNetworks, per_eval_s: float) -> None:
        """Accuracy against time for every branch and {HWAT, no HWAT} x {GDC, none}, as time allows."""
        p, t = self.plan, time.perf_counter()
        variants = self.parts["accuracy_vs_time"] = []
        per_repeat = per_eval_s * (len(p.times_s) + 1) * 1.5
        for branch in p.drift_branches:
            state, hwat_digital, record = hwat_for_branch(
                trained, self.task, self.data, self.device, p, branch, checkpoint_dir=self.checkpoint_dir,
                device_sha256=self.sha, progress=self.progress, log=self.log, clock=self.clock)
            self.parts["training"].setdefault("hwat_by_branch", {})[branch] = record
            for hwat in (True, False):
                for comp in (True, False):
                    options = dataclasses.replace(p.options, branch=branch, drift_compensation=comp)
                    entry = {"branch": branch, "hwat": hwat, "drift_compensation": comp,
                             "drift_model": drift_model(self.device, options)["label"]}
                    n = self.clock.fit(per_repeat, p.sweep_repeats)
                    if n == 0:
                        variants.append({**entry, "times_s": [], "accuracy": [], "repeats": 0,
                                         "skipped": "out of time"})
                        continue
                    t_curve = time.perf_counter()
                    plan_n = dataclasses.replace(p, repeats=n)
                    model = analog_network(trained, self.task, self.data, self.device, plan_n, options, hwat=hwat,
                                           hwat_state=state, hwat_digital=hwat_digital)
                    accs = accuracy_vs_time(model, self.data, plan_n, self.task, seed=derive(p.seed, "drift"),
                                            progress=self.progress, desc=f"drift {branch}, "
                                            f"{'HWAT' if hwat else 'no HWAT'}, {'GDC' if comp else 'no GDC'}")
                    per_repeat = max(per_repeat, (time.perf_counter() - t_curve) / n)
                    variants.append({**entry, "times_s": list(p.times_s), "repeats": n, "skipped": None,
                                     "accuracy": [accuracy_stats(a) for a in accs]})
                    self.save()
        self.parts["timings_s"]["accuracy_vs_time_s"] = time.perf_counter() - t

    def sweep(self, trained: TrainedNetworks, per_eval_s: float, key: str, options: dm.AnalogOptions) -> None:
        """The D2D sweep (``key`` 'd2d_sweep', or 'd2d_sweep_open_loop' with open-loop ``options``)."""
        p, t = self.plan, time.perf_counter()
        n = self.clock.fit(per_eval_s * len(p.d2d_sweep) * 1.5, p.sweep_repeats)
        plan_n = dataclasses.replace(p, options=options, repeats=max(n, 1))
        sweep = d2d_sweep(trained, self.task, self.data, self.device, plan_n, seed=derive(p.seed, "d2d_sweep"),
                          progress=self.progress) if n else []
        self.parts[key] = {"d2d_fraction": list(p.d2d_sweep) if n else [], "programming": options.programming,
                           "accuracy": [accuracy_stats(a) for a in sweep], "repeats": n,
                           "skipped": None if n else "out of time"}
        self.parts["timings_s"][f"{key}_s"] = time.perf_counter() - t
        self.save()

    def finish(self, figures: Optional[pathlib.Path]) -> Results:
        self.parts["summary"] = summary(self.results().to_json())
        self.parts["wall_time_s"] = self.parts["timings_s"]["total_s"] = time.perf_counter() - self.clock.start
        if figures is not None:
            from memlab.simulation.figures import write_figures

            paths = write_figures(self.results().to_json(), figures)
            base = None if self.out is None else self.out.parent
            self.parts["figures"] = {k: portable_path(v, base) for k, v in paths.items()}
        final = self.results(complete=True)
        if self.out is not None:
            final.write_json(self.out)
        return final


def run_experiment(device_file: str | os.PathLike, plan: Optional[ExperimentPlan] = None, task: str | Task = "mnist",
                   *, out: str | os.PathLike | None = None, figures: str | os.PathLike | None = None,
                   data_dir: str | None = None, checkpoint_dir: str | os.PathLike | None = None,
                   progress: bool = True, log: Optional[Callable[[str], None]] = None) -> Results:
    """Device file -> trained, programmed, drifted networks -> :class:`Results` (and JSON, figures).

    ``plan`` None: :func:`default_plan` for the task with the device file's own drift. Checkpoints go
    to ``checkpoint_dir`` (default: ``checkpoints/`` beside ``out``); reruns reuse trained networks.
    ``log`` receives one line per stage (default: silent).
    """
    task_obj = task if isinstance(task, Task) else get_task(task)
    device_path = pathlib.Path(device_file)
    if plan is None:
        from memlab.analysis.device_file import load_device_file

        plan = default_plan(task_obj, options=dm.AnalogOptions(drift=default_drift(load_device_file(device_path))))
    run = _Run(device_path, dataclasses.replace(plan, task=task_obj.name), task_obj, data_dir=data_dir, out=out,
               checkpoint_dir=checkpoint_dir, progress=progress, log=log or (lambda s: None))
    trained = run.networks()
    per_eval = run.programming(trained)
    if run.plan.budget is not None:
        run.budget(trained)
    run.drift(trained, per_eval)
    run.sweep(trained, per_eval, "d2d_sweep", run.plan.options)
    if run.plan.compare_open_loop and run.plan.options.programming != "open_loop":
        run.sweep(trained, per_eval, "d2d_sweep_open_loop",
                  dataclasses.replace(run.plan.options, programming="open_loop"))
    return run.finish(None if figures is None else pathlib.Path(figures))


def run_simulation(device_path: str | os.PathLike, task: str = "mnist", *, quick: bool = False,
                   out: str | os.PathLike | None = None, figures: str | os.PathLike | None = None,
                   data_dir: str | None = None, config: Optional[ExperimentPlan] = None,
                   checkpoint_dir: str | os.PathLike | None = None, progress: bool = True,
                   energy: Optional[Any] = None, budget: Optional[Any] = None) -> dict[str, Any]:
    """:func:`run_experiment` with the arguments of the MNIST era; returns the results as a dict.

    ``config`` overrides everything but ``task`` and ``quick`` given here; without one the task's
    default plan (``quick``: the smoke-test sizes) with the device file's own drift. ``energy`` and
    ``budget`` add those stages (:class:`~memlab.simulation.energy.EnergySettings`,
    :class:`~memlab.simulation.budget.BudgetSettings`).
    """
    task_obj = get_task(task)
    if config is None:
        from memlab.analysis.device_file import load_device_file

        drift = default_drift(load_device_file(device_path))
        config = default_plan(task_obj, quick=quick, options=dm.AnalogOptions(drift=drift))
    plan = dataclasses.replace(config, quick=quick, energy=energy if energy is not None else config.energy,
                               budget=budget if budget is not None else config.budget)
    return run_experiment(device_path, plan, task_obj, out=out, figures=figures, data_dir=data_dir,
                          checkpoint_dir=checkpoint_dir, progress=progress).to_json()


# Earlier private names, kept for callers written against them.
_calibration_batches, _stats, _versions = calibration_batches, accuracy_stats, library_versions
