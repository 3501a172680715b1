"""The fast per-batch path gives aihwkit's own eval-mode forward."""

from __future__ import annotations

import pytest
import torch

from memlab.simulation import analog as dm
from memlab.simulation.crossbar import ideal_mvm
from tests.helpers.sim_device import device


def _agree(model, x, tol_codes=1.0):
    """Max |aihwkit - fast| over outputs; rounding ties may flip one ADC code."""
    model.eval()
    with torch.no_grad():
        ref = model(x)
        fast = dm.freeze(model)(x)
    return (ref - fast).abs(), ref


@pytest.mark.parametrize("compensation", [True, False])
def test_linear_layers_split_into_tiles_match_aihwkit(compensation):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(40, 24), torch.nn.ReLU(), torch.nn.Linear(24, 5))
    options = dm.AnalogOptions(tile_size=16, drift_compensation=compensation, drift="wan2022")
    model = dm.to_analog(net, device(), options, hwat=False)
    assert len(list(dm.analog_tiles(model))) == 3 * 2 + 2  # 40 -> 3 row blocks, 24 -> 2 column blocks
    x = torch.randn(64, 40)
    dm.calibrate_input_ranges(model, [x] * 5)
    dm.program(model, 1)
    dm.drift_to(model, 86400, 2)
    diff, ref = _agree(model, x)
    # identical operations; only float summation order differs (can flip a rounding tie)
    assert (diff < 1e-5).float().mean() > 0.99
    assert diff.max() < 0.05 * ref.abs().max()


def test_conv_layer_matches_aihwkit():
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1, stride=2), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 4))
    model = dm.to_analog(net, device(), dm.AnalogOptions(drift="none"), hwat=False)
    x = torch.randn(8, 2, 8, 8)
    dm.calibrate_input_ranges(model, [x] * 5)
    dm.program(model, 3)
    dm.drift_to(model, 0.0)
    diff, ref = _agree(model, x)
    assert (diff < 1e-5).float().mean() > 0.99


def test_dac_and_adc_quantise_and_clip():
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Linear(8, 3))
    model = dm.to_analog(net, device(sigma_S=0.0), dm.AnalogOptions(d2d_fraction=0.0, drift="none"), hwat=False)
    dm.calibrate_input_ranges(model, [torch.randn(32, 8)] * 5)
    dm.program(model, 0)
    dm.drift_to(model, 0.0)
    layer = dm.freeze(model)[0]
    tile = layer.tiles[0]
    assert tile.dac_levels == 127 and tile.adc_levels == 127
    seen = []

    def spy(x_levels, t):
        seen.append(x_levels)
        return ideal_mvm(x_levels, t)

    layer.mvm = spy
    huge = torch.full((2, 8), 1e6)
    out = layer(huge)
    assert torch.equal(seen[0], torch.full((2, 8), 127.0))  # clipped at the DAC's top code
    codes = (out - layer.bias) / tile.out_scale
    assert torch.allclose(codes, codes.round(), atol=1e-3) and codes.abs().max() <= 127 + 1e-3


def test_frozen_tile_reports_conductances_in_range():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(10, 4))
    model = dm.to_analog(net, device(sigma_S=0.0), dm.AnalogOptions(d2d_fraction=0.0, drift="none"), hwat=False)
    dm.calibrate_input_ranges(model, [torch.randn(8, 10)] * 5)
    dm.program(model, 0)
    tile = dm.freeze(model)[0].tiles[0]
    g_pos, g_neg = tile.conductances_S()
    assert g_pos.min() >= 1e-3 - 1e-9 and g_neg.min() >= 1e-3 - 1e-9
    assert max(g_pos.max(), g_neg.max()) <= 1e-3 + 15 * 80e-6 + 1e-9
    assert torch.allclose((g_pos - g_neg) / tile.g_per_weight_S, tile.weight, atol=1e-5)


def test_tile_transform_replaces_the_weights_once():
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Linear(10, 4))
    model = dm.to_analog(net, device(), dm.AnalogOptions(drift="none"), hwat=False)
    x = torch.randn(16, 10)
    dm.calibrate_input_ranges(model, [x] * 5)
    dm.program(model, 0)
    calls = []

    def halve(tile):
        calls.append(tile)
        return tile.with_weight(tile.weight * 0.5)

    plain, halved = dm.freeze(model), dm.freeze(model, tile_transform=halve)
    assert len(calls) == 1
    with torch.no_grad():
        a = plain(x) - plain[0].bias
        b = halved(x) - halved[0].bias
    # half the column currents, up to one ADC code of rounding
    assert (b - 0.5 * a).abs().max() <= calls[0].out_scale.max() * 1.01
