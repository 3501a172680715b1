"""Freezing: a programmed (and drifted) aihwkit network as a plain torch network.

What is computed where (the speed contract; see :mod:`memlab.simulation.crossbar`):

* once per programming (:func:`~.programming.program`): target conductances, the
  draw of G+/G- (C2C, D2D, stuck), the drift exponents, and aihwkit's global
  drift-compensation baseline;
* once per evaluation time (:func:`~.programming.drift_to`): drifted conductances,
  read noise, and the compensation factor alpha;
* once per (programming, time) (:func:`freeze`): each tile's effective weights
  and every scale (input range, mapping scales, alpha, ADC step) folded into
  a :class:`~memlab.simulation.crossbar.ProgrammedTile`;
* per batch (:mod:`memlab.simulation.crossbar`): DAC quantisation of the inputs,
  the crossbar matmul, ADC quantisation and clipping of the outputs, one scale
  and bias.

:func:`tile_blocks`, :func:`layer_bias`, :func:`set_submodule` and
:func:`plain_sequential` are also what the fast HWAT network
(:mod:`memlab.simulation.hwat_fast`) is built with.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Optional

import torch
from aihwkit.nn import AnalogConv2d, AnalogLinear, AnalogSequential

from memlab.errors import ConfigError
from memlab.seeds import derive
from memlab.simulation.crossbar import Mvm, ProgrammedConv2d, ProgrammedLayer, ProgrammedTile, ideal_mvm


def tile_blocks(layer) -> list[tuple[Any, int, int, int, int]]:
    """(tile, in_start, in_stop, out_start, out_stop) for an analog layer."""
    module = layer.analog_module
    if not hasattr(module, "array"):
        return [(module, 0, module.in_size, 0, module.out_size)]
    blocks = []
    in_start = 0
    for in_size, row in zip(module.in_sizes, module.array):
        out_start = 0
        for out_size, tile in zip(module.out_sizes, row):
            blocks.append((tile, in_start, in_start + in_size, out_start, out_start + out_size))
            out_start += out_size
        in_start += in_size
    return blocks


@torch.no_grad()
def _programmed_tile(tile, span: tuple[int, int, int, int]) -> ProgrammedTile:
    io = tile.rpu_config.forward
    noise_model = tile.rpu_config.noise_model
    weight = tile.tile.get_weights().detach().clone()
    ideal = noise_model.options.ideal
    dac_step = 1.0 if "dac" in ideal else 2.0 * io.inp_bound * io.inp_res
    adc_step = 1.0 if "adc" in ideal else 2.0 * io.out_bound * io.out_res
    dac_levels = math.inf if "dac" in ideal else math.floor(io.inp_bound / dac_step + 1e-6)
    adc_levels = math.inf if "adc" in ideal else math.floor(io.out_bound / adc_step + 1e-6)
    scale = torch.full((weight.shape[0],), adc_step, dtype=weight.dtype, device=weight.device)
    r = float(tile.input_range.abs().item()) if tile.input_range is not None else 1.0
    scale = scale * r
    if tile.mapping_scales is not None:
        scale = scale * tile.get_mapping_scales().view(-1).to(scale)
    if tile.rpu_config.drift_compensation is not None:
        scale = scale * tile.alpha.view(-1).to(scale)
    if tile.out_scaling_alpha is not None:
        scale = scale * tile.out_scaling_alpha.view(-1).to(scale)
    ref = tile.reference_combined_weights
    absmax = float(ref.abs().max()) if ref is not None else float(weight.abs().max())
    branch = noise_model.branch
    return ProgrammedTile(
        in_start=span[0], in_stop=span[1], out_start=span[2], out_stop=span[3],
        weight=weight, weight_codes_T=(weight * (dac_step / adc_step)).T.contiguous(),
        input_range=r, dac_step=dac_step, dac_levels=dac_levels, adc_step=adc_step, adc_levels=adc_levels,
        out_noise_codes=io.out_noise / adc_step, out_scale=scale,
        g_per_weight_S=branch.span_uS * 1e-6 / max(absmax, 1e-12),
        g_idle_S=branch.g_start_uS * 1e-6, g_direction=branch.direction)


@torch.no_grad()
def freeze(model: torch.nn.Module, mvm: Mvm = ideal_mvm, seed: int = 0,
           tile_transform: Optional[Callable[[ProgrammedTile], ProgrammedTile]] = None) -> torch.nn.Module:
    """A plain-torch copy of a programmed (and drifted) analog ``model`` for fast evaluation.

    Each aihwkit layer becomes a :class:`~.crossbar.ProgrammedLayer` (or
    ``ProgrammedConv2d``) holding its tiles' effective weights and folded
    scales. A non-ideal crossbar enters here, in one place: ``tile_transform``
    maps each programmed tile once (an IR-drop solve returning
    ``tile.with_weight(W_eff)``; a transform with a ``transform_tiles(tiles)``
    method gets each layer's tiles together), ``mvm`` replaces the per-batch crossbar
    product. ``seed`` seeds the per-read output noise (layer ``name``'s generator from
    ``derive(seed, "output_noise", name)``: any seed of :mod:`memlab.seeds` fits).
    """
    model.eval()
    layers = list(model.named_analog_layers())
    # Copy everything but the aihwkit layers (their tiles are replaced anyway).
    memo = {id(layer): torch.nn.Identity() for _, layer in layers}
    out = copy.deepcopy(model, memo)
    for name, layer in layers:
        tiles = [_programmed_tile(tile, tuple(span)) for tile, *span in tile_blocks(layer)]
        if tile_transform is not None:  # a transform may take a layer's tiles together
            many = getattr(tile_transform, "transform_tiles", None)
            tiles = many(tiles) if many is not None else [tile_transform(t) for t in tiles]
        bias = layer_bias(layer)
        in_size, out_size = layer.analog_module.in_size, layer.analog_module.out_size
        prog = ProgrammedLayer(tiles, in_size, out_size, bias, mvm=mvm, seed=derive(seed, "output_noise", name))
        if isinstance(layer, AnalogConv2d):
            prog = ProgrammedConv2d(prog, layer.in_channels, layer.kernel_size, layer.stride,
                                    layer.padding, layer.dilation)
        elif not isinstance(layer, AnalogLinear):
            raise ConfigError(f"layer {name} ({type(layer).__name__}) has no fast evaluation path")
        set_submodule(out, name, prog)
    return plain_sequential(out)


def layer_bias(layer) -> Optional[torch.Tensor]:
    """An analog layer's (digital) bias as a flat copy, or None."""
    module = layer.analog_module
    bias = getattr(module, "bias", None)
    if bias is None and not hasattr(module, "array"):
        return None
    return None if bias is None else bias.detach().clone().view(-1)


def set_submodule(root: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    """Put ``module`` at the dotted ``name`` inside ``root`` (ConfigError for the root itself)."""
    if not name:
        raise ConfigError("the model itself is a single analog layer; wrap it in a Sequential")
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def plain_sequential(model: torch.nn.Module) -> torch.nn.Module:
    """Swap aihwkit's AnalogSequential containers for torch.nn.Sequential (same children)."""
    if isinstance(model, AnalogSequential):
        plain = torch.nn.Sequential()
        for name, child in model.named_children():
            plain.add_module(name, plain_sequential(child))
        return plain
    for name, child in list(model.named_children()):
        setattr(model, name, plain_sequential(child))
    return model
