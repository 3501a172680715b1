"""The simulation experiment (the paper's Fig. 3), generic over the task.

Stages, each a plain function usable on its own (the CIFAR task reuses them):

1. :func:`trained_networks`: digital training, then hardware-aware training
   (HWAT) of an analog copy, both checkpointed so evaluation-only reruns skip
   training; plus the no-HWAT analog baseline (input ranges calibrated on
   training data).
2. :func:`programming_repeats`: accuracy at programming time over repeats
   (new programming and device-to-device draws each repeat).
3. :func:`accuracy_vs_time`: accuracy at times after programming, per repeat, for
   {HWAT, no HWAT} x {global drift compensation, none} on every branch of
   ``SimulationConfig.drift_branches`` (each branch's HWAT network trained on it).
4. :func:`d2d_sweep`: accuracy at programming time versus the D2D spread.

:func:`run_simulation` runs them all from a device file and writes the
results JSON (and figures). Every evaluation goes through
:func:`~memlab.simulation.analog.freeze`, so an IR-drop model enters
in one place: ``SimulationConfig.tile_transform`` (once per programmed
state) or ``SimulationConfig.mvm`` (per batch).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import math
import pathlib
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from tqdm import tqdm

import memlab
from memlab.errors import ConfigError
from memlab.files import sha256_file as _sha256
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation import hwat_fast
from memlab.simulation import training
from memlab.simulation.crossbar import Mvm, ProgrammedTile, ideal_mvm
from memlab.simulation.tasks import Task, get_task

HOUR_S = 3600.0
DAY_S = 86400.0
MONTH_S = 30.0 * DAY_S
YEAR_S = 365.25 * DAY_S
MEASURED_TIMES_S = (1.0, HOUR_S, DAY_S, 2 * DAY_S, MONTH_S, YEAR_S, 10 * YEAR_S)
"""Accuracy-vs-time points of the measured law: 1 s, 1 h, 1 day, 2 days, 1 month, 1 year, 10 years."""
TIME_LABELS = {1.0: "1s", HOUR_S: "1h", DAY_S: "1day", 2 * DAY_S: "2days", MONTH_S: "1month", YEAR_S: "1year",
               10 * YEAR_S: "10years"}
DEFAULT_D2D_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
RESULTS_KIND = "memlab-simulation-results"
RESULTS_VERSION = 1
SEED_STAGES = ("network", "digital_training", "calibration", "programming", "drift",
               "d2d_sweep", "energy", "budget")
"""The stages whose seeds are derived by name from the run's root seed (:func:`memlab.seeds.derive`)."""
SEEDS_SCHEME = "memlab.seeds.derive by stage name"  # in checkpoint keys: networks of the offset era retrain


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a run (stored in the results file).

    epochs/hwat_epochs: None = the task's default (or its quick default with quick=True).
    repeats: programming repeats per evaluation point. times_s: None = the drift mode's default.
    drift_branches: the branches whose accuracy against time is evaluated (each with its own
        HWAT network); the first programming repeats and the D2D sweep use ``options.branch``.
    """

    task: str = "mnist"
    epochs: Optional[int] = None
    hwat_epochs: Optional[int] = None
    repeats: int = 5
    seed: int = 0
    device: str = "cpu"
    quick: bool = False
    options: dm.AnalogOptions = field(default_factory=dm.AnalogOptions)
    times_s: Optional[tuple[float, ...]] = None
    d2d_sweep: tuple[float, ...] = DEFAULT_D2D_SWEEP
    drift_branches: tuple[str, ...] = dm.BRANCHES
    mvm: Mvm = ideal_mvm  # the per-batch crossbar product every evaluation uses
    # Applied once to every programmed tile before evaluation (IR drop plugs in here).
    tile_transform: Optional[Callable[[ProgrammedTile], ProgrammedTile]] = None

    def __post_init__(self) -> None:
        for name in ("epochs", "hwat_epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= 10000):
                raise ConfigError(f"{name} is {value!r}; allowed 0 to 10000")
        if not isinstance(self.repeats, int) or not 1 <= self.repeats <= 1000:
            raise ConfigError(f"repeats is {self.repeats!r}; allowed 1 to 1000")
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"device is {self.device!r}; allowed: cpu, cuda")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device is 'cuda' but torch sees no CUDA device")
        for d in self.d2d_sweep:
            if not 0 <= d <= 2:
                raise ConfigError(f"d2d_sweep value {d!r} outside 0 to 2")
        for t in self.times_s or ():
            dm.check_drift_time(self.options.drift, t)
        if not self.drift_branches or any(b not in dm.BRANCHES for b in self.drift_branches):
            raise ConfigError(f"drift_branches is {self.drift_branches!r}; allowed: a non-empty selection of "
                              f"{', '.join(dm.BRANCHES)}")

    def resolved(self, task: Task) -> "SimulationConfig":
        """A copy with the task's defaults filled in."""
        epochs = self.epochs if self.epochs is not None else (task.quick_epochs if self.quick else task.epochs)
        hwat = self.hwat_epochs if self.hwat_epochs is not None else (
            task.quick_hwat_epochs if self.quick else task.hwat_epochs)
        return dataclasses.replace(self, epochs=epochs, hwat_epochs=hwat,
                                   times_s=self.times_s or default_times(self.options.drift))

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name not in ("options", "mvm", "tile_transform")}
        d["options"] = dataclasses.asdict(self.options)
        d["mvm"] = _callable_name(self.mvm)
        transform = self.tile_transform
        d["tile_transform"] = (None if transform is None else transform.as_dict() if hasattr(transform, "as_dict")
                               else _callable_name(transform))
        return d


