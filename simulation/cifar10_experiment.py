"""The CIFAR-10 experiment of the paper's Fig. 5, on CPU or CUDA, sized to a wall-clock budget.

Evaluation reuses the generic stages of :mod:`memlab.simulation.experiment`
(programming repeats, D2D sweep, accuracy versus time, all through
``analog.freeze``) and writes the same results schema, so
:func:`memlab.simulation.figures.write_figures` draws it. Training differs
from the generic loop where CIFAR-10 on a GPU needs it:

* the whole data set sits on the training device as uint8 and batches are
  augmented there (:mod:`.cifar10_data`); digital training uses bf16 autocast
  on CUDA; analog tiles stay in float32;
* a run may be given wall-clock budgets: the number of epochs is then fixed
  after the first epochs' timing (never more than asked for) and the learning
  rate schedule is stretched to it, so a short run is a complete, annealed run;
  the results say how many epochs ran;
* BatchNorm statistics and parameters after HWAT are carried into evaluation
  (``analog.analog_state`` keeps only the analog layers);
* the results file is rewritten after every stage, so a run cut off by its
  time limit still leaves what it finished.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import pathlib
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Optional

import torch
from torch import nn
from tqdm import tqdm

from memlab import reference as ref
from memlab.analysis.device_file import load_device_file
from memlab.errors import ConfigError
from memlab.files import sha256_file
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation import experiment as ex
from memlab.simulation import hwat_fast
from memlab.simulation.cifar10 import (TASK, TrainSettings, WarmupCosine, build_network,
                                       count_weights, digital_optimizer, evaluate, load_network, train_epoch)
from memlab.simulation.weights_record import loaded_provenance
from memlab.simulation.cifar10_data import load_cifar10, normalise, to_tensor

_CALIBRATION_BATCHES = 40  # experiment.calibration_batches: 10 batches of 4x the batch size
PAPER = {"digital_accuracy": ref.CIFAR10_DIGITAL_ACCURACY.si, "analog_accuracy": ref.CIFAR10_ANALOG_ACCURACY.si,
         "digital_epochs": ref.CIFAR10_EPOCHS.value, "hwat_epochs": ref.CIFAR10_HWAT_EPOCHS.value,
         "d2d_fraction": ref.D2D_ASSUMED.si, "source": f"{ref.PAPER}, Fig. 5"}  # the paper's, from memlab.reference


@dataclass(frozen=True)
class Cifar10Plan:
    """What a CIFAR-10 run does.

    digital_budget_s / hwat_budget_s: wall-clock caps on training (None: run
    settings' epochs in full). deadline_s: the whole run, from its start;
    evaluation repeats shrink (to 1) or stages are skipped to meet it.
    repeats: programming repeats at t = 0 (the paper's 5); sweep_repeats: per
    point of the D2D sweep and of the accuracy-versus-time curves.
    per_class: images per class and split (None: all 60,000), for smoke runs.
    digital_weights: a ``cifar10_digital.pt`` of an earlier run to start from
        instead of digital training (its path and sha256 go into the results).
    hwat_weights: a ``cifar10_hwat.pt`` of an earlier run (with its
        ``digital_weights``) to evaluate instead of hardware-aware training.
    compare_open_loop: after the write-verify D2D sweep, the same sweep with
        open-loop programming (``d2d_sweep_open_loop``), time permitting.
    """

    settings: TrainSettings = field(default_factory=TrainSettings)
    options: dm.AnalogOptions = field(default_factory=dm.AnalogOptions)
    digital_budget_s: Optional[float] = None
    hwat_budget_s: Optional[float] = None
    deadline_s: Optional[float] = None
    repeats: int = 5
    sweep_repeats: int = 3
    times_s: Optional[tuple[float, ...]] = None
    d2d_sweep: tuple[float, ...] = ex.DEFAULT_D2D_SWEEP
    seed: int = 0
    amp: bool = True
    eval_every: int = 10
    per_class: Optional[int] = None
    digital_weights: Optional[str] = None
    hwat_weights: Optional[str] = None
    compare_open_loop: bool = True

    def __post_init__(self) -> None:
        for name in ("digital_budget_s", "hwat_budget_s", "deadline_s"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"{name}={v} must be > 0 s (or None for no limit)")
        for name in ("repeats", "sweep_repeats", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["augment"] = d["settings"].pop("augment")
        return d


# ---------------------------------------------------------------- training with a budget

def train_network(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                  labels: torch.Tensor, *, mean, std, settings: TrainSettings, peak_lr: float,
                  max_epochs: int, warmup_epochs: int, budget_s: Optional[float], amp: bool,
                  generator: torch.Generator, test: Optional[Callable[[], float]] = None,
                  eval_every: int = 10, desc: str = "train", progress: bool = True,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train for ``max_epochs``, or as many as fit in ``budget_s`` seconds.

    With a budget the epoch count is planned after epoch 1 and re-planned
    after epoch 2 (the first includes start-up costs), never above
    ``max_epochs``; the cosine schedule then ends at the planned epoch.
    ``test()`` (test accuracy) runs every ``eval_every`` epochs and at the end.
    Returns the history and the counts for the results file.
    """
    steps = math.ceil(len(labels) / settings.batch_size)
    sched = WarmupCosine(optimizer, peak_lr, warmup_epochs * steps,
                         None if budget_s is not None else max_epochs * steps)
    planned, history, stopped = max_epochs, [], None
    start = time.perf_counter()
    bar = tqdm(total=max_epochs, desc=desc, unit="epoch", leave=False, disable=not progress)
    epoch = 0
    while epoch < planned:
        epoch += 1
        row = train_epoch(model, images, labels, optimizer, sched, mean=mean, std=std,
                          settings=settings, generator=generator, amp=amp)
        elapsed = time.perf_counter() - start
        if budget_s is not None and epoch <= 2:
            fit = epoch + math.floor((budget_s - elapsed) / row["seconds"])
            planned = max(epoch, min(max_epochs, fit))
            sched.set_total(planned * steps)
            bar.total = planned
        row.update(epoch=epoch, lr_end=sched.lr(), elapsed_s=elapsed)
        if test is not None and (epoch % eval_every == 0 or epoch == planned):
            row["test_accuracy"] = test()
        history.append(row)
        bar.update()
        log(f"{desc} epoch {epoch}/{planned}: loss {row['loss']:.4f} train acc {row['accuracy']:.4f}"
            + (f" test acc {row['test_accuracy']:.4f}" if "test_accuracy" in row else "")
            + f" ({row['seconds']:.1f} s, {row['images'] / row['seconds']:.0f} img/s)")
        if not math.isfinite(row["loss"]):
            stopped = f"non-finite loss in epoch {epoch}"
            break
        if budget_s is not None and elapsed > 1.15 * budget_s and epoch < planned:
            stopped = f"over budget after epoch {epoch}"  # the schedule did not anneal fully
            break
    bar.close()
    total = time.perf_counter() - start
    n_img = sum(r["images"] for r in history)
    return {"epochs_requested": max_epochs, "epochs_run": len(history), "epochs_planned": planned,
            "budget_s": budget_s, "stopped": stopped, "seconds": total,
            "images_per_s": n_img / total if total > 0 else None, "peak_lr": peak_lr,
            "history": history}


def _copy_digital_state(analog: nn.Module, digital: nn.Module) -> nn.Module:
    """A copy of ``digital`` with the non-analog layers' state (BatchNorm) of ``analog``."""
    out = copy.deepcopy(digital)
    for name, mod in analog.named_modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            out.get_submodule(name).load_state_dict(mod.state_dict())
    return out


# ---------------------------------------------------------------- evaluation under a deadline

def _repeats_that_fit(seconds_left: Optional[float], cost_per_repeat: float, wanted: int) -> int:
    """Repeats of a stage that fit the time left (0: skip the stage)."""
    if seconds_left is None:
        return wanted
    return max(0, min(wanted, math.floor(seconds_left / max(cost_per_repeat, 1e-6))))


def _card(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


class _ResultsFile:
    """Rewrites the results JSON atomically after every stage."""

    def __init__(self, folder: Optional[pathlib.Path]) -> None:
        self.path = None if folder is None else folder / "cifar10_results.json"

    def write(self, results: dict[str, Any]) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def run_cifar10(device_path: str | os.PathLike, plan: Cifar10Plan = Cifar10Plan(), *,
                out_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                torch_device: str = "cpu", cache_dir: str | os.PathLike | None = None,
                progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Device file → trained digital and HWAT networks → Fig. 5 evaluations.

    Writes ``cifar10_results.json`` (after every stage), the trained weights
    (``cifar10_digital.pt``, ``cifar10_hwat.pt``: tensors only, load with
    ``weights_only=True``) and the figures into ``out_dir``. ``cache_dir``:
    where the decoded images are cached (default: see ``load_cifar10``).
    Accuracies are fractions in [0, 1].
    """
    wall0 = time.perf_counter()
    device = torch.device(torch_device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("torch_device is 'cuda' but torch sees no CUDA device")
    folder = None if out_dir is None else pathlib.Path(out_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    sink = _ResultsFile(folder)

    def left() -> Optional[float]:
        return None if plan.deadline_s is None else plan.deadline_s - (time.perf_counter() - wall0)

    device_path = pathlib.Path(device_path)
    device_file = load_device_file(device_path)
    device_sha = sha256_file(device_path)
    settings, seed = plan.settings, plan.seed
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    t = time.perf_counter()
    data = load_cifar10(data_dir, per_class=plan.per_class, cache_dir=cache_dir, progress=progress)
    (xi, yi), (xt, yt) = to_tensor(data.train, device), to_tensor(data.test, device)
    mean, std = data.mean, data.std
    load_s = time.perf_counter() - t
    log(f"data: {len(yi)} train / {len(yt)} test images ({data.label}) in {load_s:.1f} s on {_card(device)}")

    # loaded weights bring their own architecture (the committed networks are "v1-2026-11")
    net = build_network(derive(seed, "network")) if plan.digital_weights is None else load_network(plan.digital_weights)
    counts = count_weights(net)
    times_s = plan.times_s or ex.default_times(plan.options.drift)
    results: dict[str, Any] = {
        "kind": ex.RESULTS_KIND, "results_version": ex.RESULTS_VERSION, "task": "cifar10",
        "complete": False, "dataset": data.provenance(),
        "device_file": str(device_path), "device_file_sha256": device_sha,
        "config": {"options": dataclasses.asdict(plan.options), "plan": plan.to_json(),
                   "device": torch_device, "times_s": list(times_s)},
        "drift_model": ex.drift_model(device_file, plan.options),
        "seeds": {**ex.seed_table(seed), "augmentation": derive(seed, "augmentation")},
        "versions": ex.library_versions(),
        "hardware": {"device": torch_device, "card": _card(device)},
        "network": {"architecture": net.architecture.to_json(),
                    "weights": counts.weights, "memristors": counts.memristors,
                    "digital_biases": counts.digital_biases,
                    "tiles": [list(tile) for tile in counts.tiles]},
        "paper": PAPER, "timings_s": {"data_load_s": load_s},
    }

    # --- digital training
    net = net.to(device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    gen = torch.Generator(device=device).manual_seed(derive(seed, "augmentation"))

    def test_digital() -> float:
        return evaluate(net, xt, yt, mean=mean, std=std, batch_size=settings.eval_batch_size, amp=plan.amp)

    if plan.digital_weights is None:
        digital = train_network(net, digital_optimizer(net, settings), xi, yi, mean=mean, std=std,
                                settings=settings, peak_lr=settings.lr, max_epochs=settings.digital_epochs,
                                warmup_epochs=1 if settings.digital_epochs > 1 else 0,
                                budget_s=plan.digital_budget_s, amp=plan.amp, generator=gen,
                                test=test_digital, eval_every=plan.eval_every, desc="digital",
                                progress=progress, log=log)
    else:
        digital = _load_digital(net, plan.digital_weights, device)
        log(f"digital: weights from {plan.digital_weights} (no digital training in this run)")
    net = net.to(memory_format=torch.contiguous_format).eval()
    # float32 accuracy: the reference every analog number is compared with
    results["digital_accuracy"] = evaluate(net, xt, yt, mean=mean, std=std,
                                           batch_size=settings.eval_batch_size)
    results["training"] = {"digital": digital}
    results["timings_s"]["digital_training_s"] = digital["seconds"]
    digital_cpu = copy.deepcopy(net).cpu().eval()
    if folder is not None:
        torch.save(digital_cpu.state_dict(), folder / "cifar10_digital.pt")
    log(f"digital: {digital['epochs_run']} epochs, test accuracy {results['digital_accuracy']:.4f}")
    sink.write(results)

    # --- hardware-aware training
    task = dataclasses.replace(TASK, batch_size=settings.batch_size,
                               eval_batch_size=settings.eval_batch_size)
    x_cal, y_cal = _calibration_set(xi, yi, mean, std, settings, seed)
    eval_data = SimpleNamespace(x_test=normalise(xt, mean, std), y_test=yt.cpu(),
                                x_train=x_cal, y_train=y_cal)
    if plan.hwat_weights is None:
        analog = dm.to_analog(digital_cpu, device_file, plan.options, hwat=True).to(device)
        hwat_budget = plan.hwat_budget_s
        if left() is not None:  # keep about a third of what is left for the evaluations
            hwat_budget = min(hwat_budget or math.inf, 0.6 * left())
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device.type == "cuda" else []):
            torch.manual_seed(derive(seed, "hwat", plan.options.branch))  # aihwkit's training noise draws from the global RNG
            fast = hwat_fast.trainable(analog)  # aihwkit's tile arithmetic without the unfold
            hwat = train_network(fast, hwat_fast.optimizer(fast, settings.hwat_lr), xi, yi,
                                 mean=mean, std=std, settings=settings, peak_lr=settings.hwat_lr,
                                 max_epochs=settings.hwat_epochs, warmup_epochs=0, budget_s=hwat_budget,
                                 amp=False, generator=gen, eval_every=plan.eval_every, desc="HWAT",
                                 progress=progress, log=log)
            hwat_fast.write_back(fast, analog)
        if settings.hwat_epochs == 0:  # input ranges still need their data-driven start
            cfg1 = _cfg(plan, torch_device, times_s, 1)
            hwat_fast.calibrate_input_ranges(analog, ex.calibration_batches(task, eval_data, cfg1))
        hwat_state = {k: v.detach().cpu() for k, v in dm.analog_state(analog).items()}
        hwat_digital = _copy_digital_state(analog.cpu(), digital_cpu)
        del analog
    else:
        hwat_state, hwat_digital, hwat = _load_hwat(plan.hwat_weights, digital_cpu)
        log(f"HWAT: weights from {plan.hwat_weights} (no hardware-aware training in this run)")
    if folder is not None:
        torch.save({**hwat_state, **{f"digital.{k}": v for k, v in hwat_digital.state_dict().items()}},
                   folder / "cifar10_hwat.pt")
    results["training"]["hwat"] = hwat
    results["timings_s"]["hwat_training_s"] = hwat["seconds"]
    sink.write(results)

    # --- evaluations (the generic stages), most important first
    seconds = (digital["seconds"], hwat["seconds"])
    trained_hwat = ex.TrainedNetworks(hwat_digital, hwat_state, False, False, *seconds)
    trained_base = ex.TrainedNetworks(digital_cpu, hwat_state, False, False, *seconds)
    cfg = _cfg(plan, torch_device, times_s, plan.repeats)
    t = time.perf_counter()
    model = ex.analog_network(trained_hwat, task, eval_data, device_file, cfg, plan.options, hwat=True)
    repeats = ex.programming_repeats(model, eval_data, cfg, task, seed=derive(seed, "programming"), progress=progress)
    per_eval = (time.perf_counter() - t) / plan.repeats
    results["analog_accuracy"] = ex.accuracy_stats(repeats)
    results["timings_s"]["programming_repeats_s"] = time.perf_counter() - t
    log(f"analog (HWAT, D2D {plan.options.d2d_fraction:.0%}, t = 0): "
        f"{results['analog_accuracy']['mean']:.4f} ± {results['analog_accuracy']['std']:.4f}")
    sink.write(results)

    def d2d_stage(key: str, options: dm.AnalogOptions) -> None:
        t = time.perf_counter()
        n = _repeats_that_fit(left(), per_eval * len(plan.d2d_sweep) * 1.5, plan.sweep_repeats)
        cfg_n = dataclasses.replace(_cfg(plan, torch_device, times_s, n), options=options)
        sweep = ex.d2d_sweep(trained_hwat, task, eval_data, device_file, cfg_n, seed=derive(seed, "d2d_sweep"),
                             progress=progress) if n else []
        results[key] = {"d2d_fraction": list(plan.d2d_sweep) if n else [], "programming": options.programming,
                        "accuracy": [ex.accuracy_stats(a) for a in sweep],
                        "repeats": n, "skipped": None if n else "out of time"}
        results["timings_s"][f"{key}_s"] = time.perf_counter() - t
        sink.write(results)

    d2d_stage("d2d_sweep", plan.options)

    t = time.perf_counter()
    results["accuracy_vs_time"] = []
    # cost of one repeat of a curve, then of the no-HWAT baseline's input-range calibration
    # (training batches through the aihwkit model), re-measured after each curve
    per_repeat = per_eval * (len(times_s) + 1) * 1.5
    calibration = per_eval * _CALIBRATION_BATCHES * settings.batch_size / len(yt) * 3
    for hw in (True, False):
        for comp in (True, False):
            fixed = 0.0 if hw else calibration
            n = _repeats_that_fit(None if left() is None else left() - fixed, per_repeat, plan.sweep_repeats)
            if n == 0:
                results["accuracy_vs_time"].append({"hwat": hw, "drift_compensation": comp,
                                                    "times_s": [], "accuracy": [], "skipped": "out of time"})
                continue
            t_curve = time.perf_counter()
            options = dataclasses.replace(plan.options, drift_compensation=comp)
            cfg_n = _cfg(plan, torch_device, times_s, n)
            model = ex.analog_network(trained_hwat if hw else trained_base, task, eval_data,
                                      device_file, cfg_n, options, hwat=hw)
            t_eval = time.perf_counter()
            accs = ex.accuracy_vs_time(model, eval_data, cfg_n, task, seed=derive(seed, "drift"), progress=progress,
                                       desc=f"drift {'HWAT' if hw else 'no HWAT'}, {'GDC' if comp else 'no GDC'}")
            per_repeat = max(per_repeat, (time.perf_counter() - t_eval) / n)
            if not hw:
                calibration = max(calibration, t_eval - t_curve)
            results["accuracy_vs_time"].append({"hwat": hw, "drift_compensation": comp,
                                                "times_s": list(times_s), "repeats": n,
                                                "accuracy": [ex.accuracy_stats(a) for a in accs]})
            sink.write(results)
    results["timings_s"]["accuracy_vs_time_s"] = time.perf_counter() - t

    if plan.compare_open_loop and plan.options.programming != "open_loop":  # the same HWAT network
        d2d_stage("d2d_sweep_open_loop", dataclasses.replace(plan.options, programming="open_loop"))

    results["summary"] = ex.summary(results)
    results["summary"].update(paper_digital_accuracy=PAPER["digital_accuracy"],
                              paper_analog_accuracy=PAPER["analog_accuracy"],
                              digital_epochs_run=digital["epochs_run"], hwat_epochs_run=hwat["epochs_run"])
    results["wall_time_s"] = results["timings_s"]["total_s"] = time.perf_counter() - wall0
    results["complete"] = True
    if folder is not None:
        from memlab.simulation.figures import write_figures

        results["figures"] = write_figures(results, folder)
    sink.write(results)
    return results


def _load_digital(net: nn.Module, path: str, device: torch.device) -> dict[str, Any]:
    """Load an earlier run's digital weights into ``net``; the training record says where from."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        net.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, TypeError) as exc:
        raise ConfigError(f"digital weights {path}: cannot be loaded into the CIFAR-10 network ({exc})") from None
    return _loaded_record(path)


def _loaded_record(path: str) -> dict[str, Any]:
    """The training record of a stage whose weights were loaded instead of trained."""
    return {"epochs_requested": 0, "epochs_run": 0, "epochs_planned": 0, "budget_s": None, "stopped": None,
            "seconds": 0.0, "images_per_s": None, "peak_lr": None, "history": [],
            "loaded_from": str(path), "loaded_sha256": sha256_file(path), **loaded_provenance(path)}


def _load_hwat(path: str, digital: nn.Module) -> tuple[dict[str, torch.Tensor], nn.Module, dict[str, Any]]:
    """An earlier run's HWAT file: (analog state, digital network with its BatchNorm state, record)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = copy.deepcopy(digital)
        net.load_state_dict({k[len("digital."):]: v for k, v in state.items() if k.startswith("digital.")})
    except (OSError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"HWAT weights {path}: cannot be loaded into the CIFAR-10 network ({exc})") from None
    analog = {k: v for k, v in state.items() if not k.startswith("digital.")}
    return analog, net.eval(), _loaded_record(path)


def _cfg(plan: Cifar10Plan, torch_device: str, times_s, repeats: int) -> ex.SimulationConfig:
    return ex.SimulationConfig(task="cifar10", epochs=plan.settings.digital_epochs,
                               hwat_epochs=plan.settings.hwat_epochs, repeats=repeats, seed=plan.seed,
                               device=torch_device, options=plan.options, times_s=tuple(times_s),
                               d2d_sweep=tuple(plan.d2d_sweep))


def _calibration_set(images: torch.Tensor, labels: torch.Tensor, mean, std, settings: TrainSettings,
                     seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised training images (and labels) the no-HWAT baseline calibrates its input
    ranges on (what ``experiment.calibration_batches`` draws from), not the whole set: memory."""
    gen = torch.Generator().manual_seed(derive(seed, "calibration"))
    idx = torch.randperm(len(images), generator=gen)[:_CALIBRATION_BATCHES * settings.batch_size]
    idx = idx.to(images.device)
    return normalise(images[idx], mean, std), labels[idx].cpu()
