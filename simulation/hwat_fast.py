"""Hardware-aware training at close to digital speed: aihwkit's tile arithmetic without the unfold.

:func:`trainable` turns an analog network from ``analog.to_analog(...,
hwat=True)`` into plain-torch layers that compute, per tile, exactly what
aihwkit's torch tile (``DeviceAwareTorchTile`` under ``TorchInferenceRPUConfig``)
computes in a training step, and with the same autograd graph:

1. input range: clip to ±r (``r`` the tile's learned range, initialised from
   the data's 3·std over the first ``init_from_data`` batches, as aihwkit does),
   aihwkit's ``InputRangeForward`` gradient for ``r`` (:class:`~.hwat_ops.InputRangeGrad`),
   divide by ``r``;
2. DAC: round to ``inp_res`` steps (straight-through gradient), clip to ±1;
3. weights: the tile's normalised weight ``w`` (max 1 per column after
   aihwkit's channel-wise remap), discretised to the pair's levels
   (straight-through), plus the device noise drawn fresh each step (additive σ,
   multiplicative D2D or the per-device range bound);
4. the crossbar: native ``linear`` / ``conv2d`` on the tile's block (a row
   block inside a channel is a zero-padded kernel, as in :mod:`.crossbar`);
5. ADC: optional output noise, rounding to ``out_res`` (straight-through),
   clipping to ±``out_bound``; then ``× r × mapping scale`` and the digital bias.

Gradients reach ``w`` through aihwkit's hook ``grad / scale²`` and, after every
optimizer step, :meth:`FastHWATNetwork.remap_` re-normalises each tile's
columns and moves the factor into its mapping scale, as ``AnalogSGD`` does
through the tiles' ``post_update_step``. So SGD with momentum on these
parameters is aihwkit's ``AnalogSGD`` on its tiles.

What is not done per step: no unfold (aihwkit's conv layer im2cols every input
and then quantises and clips the 9× larger patch tensor); the patch statistics
for the input-range start come from two small convolutions; the quantisation
grids are constants. Once a tile's range is *held* (:meth:`FastHWATNetwork.hold_ranges`,
after a calibration on the first batches), its DAC and ADC are one fused autograd
function each (:mod:`.hwat_ops`) and the range gets no gradient: what a training step
adds to the digital one is the converters' and the noise's elementwise arithmetic.
The modules: :mod:`.hwat_ops` (autograd functions), :mod:`.hwat_layers` (tiles,
linear and conv layers), this one (the network, optimizer, write-back, calibration).
:func:`write_back` copies the trained weights and input
ranges into the aihwkit network, which then programs, drifts and freezes as
before. ``tests/simulation/test_hwat_fast.py`` checks forward, gradients and
several optimizer steps against aihwkit's own layers.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from memlab.errors import ConfigError
from memlab.simulation import analog as dm
from memlab.simulation.hwat_layers import FastConv2d, FastLinear, FastTile


class FastHWATNetwork(torch.nn.Module):
    """The network with every aihwkit layer replaced by its fast training form."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.net = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def fast_tiles(self) -> list[FastTile]:
        return [m for m in self.modules() if isinstance(m, FastTile)]

    @torch.no_grad()
    def remap_(self) -> None:
        for t in self.fast_tiles():
            t.remap_()

    def hold_ranges(self) -> None:
        """Hold every tile's input range fixed from now on (fused converters, no range gradient)."""
        for t in self.fast_tiles():
            t.hold_range()


def trainable(analog: torch.nn.Module) -> FastHWATNetwork:
    """A fast training copy of an aihwkit network (``analog.to_analog(..., hwat=True)``)."""
    layers = list(analog.named_analog_layers())
    memo = {id(layer): torch.nn.Identity() for _, layer in layers}
    out = copy.deepcopy(analog, memo)
    for name, layer in layers:
        tiles = [FastTile(tile, tuple(span)) for tile, *span in dm.tile_blocks(layer)]
        bias = dm.layer_bias(layer)
        module = layer.analog_module
        if hasattr(layer, "kernel_size"):
            if getattr(layer, "groups", 1) != 1 or len(layer.kernel_size) != 2:
                raise ConfigError(f"layer {name}: fast HWAT handles 2-D convolutions with groups=1")
            fast = FastConv2d(tiles, layer.in_channels, layer.out_channels, tuple(layer.kernel_size),
                              tuple(layer.stride), tuple(layer.padding), tuple(layer.dilation), bias)
        else:
            fast = FastLinear(tiles, module.in_size, module.out_size, bias)
        dm.set_submodule(out, name, fast)
    return FastHWATNetwork(dm.plain_sequential(out)).to(next(analog.parameters()).device)


