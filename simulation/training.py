"""Training loops and evaluation (digital and hardware-aware), seeded, with progress bars.

Digital training is plain PyTorch (SGD with momentum 0.9, cosine decay).
Hardware-aware training runs the analog copy from
:func:`memlab.simulation.analog.to_analog` with ``hwat=True``, either
under aihwkit's ``AnalogSGD`` or (what the experiments do) as
:func:`memlab.simulation.hwat_fast.trainable` with
:func:`~memlab.simulation.hwat_fast.optimizer`: the same tile arithmetic and
remapping after every step, with native conv2d/linear calls; the
device-derived weight noise is applied inside the tiles' forward pass.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from tqdm import tqdm

from memlab.seeds import derive


def _batches(n: int, batch_size: int, generator: torch.Generator):
    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield perm[start:start + batch_size]


CALIBRATION_BATCHES = 10
"""Input ranges held in HWAT are calibrated on this many batches of 4x the training batch size
(unaugmented training images, a seeded draw), as the no-HWAT baseline's are."""


def first_batches(x: torch.Tensor, batch_size: int, seed: int, device) -> list[torch.Tensor]:
    """The calibration batches of :data:`CALIBRATION_BATCHES` (seeded, unaugmented)."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(derive(seed, "calibration")))
    size = 4 * batch_size
    return [x[perm[i * size:(i + 1) * size]].to(device) for i in range(CALIBRATION_BATCHES)
            if i * size < len(x)]


def begin_epoch(model: torch.nn.Module, x: torch.Tensor, batch_size: int, seed: int, device) -> None:
    """Let a model that computes something once per epoch (a fast HWAT network: held input
    ranges, the held D2D instance; :meth:`~.hwat_fast.FastHWATNetwork.begin_epoch`) do it."""
    hook = getattr(model, "begin_epoch", None)
    if hook is not None:
        hook(lambda: first_batches(x, batch_size, seed, device))


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float,
          batch_size: int, seed: int, device: str = "cpu", optimizer: Optional[torch.optim.Optimizer] = None,
          weight_decay: float = 0.0, augment=None, desc: str = "train", progress: bool = True) -> list[float]:
    """Train ``model`` in place with cross-entropy; returns the mean loss of each epoch.

    ``optimizer`` defaults to SGD(momentum=0.9); for HWAT pass
    :func:`memlab.simulation.analog.analog_optimizer`.
    The learning rate follows a cosine from ``lr`` to 0 over all steps.
    """
    gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(derive(seed, "augmentation")) if augment else None
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    steps = max(1, epochs * math.ceil(len(y) / batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive(seed, "training_noise"))  # aihwkit's training noise draws from the global RNG
        for _ in tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=False):
            begin_epoch(model, x, batch_size, seed, device)
            model.train()
            total, count = 0.0, 0
            for idx in _batches(len(y), batch_size, gen):
                xb, yb = x[idx].to(device, non_blocking=True), y[idx].to(device, non_blocking=True)
                if augment is not None:
                    xb = augment(xb, aug_gen)
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            losses.append(total / max(count, 1))
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000,
             device: str = "cpu") -> float:
    """Fraction of ``x`` classified as ``y`` (model in eval mode)."""
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        xb = x[start:start + batch_size].to(device, non_blocking=True)
        correct += int((model(xb).argmax(dim=1).cpu() == y[start:start + batch_size]).sum())
    return correct / len(y)


def describe(model: torch.nn.Module) -> dict[str, Any]:
    """Parameter count and layer list for the results file, and the architecture
    (name and widths) of a network that names its own (the CIFAR-10 ResNet)."""
    out = {"parameters": int(sum(p.numel() for p in model.parameters())),
           "layers": [type(m).__name__ for m in model.modules() if not list(m.children())]}
    arch = getattr(model, "architecture", None)
    if hasattr(arch, "to_json"):
        out["architecture"] = arch.to_json()
    return out