# --quick without an explicit config: fewer repeats and sweep points, accuracy against time on the
# potentiation branch only (a smoke test, ~2 min for MNIST).
QUICK_CONFIG = {"repeats": 3, "d2d_sweep": (0.0, 0.3, 0.5), "drift_branches": ("potentiation",)}


def default_task(data_dir: str | None = None) -> str:
    """'mnist' when its IDX files are found (same search as the loader), else 'digits'."""
    from memlab.errors import DataNotFoundError
    from memlab.simulation.datasets import find_mnist

    try:
        find_mnist(data_dir)
    except DataNotFoundError:
        return "digits"
    return "mnist"


def _callable_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def default_drift(device_file: Any) -> str:
    """The drift a simulation of ``device_file`` uses unless told otherwise: 'measured' when the device
    file has a drift block (its own retention), else 'wan2022' (aihwkit's ReRAM model)."""
    return "measured" if device_file.drift is not None else "wan2022"


def drift_model(device_file: Any, options: dm.AnalogOptions) -> dict[str, Any]:
    """The drift model and scaling of ``options`` on ``device_file``, with a label (results and figures)."""
    desc = dm.drift_description(dm.branch_model(device_file, options.branch), options)
    desc["branch"] = options.branch
    desc["label"] = dm.drift_label(desc)
    return desc


def default_times(drift: str) -> tuple[float, ...]:
    """Evaluation times after programming: the Wan 2022 model's three, else 1 s to 10 years."""
    if drift == "wan2022":
        return dm.WAN2022_TIMES_S
    if drift == "none":
        return (1.0, DAY_S)
    return MEASURED_TIMES_S


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- stage 1

@dataclass
class TrainedNetworks:
    """The digital network and the analog state of the HWAT network (tensors only)."""

    digital: torch.nn.Module
    hwat_state: dict[str, torch.Tensor]
    digital_from_checkpoint: bool
    hwat_from_checkpoint: bool
    train_time_s: float
    hwat_time_s: float


