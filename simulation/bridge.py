"""Your own network on your measured device: memlab's public aihwkit bridge (API version 1).

A device file and *your* ``torch.nn.Module`` in, analog accuracies out, in the
steps an aihwkit script takes (the names follow aihwkit's)::

    import memlab
    config = memlab.analog_config("device.json", d2d_fraction=0.3, drift="measured")
    analog = memlab.convert_to_analog(net, config, digital_layers=("stem",))  # aihwkit layers
    memlab.hwat_fine_tune(analog, x_train, y_train, epochs=2, lr=0.01)       # optional: HWAT
    result = memlab.evaluate_analog(analog, x_test, y_test, config, times_s=(1.0, 86400.0), digital=net)
    result.write_json("results.json")   # the JSON shape of ``memlab simulate``

Lower level: :func:`program_analog_weights`, :func:`drift_analog_weights`,
:func:`freeze` (a plain-torch copy of the programmed crossbars for fast
evaluation) and :func:`calibrate_input_ranges` (the no-HWAT start of the DAC
input ranges). Every evaluation goes through the same stages, seeds and JSON
writer as ``memlab simulate``: for the MLP with the same device file, options
and seeds the numbers are the same (tested).

Supported layers: ``Linear`` and ``Conv2d`` (any kernel, stride, padding with
zeros, dilation; ``groups > 1`` and depthwise convolutions are split into one
analog convolution per group, each on its own tiles, since aihwkit's layers
take one group). Batch norm, layer/group norm, pooling, activations and
residual sums run digitally between the analog layers, as on a chip's digital
periphery. A layer with weights of any other kind is refused by name, never
left digital silently; ``digital_layers`` keeps named layers digital on
purpose (first and last layer, as many analog studies do).
"""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import torch

from memlab.errors import ConfigError
from memlab.files import sha256_file
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation import experiment, hwat_fast, training

BRIDGE_API_VERSION = "1.0"
ANALOG_KINDS = (torch.nn.Linear, torch.nn.Conv2d)
DIGITAL_KINDS = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm)
"""Layers with parameters that always run digitally (normalisation in the periphery)."""


@dataclass(frozen=True)
class AnalogConfig:
    """A device file turned into crossbar settings: what :func:`convert_to_analog` builds tiles from.

    ``options`` are :class:`~memlab.simulation.analog.AnalogOptions` (D2D,
    programming mode, drift model, converters, tile size, seed); ``ir_drop`` the
    wire model applied once per programming (None: ideal wires).
    """

    device: Any = field(repr=False)
    options: dm.AnalogOptions
    device_file: Optional[str] = None
    device_file_sha256: Optional[str] = None
    ir_drop: Any = None  # memlab.simulation.ir_fast.IRDropConfig

    def rpu_config(self, *, hwat: bool = False):
        """The aihwkit ``TorchInferenceRPUConfig`` (device-derived noise; HWAT modifier if ``hwat``)."""
        return dm.rpu_config(self.device, self.options, hwat=hwat)

    @property
    def tile_transform(self):
        if self.ir_drop is None:
            return None
        from memlab.simulation.ir_mvm import IRDropTransform

        return IRDropTransform(self.ir_drop)

    def to_json(self) -> dict[str, Any]:
        return {"options": dataclasses.asdict(self.options),
                "ir_drop": None if self.ir_drop is None else self.ir_drop.as_dict()}


def analog_config(device_file: Any, *, ir_drop_wire_resistance_ohm: Optional[float] = None,
                  ir_drop_array_size: int = 256, **options: Any) -> AnalogConfig:
    """Crossbar settings from a device file (a path or a loaded ``DeviceFile``) and keyword options.

    ``options`` are the fields of ``AnalogOptions`` (``d2d_fraction``, ``programming``,
    ``drift``, ``drift_compensation``, ``adc_bits``, ``dac_bits``, ``tile_size``,
    ``branch``, ``seed`` ...); an unknown name is refused with the allowed ones.
    ``ir_drop_wire_resistance_ohm`` switches IR drop on (ohm per wire segment).

    >>> import memlab
    >>> cfg = memlab.analog_config("sample_data/devices/virtual-hfs2.json", drift="measured", adc_bits=6)
    >>> cfg.options.adc_bits, cfg.options.d2d_fraction, cfg.device_file_sha256[:8] == memlab.analog_config(
    ...     "sample_data/devices/virtual-hfs2.json").device_file_sha256[:8]
    (6, 0.3, True)
    """
    try:
        analog_options = dm.AnalogOptions.from_json(options)
    except ConfigError as exc:
        raise ConfigError(f"analog_config: {exc}") from None
    path = sha = None
    device = device_file
    if isinstance(device_file, (str, pathlib.Path)):
        from memlab.analysis.device_file import load_device_file

        path = str(device_file)
        device = load_device_file(device_file)
        sha = sha256_file(pathlib.Path(device_file))
    ir = None
    if ir_drop_wire_resistance_ohm is not None:
        from memlab.simulation.ir_fast import IRDropConfig

        ir = IRDropConfig(wire_resistance_ohm=float(ir_drop_wire_resistance_ohm), array_size=ir_drop_array_size)
    return AnalogConfig(device, analog_options, path, sha, ir)


