"""CIFAR-10 (JPEG copy): the paper's 3-block ResNet (its Fig. 4), 200 digital + 20 HWAT epochs.

The network and its optimiser are :mod:`memlab.simulation.cifar10`, its data
:mod:`memlab.simulation.cifar10_data`; this module is the task: its data as the experiment
needs it, and its training recipe (:class:`Cifar10Recipe`), which differs from the generic one
where CIFAR-10 on a GPU needs it:

* the whole training set sits on the training device as uint8 and batches are augmented there;
  digital training uses bf16 autocast on CUDA; analog tiles stay in float32;
* wall-clock budgets (``Cifar10Training.digital_budget_s``/``hwat_budget_s``, and the plan's
  ``deadline_s``): the number of epochs is fixed after the first epochs' timing (never more than
  asked for) and the learning-rate schedule stretched to it, so a short run is a complete,
  annealed run; the results say how many epochs ran;
* load-or-train: weights given by the plan (``--digital-weights``/``--hwat-weights``, e.g. the committed
  ``results/cifar10/networks/cifar10_*.pt``) are loaded in the architecture they were saved from
  (``load_network``); otherwise the network of the default architecture is trained. The committed networks
  are architecture ``v1-2026-11``, not the default, so they are no ``Task.pretrained`` stage.

Imported only when the task is asked for, so the other tasks never load the CIFAR code.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn
from tqdm import tqdm

from memlab.seeds import derive
from memlab.simulation import hwat_fast
from memlab.simulation.cifar10 import (TrainSettings, WarmupCosine, build_network, digital_optimizer, evaluate,
                                       load_network, train_epoch)
from memlab.simulation.cifar10_data import DATASET_LABEL, AugmentParams, Cifar10Data, augment, load_cifar10, \
    normalise, to_tensor
from memlab.simulation.stages import training_record
from memlab.simulation.tasks import Task

QUICK_PER_CLASS = 30  # images per class and split of a quick (smoke) run


@dataclass(frozen=True)
class Cifar10Training:
    """The CIFAR-10 recipe's settings (``ExperimentPlan.training``; the plan's epochs win over
    ``settings``' epoch counts). per_class: images per class and split (None: all 60,000; quick
    runs: 30). eval_every: test accuracy every so many digital epochs."""

    settings: TrainSettings = field(default_factory=TrainSettings)
    digital_budget_s: Optional[float] = None
    hwat_budget_s: Optional[float] = None
    amp: bool = True
    eval_every: int = 10
    per_class: Optional[int] = None

    def __post_init__(self) -> None:
        from memlab.errors import ConfigError

        for name in ("digital_budget_s", "hwat_budget_s"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"{name}={v} must be > 0 s (or None for no limit)")
        if self.eval_every < 1:
            raise ConfigError(f"eval_every={self.eval_every} must be >= 1")


class _Normalised:
    """uint8 images seen as normalised float batches (``view[idx]``), without a float copy of the set."""

    def __init__(self, images: torch.Tensor, mean, std) -> None:
        self.images, self.mean, self.std = images, mean, std

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx) -> torch.Tensor:
        return normalise(self.images[idx], self.mean, self.std)


@dataclass(frozen=True)
class Cifar10Tensors:
    """The task's data: uint8 images (N, 3, 32, 32) and int64 labels on the CPU; ``x_test`` normalised
    float32, ``x_train`` a normalised view (what calibration and the generic stages read)."""

    train_images: torch.Tensor
    y_train: torch.Tensor
    test_images: torch.Tensor
    y_test: torch.Tensor
    x_test: torch.Tensor
    data: Cifar10Data

    @property
    def x_train(self) -> _Normalised:
        return _Normalised(self.train_images, self.data.mean, self.data.std)

    def provenance(self) -> dict:
        return self.data.provenance()


def load_task_data(data_dir: str | None = None, *, per_class: int | None = None,
                   progress: bool = False) -> Cifar10Tensors:
    """CIFAR-10 (JPEG copy) as the experiment's tensors (see :class:`Cifar10Tensors`)."""
    data = load_cifar10(data_dir, per_class=per_class, progress=progress)
    (xi, yi), (xt, yt) = to_tensor(data.train), to_tensor(data.test)
    return Cifar10Tensors(train_images=xi, y_train=yi, test_images=xt, y_test=yt,
                          x_test=normalise(xt, data.mean, data.std), data=data)