def optimizer(fast: FastHWATNetwork, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """SGD with momentum that remaps the tiles after every step: ``AnalogSGD`` on torch tiles."""
    opt = torch.optim.SGD(fast.parameters(), lr=lr, momentum=momentum)
    opt.register_step_post_hook(lambda *_: fast.remap_())
    return opt


@torch.no_grad()
def write_back(fast: FastHWATNetwork, analog: torch.nn.Module) -> None:
    """Copy the trained tiles (weights, mapping scales, input ranges), biases and every
    digital parameter and buffer (batch norm) into the aihwkit network."""
    layers = list(analog.named_analog_layers())
    for name, layer in layers:
        fast_layer = fast.net.get_submodule(name)
        for (tile, *_), ft in zip(dm.tile_blocks(layer), fast_layer.tiles):
            tile.tile.weight.data.copy_(ft.weight.data)
            tile.set_scales(ft.scale.detach().clone())
            tile.input_range.data.copy_(ft.input_range.data.view_as(tile.input_range))
            tile.input_range_update_idx.data.copy_(ft.update_idx.view_as(tile.input_range_update_idx))
        bias = getattr(layer.analog_module, "bias", None)
        if bias is not None and fast_layer.bias is not None:
            bias.data.copy_(fast_layer.bias.data.view_as(bias))
    skip = tuple(name for name, _ in layers)
    for name, module in analog.named_modules():
        if not name or any(name == s or name.startswith(s + ".") for s in skip):
            continue
        target = fast.net.get_submodule(name)
        for pname, p in module.named_parameters(recurse=False):
            p.data.copy_(getattr(target, pname).data)
        for bname, b in module.named_buffers(recurse=False):
            if b is not None:
                b.copy_(getattr(target, bname))


def settings_of(fast: FastHWATNetwork) -> list[dict[str, Any]]:
    """Per-tile constants, for a results file."""
    return [dict(vars(t.s)) for t in fast.fast_tiles()]


CALIBRATION_RULES = ("max", "std3")
"""How input ranges start from the first batches: ``'max'`` (each tile's range = the largest
|input| its DAC sees over the calibration batches: the paper's "adaptive scaling of input data
for the first few batches", nothing of those batches clips) or ``'std3'`` (aihwkit's running
mean of 3·std, which clips the tails: 2.4-3.8 % of the activations of most CIFAR-10 layers)."""


@torch.no_grad()
def calibrate(fast: FastHWATNetwork, batches, rule: str = "max") -> None:
    """Start every tile's input range from ``batches`` (train-mode passes; batch-norm layers
    stay in eval mode so their statistics are untouched) by ``rule`` (:data:`CALIBRATION_RULES`)."""
    if rule not in CALIBRATION_RULES:
        raise ConfigError(f"input-range calibration rule is {rule!r}; allowed: {', '.join(CALIBRATION_RULES)}")
    was_training = fast.training
    fast.train()
    for module in fast.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    tiles = fast.fast_tiles()
    learned = [t.input_range.requires_grad for t in tiles]
    for t in tiles:  # no range gradient here: the held path's fused converters
        t.input_range.requires_grad_(False)
        if rule == "max":
            t.observe_inputs()
    for x in batches:
        fast(x)
    for t, grad in zip(tiles, learned):
        if rule == "max":
            t.set_range_from_observed()
        t.input_range.requires_grad_(grad)
    fast.train(was_training)


@torch.no_grad()
def calibrate_input_ranges(analog: torch.nn.Module, batches, rule: str = "max") -> None:
    """Calibrate the input ranges of an aihwkit network (the no-HWAT baseline) through the
    fast layers (:func:`calibrate`; ``'std3'`` gives aihwkit's own data-driven start without
    its unfold); the ranges are written into ``analog``."""
    fast = trainable(analog)
    calibrate(fast, batches, rule)
    write_back(fast, analog)
    analog.eval()


def prepare(analog: torch.nn.Module, batches, *, rule: str = "max", hold: bool = True) -> FastHWATNetwork:
    """The fast training copy of ``analog`` with its input ranges calibrated on ``batches``
    by ``rule`` and, with ``hold``, held fixed for the training (fused converters)."""
    fast = trainable(analog)
    calibrate(fast, batches, rule)
    if hold:
        fast.hold_ranges()
    return fast