class GroupedConv2d(torch.nn.Module):
    """A ``Conv2d`` with ``groups > 1`` as one convolution per group (each maps to its own tiles)."""

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        super().__init__()
        g = conv.groups
        self.groups = g
        self.convs = torch.nn.ModuleList()
        w = conv.weight.detach()
        per_out = conv.out_channels // g
        for i in range(g):
            part = torch.nn.Conv2d(conv.in_channels // g, per_out, conv.kernel_size, conv.stride, conv.padding,
                                   conv.dilation, bias=conv.bias is not None).to(w.device, w.dtype)
            with torch.no_grad():
                part.weight.copy_(w[i * per_out:(i + 1) * per_out])
                if conv.bias is not None:
                    part.bias.copy_(conv.bias.detach()[i * per_out:(i + 1) * per_out])
            self.convs.append(part)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(part) for conv, part in zip(self.convs, x.chunk(self.groups, dim=1))], dim=1)


def _inside(name: str, names: Iterable[str]) -> bool:
    return any(name == d or name.startswith(d + ".") for d in names)


def _prepare(model: torch.nn.Module, digital: tuple[str, ...]) -> tuple[torch.nn.Module, list[str]]:
    """A copy with grouped convolutions split; refuses layers that cannot be analog (by name)."""
    model = copy.deepcopy(model)
    names = dict(model.named_modules())
    missing = [d for d in digital if d not in names or d == ""]
    if missing:
        raise ConfigError(f"digital_layers: no layer named {', '.join(map(repr, missing))} in the network "
                          f"(its layers: {', '.join(n for n in names if n)})")
    split = []
    for name, mod in list(model.named_modules()):
        if not name or _inside(name, digital):
            continue
        kind = type(mod).__name__
        if isinstance(mod, torch.nn.Conv2d) and type(mod) is torch.nn.Conv2d:
            if mod.padding_mode != "zeros":
                raise ConfigError(f"layer {name!r} (Conv2d) pads with {mod.padding_mode!r}: analog convolutions "
                                  "pad with zeros only; change it or pass digital_layers=(..., "
                                  f"{name!r})")
            if mod.groups > 1:
                parent, _, child = name.rpartition(".")
                setattr(model.get_submodule(parent), child, GroupedConv2d(mod))
                split.append(name)
        elif type(mod) in ANALOG_KINDS or isinstance(mod, DIGITAL_KINDS):
            continue
        elif any(True for _ in mod.parameters(recurse=False)):
            raise ConfigError(f"layer {name!r} ({kind}) has weights but no analog counterpart in memlab "
                              f"(analog: Linear, Conv2d); keep it digital with digital_layers=(..., {name!r})")
    return model, split


def convert_to_analog(model: torch.nn.Module, config: AnalogConfig, *, digital_layers: Iterable[str] = (),
                      hwat: bool = False) -> torch.nn.Module:
    """An aihwkit analog copy of ``model`` on the device's crossbars (``model`` is untouched).

    Every ``Linear`` and ``Conv2d`` outside ``digital_layers`` becomes an aihwkit
    analog layer with the device-derived tiles; ``hwat=True`` adds the training
    noise of :func:`hwat_fine_tune`. The returned module carries
    ``memlab_lineage`` (device file hash, options, digital and split layers).
    """
    digital = tuple(digital_layers)
    prepared, split = _prepare(model, digital)
    analog = dm.to_analog(prepared, config.device, config.options, hwat=hwat, digital_layers=digital, inplace=True)
    analog.memlab_lineage = {"bridge_api_version": BRIDGE_API_VERSION, "device_file": config.device_file,
                             "device_file_sha256": config.device_file_sha256, **config.to_json(),
                             "digital_layers": list(digital), "grouped_convolutions_split": split,
                             "hwat": None}
    return analog


def hwat_fine_tune(analog: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float,
                   batch_size: int = 100, seed: int = 0, device: str = "cpu", augment=None,
                   progress: bool = True) -> list[float]:
    """Hardware-aware fine-tuning in place: aihwkit's tile arithmetic with the device's noise
    (fast layers, written back into ``analog``); cross-entropy, SGD with momentum, cosine
    learning rate as ``memlab simulate``. Returns the mean loss of each epoch."""
    fast = hwat_fast.trainable(analog)
    losses = training.train(fast, x, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                            optimizer=hwat_fast.optimizer(fast, lr), augment=augment, desc="HWAT", progress=progress)
    hwat_fast.write_back(fast, analog)
    lineage = getattr(analog, "memlab_lineage", None)
    if lineage is not None:
        lineage["hwat"] = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed}
    return losses


