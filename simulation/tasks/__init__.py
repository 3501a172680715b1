"""Tasks as plug-ins: one module of this package per task, each with a module attribute ``TASK``.

A :class:`Task` supplies what the experiment needs of it: its data (``load``),
its network (``build``), its training recipe (epochs, learning rates, batch
sizes, augmentation) and how results name its data set. The registry is the
package itself: ``get_task(name)`` imports ``memlab.simulation.tasks.<name>``
on first use (so the CIFAR-10 code loads only for ``cifar10``), and
``task_names()`` lists the modules; adding a task is adding a module.
``digits`` and ``mnist`` define their MLPs here with :func:`mlp`; ``cifar10``
registers the ResNet task of :mod:`memlab.simulation.cifar10`.

A task's ``load(data_dir)`` returns an object with ``x_train``, ``y_train``,
``x_test``, ``y_test`` tensors and a ``provenance()`` dict (for instance
:class:`memlab.simulation.datasets.Dataset`); ``augment(x, generator)``, when
set, is applied to every training batch (on the training device).

The training recipe is the task's too: ``recipe`` (an object with ``digital(...)`` and
``hwat(...)``, see :class:`memlab.simulation.stages.SgdRecipe`, the default), ``pretrained``
(stage -> a file of the repository holding that stage's network for the task's default plan:
the experiment loads it instead of training) and the plan defaults it needs
(``plan_defaults``, ``quick_plan_defaults``: :func:`memlab.simulation.plan.default_plan`).
``load_plan(data_dir, plan)``, when set, loads the data the plan asks for (a subset for quick runs).
"""

from __future__ import annotations

import importlib
import pkgutil
import pathlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import torch

from memlab.errors import ConfigError


@dataclass(frozen=True)
class Task:
    """What an experiment needs to know about one task.

    epochs/hwat_epochs: full-run defaults (the paper's 30 + 5 for MNIST);
    quick_epochs/quick_hwat_epochs: the ``quick`` mode used by smoke tests and the demo.
    lr: digital SGD learning rate (momentum 0.9, cosine decay); hwat_lr: the HWAT one.
    """

    name: str
    load: Callable[[Optional[str]], Any]
    build: Callable[[], torch.nn.Module]
    epochs: int
    hwat_epochs: int
    lr: float
    hwat_lr: float
    batch_size: int
    eval_batch_size: int
    quick_epochs: int
    quick_hwat_epochs: int
    weight_decay: float = 0.0
    augment: Optional[Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = None
    label: str = ""  # how results name the data set
    recipe: Any = None  # None: memlab.simulation.stages.SgdRecipe()
    pretrained: Mapping[str, str] = field(default_factory=dict)  # stage -> repository-relative file
    plan_defaults: Mapping[str, Any] = field(default_factory=dict)
    quick_plan_defaults: Mapping[str, Any] = field(default_factory=dict)
    load_plan: Optional[Callable[[Optional[str], Any], Any]] = None
    load_network: Optional[Callable[[Any], torch.nn.Module]] = None  # weights file -> network of its own architecture

    def load_for(self, data_dir: Optional[str], plan: Any) -> Any:
        """The data ``plan`` asks for (``load_plan`` when the task has one, else ``load``)."""
        return self.load(data_dir) if self.load_plan is None else self.load_plan(data_dir, plan)

    def training_recipe(self) -> Any:
        if self.recipe is not None:
            return self.recipe
        from memlab.simulation.stages import SgdRecipe

        return SgdRecipe()

    def pretrained_file(self, stage: str, plan: Any) -> Optional[pathlib.Path]:
        """The task's pre-trained network for ``stage`` when ``plan`` is the one it was trained for (the
        task's default epochs and seed 0, not quick) and the file is there (a checkout, not an install)."""
        name = self.pretrained.get(stage)
        epochs = plan.epochs if stage == "digital" else plan.hwat_epochs
        default = self.epochs if stage == "digital" else self.hwat_epochs
        if name is None or plan.quick or plan.seed != 0 or epochs != default:
            return None
        path = pathlib.Path(__file__).resolve().parents[2] / name
        return path if path.is_file() else None


def mlp(sizes: tuple[int, ...]) -> torch.nn.Sequential:
    """Fully connected ReLU network on flattened images, e.g. (784, 500, 10)."""
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def task_names() -> list[str]:
    """Every task this package holds (its modules), loaded or not."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get_task(name: str) -> Task:
    """The task called ``name``; ConfigError lists the known names."""
    if not isinstance(name, str) or name not in task_names():
        raise ConfigError(f"unknown task {name!r}; known: {', '.join(task_names())}")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise ConfigError(f"task {name!r} is not available: {exc}") from None
    return module.TASK
