"""The fast training layers: one aihwkit tile's training arithmetic with native linear / conv2d.

See :mod:`.hwat_fast` for what is computed and why it equals aihwkit's torch tile. A tile
runs in one of two modes:

* *learned* input range (aihwkit's default under ``learn_input_range``): the range is a
  parameter with aihwkit's ``InputRangeForward`` gradient, for a convolution evaluated on
  the im2col patch elements (:class:`~.hwat_ops.TileConv`);
* *held* range (after :meth:`FastTile.hold_range`, or in eval mode): the range is a
  constant, and the DAC and ADC are one fused function each (:class:`~.hwat_ops.FixedDac`,
  :class:`~.hwat_ops.Adc`); a step costs the convolution plus the converters' arithmetic.

The weight a step computes with is aihwkit's modifier (:meth:`FastTile.modified_weight`)
unless a device-derived training noise (:class:`~.hwat_noise.TileNoise`) is attached.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from memlab.errors import ConfigError
from memlab.simulation.hwat_noise import TileNoise, straight_through
from memlab.simulation.hwat_ops import Adc, FixedDac, InputRangeGrad, RoundSTE, TileConv


@dataclass(frozen=True)
class TileSettings:
    """The per-step constants of one tile, read once from its aihwkit configuration."""

    inp_step: float  # inp_res * 2 * inp_bound
    inp_bound: float
    out_step: float
    out_bound: float
    out_noise: float
    init_from_data: int
    init_std_alpha: float
    decay: float
    min_percentage: float
    gradient_scale: float
    learn_input_range: bool
    res: float  # modifier discretisation (relative to max |w|), 0 = none
    std_dev: float
    mult_std_dev: float
    range_std_dev: float


def _settings(tile) -> TileSettings:
    cfg = tile.rpu_config
    io, ir, mod = cfg.forward, cfg.pre_post.input_range, cfg.modifier
    if not ir.enable or ir.manage_output_clipping or not ir.gradient_relative:
        raise ConfigError("fast HWAT needs enabled input ranges with relative gradients "
                          "(analog.rpu_config's setting)")
    if io.inp_noise or io.inp_asymmetry or io.out_asymmetry or io.inp_sto_round or io.out_sto_round:
        raise ConfigError("fast HWAT models no input noise, asymmetry or stochastic rounding")
    if io.noise_management.name != "NONE" or io.bound_management.name != "NONE":
        raise ConfigError("fast HWAT needs noise and bound management off (analog.rpu_config)")
    res = getattr(mod, "res", 0.0) if mod.type.name == "DISCRETIZE" else 0.0
    res = 1 / res if res > 1 else res
    inp_res = 1 / io.inp_res if io.inp_res > 1 else io.inp_res
    out_res = 1 / io.out_res if io.out_res > 1 else io.out_res
    return TileSettings(
        inp_step=inp_res * 2 * io.inp_bound, inp_bound=io.inp_bound,
        out_step=out_res * 2 * io.out_bound, out_bound=io.out_bound if io.out_bound > 0 else math.inf,
        out_noise=io.out_noise, init_from_data=ir.init_from_data, init_std_alpha=ir.init_std_alpha,
        decay=ir.decay, min_percentage=ir.input_min_percentage, gradient_scale=ir.gradient_scale,
        learn_input_range=ir.learn_input_range, res=res,
        std_dev=getattr(mod, "std_dev", 0.0) if mod.type.name != "NONE" else 0.0,
        mult_std_dev=getattr(mod, "mult_std_dev", 0.0) if mod.type.name != "NONE" else 0.0,
        range_std_dev=getattr(mod, "range_std_dev", 0.0) if mod.type.name != "NONE" else 0.0)


class FastTile(torch.nn.Module):
    """One tile: normalised weight ``w`` (out x in rows of its block), input range, mapping scale."""

    def __init__(self, tile, span: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.in_start, self.in_stop, self.out_start, self.out_stop = span
        self.s = _settings(tile)
        self.weight = torch.nn.Parameter(tile.tile.weight.detach().clone())
        self.input_range = torch.nn.Parameter(tile.input_range.detach().clone().view(1),
                                              requires_grad=self.s.learn_input_range)
        self.register_buffer("update_idx", tile.input_range_update_idx.detach().clone().view(1))
        self.register_buffer("scale", tile.get_mapping_scales().detach().clone().view(-1))
        self.weight.register_hook(lambda g: g / self.scale.view(-1, 1) ** 2)
        self._observed: torch.Tensor | None = None  # largest |input| while calibrating by 'max'
        self.noise: TileNoise | None = None  # device-derived training noise (replaces the modifier)
        self.clip_sigma: float | None = None  # weight clipping after each step, x the tile's std

    def modified_weight(self) -> torch.Tensor:
        """The weight a training step computes with: the device-derived noise's deployed weight
        (straight-through) when attached, else aihwkit's modifier (see the module docstring)."""
        w, s = self.weight, self.s
        if not self.training:
            return w
        if self.noise is not None:
            return straight_through(w, self.noise.deployed(w))
        wmax = w.abs().max().detach()
        if s.res > 0:
            w = RoundSTE.apply(w, s.res * 2 * float(wmax))
        if s.std_dev == 0 and s.mult_std_dev == 0 and s.range_std_dev == 0:
            return w
        with torch.no_grad():
            noise = s.std_dev * wmax * torch.randn_like(w)
            if s.mult_std_dev > 0:
                noise += s.mult_std_dev * w.detach() * torch.randn_like(w)
            if s.range_std_dev > 0:
                bound = wmax * (1.0 + s.range_std_dev * torch.randn_like(w)).clamp_(min=0.0)
                wd = w.detach()
                noise += torch.maximum(torch.minimum(wd, bound), -bound) - wd
        return w + noise

    @torch.no_grad()
    def observe_inputs(self) -> None:
        """Record the largest |input| of the following passes (:meth:`set_range_from_observed`);
        meanwhile the range follows the running max, so nothing clips (the DAC scales to the data
        seen so far, the paper's adaptive scaling). A convolution tile records over its channels'
        pixels, a superset of its patch elements."""
        self._observed = torch.zeros((), device=self.weight.device)

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """While calibrating by 'max': the range follows the running max of |x|."""
        if self._observed is not None:
            self._observed = torch.maximum(self._observed, x.detach().abs().max())
            if float(self._observed) > 0:
                self.input_range.data.fill_(float(self._observed))

    @torch.no_grad()
    def set_range_from_observed(self) -> None:
        """Set the input range to the recorded largest |input| (and end the data-driven start)."""
        observed, self._observed = self._observed, None
        if observed is not None and float(observed) > 0:
            self.input_range.data.fill_(float(observed))
        self.update_idx.fill_(max(int(self.update_idx.item()), self.s.init_from_data))

    @property
    def needs_range_start(self) -> bool:
        """True while aihwkit's data-driven start of the input range is still running."""
        return self._observed is None and int(self.update_idx.item()) < self.s.init_from_data

    @torch.no_grad()
    def init_range(self, mean_sq_and_mean) -> None:
        """aihwkit's start of the input range: a running mean of 3·std over the first batches."""
        s = self.s
        idx = int(self.update_idx.item())
        if not self.training or not self.needs_range_start:
            return
        std = mean_sq_and_mean()
        if std > 0:
            self.input_range.data = (self.input_range.data * idx + s.init_std_alpha * std) / (idx + 1)
            self.update_idx += 1
        self.input_range.data = self.input_range.data.abs()

    @property
    def learns_range(self) -> bool:
        """True while a training step gives the input range aihwkit's gradient."""
        return self.training and self.s.learn_input_range and self.input_range.requires_grad

    def hold_range(self) -> None:
        """Keep the input range fixed from now on (no gradient, no data-driven start)."""
        self.s = dataclasses.replace(self.s, learn_input_range=False)
        self.input_range.requires_grad_(False)
        self.update_idx.fill_(max(int(self.update_idx.item()), self.s.init_from_data))

    def dac(self, x: torch.Tensor, unclipped_fraction=None) -> torch.Tensor:
        """Input range, its gradient rule, normalisation and DAC of the tile's input.

        ``unclipped_fraction(x, bound)``: the fraction of the tile's input elements
        inside ±bound (aihwkit's decay rule); default: of ``x`` itself."""
        s, r = self.s, self.input_range
        self.observe(x)
        bound = abs(float(r.item()))
        if not self.learns_range:
            return FixedDac.apply(x, float(r.item()), s.inp_step, s.inp_bound)
        fraction = 0.0
        if s.decay > 0:
            fraction = (float((x.abs() < bound).float().mean()) if unclipped_fraction is None
                        else unclipped_fraction(x, bound))
        x = InputRangeGrad.apply(x.clamp(-bound, bound), r, s.decay, s.min_percentage,
                                 s.gradient_scale, fraction)
        x = x / r
        if s.inp_step > 0:
            x = RoundSTE.apply(x, s.inp_step)
        return x.clamp(-s.inp_bound, s.inp_bound)

    def adc(self, y: torch.Tensor, channel_dim: int) -> torch.Tensor:
        """Output noise, ADC rounding and clipping, then ``× r × mapping scale`` (one fused step)."""
        s = self.s
        if s.out_noise > 0:
            y = y + s.out_noise * torch.randn_like(y)
        shape = [1] * y.ndim
        shape[channel_dim] = -1
        return Adc.apply(y, (self.input_range * self.scale).view(shape), s.out_step, s.out_bound)

    @torch.no_grad()
    def remap_(self) -> None:
        """Weight clipping at ``clip_sigma`` x the std of the tile's weights (aihwkit's
        LAYER_GAUSSIAN, on the real weights), then aihwkit's channel-wise symmetric remap, after
        an optimizer step."""
        scaled = self.weight * self.scale.view(-1, 1)
        if self.clip_sigma is not None:
            bound = self.clip_sigma * float(scaled.std())
            scaled.clamp_(-bound, bound)
        new = scaled.abs().amax(1).clamp_(min=1e-30)  # aihwkit divides by 0 for an all-zero column
        self.weight.data = scaled / new.view(-1, 1)
        self.scale.copy_(new)