def trained_networks(task: Task, data: Any, device_file: Any, cfg: SimulationConfig, *,
                     checkpoint_dir: Optional[pathlib.Path], device_sha256: str,
                     progress: bool = True) -> TrainedNetworks:
    """Digital training then HWAT, each loaded from ``checkpoint_dir`` when present."""
    torch.manual_seed(derive(cfg.seed, "network"))  # network initialisation
    net = task.build()
    prov = data.provenance() if hasattr(data, "provenance") else {}
    digital_key = _key("digital", task.name, cfg.epochs, cfg.seed, prov, SEEDS_SCHEME)
    hwat_key = _key("hwat", digital_key, cfg.hwat_epochs, device_sha256, dataclasses.asdict(cfg.options))
    digital_path = hwat_path = None
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        digital_path = checkpoint_dir / f"{task.name}-digital-{digital_key}.pt"
        hwat_path = checkpoint_dir / f"{task.name}-hwat-{hwat_key}.pt"
    t0 = time.perf_counter()
    from_ckpt = digital_path is not None and digital_path.is_file()
    if from_ckpt:
        net.load_state_dict(torch.load(digital_path, map_location="cpu", weights_only=True))
    else:
        training.train(net, data.x_train, data.y_train, epochs=cfg.epochs, lr=task.lr,
                       batch_size=task.batch_size, seed=derive(cfg.seed, "digital_training"), device=cfg.device,
                       weight_decay=task.weight_decay, augment=task.augment,
                       desc=f"{task.name} digital", progress=progress)
        net.cpu()
        if digital_path is not None:
            torch.save(net.state_dict(), digital_path)
    t1 = time.perf_counter()
    hwat_state, hwat_ckpt = train_hwat(task, data, device_file, cfg, cfg.options, net, hwat_path, progress=progress)
    t2 = time.perf_counter()
    return TrainedNetworks(net.cpu().eval(), hwat_state, from_ckpt, hwat_ckpt, t1 - t0, t2 - t1)


def _hwat_key(task: Task, data: Any, cfg: SimulationConfig, options: dm.AnalogOptions, device_sha256: str) -> str:
    prov = data.provenance() if hasattr(data, "provenance") else {}
    digital_key = _key("digital", task.name, cfg.epochs, cfg.seed, prov, SEEDS_SCHEME)
    return _key("hwat", digital_key, cfg.hwat_epochs, device_sha256, dataclasses.asdict(options))


def train_hwat(task: Task, data: Any, device_file: Any, cfg: SimulationConfig, options: dm.AnalogOptions,
               digital: torch.nn.Module, hwat_path: Optional[pathlib.Path], *,
               progress: bool = True) -> tuple[dict[str, torch.Tensor], bool]:
    """Hardware-aware training of an analog copy of ``digital`` under ``options`` (loaded from
    ``hwat_path`` when it exists); returns (analog state, loaded from checkpoint)."""
    if hwat_path is not None and hwat_path.is_file():
        return torch.load(hwat_path, map_location="cpu", weights_only=True), True
    analog = dm.to_analog(digital, device_file, options, hwat=True).to(cfg.device)
    fast = hwat_fast.trainable(analog)  # aihwkit's tile arithmetic, native conv2d/linear
    training.train(fast, data.x_train, data.y_train, epochs=cfg.hwat_epochs, lr=task.hwat_lr,
                   batch_size=task.batch_size, seed=derive(cfg.seed, "hwat", options.branch), device=cfg.device,
                   optimizer=hwat_fast.optimizer(fast, task.hwat_lr), augment=task.augment,
                   desc=f"{task.name} HWAT ({options.branch})", progress=progress)
    hwat_fast.write_back(fast, analog)
    if cfg.hwat_epochs == 0:  # input ranges still need their data-driven start
        hwat_fast.calibrate_input_ranges(analog, calibration_batches(task, data, cfg))
    hwat_state = {k: v.cpu() for k, v in dm.analog_state(analog).items()}
    digital.cpu()
    if hwat_path is not None:
        torch.save(hwat_state, hwat_path)
    return hwat_state, False


