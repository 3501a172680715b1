"""The stages of one experiment, each a plain function usable on its own.

1. :func:`trained_networks`: the digital network, then hardware-aware training (HWAT) of an
   analog copy, each *loaded or trained*: from weights the plan names, from this run's
   checkpoints, from the task's pre-trained file, else by the task's training recipe
   (:class:`SgdRecipe` unless the task brings its own).
2. :func:`programming_repeats`: accuracy at programming time over repeats.
3. :func:`accuracy_vs_time`: accuracy at times after programming, per repeat.
4. :func:`d2d_sweep`: accuracy at programming time versus the D2D spread.

Every evaluation goes through :func:`~memlab.simulation.analog.freeze`, so an IR-drop
model enters in one place (``plan.tile_transform`` or ``plan.mvm``). Seeds are derived by name
(:func:`memlab.seeds.derive`): repeat r from ``(seed, "repeat", r)``, drift to t from
``(seed, "drift", t, r)``, so a new repeat, time or stage never shifts another's draws.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from tqdm import tqdm

from memlab.errors import ConfigError
from memlab.files import sha256_file
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation import hwat_fast, training
from memlab.simulation.plan import ExperimentPlan
from memlab.simulation.results import portable_path
from memlab.simulation.tasks import Task

SEEDS_SCHEME = "memlab.seeds.derive by stage name"  # in checkpoint keys: networks of the offset era retrain


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def training_record(epochs: int, seconds: float, *, epochs_run: Optional[int] = None, **extra: Any) -> dict:
    """What the results say about one training stage (``loaded_from`` set when weights were loaded)."""
    return {"epochs_requested": epochs, "epochs_run": epochs if epochs_run is None else epochs_run,
            "seconds": seconds, "loaded_from": None, "loaded_sha256": None, "from_checkpoint": False, **extra}


class SgdRecipe:
    """The generic training recipe: :func:`memlab.simulation.training.train` (SGD, cosine decay) with
    the task's learning rates and batch size, digital and HWAT alike."""

    def digital(self, task: Task, net: torch.nn.Module, data: Any, plan: ExperimentPlan, *, seed: int,
                progress: bool, log: Callable[[str], None], clock: "Clock") -> dict:
        t0 = time.perf_counter()
        losses = training.train(net, data.x_train, data.y_train, epochs=plan.epochs, lr=task.lr,
                                batch_size=task.batch_size, seed=seed, device=plan.device,
                                weight_decay=task.weight_decay, augment=task.augment,
                                desc=f"{task.name} digital", progress=progress)
        return training_record(plan.epochs, time.perf_counter() - t0, loss_per_epoch=losses)

    def hwat(self, task: Task, fast: torch.nn.Module, data: Any, plan: ExperimentPlan, options: dm.AnalogOptions,
             *, seed: int, progress: bool, log: Callable[[str], None], clock: "Clock") -> dict:
        t0 = time.perf_counter()
        losses = training.train(fast, data.x_train, data.y_train, epochs=plan.hwat_epochs, lr=task.hwat_lr,
                                batch_size=task.batch_size, seed=seed, device=plan.device,
                                optimizer=hwat_fast.optimizer(fast, task.hwat_lr), augment=task.augment,
                                desc=f"{task.name} HWAT ({options.branch})", progress=progress)
        return training_record(plan.hwat_epochs, time.perf_counter() - t0, loss_per_epoch=losses)


