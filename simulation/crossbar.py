"""The per-batch part of analog inference: DAC, crossbar matmul, ADC (pure torch).

Everything that is random or slow (drawing G+/G-, device-to-device factors,
drift, drift compensation) happened once, at programming time, in
:mod:`memlab.simulation.analog`, which freezes each analog tile into a
:class:`ProgrammedTile`. Per batch only this remains, for every tile:

1. DAC: ``x_levels = round(clamp(x / (r * dac_step), ±dac_levels))`` with
   ``r`` the tile's learned input range (the input is clipped to ±r and
   encoded on the DAC's integer codes), one pass for all of a layer's tiles;
2. the crossbar: ``y = mvm(x_levels, tile)``, the **one place where a tile's
   programmed conductances and its input meet** (:func:`ideal_mvm` by default).
   A non-ideal crossbar enters in one of two ways (``analog.freeze``):
   ``tile_transform(tile) -> tile`` once per programmed state (a linear
   circuit such as IR drop: ``tile.with_weight(W_eff)``, nothing per batch),
   or ``mvm`` itself per batch (input-dependent effects);
3. ADC: ``y_levels = round(clamp(y [+ noise], ±adc_levels))``;
4. digital periphery: ``y_levels * out_scale (+ bias)``, one fused pass, where ``out_scale``
   folds the ADC step, the input range, the per-column mapping scales and
   the global drift-compensation factor into one vector.

These are exactly aihwkit's ``TorchInferenceTile`` eval-mode operations with
noise management and bound management off (checked against aihwkit's own
forward in ``tests/simulation/test_sim_crossbar.py`` and
``test_frozen_equivalence.py``), but with every constant folded ahead of time,
so the cost per batch is one matmul (or one native ``conv2d``) per row block of
tiles plus a handful of element-wise ops on the inputs and outputs. Tiles that
share a row block and an input range are one product (their weights
concatenated); a convolution never unfolds its input (:class:`ProgrammedConv2d`).

Units of the crossbar hook: ``x_levels`` are DAC codes (integers as floats,
``x_levels * dac_step`` is the fraction of the full-scale read voltage);
``mvm`` returns the column currents in ADC codes (before rounding). A model
working in physical units reads ``tile.conductances_S()`` (G+ and G-, in S)
and ``tile.weight_to_adc``, the factor from ``sum(x_fraction * w)`` to ADC
codes, where ``w = (G+ - G-) / tile.g_per_weight_S``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True, eq=False)
class ProgrammedTile:
    """One crossbar tile after programming and drift, ready for per-batch use.

    ``weight`` is the normalised effective weight ``(G+ - G-) / g_per_weight_S``
    (out x in, max |w| about 1 per tile); ``weight_codes_T`` is
    ``(weight * dac_step / adc_step).T``, so ``x_levels @ weight_codes_T`` is in
    ADC codes.
    """

    in_start: int
    in_stop: int
    out_start: int
    out_stop: int
    weight: torch.Tensor
    weight_codes_T: torch.Tensor
    input_range: float  # r: inputs are clipped to ±r before the DAC
    dac_step: float  # DAC step as a fraction of full scale
    dac_levels: float  # largest DAC code (inf: an ideal DAC, no rounding or clipping)
    adc_step: float  # ADC step in units of (weight x input fraction)
    adc_levels: float  # largest ADC code (inf: an ideal ADC)
    out_noise_codes: float  # σ of the additive output noise, in ADC codes
    out_scale: torch.Tensor  # (out,) ADC code -> layer output units
    g_per_weight_S: float  # conductance per unit of normalised weight
    g_idle_S: float  # absolute conductance of an unprogrammed device (weight 0)
    g_direction: float  # +1 when programming raises G (potentiation), -1 when it lowers it

    def with_weight(self, weight: torch.Tensor) -> "ProgrammedTile":
        """A copy whose crossbar computes with ``weight`` (normalised, out x in),
        e.g. the effective matrix of an IR-drop solve; the ADC coding follows."""
        import dataclasses

        return dataclasses.replace(self, weight=weight,
                                   weight_codes_T=(weight * (self.dac_step / self.adc_step)).T.contiguous())

    @property
    def weight_to_adc(self) -> float:
        """Factor from ``sum(x_fraction * w)`` to ADC codes."""
        return 1.0 / self.adc_step

    def conductances_S(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(G+, G-) in siemens, reconstructed from the effective weight.

        One device of each pair holds the weight's magnitude, the other sits at
        the idle conductance, as the differential mapping programs them.
        """
        g_pos = self.g_idle_S + self.g_direction * self.weight.clamp(min=0) * self.g_per_weight_S
        g_neg = self.g_idle_S + self.g_direction * (-self.weight).clamp(min=0) * self.g_per_weight_S
        return g_pos, g_neg


