"""CIFAR-10 task: the reference paper's 3-block ResNet (its Fig. 4) and its training.

The paper gives the block structure but not the layer widths:

* each block: upper branch 3×3 conv → batch norm → ReLU → 3×3 conv → ReLU,
  lower branch 1×1 conv, the two summed, then 2×2 max-pool;
* three blocks, then a three-layer fully connected head to 10 classes;
* "~210,000 trained weights", "~420,000 devices" as differential pairs.

The widths are therefore a choice, named in :data:`ARCHITECTURES` and recorded
by name and widths in every results file (``Cifar10ResNet.architecture``):

* ``paper-balanced`` (the default): channels 16/48/96, head 1536-32-32-10.
  210,720 weights (421,440 memristors as differential pairs, the paper's ~210,000
  and ~420,000 to 0.5 %), 160,224 (76 %) in the convolutions and 50,496 in the
  head, a ResNet's balance: the convolutions do the work, the head classifies.
  Width grows toward the later blocks, where a weight costs 16× fewer
  multiply-accumulates (8×8 maps, not 32×32): 18.4 M MACs per image, 1.8× the
  v1 network, so CPU epochs stay affordable. At 512×512 tiles it needs 15 tiles
  (block 3's second conv has 864 rows: 2 tiles; the first linear layer 1,536: 3).
* ``v1-2026-11``: channels 16/32/64, head 1024-120-84-10, the widths of the
  committed networks (``results/cifar10/networks/cifar10_digital.pt``, ``cifar10_hwat.pt``,
  trained in 2026-11). 208,264 weights, 133,800 (64 %) in the head and 74,464 in
  the convolutions (14 tiles at 512×512): the head held most of the weights and
  the convolutions were starved (84.42 % digital against the paper's 87.51 %).
  Kept so those weights still load: :func:`architecture_of` tells them apart by shape.

:func:`count_weights` reports the exact counts. Convolutions carry no bias
(the batch norm or the residual sum makes it redundant); linear layers do, and
biases are counted apart because aihwkit keeps them digital.

Training runs with the whole dataset on the device as uint8 and augments
batches there (:mod:`memlab.simulation.cifar10_augment`), with bf16 autocast
for digital training on CUDA ("mixed precision where it is safe"); analog
tiles always run in float32, since their quantisation and noise model assume it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Mapping

import torch
from torch import nn
from tqdm import tqdm

from memlab import reference as ref
from memlab.errors import ConfigError
from memlab.simulation.cifar10_data import AugmentParams, augment, normalise

N_CLASSES = 10


@dataclass(frozen=True)
class Architecture:
    """Widths of the paper's network: ``channels`` of the three blocks, ``hidden``
    widths of the head's first two linear layers (the third gives the 10 classes)."""

    name: str
    channels: tuple[int, int, int]
    hidden: tuple[int, int]

    def to_json(self) -> dict:
        return {"name": self.name, "channels": list(self.channels), "hidden": list(self.hidden)}


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("paper-balanced", (16, 48, 96), (32, 32)),
    Architecture("v1-2026-11", (16, 32, 64), (120, 84)),  # the committed networks' widths
)}
DEFAULT_ARCHITECTURE = "paper-balanced"


