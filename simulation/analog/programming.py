"""Programming and drift of an analog network: the seeded draws, in aihwkit's two steps.

:func:`program` draws every device once (aihwkit's ``program_analog_weights``,
through :class:`~.noise.DeviceNoiseModel`), :func:`drift_to` sets the state at a
time after programming (``drift_analog_weights``). Both seed torch's global RNG
inside a fork, so a caller's own draws are not shifted. This module calls
aihwkit's layers' methods but imports nothing of aihwkit.
"""

from __future__ import annotations

from typing import Optional

import torch

from memlab.errors import ConfigError
from memlab.simulation.analog.options import AnalogOptions, check_drift_time


def _seeded():
    """Leave torch's global RNG (CPU and CUDA) as it was after a seeded draw."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    return torch.random.fork_rng(devices=devices)


@torch.no_grad()
def program(model: torch.nn.Module, seed: Optional[int] = None) -> None:
    """Draw every device's conductance once (C2C, D2D, stuck) and the drift exponents.

    Also sets aihwkit's drift-compensation baseline. ``seed`` defaults to the
    options' seed; torch's global RNG is left as it was.
    """
    seed = _noise_options(model).seed if seed is None else seed
    model.eval()
    with _seeded():
        torch.manual_seed(seed)
        model.program_analog_weights()


@torch.no_grad()
def drift_to(model: torch.nn.Module, t_s: float, seed: Optional[int] = None) -> None:
    """Set the weights to their state ``t_s`` seconds after programming (drift,
    read noise, and the compensation factor when compensation is on)."""
    options = _noise_options(model)
    t = check_drift_time(options.drift, t_s)
    model.eval()
    with _seeded():
        torch.manual_seed(options.seed if seed is None else seed)
        model.drift_analog_weights(t)


def _noise_options(model: torch.nn.Module) -> AnalogOptions:
    for tile in analog_tiles(model):
        return tile.rpu_config.noise_model.options
    raise ConfigError("model has no analog layers (convert it with to_analog first)")


def analog_tiles(model: torch.nn.Module):
    """Every aihwkit tile of ``model``, in module order."""
    for layer in model.analog_layers():
        yield from layer.analog_tiles()