class Clock:
    """The run's deadline (``plan.deadline_s`` from the start; None: none)."""

    def __init__(self, deadline_s: Optional[float]) -> None:
        self.start, self.deadline_s = time.perf_counter(), deadline_s

    def left(self) -> Optional[float]:
        return None if self.deadline_s is None else self.deadline_s - (time.perf_counter() - self.start)

    def fit(self, cost_per_repeat: float, wanted: int, reserve_s: float = 0.0) -> int:
        """Repeats of a stage that fit the time left (0: skip the stage)."""
        left = self.left()
        if left is None:
            return wanted
        return max(0, min(wanted, int((left - reserve_s) // max(cost_per_repeat, 1e-6))))


# --------------------------------------------------------------------------- stage 1

@dataclass
class TrainedNetworks:
    """The digital network and the analog state of the HWAT network (tensors only).

    ``hwat_digital``: the digital network with the HWAT run's non-analog state (BatchNorm), what
    the HWAT network is evaluated with (None: ``digital``). ``records``: the training records."""

    digital: torch.nn.Module
    hwat_state: dict[str, torch.Tensor]
    digital_from_checkpoint: bool
    hwat_from_checkpoint: bool
    train_time_s: float
    hwat_time_s: float
    hwat_digital: Optional[torch.nn.Module] = None
    records: dict[str, Any] = field(default_factory=dict)
    digital_key: str = ""


def _paths(checkpoint_dir: Optional[pathlib.Path], task: Task, kind: str, key: str) -> Optional[pathlib.Path]:
    if checkpoint_dir is None:
        return None
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    return checkpoint_dir / f"{task.name}-{kind}-{key}.pt"


def _loaded(path: str | pathlib.Path) -> dict:
    """The record of a stage whose weights were loaded: from where, and how they were trained (their record)."""
    from memlab.simulation.weights_record import loaded_provenance

    return training_record(0, 0.0, loaded_from=portable_path(path), loaded_sha256=sha256_file(path),
                           **loaded_provenance(path))


def _load_weights(net: torch.nn.Module, path: str | pathlib.Path, what: str) -> dict:
    """Load ``path`` into ``net``; the record says from where. ConfigError when it does not fit."""
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{what} weights {path}: cannot be loaded into the network ({exc})") from None
    return _loaded(path)


def _digital(task: Task, data: Any, cfg: ExperimentPlan, checkpoint_dir: Optional[pathlib.Path], *,
             progress: bool, log: Callable[[str], None], clock: Clock) -> tuple[torch.nn.Module, dict, str]:
    """The digital network: explicit weights, else this run's checkpoint, else the task's pre-trained
    file, else trained by the task's recipe."""
    torch.manual_seed(derive(cfg.seed, "network"))  # network initialisation
    net = task.build()
    prov = data.provenance() if hasattr(data, "provenance") else {}
    if cfg.digital_weights is not None and task.load_network is not None:  # the file's own architecture
        net = task.load_network(cfg.digital_weights)
        record = _loaded(cfg.digital_weights)
        return net, record, _key("digital", task.name, record["loaded_sha256"], SEEDS_SCHEME)
    if cfg.digital_weights is not None:
        record = _load_weights(net, cfg.digital_weights, "digital")
        return net, record, _key("digital", task.name, record["loaded_sha256"], SEEDS_SCHEME)
    key = _key("digital", task.name, cfg.epochs, cfg.seed, prov, SEEDS_SCHEME)
    path = _paths(checkpoint_dir, task, "digital", key)
    if path is not None and path.is_file():
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return net, training_record(cfg.epochs, 0.0, from_checkpoint=True), key
    pretrained = task.pretrained_file("digital", cfg)
    if pretrained is not None:
        try:
            record = _load_weights(net, pretrained, "digital")
            log(f"digital: the task's pre-trained network {record['loaded_from']} (no digital training)")
            return net, record, _key("digital", task.name, record["loaded_sha256"], SEEDS_SCHEME)
        except ConfigError as exc:
            log(f"digital: {exc}; training instead")
    record = task.training_recipe().digital(task, net, data, cfg, seed=derive(cfg.seed, "digital_training"),
                                            progress=progress, log=log, clock=clock)
    net.cpu()
    if path is not None:
        torch.save(net.state_dict(), path)
    return net, record, key


def trained_networks(task: Task, data: Any, device_file: Any, cfg: ExperimentPlan, *,
                     checkpoint_dir: Optional[pathlib.Path], device_sha256: str, progress: bool = True,
                     log: Callable[[str], None] = lambda s: None, clock: Optional[Clock] = None) -> TrainedNetworks:
    """Digital network then HWAT on ``cfg.options.branch``, each loaded when it can be (see the module)."""
    clock = clock or Clock(None)
    ckpt = None if checkpoint_dir is None else pathlib.Path(checkpoint_dir)
    t0 = time.perf_counter()
    net, digital_record, digital_key = _digital(task, data, cfg, ckpt, progress=progress, log=log, clock=clock)
    t1 = time.perf_counter()
    trained = TrainedNetworks(net.cpu().eval(), {}, digital_record["from_checkpoint"], False, t1 - t0, 0.0,
                              records={"digital": digital_record}, digital_key=digital_key)
    state, hwat_digital, record = hwat_for_branch(trained, task, data, device_file, cfg, cfg.options.branch,
                                                  checkpoint_dir=ckpt, device_sha256=device_sha256,
                                                  progress=progress, log=log, clock=clock)
    trained.hwat_state, trained.hwat_digital = state, hwat_digital
    trained.hwat_from_checkpoint, trained.hwat_time_s = record["from_checkpoint"], time.perf_counter() - t1
    trained.records["hwat"] = record
    return trained


def _non_analog_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The BatchNorm state of ``net`` (what HWAT changes outside the analog layers), prefixed 'digital.'."""
    out = {}
    for name, mod in net.named_modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            out.update({f"digital.{name}.{k}": v.detach().cpu() for k, v in mod.state_dict().items()})
    return out


def _split_hwat(state: dict[str, torch.Tensor], digital: torch.nn.Module) -> tuple[dict, torch.nn.Module]:
    """(analog state, a copy of ``digital`` carrying the file's 'digital.' entries)."""
    net = copy.deepcopy(digital)
    extra = {k[len("digital."):]: v for k, v in state.items() if k.startswith("digital.")}
    if extra:
        unexpected = net.load_state_dict(extra, strict=False).unexpected_keys
        if unexpected:
            raise KeyError(f"entries the network does not have: {', '.join(unexpected[:3])}")
    return {k: v for k, v in state.items() if not k.startswith("digital.")}, net.eval()


def hwat_for_branch(trained: TrainedNetworks, task: Task, data: Any, device_file: Any, cfg: ExperimentPlan,
                    branch: str, *, checkpoint_dir: Optional[pathlib.Path], device_sha256: str, progress: bool = True,
                    log: Callable[[str], None] = lambda s: None,
                    clock: Optional[Clock] = None) -> tuple[dict[str, torch.Tensor], torch.nn.Module, dict]:
    """The HWAT network for ``branch``: (analog state, digital part, training record); from the plan's
    ``hwat_weights`` (programming branch), a checkpoint, else trained by the task's recipe."""
    if branch == cfg.options.branch and trained.hwat_state:
        return trained.hwat_state, trained.hwat_digital or trained.digital, trained.records["hwat"]
    options = dataclasses.replace(cfg.options, branch=branch)
    if cfg.hwat_weights is not None and branch == cfg.options.branch:
        try:
            state = torch.load(cfg.hwat_weights, map_location="cpu", weights_only=True)
            analog, net = _split_hwat(state, trained.digital)
        except (OSError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"HWAT weights {cfg.hwat_weights}: cannot be loaded ({exc})") from None
        return analog, net, _loaded(cfg.hwat_weights)
    key = _key("hwat", trained.digital_key, cfg.hwat_epochs, device_sha256, dataclasses.asdict(options))
    path = _paths(None if checkpoint_dir is None else pathlib.Path(checkpoint_dir), task, "hwat", key)
    if path is not None and path.is_file():
        analog, net = _split_hwat(torch.load(path, map_location="cpu", weights_only=True), trained.digital)
        return analog, net, training_record(cfg.hwat_epochs, 0.0, from_checkpoint=True)
    analog, net, record = train_hwat(task, data, device_file, cfg, options, trained.digital, progress=progress,
                                     log=log, clock=clock or Clock(None))
    if path is not None:
        torch.save({**analog, **_non_analog_state(net)}, path)
    return analog, net, record


def train_hwat(task: Task, data: Any, device_file: Any, cfg: ExperimentPlan, options: dm.AnalogOptions,
               digital: torch.nn.Module, *, progress: bool = True, log: Callable[[str], None] = lambda s: None,
               clock: Optional[Clock] = None) -> tuple[dict[str, torch.Tensor], torch.nn.Module, dict]:
    """Hardware-aware training of an analog copy of ``digital`` under ``options`` by the task's recipe;
    returns (analog state, digital part with the HWAT BatchNorm state, training record)."""
    analog = dm.to_analog(digital, device_file, options, hwat=True).to(cfg.device)
    fast = hwat_fast.trainable(analog)  # aihwkit's tile arithmetic, native conv2d/linear
    record = task.training_recipe().hwat(task, fast, data, cfg, options, seed=derive(cfg.seed, "hwat", options.branch),
                                         progress=progress, log=log, clock=clock or Clock(None))
    hwat_fast.write_back(fast, analog)
    if cfg.hwat_epochs == 0:  # input ranges still need their data-driven start
        hwat_fast.calibrate_input_ranges(analog, calibration_batches(task, data, cfg))
    state = {k: v.detach().cpu() for k, v in dm.analog_state(analog).items()}
    analog.cpu()
    digital.cpu()
    _, net = _split_hwat(_non_analog_state(analog), digital)
    return state, net, record


def calibration_batches(task: Task, data: Any, cfg: ExperimentPlan, n: int = 10):
    """``n`` seeded training batches (4x the training batch size) for input-range calibration."""
    gen = torch.Generator().manual_seed(derive(cfg.seed, "calibration"))
    idx = torch.randperm(len(data.y_train), generator=gen)
    size = 4 * task.batch_size
    for i in range(n):
        part = idx[(i * size) % len(idx):][:size]
        yield data.x_train[part].to(cfg.device)


def analog_network(trained: TrainedNetworks, task: Task, data: Any, device_file: Any,
                   cfg: ExperimentPlan, options: dm.AnalogOptions, *, hwat: bool,
                   hwat_state: Optional[dict[str, torch.Tensor]] = None,
                   hwat_digital: Optional[torch.nn.Module] = None) -> torch.nn.Module:
    """An analog copy for evaluation: the HWAT weights (``hwat_state``, default the trained one) on the
    HWAT run's digital part, or the digital weights with calibrated input ranges."""
    if hwat:
        base = hwat_digital or trained.hwat_digital or trained.digital
        model = dm.to_analog(base, device_file, options, hwat=False).to(cfg.device)
        state = trained.hwat_state if hwat_state is None else hwat_state
        dm.load_analog_state(model, {k: v.to(cfg.device) for k, v in state.items()})
    else:  # aihwkit's data-driven start of the input ranges, through the fast layers
        model = dm.to_analog(trained.digital, device_file, options, hwat=False).to(cfg.device)
        hwat_fast.calibrate_input_ranges(model, calibration_batches(task, data, cfg))
    return model.eval()


# --------------------------------------------------------------------------- stages 2-4

def evaluate_programmed(model: torch.nn.Module, data: Any, cfg: ExperimentPlan, task: Task,
                        *, seed: int) -> float:
    """Accuracy of the analog model in its current programmed/drifted state (fast path)."""
    frozen = dm.freeze(model, mvm=cfg.mvm, seed=seed, tile_transform=cfg.tile_transform).to(cfg.device)
    return training.accuracy(frozen, data.x_test, data.y_test, batch_size=task.eval_batch_size,
                             device=cfg.device)


def programming_repeats(model: torch.nn.Module, data: Any, cfg: ExperimentPlan, task: Task, *,
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


def accuracy_vs_time(model: torch.nn.Module, data: Any, cfg: ExperimentPlan, task: Task, *,
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


def d2d_sweep(trained: TrainedNetworks, task: Task, data: Any, device_file: Any, cfg: ExperimentPlan,
              *, seed: int, progress: bool = True) -> list[list[float]]:
    """Accuracy at programming time of the HWAT network for each D2D spread in ``cfg.d2d_sweep``."""
    out = []
    for d2d in tqdm(cfg.d2d_sweep, desc="D2D sweep", unit="point", disable=not progress, leave=False):
        options = dataclasses.replace(cfg.options, d2d_fraction=float(d2d), d2d_range_fraction=None,
                                      d2d_source="assumed")  # each sweep point is an assumed spread
        model = analog_network(trained, task, data, device_file, cfg, options, hwat=True)
        out.append(programming_repeats(model, data, cfg, task, seed=seed, progress=False))
    return out
