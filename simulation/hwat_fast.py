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
from typing import Any, Callable, Iterable

import torch

from memlab.errors import ConfigError
from memlab.simulation import analog as dm
from memlab.simulation.analog.options import INPUT_RANGE_CALIBRATION
from memlab.simulation.hwat_layers import FastConv2d, FastLinear, FastTile
from memlab.simulation.hwat_noise import TileNoise


class FastHWATNetwork(torch.nn.Module):
    """The network with every aihwkit layer replaced by its fast training form.

    ``options``: the analog options the network was converted under (None: no analog tile);
    they decide the HWAT recipe that :meth:`begin_epoch` carries out."""

    def __init__(self, model: torch.nn.Module, options: Any = None) -> None:
        super().__init__()
        self.net = model
        self.options = options
        self._ranges_ready = False

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
        self._ranges_ready = True

    @torch.no_grad()
    def begin_epoch(self, first_batches: Callable[[], Iterable[torch.Tensor]]) -> None:
        """What is computed once per epoch (training loops call it before an epoch's first step):
        with ``hwat_input_ranges='held'``, the input ranges are calibrated on ``first_batches()``
        (the first time only) and held; a held D2D instance is drawn (every epoch with
        ``hwat_d2d_hold='epoch'``, the first time with ``'training'``)."""
        o = self.options
        if o is None:
            return
        if o.hwat_input_ranges == "held" and not self._ranges_ready:
            calibrate(self, first_batches(), o.input_range_calibration)
            self.hold_ranges()
        for t in self.fast_tiles():
            if t.noise is not None and (t.noise.tables is None or o.hwat_d2d_hold == "epoch"):
                t.noise.draw_instance()

    def recipe(self) -> dict[str, Any]:
        """The HWAT recipe this network trains with, for a results file."""
        o = self.options
        if o is None:
            return {}
        noise = next((t.noise for t in self.fast_tiles() if t.noise is not None), None)
        return {"noise": o.hwat_noise, "noise_scale": o.hwat_noise_scale, "input_ranges": o.hwat_input_ranges,
                "input_range_calibration": o.input_range_calibration, "clip_sigma": o.hwat_clip_sigma,
                **({} if noise is None else noise.describe())}


def _fast_tile(tile, span, hwat: bool) -> FastTile:
    ft = FastTile(tile, span)
    options = tile.rpu_config.noise_model.options
    if hwat:  # the training recipe applies to HWAT networks only (not to a calibration copy)
        ft.clip_sigma = options.hwat_clip_sigma
        if options.hwat_noise == "device":
            ft.noise = TileNoise(tile.rpu_config.noise_model, ft.weight.shape, ft.weight.device)
    return ft


def trainable(analog: torch.nn.Module) -> FastHWATNetwork:
    """A fast training copy of an aihwkit network (``analog.to_analog(..., hwat=True)``; a
    ``hwat=False`` copy trains without training noise or clipping, e.g. for calibration)."""
    layers = list(analog.named_analog_layers())
    memo = {id(layer): torch.nn.Identity() for _, layer in layers}
    out = copy.deepcopy(analog, memo)
    options = None
    for name, layer in layers:
        blocks = dm.tile_blocks(layer)
        options = blocks[0][0].rpu_config.noise_model.options
        hwat = blocks[0][0].rpu_config.modifier.type.name != "NONE"
        tiles = [_fast_tile(tile, tuple(span), hwat) for tile, *span in blocks]
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
    device = next(analog.parameters()).device
    net = FastHWATNetwork(dm.plain_sequential(out), options).to(device)
    for t in net.fast_tiles():
        if t.noise is not None:
            t.noise.to(device)
    return net


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


CALIBRATION_RULES = INPUT_RANGE_CALIBRATION
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
def calibrate_input_ranges(analog: torch.nn.Module, batches, rule: str | None = None) -> None:
    """Calibrate the input ranges of an aihwkit network (the no-HWAT baseline) through the
    fast layers (:func:`calibrate`; ``'std3'`` gives aihwkit's own data-driven start without
    its unfold; default: the options' ``input_range_calibration``); the ranges are written
    into ``analog``."""
    fast = trainable(analog)
    calibrate(fast, batches, rule or fast.options.input_range_calibration)
    write_back(fast, analog)
    analog.eval()


def prepare(analog: torch.nn.Module, batches, *, rule: str | None = None) -> FastHWATNetwork:
    """The fast training copy of ``analog`` with its input ranges calibrated on ``batches`` by
    ``rule`` (default: the options' ``input_range_calibration``), held when the options say
    ``hwat_input_ranges='held'``, and its first D2D instance drawn."""
    fast = trainable(analog)
    calibrate(fast, batches, rule or fast.options.input_range_calibration)
    if fast.options.hwat_input_ranges == "held":
        fast.hold_ranges()
    fast._ranges_ready = True
    fast.begin_epoch(lambda: ())
    return fast