def hwat_for_branch(trained: TrainedNetworks, task: Task, data: Any, device_file: Any, cfg: SimulationConfig,
                    branch: str, *, checkpoint_dir: Optional[pathlib.Path], device_sha256: str,
                    progress: bool = True) -> tuple[dict[str, torch.Tensor], bool]:
    """The HWAT state for ``branch``: the trained one for ``cfg.options.branch``, else trained on it."""
    if branch == cfg.options.branch:
        return trained.hwat_state, trained.hwat_from_checkpoint
    options = dataclasses.replace(cfg.options, branch=branch)
    path = None
    if checkpoint_dir is not None:
        path = checkpoint_dir / f"{task.name}-hwat-{_hwat_key(task, data, cfg, options, device_sha256)}.pt"
    return train_hwat(task, data, device_file, cfg, options, trained.digital, path, progress=progress)


def calibration_batches(task: Task, data: Any, cfg: SimulationConfig, n: int = 10):
    """``n`` seeded training batches (4x the training batch size) for input-range calibration."""
    gen = torch.Generator().manual_seed(derive(cfg.seed, "calibration"))
    idx = torch.randperm(len(data.y_train), generator=gen)
    size = 4 * task.batch_size
    for i in range(n):
        part = idx[(i * size) % len(idx):][:size]
        yield data.x_train[part].to(cfg.device)


def analog_network(trained: TrainedNetworks, task: Task, data: Any, device_file: Any,
                   cfg: SimulationConfig, options: dm.AnalogOptions, *, hwat: bool,
                   hwat_state: Optional[dict[str, torch.Tensor]] = None) -> torch.nn.Module:
    """An analog copy for evaluation: the HWAT weights (``hwat_state``, default the trained one), or the
    digital ones with calibrated input ranges."""
    model = dm.to_analog(trained.digital, device_file, options, hwat=False).to(cfg.device)
    if hwat:
        state = trained.hwat_state if hwat_state is None else hwat_state
        dm.load_analog_state(model, {k: v.to(cfg.device) for k, v in state.items()})
    else:  # aihwkit's data-driven start of the input ranges, through the fast layers
        hwat_fast.calibrate_input_ranges(model, calibration_batches(task, data, cfg))
    return model.eval()


# --------------------------------------------------------------------------- stages 2-4

def evaluate_programmed(model: torch.nn.Module, data: Any, cfg: SimulationConfig, task: Task,
                        *, seed: int) -> float:
    """Accuracy of the analog model in its current programmed/drifted state (fast path)."""
    frozen = dm.freeze(model, mvm=cfg.mvm, seed=seed, tile_transform=cfg.tile_transform).to(cfg.device)
    return training.accuracy(frozen, data.x_test, data.y_test, batch_size=task.eval_batch_size,
                             device=cfg.device)


def programming_repeats(model: torch.nn.Module, data: Any, cfg: SimulationConfig, task: Task, *,
                        seed: int, progress: bool = True, desc: str = "programming") -> list[float]:
    """Accuracy right after programming, one value per repeat (repeat r draws from
    ``derive(seed, "repeat", str(r))``: more repeats never change the first ones)."""
    accs = []
    for r in tqdm(range(cfg.repeats), desc=desc, unit="repeat", disable=not progress, leave=False):
        rs = derive(seed, "repeat", str(r))
        dm.program(model, rs)
        dm.drift_to(model, 0.0, rs)
        accs.append(evaluate_programmed(model, data, cfg, task, seed=rs))
    return accs


def accuracy_vs_time(model: torch.nn.Module, data: Any, cfg: SimulationConfig, task: Task, *,
                     seed: int, progress: bool = True, desc: str = "drift") -> list[list[float]]:
    """Accuracy at each of ``cfg.times_s`` (outer list) for each repeat (inner list).

    Repeat r programs from ``derive(seed, "repeat", str(r))`` and drifts to t from
    ``derive(seed, "drift", repr(t), str(r))``: keyed by the time, not its position, so adding a
    time leaves the others' draws alone."""
    out = [[] for _ in cfg.times_s]
    for r in tqdm(range(cfg.repeats), desc=desc, unit="repeat", disable=not progress, leave=False):
        rs = derive(seed, "repeat", str(r))
        dm.program(model, rs)
        for i, t in enumerate(cfg.times_s):
            dm.drift_to(model, t, derive(seed, "drift", repr(float(t)), str(r)))
            out[i].append(evaluate_programmed(model, data, cfg, task, seed=rs))
    return out