def _training(plan: Any) -> Cifar10Training:
    return plan.training if isinstance(plan.training, Cifar10Training) else Cifar10Training()


def _load_for_plan(data_dir: Optional[str], plan: Any) -> Cifar10Tensors:
    per_class = _training(plan).per_class or (QUICK_PER_CLASS if plan.quick else None)
    return load_task_data(data_dir, per_class=per_class)


# One loop with its budget re-planning (about 65 lines): split up, the epoch plan reads worse.
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


class Cifar10Recipe:
    """Training on the device with its data held there, budgets, bf16 autocast (see the module)."""

    def digital(self, task: Task, net: nn.Module, data: Cifar10Tensors, plan: Any, *, seed: int,
                progress: bool, log: Callable[[str], None], clock: Any) -> dict:
        s, device = _training(plan), torch.device(plan.device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            net = net.to(device).to(memory_format=torch.channels_last)
        net.to(device)
        xi, yi = data.train_images.to(device), data.y_train.to(device)
        xt, yt = data.test_images.to(device), data.y_test.to(device)
        mean, std = data.data.mean, data.data.std

        def test() -> float:
            return evaluate(net, xt, yt, mean=mean, std=std, batch_size=s.settings.eval_batch_size, amp=s.amp)

        record = train_network(net, digital_optimizer(net, s.settings), xi, yi, mean=mean, std=std,
                               settings=s.settings, peak_lr=s.settings.lr, max_epochs=plan.epochs,
                               warmup_epochs=1 if plan.epochs > 1 else 0, budget_s=s.digital_budget_s, amp=s.amp,
                               generator=torch.Generator(device=device).manual_seed(seed), test=test,
                               eval_every=s.eval_every, desc="digital", progress=progress, log=log)
        net.to(memory_format=torch.contiguous_format).eval()
        return {**training_record(plan.epochs, record["seconds"]), **record}

    def hwat(self, task: Task, fast: nn.Module, data: Cifar10Tensors, plan: Any, options: Any, *, seed: int,
             progress: bool, log: Callable[[str], None], clock: Any) -> dict:
        s, device = _training(plan), torch.device(plan.device)
        budget, left = s.hwat_budget_s, clock.left()
        if left is not None:  # keep about a third of what is left for the evaluations
            budget = min(budget or math.inf, 0.6 * left)
        xi, yi = data.train_images.to(device), data.y_train.to(device)
        gen = torch.Generator(device=device).manual_seed(derive(seed, "batches"))
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device.type == "cuda" else []):
            torch.manual_seed(derive(seed, "training_noise"))  # aihwkit's training noise draws from the global RNG
            record = train_network(fast, hwat_fast.optimizer(fast, s.settings.hwat_lr), xi, yi,
                                   mean=data.data.mean, std=data.data.std, settings=s.settings,
                                   peak_lr=s.settings.hwat_lr, max_epochs=plan.hwat_epochs, warmup_epochs=0,
                                   budget_s=budget, amp=False, generator=gen, eval_every=s.eval_every,
                                   desc=f"HWAT ({options.branch})", progress=progress, log=log)
        return {**training_record(plan.hwat_epochs, record["seconds"]), **record}


def _task_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return augment(x, generator, AugmentParams())


_DEFAULTS = TrainSettings()
TASK = Task(
    name="cifar10", load=load_task_data, build=build_network,
    epochs=_DEFAULTS.digital_epochs, hwat_epochs=_DEFAULTS.hwat_epochs,
    lr=_DEFAULTS.lr, hwat_lr=_DEFAULTS.hwat_lr, batch_size=_DEFAULTS.batch_size,
    eval_batch_size=_DEFAULTS.eval_batch_size, quick_epochs=1, quick_hwat_epochs=1,
    weight_decay=_DEFAULTS.weight_decay, augment=_task_augment, label=DATASET_LABEL,
    recipe=Cifar10Recipe(), load_network=load_network,
    plan_defaults={"sweep_repeats": 3, "compare_open_loop": True, "drift_branches": None},
    quick_plan_defaults={"repeats": 2, "sweep_repeats": 1, "d2d_sweep": (0.0, 0.3), "drift_branches": None},
    load_plan=_load_for_plan)