Mvm = Callable[[torch.Tensor, ProgrammedTile], torch.Tensor]


def ideal_mvm(x_levels: torch.Tensor, tile: ProgrammedTile) -> torch.Tensor:
    """Crossbar without wire resistance: column currents in ADC codes."""
    return x_levels @ tile.weight_codes_T


def round_clamp_(values: torch.Tensor, levels: float) -> torch.Tensor:
    """In place: clamp to ±levels, then round half to even (as ``torch.round``).

    Clamping first gives the same codes as rounding first (``levels`` is an
    integer and rounding is monotonic), and bounds the values so that adding
    and subtracting 1.5 * 2**mantissa rounds exactly; that trick is about 15x
    faster than ``torch.round`` on CPU, which dominates the per-batch cost.
    """
    if levels == math.inf:  # an ideal converter (``AnalogOptions.ideal``): neither rounded nor clipped
        return values
    magic = 12582912.0 if values.dtype in (torch.float32, torch.float16, torch.bfloat16) else 6755399441055744.0
    return values.clamp_(-levels, levels).add_(magic).sub_(magic)


def _groups(tiles: list[ProgrammedTile]) -> list[list[ProgrammedTile]]:
    """Tiles that read the same inputs with the same DAC scale: one quantisation, one product.

    aihwkit gives every tile its own input range, so tiles of one row block share
    their quantised input only where the ranges are equal (always after
    calibration; learned ranges may differ). Within a group, tiles are ordered
    by their first output column.
    """
    groups: dict[tuple[int, int, float], list[ProgrammedTile]] = {}
    for t in tiles:
        groups.setdefault((t.in_start, t.in_stop, float(t.input_range)), []).append(t)
    return [sorted(g, key=lambda t: t.out_start) for g in groups.values()]


@dataclass(frozen=True, eq=False)
class _Block:
    """One group of tiles as a single crossbar product: its inputs, DAC scale,
    concatenated weights (in ADC codes), output columns, noise and scales."""

    in_start: int
    in_stop: int
    in_scale: float  # 1 / (input range x DAC step)
    weight_codes: torch.Tensor  # (outputs of the group, in_stop - in_start)
    out_index: torch.Tensor | None  # output columns of the group; None: all, in order
    out_noise: torch.Tensor | None  # (outputs,) σ in ADC codes; None: no noise
    out_scale: torch.Tensor  # (outputs,)

    def moved(self, fn) -> "_Block":
        import dataclasses

        return dataclasses.replace(
            self, weight_codes=fn(self.weight_codes), out_scale=fn(self.out_scale),
            out_index=None if self.out_index is None else fn(self.out_index),
            out_noise=None if self.out_noise is None else fn(self.out_noise))


def _blocks(tiles: list[ProgrammedTile], out_features: int) -> list[_Block]:
    blocks = []
    for group in _groups(tiles):
        first = group[0]
        codes = torch.cat([t.weight * (t.dac_step / t.adc_step) for t in group], 0)
        cols = torch.cat([torch.arange(t.out_start, t.out_stop) for t in group])
        full = len(cols) == out_features and bool((cols == torch.arange(out_features)).all())
        noise = torch.cat([torch.full((t.out_stop - t.out_start,), float(t.out_noise_codes)) for t in group])
        blocks.append(_Block(
            in_start=first.in_start, in_stop=first.in_stop,
            in_scale=1.0 / (first.input_range * first.dac_step), weight_codes=codes,
            out_index=None if full else cols.to(codes.device),
            out_noise=noise.to(codes) if bool((noise > 0).any()) else None,
            out_scale=torch.cat([t.out_scale for t in group])))
    return blocks


