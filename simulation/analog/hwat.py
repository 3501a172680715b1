"""Hardware-aware training helpers of the aihwkit network, and its trained state.

:func:`analog_optimizer` is aihwkit's ``AnalogSGD`` (the reference the fast
training of :mod:`memlab.simulation.hwat_fast` is tested against);
:func:`calibrate_input_ranges` starts the DAC input ranges from data for a
network that gets no HWAT; :func:`analog_state` / :func:`load_analog_state`
save and restore what a trained analog network is (plain tensors, no pickle).
"""

from __future__ import annotations

import torch


def analog_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """aihwkit's AnalogSGD (momentum 0.9) for hardware-aware training of ``model``;
    it remaps the tiles' weights after every step."""
    from aihwkit.optim import AnalogSGD

    opt = AnalogSGD(model.parameters(), lr=lr, momentum=0.9)
    opt.regroup_param_groups(model)
    return opt


@torch.no_grad()
def calibrate_input_ranges(model: torch.nn.Module, batches) -> None:
    """Initialise input ranges from data (as aihwkit does in its first training
    batches) for a network that gets no hardware-aware training.

    Only the analog layers learn here: batch-norm layers stay in eval mode so
    their running statistics (from training) are not overwritten."""
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()


@torch.no_grad()
def analog_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Tensors that define a trained analog network: its digital weights and input ranges.

    Saved with ``torch.save`` and read with ``weights_only=True``; restore with
    :func:`load_analog_state` on a fresh ``to_analog`` copy of the same network.
    """
    state = {}
    for name, layer in model.named_analog_layers():
        weight, bias = layer.get_weights()
        state[f"{name}.weight"] = weight.detach().clone()
        if bias is not None:
            state[f"{name}.bias"] = bias.detach().clone()
        for i, tile in enumerate(layer.analog_tiles()):
            if tile.input_range is not None:
                state[f"{name}.input_range.{i}"] = tile.input_range.detach().clone().view(-1)
    return state


@torch.no_grad()
def load_analog_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`analog_state`."""
    for name, layer in model.named_analog_layers():
        layer.set_weights(state[f"{name}.weight"], state.get(f"{name}.bias"))
        for i, tile in enumerate(layer.analog_tiles()):
            key = f"{name}.input_range.{i}"
            if key in state and tile.input_range is not None:
                tile.input_range.data[:] = state[key].to(tile.input_range)
                tile.input_range_update_idx.data[:] = tile.rpu_config.pre_post.input_range.init_from_data
