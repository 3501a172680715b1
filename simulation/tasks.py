"""Task registry: name -> :class:`Task` (data, network, training defaults).

``mnist`` and ``digits`` live here; ``cifar10`` is looked up lazily from
``memlab.simulation.cifar10`` (its module attribute ``TASK``), so importing
this module never pulls in the CIFAR code.

A task's ``load(data_dir)`` returns an object with ``x_train``, ``y_train``,
``x_test``, ``y_test`` tensors and a ``provenance()`` dict (for instance
:class:`memlab.simulation.datasets.Dataset`); ``augment(x, generator)``, when
set, is applied to every training batch (on the training device).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from memlab import reference as ref
from memlab.errors import ConfigError
from memlab.simulation import datasets


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


def mlp(sizes: tuple[int, ...]) -> torch.nn.Sequential:
    """Fully connected ReLU network on flattened images, e.g. (784, 500, 10)."""
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


MNIST = Task(
    name="mnist", load=datasets.load_mnist, build=lambda: mlp((784, 500, 10)),
    epochs=int(ref.MNIST_EPOCHS.value), hwat_epochs=int(ref.MNIST_HWAT_EPOCHS.value), lr=0.05, hwat_lr=0.01, batch_size=128, eval_batch_size=1000,
    quick_epochs=3, quick_hwat_epochs=1, label="MNIST")

DIGITS = Task(
    name="digits", load=lambda data_dir=None: datasets.load_digits(), build=lambda: mlp((64, 128, 10)),
    epochs=40, hwat_epochs=10, lr=0.05, hwat_lr=0.01, batch_size=32, eval_batch_size=1000,
    quick_epochs=20, quick_hwat_epochs=5, label="scikit-learn 8x8 digits")

_TASKS = {"mnist": MNIST, "digits": DIGITS}
_LAZY = {"cifar10": "memlab.simulation.cifar10"}


def task_names() -> list[str]:
    """Every task name the registry knows (lazy ones included)."""
    return sorted(set(_TASKS) | set(_LAZY))


def get_task(name: str) -> Task:
    """The task called ``name``; ConfigError lists the known names."""
    if name in _TASKS:
        return _TASKS[name]
    if name in _LAZY:
        try:
            module = importlib.import_module(_LAZY[name])
        except ImportError as exc:
            raise ConfigError(f"task {name!r} is not available: {exc}") from None
        return module.TASK
    raise ConfigError(f"unknown task {name!r}; known: {', '.join(task_names())}")