def calibrate_input_ranges(analog: torch.nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """The DAC input ranges from a few input batches (aihwkit's data-driven start), for networks not
    fine-tuned with :func:`hwat_fine_tune` (which learns them)."""
    hwat_fast.calibrate_input_ranges(analog, batches)


def program_analog_weights(analog: torch.nn.Module, seed: int = 0) -> None:
    """Program every device once (C2C, D2D, stuck devices, drift exponents), seeded."""
    dm.program(analog, seed)


def drift_analog_weights(analog: torch.nn.Module, t_s: float, seed: int = 0) -> None:
    """The weights ``t_s`` seconds after programming (drift, read noise; compensation if the options say so)."""
    dm.drift_to(analog, t_s, seed)


def freeze(analog: torch.nn.Module, config: AnalogConfig, seed: int = 0) -> torch.nn.Module:
    """A plain-torch copy of the programmed crossbars (converters, IR drop) for fast evaluation."""
    return dm.freeze(analog, seed=seed, tile_transform=config.tile_transform)


@dataclass(frozen=True)
class _TestData:
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass(frozen=True)
class _EvalTask:
    eval_batch_size: int


@dataclass(frozen=True)
class AnalogResults:
    """Accuracies of one analog network, as ``memlab simulate`` writes them (:meth:`to_json`)."""

    results: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.results

    def write_json(self, path: str | pathlib.Path) -> pathlib.Path:
        from memlab.simulation.results import Results

        return Results.from_json(self.results).write_json(path)  # the one writer


def evaluate_analog(analog: torch.nn.Module, x_test: torch.Tensor, y_test: torch.Tensor, config: AnalogConfig, *,
                    times_s: tuple[float, ...] = (1.0,), repeats: int = 5, seed: int = 0, batch_size: int = 1000,
                    digital: Optional[torch.nn.Module] = None, task: str = "custom", dataset: Optional[dict] = None,
                    device: str = "cpu", progress: bool = False) -> AnalogResults:
    """Accuracy at programming time and at ``times_s`` after it, ``repeats`` programmings each.

    The stages and seeds of ``memlab simulate`` (programming repeats from ``derive(seed,
    'programming')``, drift from ``derive(seed, 'drift')``: :mod:`memlab.seeds`), compensation as ``config``
    says; ``digital`` (the network before conversion) adds its accuracy.
    """
    sim = experiment.SimulationConfig(task=task, repeats=repeats, seed=seed, device=device, options=config.options,
                                      times_s=tuple(float(t) for t in times_s), d2d_sweep=(),
                                      tile_transform=config.tile_transform)
    data, evaluation = _TestData(x_test, y_test), _EvalTask(batch_size)
    lineage = dict(getattr(analog, "memlab_lineage", {}))
    wall0 = time.perf_counter()
    digital_acc = None if digital is None else training.accuracy(digital.to(device).eval(), x_test, y_test,
                                                                 batch_size=batch_size, device=device)
    analog.to(device).eval()
    at_programming = experiment.programming_repeats(analog, data, sim, evaluation, seed=derive(seed, "programming"),
                                                    progress=progress)
    over_time = experiment.accuracy_vs_time(analog, data, sim, evaluation, seed=derive(seed, "drift"),
                                            progress=progress)
    hwat = lineage.get("hwat") is not None
    from memlab.simulation.results import Results, portable_path

    res = Results(
        task=task, dataset=dataset or {},
        device_file=None if config.device_file is None else portable_path(config.device_file),
        device_file_sha256=config.device_file_sha256,
        config=sim.to_json(), drift_model=experiment.drift_model(config.device, config.options),
        seeds={"root": seed, "scheme": experiment.SEEDS_SCHEME, "programming": derive(seed, "programming"),
               "drift": derive(seed, "drift")},
        versions=experiment.library_versions(), hardware={"device": device},
        network=training.describe(digital if digital is not None else analog), lineage=lineage,
        checkpoints={"dir": None, "digital_reused": False, "hwat_reused": False},
        digital_accuracy=digital_acc, analog_accuracy=experiment.accuracy_stats(at_programming),
        accuracy_vs_time=[{"branch": config.options.branch, "hwat": hwat,
                           "drift_compensation": config.options.drift_compensation,
                           "times_s": list(sim.times_s), "repeats": repeats, "skipped": None,
                           "accuracy": [experiment.accuracy_stats(a) for a in over_time]}],
        complete=True)
    results = res.to_json()
    if digital_acc is not None:
        results["summary"] = experiment.summary(results)
    results["timings_s"] = {"total_s": time.perf_counter() - wall0}
    results["wall_time_s"] = results["timings_s"]["total_s"]
    return AnalogResults(results)