def get_architecture(arch: str | Architecture) -> Architecture:
    """The architecture called ``arch`` (an :class:`Architecture` passes through)."""
    if isinstance(arch, Architecture):
        return arch
    if arch not in ARCHITECTURES:
        raise ConfigError(f"arch={arch!r} is not a CIFAR-10 architecture; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch]


class ResidualBlock(nn.Module):
    """One block of the paper's Fig. 4 (see the module docstring)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.upper = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
        )
        self.lower = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.upper(x) + self.lower(x))


class Cifar10ResNet(nn.Module):
    """3 residual blocks (32→16→8→4 px) and a 3-layer fully connected head."""

    def __init__(self, channels: tuple[int, int, int] = ARCHITECTURES[DEFAULT_ARCHITECTURE].channels,
                 hidden: tuple[int, int] = ARCHITECTURES[DEFAULT_ARCHITECTURE].hidden,
                 n_classes: int = N_CLASSES) -> None:
        super().__init__()
        channels, hidden = tuple(channels), tuple(hidden)
        if len(channels) != 3 or len(hidden) != 2 or min(*channels, *hidden) < 1:
            raise ConfigError(f"channels={channels} (3 widths) and hidden={hidden} (2 widths) "
                              "must be positive")
        named = [a for a in ARCHITECTURES.values() if (a.channels, a.hidden) == (channels, hidden)]
        self.architecture = named[0] if named else Architecture("custom", channels, hidden)
        ins = (3, *channels[:-1])
        self.features = nn.Sequential(*(ResidualBlock(i, o) for i, o in zip(ins, channels)))
        flat = channels[-1] * 4 * 4
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden[0]), nn.ReLU(inplace=True),
            nn.Linear(hidden[0], hidden[1]), nn.ReLU(inplace=True),
            nn.Linear(hidden[1], n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_network(seed: int = 0, arch: str | Architecture = DEFAULT_ARCHITECTURE) -> Cifar10ResNet:
    """The paper's network in architecture ``arch`` (a name of :data:`ARCHITECTURES`),
    with seeded initial weights."""
    a = get_architecture(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Cifar10ResNet(a.channels, a.hidden)


def architecture_of(state: Mapping[str, torch.Tensor]) -> Architecture:
    """The architecture a state dict (digital, or an HWAT file's ``digital.`` entries) was
    saved from, read from its tensor shapes; ConfigError if it is none of :data:`ARCHITECTURES`."""
    digital = {k[len("digital."):]: v for k, v in state.items() if k.startswith("digital.")} or state
    try:
        channels = tuple(int(digital[f"features.{i}.upper.0.weight"].shape[0]) for i in range(3))
        hidden = tuple(int(digital[f"classifier.{i}.weight"].shape[0]) for i in (1, 3))
    except (KeyError, AttributeError, IndexError) as exc:
        raise ConfigError(f"not the weights of the CIFAR-10 ResNet (no {exc})") from None
    for a in ARCHITECTURES.values():
        if (a.channels, a.hidden) == (channels, hidden):
            return a
    raise ConfigError(f"weights of channels {channels}, head {hidden}: no architecture of that shape "
                      f"(known: {', '.join(f'{a.name} {a.channels}/{a.hidden}' for a in ARCHITECTURES.values())})")


def load_network(path: str | os.PathLike, *, arch: str | Architecture | None = None) -> Cifar10ResNet:
    """A digital ``cifar10_*.pt`` (tensors only) in the architecture it was saved from (or
    ``arch``, which must then match), in eval mode. ConfigError when it cannot be loaded."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"CIFAR-10 weights {path}: cannot be read ({exc})") from None
    net = network_for_weights(state)
    if arch is not None and get_architecture(arch) != net.architecture:
        raise ConfigError(f"CIFAR-10 weights {path} are architecture {net.architecture.name!r}, not "
                          f"{get_architecture(arch).name!r}")
    net.load_state_dict(state)
    return net.eval()


def network_for_weights(state: Mapping[str, torch.Tensor]) -> Cifar10ResNet:
    """A (seed-0, untrained) network of the architecture ``state`` was saved from, ready for
    ``load_state_dict``; the hook through which loaders take weights of any named architecture."""
    return build_network(0, architecture_of(state))


@dataclass(frozen=True)
class WeightCount:
    """Weights stored in crossbars (conv kernels and linear matrices), the
    memristors they need as differential pairs (2 per weight), the weights
    in convolutions, digital biases, and per-layer crossbar shapes
    (rows = inputs, cols = outputs)."""

    weights: int
    memristors: int
    digital_biases: int
    tiles: tuple[tuple[str, int, int], ...]
    convolution_weights: int = 0


def count_weights(model: nn.Module) -> WeightCount:
    """Count what a network puts on analog tiles (every Conv2d and Linear weight)."""
    weights, biases, conv, tiles = 0, 0, 0, []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            w = mod.weight
            weights += w.numel()
            conv += w.numel() if isinstance(mod, nn.Conv2d) else 0
            tiles.append((name, w[0].numel(), w.shape[0]))  # in*k*k rows, out columns
            if mod.bias is not None:
                biases += mod.bias.numel()
    return WeightCount(weights=weights, memristors=2 * weights, digital_biases=biases,
                       tiles=tuple(tiles), convolution_weights=conv)


# ---------------------------------------------------------------- training

@dataclass(frozen=True)
class TrainSettings:
    """Training defaults. The paper: 200 digital epochs, then 20 HWAT epochs.

    Batch size, learning rates and gradient clipping are ours (the paper does
    not give them): SGD with Nesterov momentum, a one-epoch warm-up and a
    cosine decay (:class:`WarmupCosine`).
    """

    digital_epochs: int = int(ref.CIFAR10_EPOCHS.value)
    hwat_epochs: int = int(ref.CIFAR10_HWAT_EPOCHS.value)
    batch_size: int = 256
    lr: float = 0.05
    hwat_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    grad_clip_norm: float | None = 2.0
    eval_batch_size: int = 1000
    augment: AugmentParams = field(default_factory=AugmentParams)

    def __post_init__(self) -> None:
        for name in ("digital_epochs", "hwat_epochs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 0")
        for name in ("batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        for name in ("lr", "hwat_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be > 0")


def _autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA for digital layers (no loss scaling needed), else a no-op."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=enabled and device.type == "cuda")


class WarmupCosine:
    """Learning rate per step: linear warm-up over ``warmup_steps``, then a
    cosine to zero at ``total_steps``.

    ``total_steps`` may be set after the first epoch, when a wall-clock budget
    decides how many epochs fit (:meth:`set_total`); until then the rate stays
    at the warm-up ramp or the peak.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, peak_lr: float, warmup_steps: int,
                 total_steps: int | None = None) -> None:
        self.optimizer, self.peak_lr = optimizer, peak_lr
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.step_count = 0
        self._apply()

    def set_total(self, total_steps: int) -> None:
        self.total_steps = max(total_steps, self.step_count + 1)

    def lr(self) -> float:
        s = self.step_count
        if s < self.warmup_steps:
            return self.peak_lr * (s + 1) / self.warmup_steps
        if self.total_steps is None:
            return self.peak_lr
        span = max(self.total_steps - self.warmup_steps, 1)
        return 0.5 * self.peak_lr * (1 + math.cos(math.pi * min(s - self.warmup_steps, span) / span))

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()

    def step(self) -> None:
        self.step_count += 1
        self._apply()


def digital_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; weight decay on weight matrices and kernels only."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    other = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": settings.weight_decay},
                            {"params": other, "weight_decay": 0.0}],
                           lr=settings.lr, momentum=settings.momentum, nesterov=True)


def train_epoch(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                optimizer: torch.optim.Optimizer, scheduler, *, mean, std,
                settings: TrainSettings, generator: torch.Generator,
                amp: bool = False, progress: bool = False) -> dict:
    """One epoch over uint8 ``images`` (N, 3, 32, 32) on the model's device.

    Shuffles with ``generator`` (a generator on the images' device), augments
    each batch on that device, and returns {"loss", "accuracy", "seconds",
    "images"} (training-set figures, augmented, in train mode).
    """
    device = images.device
    hook = getattr(model, "begin_epoch", None)  # a fast HWAT network: held ranges, D2D instance
    if hook is not None:
        size = 4 * settings.batch_size
        hook(lambda: [normalise(images[i:i + size], mean, std) for i in range(0, min(len(images), 10 * size), size)])
    model.train()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    order = torch.randperm(len(labels), device=device, generator=generator)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    start = time.perf_counter()
    steps = range(0, len(labels), settings.batch_size)
    for i in tqdm(steps, desc="train", leave=False, disable=not progress):
        idx = order[i:i + settings.batch_size]
        x = augment(normalise(images[idx], mean, std), generator, settings.augment)
        y = labels[idx]
        with _autocast(device, amp):
            out = model(x)
            loss = loss_fn(out.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip_norm is not None:
            # only BatchNorm sits in the upper branch: without clipping a high learning
            # rate can blow the residual sums and the head up (seen with batch 16, lr 0.05)
            nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        # accumulate on the device: a .item() per step would stall the GPU
        total_loss += loss.detach() * len(y)
        correct += (out.argmax(1) == y).sum()
    n = len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"loss": float(total_loss) / n, "accuracy": float(correct) / n,
            "seconds": time.perf_counter() - start, "images": n}


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, mean, std,
             batch_size: int = 1000, amp: bool = False) -> float:
    """Top-1 accuracy (0..1) of ``model`` in eval mode on uint8 images."""
    model.eval()
    correct = torch.zeros((), device=images.device, dtype=torch.long)
    for i in range(0, len(labels), batch_size):
        x = normalise(images[i:i + batch_size], mean, std)
        with _autocast(images.device, amp):
            out = model(x)
        correct += (out.argmax(1) == labels[i:i + batch_size]).sum()
    return float(correct) / len(labels)
