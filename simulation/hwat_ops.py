"""The autograd pieces of fast hardware-aware training (:mod:`.hwat_fast`).

Two families:

* aihwkit's exact arithmetic with a *learned* input range (:class:`RoundSTE`,
  :class:`InputRangeGrad`, :class:`TileConv`): the input range gets aihwkit's
  ``InputRangeForward`` gradient, for a convolution evaluated on the im2col patch
  elements without the unfold (:func:`clipped_patch_grad`);
* fused converters for a range *held fixed* after calibration (:class:`FixedDac`,
  :class:`Adc`): one function per converter, so a step costs one elementwise pass
  forward and one backward per converter, the arithmetic only. They compute the same
  values as the unfused chain (clip to ±r, divide by r, round to the DAC step, clip;
  round to the ADC step, clip, scale), in the same order of floating-point operations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class RoundSTE(torch.autograd.Function):
    """``round(x / step) * step`` (half to even), identity gradient (aihwkit's UniformQuantize)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, step: float) -> torch.Tensor:
        return torch.round(x / step).mul_(step)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


class InputRangeGrad(torch.autograd.Function):
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


def clipped_patch_grad(x: torch.Tensor, r: float, g_y: torch.Tensor, kernel: torch.Tensor,
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


class TileConv(torch.autograd.Function):
    """Normalise by ``r``, DAC (straight-through), ``conv2d``: aihwkit's patch-wise gradients.

    Backward gives the input and kernel gradients of the native convolution and,
    for ``r``, the division's term plus aihwkit's ``InputRangeForward`` rule evaluated
    on the patch elements (:func:`clipped_patch_grad`), as aihwkit's unfolded tile has it.
    """

    @staticmethod
    def forward(ctx, x_c, r, kernel, conv, inp_step, inp_bound, rule, fraction):
        x_n = x_c / r
        x_q = (RoundSTE.forward(None, x_n, inp_step) if inp_step > 0 else x_n).clamp_(-inp_bound, inp_bound)
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
            rule = clipped_patch_grad(x_c, float(r), g_y, kernel, stride, padding, dilation) / r
            g_r = g_r + rule * r * gradient_scale
            if decay > 0:
                g_r = g_r + decay * r * (ctx.fraction > min_percentage)
        return g_x, g_r, g_kernel, None, None, None, None, None


class FixedDac(torch.autograd.Function):
    """DAC of a tile's input under a fixed range ``r``: clip to ±r, divide by r, round to
    ``step`` (0: no rounding), clip to ±``bound``. Gradient: ``1/r`` inside the range, 0
    outside (the clip's), the rounding straight-through."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, r: float, step: float, bound: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.r = r
        y = x.clamp(-r, r).div_(r)
        if step > 0:
            y.div_(step).round_().mul_(step)
        return y.clamp_(-bound, bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        r = ctx.r
        inside = (x >= -r) & (x <= r)
        return torch.where(inside, grad, 0.0).div_(r), None, None, None


class Adc(torch.autograd.Function):
    """ADC of a tile's output and its digital scale: round to ``step`` (0: none), clip to
    ±``bound``, multiply by ``gain`` (``r × mapping scale`` per output, broadcast over
    ``y``). Gradient: ``gain`` where the clip passes, rounding straight-through; ``gain``
    gets ``Σ grad × q`` when it requires a gradient (a learned input range)."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, gain: torch.Tensor, step: float, bound: float) -> torch.Tensor:
        q = torch.round(y / step).mul_(step) if step > 0 else y.clone()
        inside = (q >= -bound) & (q <= bound)
        q.clamp_(-bound, bound)
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(inside, gain, q)
        else:
            ctx.save_for_backward(inside, gain)
        return q * gain

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        inside, gain = ctx.saved_tensors[:2]
        g_y = torch.where(inside, grad, 0.0).mul_(gain)
        g_gain = None
        if ctx.needs_input_grad[1]:
            q = ctx.saved_tensors[2]
            g_gain = (grad * q).sum_to_size(gain.shape)
        return g_y, g_gain, None, None
