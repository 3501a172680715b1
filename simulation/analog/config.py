"""A device file as an aihwkit configuration, and a network on its crossbars.

:func:`rpu_config` builds the ``TorchInferenceRPUConfig`` (converters, the
learned input range, channel-wise mapping, :class:`~.noise.DeviceNoiseModel`,
global drift compensation); :func:`to_analog` converts a torch network with it.


Hardware-aware training uses aihwkit's torch tile (``TorchInferenceRPUConfig``)
with a device-derived weight modifier: weights discretised to the pair's
``2 * states - 1`` levels, then additive noise (the two devices' C2C σ) and
the D2D spread as the programming mode delivers it (open loop: multiplicative
noise; write-verify: clipping at a per-device bound): the noise a weight sees
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from aihwkit.inference.compensation.drift import GlobalDriftCompensation
from aihwkit.nn import AnalogConv2d, AnalogLinear
from aihwkit.nn.conversion import convert_to_analog
from aihwkit.simulator.configs import TorchInferenceRPUConfig
from aihwkit.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightModifierType,
    WeightRemapType,
)
from aihwkit.simulator.parameters.inference import WeightModifierParameter
from aihwkit.simulator.tiles.torch_tile import TorchSimulatorTile
from aihwkit.simulator.tiles.utils import UniformQuantize

from memlab.simulation.analog.branch import branch_model, weight_noise_std
from memlab.simulation.analog.noise import DeviceNoiseModel
from memlab.simulation.analog.options import AnalogOptions, converter_resolution


@dataclass
class DeviceWeightModifier(WeightModifierParameter):
    """Discretise to the pair's levels, then add normal noise (std_dev, relative to
    max |w|), multiplicative noise (mult_std_dev) and clipping at a per-weight
    bound ``max|w| * N(1, range_std_dev)`` (a device whose range is short):
    what a weight sees when programmed."""

    mult_std_dev: float = 0.0
    range_std_dev: float = 0.0


class DeviceAwareTorchTile(TorchSimulatorTile):
    """aihwkit's torch tile with the device-derived training modifier.

    The stock torch tile applies one modifier type at a time; the device needs
    discretisation and two noises together, so only the modifier step differs.
    """

    def forward(self, x_input, bias=False, in_trans=False, out_trans=False, is_test=False,
                non_blocking=False):
        mod = self._modifier
        if is_test or not isinstance(mod, DeviceWeightModifier) or mod.type == WeightModifierType.NONE:
            return super().forward(x_input, bias, in_trans, out_trans, is_test, non_blocking)
        w = self.weight
        wmax = w.abs().max().detach()
        if mod.res > 0:
            w = UniformQuantize.apply(w, mod.res, wmax, False)
        with torch.no_grad():
            noise = mod.std_dev * wmax * torch.randn_like(w)
            if mod.mult_std_dev > 0:
                noise += mod.mult_std_dev * w.detach() * torch.randn_like(w)
            if mod.range_std_dev > 0:  # straight-through: the gradient ignores the clip
                bound = wmax * (1.0 + mod.range_std_dev * torch.randn_like(w)).clamp_(min=0.0)
                wd = w.detach()
                noise += torch.maximum(torch.minimum(wd, bound), -bound) - wd
        return self._analog_mvm.matmul(w + noise, x_input, self._f_io, False, is_test=False,
                                       out_noise_values=self.out_noise_values)


def rpu_config(device: Any, options: AnalogOptions, *, hwat: bool) -> TorchInferenceRPUConfig:
    """aihwkit configuration for ``device`` (a ``DeviceFile``) under ``options``.

    ``hwat=True`` adds the device-derived training modifier; inference
    behaviour (noise model, I/O, drift compensation) is the same either way.
    """
    branch = branch_model(device, options.branch)
    cfg = TorchInferenceRPUConfig()
    cfg.simulator_tile_class = DeviceAwareTorchTile
    fwd = cfg.forward
    fwd.inp_res = converter_resolution(options.dac_bits)
    fwd.out_res = converter_resolution(options.adc_bits)
    fwd.inp_bound = 1.0
    fwd.out_bound = options.adc_full_scale
    fwd.out_noise = options.out_noise
    if "dac" in options.ideal:  # aihwkit's own tile still clips at the input range; the frozen path does not
        fwd.inp_res = -1.0
    if "adc" in options.ideal:
        fwd.out_res, fwd.out_bound = -1.0, -1.0
    # The learned input range replaces per-sample noise management (a fixed DAC
    # range as on a chip), and the ADC clips rather than retrying (no bound management).
    fwd.noise_management = NoiseManagementType.NONE
    fwd.bound_management = BoundManagementType.NONE
    cfg.pre_post.input_range.enable = True
    cfg.pre_post.input_range.learn_input_range = True
    cfg.pre_post.input_range.init_from_data = 50
    cfg.mapping.max_input_size = options.tile_size
    cfg.mapping.max_output_size = options.tile_size
    cfg.mapping.digital_bias = True
    # Each column uses the full conductance range; its scale is applied digitally.
    cfg.mapping.weight_scaling_omega = 1.0
    cfg.mapping.weight_scaling_columnwise = True
    cfg.remap.type = WeightRemapType.CHANNELWISE_SYMMETRIC
    cfg.noise_model = DeviceNoiseModel(branch, options)
    cfg.drift_compensation = GlobalDriftCompensation() if options.drift_compensation else None
    if hwat:
        mod = DeviceWeightModifier()
        mod.type = WeightModifierType.DISCRETIZE
        mod.res = 1.0 / (2 * (branch.states - 1))  # 2*states-1 levels over ±max|w|
        mod.std_dev = options.hwat_noise_scale * weight_noise_std(branch)
        # open-loop D2D is a multiplicative weight error; write-verify's clips at short ranges
        open_loop = options.programming == "open_loop"
        mod.mult_std_dev = options.hwat_noise_scale * options.d2d_fraction * open_loop
        mod.range_std_dev = options.hwat_noise_scale * options.range_fraction * (not open_loop)
        cfg.modifier = mod
    return cfg


ANALOG_LAYERS = {torch.nn.Linear: AnalogLinear, torch.nn.Conv2d: AnalogConv2d}
"""The layers put on crossbars (the ones :func:`freeze` has a fast path for)."""


def to_analog(model: torch.nn.Module, device: Any, options: AnalogOptions, *, hwat: bool,
              digital_layers: tuple[str, ...] = (), inplace: bool = False) -> torch.nn.Module:
    """An analog copy of ``model`` (every Linear/Conv2d not named in ``digital_layers`` on crossbar
    tiles); ``model`` is untouched unless ``inplace``."""
    return convert_to_analog(model, rpu_config(device, options, hwat=hwat), conversion_map=ANALOG_LAYERS,
                             exclude_modules=list(digital_layers), inplace=inplace)