def d2d_sweep(trained: TrainedNetworks, task: Task, data: Any, device_file: Any, cfg: SimulationConfig,
              *, seed: int, progress: bool = True) -> list[list[float]]:
    """Accuracy at programming time of the HWAT network for each D2D spread in ``cfg.d2d_sweep``."""
    out = []
    for d2d in tqdm(cfg.d2d_sweep, desc="D2D sweep", unit="point", disable=not progress, leave=False):
        options = dataclasses.replace(cfg.options, d2d_fraction=float(d2d), d2d_range_fraction=None,
                                      d2d_source="assumed")  # each sweep point is an assumed spread
        model = analog_network(trained, task, data, device_file, cfg, options, hwat=True)
        out.append(programming_repeats(model, data, cfg, task, seed=seed, progress=False))
    return out


def seed_table(root: int) -> dict[str, Any]:
    """The seeds a results file records: the root and every stage's, derived by name."""
    from memlab.seeds import table

    hwat = {f"hwat_{b}": derive(root, "hwat", b) for b in dm.BRANCHES}  # one HWAT network per branch
    return {"root": root, "scheme": SEEDS_SCHEME, **table(root, SEED_STAGES), **hwat}


def accuracy_budget(trained: TrainedNetworks, task: Task, data: Any, device_file: Any, cfg: SimulationConfig,
                    settings: Any, *, progress: bool = True) -> dict[str, Any]:
    """The accuracy budget (:mod:`memlab.simulation.budget`) of the HWAT network (or the no-HWAT
    baseline) under ``cfg.options`` on the test set, with ``cfg.tile_transform`` as its IR-drop stage."""
    from memlab.simulation import budget as bd

    if settings.network == "hwat":
        state = trained.hwat_state
    else:
        state = dm.analog_state(analog_network(trained, task, data, device_file, cfg, cfg.options, hwat=False))

    def evaluate(model: torch.nn.Module) -> float:
        return training.accuracy(model.to(cfg.device), data.x_test, data.y_test, batch_size=task.eval_batch_size,
                                 device=cfg.device)

    out = bd.accuracy_budget(trained.digital, state, device_file, cfg.options, evaluate, settings,
                             seed=derive(cfg.seed, "budget"), tile_transform=cfg.tile_transform, device=cfg.device,
                             progress=progress)
    out["drift_model"] = drift_model(device_file, cfg.options)["label"]
    return out


def accuracy_stats(values: list[float]) -> dict[str, Any]:
    """``{mean, std (sample, ddof 1; 0 for one value), repeats}`` of accuracies."""
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std(unbiased=True)) if len(values) > 1 else 0.0
    return {"mean": float(t.mean()), "std": std, "repeats": [float(v) for v in values]}


