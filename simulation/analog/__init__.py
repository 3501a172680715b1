"""Device file -> aihwkit: the one subpackage of memlab that imports aihwkit.

One module per job (``tests/core/test_layering.py`` fails on an aihwkit import
anywhere else in the package):

* :mod:`.options`: :class:`AnalogOptions` and its validation (no torch, no aihwkit);
* :mod:`.branch`: the measured branch in µS, the drift block, the drift's
  description (torch, no aihwkit);
* :mod:`.noise`: :class:`DeviceNoiseModel`, programming noise, D2D, stuck
  devices, drift and read noise as an aihwkit noise model (the weight mapping
  and the modes are explained there);
* :mod:`.config`: :func:`rpu_config` (converters, input ranges, mapping, the HWAT
  weight modifier and its torch tile) and :func:`to_analog`;
* :mod:`.programming`: :func:`program` and :func:`drift_to`, seeded;
* :mod:`.freeze`: :func:`freeze`, a programmed network as plain torch
  :class:`~memlab.simulation.crossbar.ProgrammedTile` layers, and the tile
  walking it shares with the fast HWAT network;
* :mod:`.hwat`: aihwkit's optimizer, input-range calibration, the trained state.

The names below are the subpackage's interface (``from memlab.simulation import
analog as dm``; docs/INTERFACES.md). Importing it loads aihwkit.
"""

from memlab.simulation.analog.branch import (
    BranchModel,
    MeasuredDrift,
    branch_model,
    drift_description,
    drift_label,
    weight_noise_std,
)
from memlab.simulation.analog.config import (
    ANALOG_LAYERS,
    DeviceAwareTorchTile,
    DeviceWeightModifier,
    rpu_config,
    to_analog,
)
from memlab.simulation.analog.freeze import freeze, layer_bias, plain_sequential, set_submodule, tile_blocks
from memlab.simulation.analog.hwat import analog_optimizer, analog_state, calibrate_input_ranges, load_analog_state
from memlab.simulation.analog.noise import DeviceNoiseModel
from memlab.simulation.analog.options import (
    BRANCHES,
    DRIFT_MODES,
    IDEAL_SWITCHES,
    PROGRAMMING,
    WAN2022_G_MAX_uS,
    WAN2022_SCALINGS,
    WAN2022_TIMES_S,
    AnalogOptions,
    check_choice,
    check_drift_time,
    converter_resolution,
)
from memlab.simulation.analog.programming import analog_tiles, drift_to, program

__all__ = [
    "ANALOG_LAYERS", "BRANCHES", "DRIFT_MODES", "IDEAL_SWITCHES", "PROGRAMMING", "WAN2022_G_MAX_uS", "WAN2022_SCALINGS",
    "WAN2022_TIMES_S", "AnalogOptions", "BranchModel", "DeviceAwareTorchTile", "DeviceNoiseModel",
    "DeviceWeightModifier", "MeasuredDrift", "analog_optimizer", "analog_state", "analog_tiles",
    "branch_model", "calibrate_input_ranges", "check_choice", "check_drift_time", "converter_resolution",
    "drift_description", "drift_label", "drift_to", "freeze", "layer_bias", "load_analog_state",
    "plain_sequential", "program", "rpu_config", "set_submodule", "tile_blocks", "to_analog",
    "weight_noise_std",
]
