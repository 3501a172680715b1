"""Hardware-aware training at close to digital speed: aihwkit's tile arithmetic without the unfold.

:func:`trainable` turns an analog network from ``device_model.to_analog(...,
hwat=True)`` into plain-torch layers that compute, per tile, exactly what
aihwkit's torch tile (``DeviceAwareTorchTile`` under ``TorchInferenceRPUConfig``)
computes in a training step, and with the same autograd graph:

1. input range: clip to ±r (``r`` the tile's learned range, initialised from
   the data's 3·std over the first ``init_from_data`` batches, as aihwkit does),
   aihwkit's ``InputRangeForward`` gradient for ``r`` (:class:`_InputRangeGrad`),
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
grids are constants. :func:`write_back` copies the trained weights and input
ranges into the aihwkit network, which then programs, drifts and freezes as
before. ``tests/simulation/test_hwat_fast.py`` checks forward, gradients and
several optimizer steps against aihwkit's own layers.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from memlab.errors import ConfigError
from memlab.simulation import device_model as dm


class _RoundSTE(torch.autograd.Function):
    """``round(x / step) * step`` (half to even), identity gradient (aihwkit's UniformQuantize)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, step: float) -> torch.Tensor:
        return torch.round(x / step).mul_(step)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


class _InputRangeGrad(torch.autograd.Function):
    """Identity on the clipped input; aihwkit's ``InputRangeForward`` gradient for ``r``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, r: torch.Tensor, decay: float, min_percentage: float,
                gradient_scale: float, percentage: float) -> torch.Tensor:
        ctx.save_for_backward(x, r)
        ctx.settings = (decay, min_percentage, gradient_scale, percentage)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, r = ctx.saved_tensors
        decay, min_percentage, gradient_scale, percentage = ctx.settings
        upper, lower = x >= r, x <= -r
        g = torch.zeros_like(r)
        g += (upper * grad).clamp(max=0.0).sum()
        g -= (lower * grad).clamp(min=0.0).sum()
        g = g * r * gradient_scale
        if decay > 0:
            g = g + decay * r * (percentage > min_percentage)
        return grad, g, None, None, None, None


def _clipped_patch_grad(x: torch.Tensor, r: float, g_y: torch.Tensor, kernel: torch.Tensor,
                        stride, padding, dilation) -> torch.Tensor:
    """aihwkit's range-gradient sum over the im2col patch: ``Σ min(d, 0)`` over patch
    elements ``>= r`` minus ``Σ max(d, 0)`` over those ``<= -r``, with ``d`` each patch
    element's gradient ``(kernel^T g_y)`` (before the 1/r of the normalisation).

    Only clipped pixels matter (padding zeros never clip): they are found once, and
    each one's patch copies (one per kernel position whose output lies in the image)
    get their gradient from a gather of ``g_y`` (channels last) and the kernel column,
    so the cost grows with the clipped fraction; there is no unfold. (A dense
    variant, one product per kernel position and a masked sum, measured slower.)"""
    n, c, i, j = (x.abs() >= r).nonzero(as_tuple=True)
    total = g_y.new_zeros(())
    if len(n) == 0:
        return total
    sign = torch.sign(x[n, c, i, j])
    ho, wo = g_y.shape[-2:]
    out, kh, kw = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    rows = g_y.permute(0, 2, 3, 1).reshape(-1, out)  # one row of output gradients per location
    cols = kernel.permute(1, 2, 3, 0).reshape(-1, out)  # one row per (channel, ki, kj)
    hi = i[:, None] + padding[0] - dilation[0] * torch.arange(kh, device=x.device).view(1, -1)  # (M, kh)
    wj = j[:, None] + padding[1] - dilation[1] * torch.arange(kw, device=x.device).view(1, -1)  # (M, kw)
    ok_h = (hi >= 0) & (hi % stride[0] == 0) & (hi < stride[0] * ho)
    ok_w = (wj >= 0) & (wj % stride[1] == 0) & (wj < stride[1] * wo)
    ok = ok_h[:, :, None] & ok_w[:, None, :]  # (M, kh, kw): patch copies inside the output
    m, a, b = ok.nonzero(as_tuple=True)
    location = (n[m] * ho + hi[m, a] // stride[0]) * wo + wj[m, b] // stride[1]
    d = (rows.index_select(0, location) * cols.index_select(0, (c[m] * kh + a) * kw + b)).sum(1)
    return total + (sign[m] * d).clamp(max=0.0).sum()


class _TileConv(torch.autograd.Function):
    """Normalise by ``r``, DAC (straight-through), ``conv2d``: aihwkit's patch-wise gradients.

    Backward gives the input and kernel gradients of the native convolution and,
    for ``r``, the division's term plus aihwkit's ``InputRangeForward`` rule evaluated
    on the patch elements (:func:`_clipped_patch_grad`), as aihwkit's unfolded tile has it.
    """

    @staticmethod
    def forward(ctx, x_c, r, kernel, conv, inp_step, inp_bound, rule, fraction):
        x_n = x_c / r
        x_q = (_RoundSTE.forward(None, x_n, inp_step) if inp_step > 0 else x_n).clamp_(-inp_bound, inp_bound)
        ctx.save_for_backward(x_c, r, kernel, x_q)
        ctx.conv, ctx.rule, ctx.fraction = conv, rule, fraction
        return F.conv2d(x_q, kernel, None, *conv)

    @staticmethod
    def backward(ctx, g_y):
        x_c, r, kernel, x_q = ctx.saved_tensors
        stride, padding, dilation = ctx.conv
        g_xq = torch.nn.grad.conv2d_input(x_c.shape, kernel, g_y, stride, padding, dilation)
        g_kernel = torch.nn.grad.conv2d_weight(x_q, kernel.shape, g_y, stride, padding, dilation)
        g_x = g_xq / r
        g_r = None
        if ctx.needs_input_grad[1]:
            decay, min_percentage, gradient_scale = ctx.rule
            g_r = -(g_xq * x_c).sum().view(1) / (r * r)  # d(x_c / r) / dr
            rule = _clipped_patch_grad(x_c, float(r), g_y, kernel, stride, padding, dilation) / r
            g_r = g_r + rule * r * gradient_scale
            if decay > 0:
                g_r = g_r + decay * r * (ctx.fraction > min_percentage)
        return g_x, g_r, g_kernel, None, None, None, None, None


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
                          "(device_model.rpu_config's setting)")
    if io.inp_noise or io.inp_asymmetry or io.out_asymmetry or io.inp_sto_round or io.out_sto_round:
        raise ConfigError("fast HWAT models no input noise, asymmetry or stochastic rounding")
    if io.noise_management.name != "NONE" or io.bound_management.name != "NONE":
        raise ConfigError("fast HWAT needs noise and bound management off (device_model.rpu_config)")
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

    def modified_weight(self) -> torch.Tensor:
        """The weight a training step computes with (aihwkit's modifier; see the module docstring)."""
        w, s = self.weight, self.s
        if not self.training:
            return w
        wmax = w.abs().max().detach()
        if s.res > 0:
            w = _RoundSTE.apply(w, s.res * 2 * float(wmax))
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
    def init_range(self, mean_sq_and_mean) -> None:
        """aihwkit's start of the input range: a running mean of 3·std over the first batches."""
        s = self.s
        idx = int(self.update_idx.item())
        if not self.training or idx >= s.init_from_data:
            return
        std = mean_sq_and_mean()
        if std > 0:
            self.input_range.data = (self.input_range.data * idx + s.init_std_alpha * std) / (idx + 1)
            self.update_idx += 1
        self.input_range.data = self.input_range.data.abs()

    def dac(self, x: torch.Tensor, unclipped_fraction=None) -> torch.Tensor:
        """Input range, its gradient rule, normalisation and DAC of the tile's input.

        ``unclipped_fraction(x, bound)``: the fraction of the tile's input elements
        inside ±bound (aihwkit's decay rule); default: of ``x`` itself."""
        s, r = self.s, self.input_range
        bound = abs(float(r.item()))
        if self.training and s.learn_input_range:
            fraction = 0.0
            if s.decay > 0:
                fraction = (float((x.abs() < bound).float().mean()) if unclipped_fraction is None
                            else unclipped_fraction(x, bound))
            x = _InputRangeGrad.apply(x.clamp(-bound, bound), r, s.decay, s.min_percentage,
                                      s.gradient_scale, fraction)
        else:
            x = x.clamp(-bound, bound)
        x = x / r
        if s.inp_step > 0:
            x = _RoundSTE.apply(x, s.inp_step)
        return x.clamp(-s.inp_bound, s.inp_bound)

    def adc(self, y: torch.Tensor, channel_dim: int) -> torch.Tensor:
        s = self.s
        if s.out_noise > 0:
            y = y + s.out_noise * torch.randn_like(y)
        if s.out_step > 0:
            y = _RoundSTE.apply(y, s.out_step)
        y = y.clamp(-s.out_bound, s.out_bound)
        shape = [1] * y.ndim
        shape[channel_dim] = -1
        return y * (self.input_range * self.scale).view(shape)

    @torch.no_grad()
    def remap_(self) -> None:
        """aihwkit's channel-wise symmetric remap after an optimizer step."""
        scaled = self.weight * self.scale.view(-1, 1)
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
    (:class:`_TileConv`).
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0] * self.kernel_size[1]
        parts = []
        for t in self.tiles:
            c0, c1 = t.in_start // k, -(-t.in_stop // k)
            xt = x[:, c0:c1]
            kernel = self._kernel(t, t.modified_weight())
            conv = (self.stride, self.padding, self.dilation)
            if not self.training:
                parts.append((t, t.adc(F.conv2d(t.dac(xt), kernel, None, *conv), 1)))
                continue
            counts, per_image = self._patch_counts(t, x.shape)
            counts = counts.to(x)
            total = per_image * x.shape[0]

            def std(xt=xt, counts=counts, total=total):
                s1, s2 = (xt * counts).sum(), (xt * xt * counts).sum()
                return torch.sqrt(((s2 - s1 * s1 / total) / (total - 1)).clamp(min=0.0))

            def unclipped(xt, bound, counts=counts, total=total):
                return 1.0 - float(((xt.abs() >= bound) * counts).sum()) / total

            t.init_range(std)
            s, r = t.s, t.input_range
            bound = abs(float(r.item()))
            fraction = unclipped(xt, bound) if s.decay > 0 else 0.0
            rule = (s.decay, s.min_percentage, s.gradient_scale)
            y = _TileConv.apply(xt.clamp(-bound, bound), r, kernel, conv, s.inp_step, s.inp_bound, rule, fraction)
            parts.append((t, t.adc(y, 1)))
        out = _sum_blocks(parts, self.out_channels, 1)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out


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


def trainable(analog: torch.nn.Module) -> FastHWATNetwork:
    """A fast training copy of an aihwkit network (``device_model.to_analog(..., hwat=True)``)."""
    layers = list(analog.named_analog_layers())
    memo = {id(layer): torch.nn.Identity() for _, layer in layers}
    out = copy.deepcopy(analog, memo)
    for name, layer in layers:
        tiles = [FastTile(tile, tuple(span)) for tile, *span in dm._tile_blocks(layer)]
        bias = dm._layer_bias(layer)
        module = layer.analog_module
        if hasattr(layer, "kernel_size"):
            if getattr(layer, "groups", 1) != 1 or len(layer.kernel_size) != 2:
                raise ConfigError(f"layer {name}: fast HWAT handles 2-D convolutions with groups=1")
            fast = FastConv2d(tiles, layer.in_channels, layer.out_channels, tuple(layer.kernel_size),
                              tuple(layer.stride), tuple(layer.padding), tuple(layer.dilation), bias)
        else:
            fast = FastLinear(tiles, module.in_size, module.out_size, bias)
        dm._set_submodule(out, name, fast)
    return FastHWATNetwork(dm._plain(out)).to(next(analog.parameters()).device)


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
        for (tile, *_), ft in zip(dm._tile_blocks(layer), fast_layer.tiles):
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


@torch.no_grad()
def calibrate_input_ranges(analog: torch.nn.Module, batches) -> None:
    """:func:`memlab.simulation.device_model.calibrate_input_ranges` through the fast layers:
    the same data-driven start of every tile's input range (aihwkit's 3·std running mean over
    the first batches, on the tiles' patch inputs), without aihwkit's unfold; batch-norm
    layers stay in eval mode. The ranges are written into ``analog``."""
    fast = trainable(analog)
    fast.train()
    for module in fast.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    for x in batches:
        fast(x)
    write_back(fast, analog)
    analog.eval()