def library_versions() -> dict[str, str]:
    """Versions of memlab, Python and the numeric libraries, for the results file."""
    out = {"memlab": memlab.__version__, "python": platform.python_version()}
    for pkg in ("torch", "aihwkit", "numpy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# --------------------------------------------------------------------------- driver

def run_simulation(device_path: str | pathlib.Path, task: str = "mnist", *, quick: bool = False,
                   out: str | pathlib.Path | None = None, figures: str | pathlib.Path | None = None,
                   data_dir: str | None = None, config: Optional[SimulationConfig] = None,
                   checkpoint_dir: str | pathlib.Path | None = None, progress: bool = True,
                   energy: Optional[Any] = None, budget: Optional[Any] = None) -> dict[str, Any]:
    """Device file -> trained, programmed, drifted networks -> results dict (and JSON, figures).

    ``config`` overrides everything but ``task`` and ``quick`` given here;
    without one, ``quick`` also means 3 repeats and a 3-point D2D sweep.
    Checkpoints go to ``checkpoint_dir`` (default: ``checkpoints/`` beside ``out``).
    Accuracies are fractions in [0, 1]. ``energy`` (:class:`~memlab.simulation.energy.EnergySettings`)
    adds the network's programming and inference cost (``results["energy"]``); ``budget``
    (:class:`~memlab.simulation.budget.BudgetSettings`) the accuracy budget (``results["budget"]``).
    """
    from memlab.analysis.device_file import load_device_file

    wall0 = time.perf_counter()
    device_path = pathlib.Path(device_path)
    device_file = load_device_file(device_path)
    device_sha = _sha256(device_path)
    task_obj = get_task(task)
    if config is None:  # the device's own drift when its file has a drift block
        options = dm.AnalogOptions(drift=default_drift(device_file))
        config = SimulationConfig(**QUICK_CONFIG, options=options) if quick else SimulationConfig(options=options)
    cfg = dataclasses.replace(config, task=task, quick=quick).resolved(task_obj)
    if checkpoint_dir is None and out is not None:
        checkpoint_dir = pathlib.Path(out).parent / "checkpoints"
    data = task_obj.load(data_dir)
    timings: dict[str, float] = {}

    trained = trained_networks(task_obj, data, device_file, cfg, device_sha256=device_sha, progress=progress,
                               checkpoint_dir=None if checkpoint_dir is None else pathlib.Path(checkpoint_dir))
    timings["digital_training_s"], timings["hwat_training_s"] = trained.train_time_s, trained.hwat_time_s

    t = time.perf_counter()
    digital_net = trained.digital.to(cfg.device)
    digital_acc = training.accuracy(digital_net, data.x_test, data.y_test,
                                    batch_size=task_obj.eval_batch_size, device=cfg.device)
    timings["digital_eval_s"] = time.perf_counter() - t

    t = time.perf_counter()
    hwat_model = analog_network(trained, task_obj, data, device_file, cfg, cfg.options, hwat=True)
    cost = None
    if energy is not None:  # before programming: the crossbars hold the targets
        from memlab.simulation.energy import energy_block

        cost = energy_block(hwat_model, data.x_test, device_path, device_file, cfg.options, energy,
                            seed=derive(cfg.seed, "energy"), tile_transform=cfg.tile_transform)
    analog = programming_repeats(hwat_model, data, cfg, task_obj, seed=derive(cfg.seed, "programming"), progress=progress)
    timings["programming_repeats_s"] = time.perf_counter() - t
    accounted = None
    if budget is not None:
        t = time.perf_counter()
        accounted = accuracy_budget(trained, task_obj, data, device_file, cfg, budget, progress=progress)
        timings["budget_s"] = time.perf_counter() - t

    t = time.perf_counter()
    variants = []
    ckpt = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir)
    for branch in cfg.drift_branches:
        state, _ = hwat_for_branch(trained, task_obj, data, device_file, cfg, branch, checkpoint_dir=ckpt,
                                   device_sha256=device_sha, progress=progress)
        for hwat in (True, False):
            for comp in (True, False):
                options = dataclasses.replace(cfg.options, branch=branch, drift_compensation=comp)
                model = analog_network(trained, task_obj, data, device_file, cfg, options, hwat=hwat,
                                       hwat_state=state)
                accs = accuracy_vs_time(model, data, cfg, task_obj, seed=derive(cfg.seed, "drift"), progress=progress,
                                        desc=f"drift {branch}, {'HWAT' if hwat else 'no HWAT'}, "
                                             f"{'GDC' if comp else 'no GDC'}")
                variants.append({"branch": branch, "hwat": hwat, "drift_compensation": comp,
                                 "drift_model": drift_model(device_file, options)["label"],
                                 "times_s": list(cfg.times_s), "accuracy": [accuracy_stats(a) for a in accs]})
    timings["accuracy_vs_time_s"] = time.perf_counter() - t

    t = time.perf_counter()
    sweep = d2d_sweep(trained, task_obj, data, device_file, cfg, seed=derive(cfg.seed, "d2d_sweep"), progress=progress)
    timings["d2d_sweep_s"] = time.perf_counter() - t

    results = {
        "kind": RESULTS_KIND, "results_version": RESULTS_VERSION,
        "task": task_obj.name, "dataset": data.provenance() if hasattr(data, "provenance") else {},
        "device_file": str(device_path), "device_file_sha256": device_sha,
        "config": cfg.to_json(), "drift_model": drift_model(device_file, cfg.options), "seeds": seed_table(cfg.seed),
        "versions": library_versions(),
        "network": training.describe(trained.digital),
        "checkpoints": {"dir": None if checkpoint_dir is None else str(checkpoint_dir),
                        "digital_reused": trained.digital_from_checkpoint, "hwat_reused": trained.hwat_from_checkpoint},
        "digital_accuracy": digital_acc,
        "analog_accuracy": accuracy_stats(analog),
        "accuracy_vs_time": variants,
        "d2d_sweep": {"d2d_fraction": list(cfg.d2d_sweep), "accuracy": [accuracy_stats(a) for a in sweep]},
    }
    if cost is not None:
        results["energy"] = cost
    if accounted is not None:
        results["budget"] = accounted
    results["summary"] = summary(results)
    timings["total_s"] = time.perf_counter() - wall0
    results["timings_s"] = timings
    results["wall_time_s"] = timings["total_s"]
    if figures is not None:
        from memlab.simulation.figures import write_figures

        results["figures"] = write_figures(results, figures)
    if out is not None:
        out = pathlib.Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return results