def dac_codes(x: torch.Tensor, scale: float, levels: float) -> torch.Tensor:
    """A new tensor: ``round(clamp(x * scale, ±levels))`` (half to even), as
    :func:`round_clamp_` of ``x * scale`` but in three passes: the scaling and
    the shift by the rounding constant are one fused ``add``."""
    if levels == math.inf:  # an ideal DAC: the input in units of the step, unclipped
        return x * scale
    if x.dtype not in (torch.float32, torch.float64):
        return round_clamp_(x * scale, levels)
    magic = 12582912.0 if x.dtype == torch.float32 else 6755399441055744.0
    shifted = torch.add(torch.tensor(magic, dtype=x.dtype, device=x.device), x, alpha=scale)
    return shifted.clamp_(magic - levels, magic + levels).sub_(magic)


class ProgrammedLayer(torch.nn.Module):
    """A linear map made of programmed tiles; digital bias added at the end.

    Per batch, for every group of tiles sharing a row block and input range
    (:func:`_groups`): the DAC codes of that block's inputs, one product with the
    group's weights, output noise, the ADC's rounding and clipping per tile
    column, and the digital scale, summed over row blocks with the bias. A custom
    ``mvm`` hook is called tile by tile instead of the group product.
    """

    def __init__(self, tiles: list[ProgrammedTile], in_features: int, out_features: int,
                 bias: torch.Tensor | None, mvm: Mvm = ideal_mvm, seed: int = 0) -> None:
        super().__init__()
        if len({(t.dac_levels, t.adc_levels) for t in tiles}) != 1:
            raise ValueError("all tiles of a layer share one DAC/ADC configuration")
        self.tiles = tiles
        self.in_features = in_features
        self.out_features = out_features
        self.bias = None if bias is None else bias.detach().clone()
        self.dac_levels, self.adc_levels = tiles[0].dac_levels, tiles[0].adc_levels
        self.blocks = _blocks(tiles, out_features)
        self.mvm = mvm
        # Output noise is the only per-batch randomness; its own generator keeps
        # evaluations reproducible without touching torch's global RNG.
        self._gen: torch.Generator | None = None
        self._seed = seed

    def add_noise_(self, y: torch.Tensor, sigma: torch.Tensor, channel_dim: int) -> torch.Tensor:
        """In place: ``y += sigma * N(0, 1)`` with ``sigma`` per output column (ADC codes)."""
        if self._gen is None or self._gen.device != y.device:
            self._gen = torch.Generator(device=y.device).manual_seed(self._seed)
        shape = [1] * y.ndim
        shape[channel_dim] = -1
        noise = torch.randn(y.shape, generator=self._gen, device=y.device, dtype=y.dtype)
        return y.addcmul_(noise, sigma.view(shape))

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out)."""
        if self.mvm is not ideal_mvm:
            return self._matmul_per_tile(x)
        out = None
        for block in self.blocks:
            x_levels = dac_codes(x[:, block.in_start:block.in_stop], block.in_scale, self.dac_levels)
            y = x_levels @ block.weight_codes.T
            if block.out_noise is not None:
                y = self.add_noise_(y, block.out_noise, 1)
            out = _accumulate(out, round_clamp_(y, self.adc_levels), block, self.bias, self.out_features, 1)
        return out

    def _matmul_per_tile(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        for tile in self.tiles:
            x_levels = round_clamp_(x[:, tile.in_start:tile.in_stop] * (1.0 / (tile.input_range * tile.dac_step)),
                                    tile.dac_levels)
            y = self.mvm(x_levels, tile)
            if tile.out_noise_codes > 0:
                y = self.add_noise_(y, torch.full((y.shape[1],), float(tile.out_noise_codes), device=y.device,
                                                  dtype=y.dtype), 1)
            y = round_clamp_(y, tile.adc_levels)
            if out is None:
                out = x.new_zeros(x.shape[0], self.out_features)
                if self.bias is not None:
                    out += self.bias
            out[:, tile.out_start:tile.out_stop].addcmul_(y, tile.out_scale)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return self.matmul(x.reshape(-1, shape[-1])).reshape(*shape[:-1], self.out_features)

    def _apply(self, fn, recurse=True):  # moves tiles with .to(device)
        super()._apply(fn, recurse)
        self.tiles = [_move_tile(t, fn) for t in self.tiles]
        self.blocks = [b.moved(fn) for b in self.blocks]
        if self.bias is not None:
            self.bias = fn(self.bias)
        return self


def _accumulate(out: torch.Tensor | None, y_codes: torch.Tensor, block: _Block, bias: torch.Tensor | None,
                out_features: int, channel_dim: int) -> torch.Tensor:
    """Add one block's ADC codes, scaled to output units, to the layer output (created with
    the bias on the first block). ``channel_dim``: 1 for (batch, out) and (batch, out, h, w)."""
    shape = [1] * y_codes.ndim
    shape[channel_dim] = -1
    scale = block.out_scale.view(shape)
    if out is None and block.out_index is None:  # first block covers every column, in order
        if bias is None:
            return y_codes.mul_(scale)
        return torch.addcmul(bias.view(shape), y_codes, scale)
    if out is None:
        size = list(y_codes.shape)
        size[channel_dim] = out_features
        out = y_codes.new_zeros(size)
        if bias is not None:
            out += bias.view(shape)
    if block.out_index is None:
        return out.addcmul_(y_codes, scale)
    return out.index_add_(channel_dim, block.out_index, y_codes.mul_(scale))


class ProgrammedConv2d(torch.nn.Module):
    """A 2-D convolution on programmed tiles, as native ``conv2d`` calls on the tile blocks.

    aihwkit's conv layer unfolds the input (im2col: rows ordered channel-major,
    then kernel row and column) and multiplies the patches by the tiles. The
    same arithmetic without the unfold: a row block ``[in_start, in_stop)`` of a
    tile reads input channels ``in_start // k .. ceil(in_stop / k)`` (``k`` =
    kernel positions per channel); its weights become a ``conv2d`` kernel over
    those channels with zeros at the kernel positions the block does not hold
    (a block split inside a channel). DAC codes are taken per block on the input
    image (padding is zero before and after quantisation), each block's output
    goes through its own ADC before the digital sum, as in aihwkit. A custom
    per-batch ``mvm`` hook falls back to the unfold path.
    """

    def __init__(self, layer: ProgrammedLayer, in_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int]) -> None:
        super().__init__()
        self.layer = layer
        self.in_channels = in_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        k = kernel_size[0] * kernel_size[1]
        if layer.in_features != in_channels * k:
            raise ValueError(f"layer has {layer.in_features} inputs, the kernel needs {in_channels * k}")
        self.channels = []  # (first channel, last + 1) per block
        self.kernels = []  # conv2d weight per block, in ADC codes per DAC code
        for block in layer.blocks:
            c0, c1 = block.in_start // k, -(-block.in_stop // k)
            kernel = block.weight_codes.new_zeros(block.weight_codes.shape[0], (c1 - c0) * k)
            kernel[:, block.in_start - c0 * k:block.in_stop - c0 * k] = block.weight_codes
            self.channels.append((c0, c1))
            self.kernels.append(kernel.view(-1, c1 - c0, *kernel_size).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        if layer.mvm is not ideal_mvm:
            return self._unfold_forward(x)
        out = None
        for block, (c0, c1), kernel in zip(layer.blocks, self.channels, self.kernels):
            x_levels = dac_codes(x[:, c0:c1], block.in_scale, layer.dac_levels)
            y = F.conv2d(x_levels, kernel, None, self.stride, self.padding, self.dilation)
            if block.out_noise is not None:
                y = layer.add_noise_(y, block.out_noise, 1)
            out = _accumulate(out, round_clamp_(y, layer.adc_levels), block, layer.bias, layer.out_features, 1)
        return out

    def _unfold_forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding,
                        stride=self.stride)  # (n, c*kh*kw, L)
        out = self.layer.matmul(cols.transpose(1, 2).reshape(-1, cols.shape[1]))
        h_out = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) - 1) // self.stride[0] + 1
        w_out = (w + 2 * self.padding[1] - self.dilation[1] * (self.kernel_size[1] - 1) - 1) // self.stride[1] + 1
        return out.reshape(n, h_out * w_out, -1).transpose(1, 2).reshape(n, -1, h_out, w_out)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.kernels = [fn(k) for k in self.kernels]
        return self


def _move_tile(tile: ProgrammedTile, fn) -> ProgrammedTile:
    import dataclasses

    return dataclasses.replace(tile, weight=fn(tile.weight), weight_codes_T=fn(tile.weight_codes_T),
                               out_scale=fn(tile.out_scale))