class FastLinear(torch.nn.Module):
    """An aihwkit ``AnalogLinear`` as its tiles' arithmetic (see the module docstring)."""

    def __init__(self, tiles: list[FastTile], in_features: int, out_features: int,
                 bias: torch.Tensor | None) -> None:
        super().__init__()
        self.tiles = torch.nn.ModuleList(tiles)
        self.in_features, self.out_features = in_features, out_features
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        parts = []
        for t in self.tiles:
            xt = x[:, t.in_start:t.in_stop]
            t.init_range(lambda: xt.std())
            parts.append((t, t.adc(F.linear(t.dac(xt), t.modified_weight()), 1)))
        out = _sum_blocks(parts, self.out_features, 1)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape[:-1], self.out_features)


def _sum_blocks(parts, out_features: int, dim: int) -> torch.Tensor:
    """Sum tiles' outputs over row blocks, placing column blocks (autograd-friendly)."""
    rows: dict[tuple[int, int], list] = {}
    for t, y in parts:
        rows.setdefault((t.in_start, t.in_stop), []).append((t.out_start, t.out_stop, y))
    out = None
    for blocks in rows.values():
        blocks.sort(key=lambda b: b[0])
        if [b[:2] for b in blocks] != _cover(blocks, out_features):
            raise ConfigError("tiles of a row block must cover every output once")
        y = blocks[0][2] if len(blocks) == 1 else torch.cat([b[2] for b in blocks], dim)
        out = y if out is None else out + y
    return out


