"""The per-batch part of analog inference: DAC, crossbar matmul, ADC (pure torch).

Everything that is random or slow (drawing G+/G-, device-to-device factors,
drift, drift compensation) happened once, at programming time, in
:mod:`memlab.simulation.device_model`, which freezes each analog tile into a
:class:`ProgrammedTile`. Per batch only this remains, for every tile:

1. DAC: ``x_levels = round(clamp(x / (r * dac_step), ±dac_levels))`` with
   ``r`` the tile's learned input range (the input is clipped to ±r and
   encoded on the DAC's integer codes), one pass for all of a layer's tiles;
2. the crossbar: ``y = mvm(x_levels, tile)``, the **one place where a tile's
   programmed conductances and its input meet** (:func:`ideal_mvm` by default).
   A non-ideal crossbar enters in one of two ways (``device_model.freeze``):
   ``tile_transform(tile) -> tile`` once per programmed state (a linear
   circuit such as IR drop: ``tile.with_weight(W_eff)``, nothing per batch),
   or ``mvm`` itself per batch (input-dependent effects);
3. ADC: ``y_levels = round(clamp(y [+ noise], ±adc_levels))``;
4. digital periphery: ``y_levels * out_scale (+ bias)``, one fused pass, where ``out_scale``
   folds the ADC step, the input range, the per-column mapping scales and
   the global drift-compensation factor into one vector.

These are exactly aihwkit's ``TorchInferenceTile`` eval-mode operations with
noise management and bound management off (checked against aihwkit's own
forward in ``tests/simulation/test_crossbar.py``), but with every constant
folded ahead of time, so the cost per batch is one matmul plus a handful of
element-wise ops on the inputs and outputs.

Units of the crossbar hook: ``x_levels`` are DAC codes (integers as floats,
``x_levels * dac_step`` is the fraction of the full-scale read voltage);
``mvm`` returns the column currents in ADC codes (before rounding). A model
working in physical units reads ``tile.conductances_S()`` (G+ and G-, in S)
and ``tile.weight_to_adc``, the factor from ``sum(x_fraction * w)`` to ADC
codes, where ``w = (G+ - G-) / tile.g_per_weight_S``.
"""

from __future__ import annotations

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
    dac_levels: float  # largest DAC code
    adc_step: float  # ADC step in units of (weight x input fraction)
    adc_levels: float  # largest ADC code
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
    magic = 12582912.0 if values.dtype in (torch.float32, torch.float16, torch.bfloat16) else 6755399441055744.0
    return values.clamp_(-levels, levels).add_(magic).sub_(magic)


class ProgrammedLayer(torch.nn.Module):
    """A linear map made of programmed tiles; digital bias added at the end."""

    def __init__(self, tiles: list[ProgrammedTile], in_features: int, out_features: int,
                 bias: torch.Tensor | None, mvm: Mvm = ideal_mvm, seed: int = 0) -> None:
        super().__init__()
        if len({(t.dac_levels, t.adc_levels) for t in tiles}) != 1:
            raise ValueError("all tiles of a layer share one DAC/ADC configuration")
        self.tiles = tiles
        self.in_features = in_features
        self.out_features = out_features
        self.bias = None if bias is None else bias.detach().clone()
        # 1 / (input range x DAC step) for every input column, so one pass
        # encodes the input of all the layer's row blocks.
        in_scale = torch.empty(in_features, dtype=tiles[0].weight.dtype, device=tiles[0].weight.device)
        for t in tiles:
            in_scale[t.in_start:t.in_stop] = 1.0 / (t.input_range * t.dac_step)
        self.in_scale = in_scale
        self.mvm = mvm
        # Output noise is the only per-batch randomness; its own generator keeps
        # evaluations reproducible without touching torch's global RNG.
        self._gen: torch.Generator | None = None
        self._seed = seed

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out)."""
        x_levels = round_clamp_(x * self.in_scale, self.tiles[0].dac_levels)
        out = None
        for tile in self.tiles:
            y = self.mvm(x_levels[:, tile.in_start:tile.in_stop], tile)
            if tile.out_noise_codes > 0:
                if self._gen is None or self._gen.device != y.device:
                    self._gen = torch.Generator(device=y.device).manual_seed(self._seed)
                y = y.add_(torch.randn(y.shape, generator=self._gen, device=y.device, dtype=y.dtype),
                           alpha=tile.out_noise_codes)
            y = round_clamp_(y, tile.adc_levels)
            if out is None and tile.out_start == 0 and tile.out_stop == self.out_features:
                # first block covers every column: scale, and add the bias in the same pass
                out = y.mul_(tile.out_scale) if self.bias is None else torch.addcmul(self.bias, y, tile.out_scale)
                continue
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
        self.in_scale = fn(self.in_scale)
        if self.bias is not None:
            self.bias = fn(self.bias)
        return self


class ProgrammedConv2d(torch.nn.Module):
    """A 2-D convolution on programmed tiles (im2col, as aihwkit's torch tile does)."""

    def __init__(self, layer: ProgrammedLayer, in_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int]) -> None:
        super().__init__()
        self.layer = layer
        self.in_channels = in_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding,
                        stride=self.stride)  # (n, c*kh*kw, L)
        out = self.layer.matmul(cols.transpose(1, 2).reshape(-1, cols.shape[1]))
        h_out = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) - 1) // self.stride[0] + 1
        w_out = (w + 2 * self.padding[1] - self.dilation[1] * (self.kernel_size[1] - 1) - 1) // self.stride[1] + 1
        return out.reshape(n, h_out * w_out, -1).transpose(1, 2).reshape(n, -1, h_out, w_out)


def _move_tile(tile: ProgrammedTile, fn) -> ProgrammedTile:
    import dataclasses

    return dataclasses.replace(tile, weight=fn(tile.weight), weight_codes_T=fn(tile.weight_codes_T),
                               out_scale=fn(tile.out_scale))