def _at(variant: dict, t_s: float) -> Optional[float]:
    for t, acc in zip(variant["times_s"], variant["accuracy"]):
        if math.isclose(t, t_s, rel_tol=1e-9):
            return acc["mean"]
    return None


def monotone_within_spread(variant: dict[str, Any]) -> dict[str, Any]:
    """Whether accuracy never rises with time by more than its repeat spread: for every later time,
    its mean is at most an earlier mean plus the larger of the two sample stds. ``worst_rise`` is
    the largest rise in those units (<= 1 passes)."""
    acc = variant["accuracy"]
    worst = -math.inf
    for i in range(len(acc)):
        for j in range(i + 1, len(acc)):
            spread = max(acc[i]["std"], acc[j]["std"], 1e-12)
            worst = max(worst, (acc[j]["mean"] - acc[i]["mean"]) / spread)
    return {"monotone": worst <= 1.0, "worst_rise_in_std": None if worst == -math.inf else worst}


def _variant_name(v: dict[str, Any]) -> str:
    return f"{'hwat' if v['hwat'] else 'no_hwat'}_{'gdc' if v['drift_compensation'] else 'no_gdc'}"


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers: digital, analog (mean ± std), and 1 day with/without compensation.

    ``<variant>_1day`` keys are for the programming branch (``config.options.branch``); every
    branch's variants also appear as ``<branch>_<variant>_<time>`` at each evaluated time, with
    ``<branch>_<variant>_monotone`` (accuracy against time within its repeat spread)."""
    out = {"digital_accuracy": results["digital_accuracy"],
           "analog_accuracy_mean": results["analog_accuracy"]["mean"],
           "analog_accuracy_std": results["analog_accuracy"]["std"],
           "analog_minus_digital": results["analog_accuracy"]["mean"] - results["digital_accuracy"]}
    if "drift_model" in results:
        out["drift_model"] = results["drift_model"]["label"]
    main_branch = results.get("config", {}).get("options", {}).get("branch", "potentiation")
    for v in results["accuracy_vs_time"]:
        branch = v.get("branch", main_branch)
        name = _variant_name(v)
        if branch == main_branch:
            out[f"{name}_1day"] = _at(v, DAY_S)
        if "branch" in v:
            for t, acc in zip(v["times_s"], v["accuracy"]):
                out[f"{branch}_{name}_{TIME_LABELS.get(t, f'{t:g}s')}"] = acc["mean"]
            out[f"{branch}_{name}_monotone"] = monotone_within_spread(v)["monotone"]
    return out


# Earlier private names, kept for callers written against them.
_calibration_batches, _stats, _versions = calibration_batches, accuracy_stats, library_versions