def _cover(blocks, out_features: int) -> list[tuple[int, int]]:
    spans, start = [], 0
    for b in blocks:
        spans.append((start, b[1]))
        start = b[1]
    return spans if start == out_features else []


class FastConv2d(torch.nn.Module):
    """An aihwkit ``AnalogConv2d`` as its tiles' arithmetic, one native ``conv2d`` per tile.

    A tile's rows are a block ``[in_start, in_stop)`` of the im2col patch
    (channel-major, then kernel row and column); its kernel covers input channels
    ``in_start // k .. ceil(in_stop / k)`` with zeros where the block holds no row.
    aihwkit's statistics over the patch tensor (the 3·std start of the input
    range, the fraction of unclipped inputs of its decay rule) are computed
    exactly from per-pixel patch counts, and the range gradient's sum over clipped
    patch elements from the patch gradients at the clipped elements only
    (:class:`~.hwat_ops.TileConv`).
    """

    def __init__(self, tiles: list[FastTile], in_channels: int, out_channels: int, kernel_size,
                 stride, padding, dilation, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.tiles = torch.nn.ModuleList(tiles)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach().clone())
        self._counts: dict = {}

    def _kernel(self, t: FastTile, w: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0] * self.kernel_size[1]
        c0, c1 = t.in_start // k, -(-t.in_stop // k)
        if t.in_start != c0 * k or t.in_stop != c1 * k:
            w = F.pad(w, (t.in_start - c0 * k, c1 * k - t.in_stop))
        return w.reshape(w.shape[0], c1 - c0, *self.kernel_size)

    def _patch_counts(self, t: FastTile, shape) -> tuple[torch.Tensor, int]:
        """How many patch elements of the tile's rows read each input pixel, and their number."""
        k = self.kernel_size[0] * self.kernel_size[1]
        c0, c1 = t.in_start // k, -(-t.in_stop // k)
        key = (t.in_start, t.in_stop, tuple(shape[-2:]))
        if key not in self._counts:
            ones = torch.ones(1, c1 - c0, *shape[-2:])
            cols = F.unfold(ones, self.kernel_size, self.dilation, self.padding, self.stride)
            mask = torch.zeros(cols.shape[1], 1)
            mask[t.in_start - c0 * k:t.in_stop - c0 * k] = 1.0
            counts = F.fold(cols * mask, tuple(shape[-2:]), self.kernel_size, self.dilation, self.padding,
                            self.stride)
            self._counts[key] = (counts, cols.shape[2] * (t.in_stop - t.in_start))
        counts, per_image = self._counts[key]
        return counts, per_image

    def _patch_std(self, t: FastTile, xt: torch.Tensor, shape):
        """The std of the tile's im2col patch elements, from per-pixel patch counts (a callable)."""
        counts, per_image = self._patch_counts(t, shape)
        counts, total = counts.to(xt), per_image * shape[0]

        def std():
            s1, s2 = (xt * counts).sum(), (xt * xt * counts).sum()
            return torch.sqrt(((s2 - s1 * s1 / total) / (total - 1)).clamp(min=0.0))
        return std

    def _unclipped(self, t: FastTile, xt: torch.Tensor, shape, bound: float) -> float:
        """The fraction of the tile's patch elements inside ±bound (aihwkit's decay rule)."""
        counts, per_image = self._patch_counts(t, shape)
        return 1.0 - float(((xt.abs() >= bound) * counts.to(xt)).sum()) / (per_image * shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0] * self.kernel_size[1]
        conv = (self.stride, self.padding, self.dilation)
        parts = []
        for t in self.tiles:
            c0, c1 = t.in_start // k, -(-t.in_stop // k)
            xt = x[:, c0:c1]
            kernel = self._kernel(t, t.modified_weight())
            if self.training and t.needs_range_start:
                t.init_range(self._patch_std(t, xt, x.shape))
            if not t.learns_range:  # held range (or eval): fused converters, native conv2d
                parts.append((t, t.adc(F.conv2d(t.dac(xt), kernel, None, *conv), 1)))
                continue
            t.observe(xt)
            s, r = t.s, t.input_range
            bound = abs(float(r.item()))
            fraction = self._unclipped(t, xt, x.shape, bound) if s.decay > 0 else 0.0
            rule = (s.decay, s.min_percentage, s.gradient_scale)
            y = TileConv.apply(xt.clamp(-bound, bound), r, kernel, conv, s.inp_step, s.inp_bound, rule, fraction)
            parts.append((t, t.adc(y, 1)))
        out = _sum_blocks(parts, self.out_channels, 1)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out
