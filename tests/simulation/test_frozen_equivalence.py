"""The frozen layers (native conv2d / matmul per tile block) give aihwkit's own tiles' outputs.

Reference: aihwkit's ``AnalogLinear`` / ``AnalogConv2d`` (torch tiles, eval mode) on the same
programmed conductances, inputs and options. With IR drop, aihwkit's tiles are given the same
effective matrices (``tile.tile.set_weights``) that the frozen network computes with. Equality
is to the quantisation step: the two sides add the same products in a different order, so a
value on a rounding tie of a tile's ADC may land one code apart; every difference must be at
most one ADC code per row block of the layer, and almost all outputs must agree exactly.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from memlab.simulation import analog as dm
from memlab.simulation.crossbar import ProgrammedConv2d, ProgrammedLayer
from memlab.simulation.ir_fast import IRDropConfig
from memlab.simulation.ir_mvm import IRDropTransform, effective_weights
from tests.helpers.sim_device import device


def _analog(net, x, options, *, seed, ranges_differ=False):
    model = dm.to_analog(net, device(), options, hwat=False)
    dm.calibrate_input_ranges(model, [x] * 5)
    if ranges_differ:  # learned ranges differ per tile; the frozen layers must keep each tile's
        for i, tile in enumerate(dm.analog_tiles(model)):
            tile.input_range.data *= 0.6 + 0.15 * (i % 4)
    dm.program(model, seed)
    dm.drift_to(model, 0.0, seed)
    return model


def _set_ir_weights(model, config):
    """Put the IR-drop effective weights of the programmed tiles into aihwkit's tiles
    (in freeze's tile order), computed from a plain freeze of the same state."""
    for (_, layer), frozen in zip(list(model.named_analog_layers()), _frozen_layers(dm.freeze(model))):
        prog = frozen.layer if isinstance(frozen, ProgrammedConv2d) else frozen
        weights = effective_weights(prog.tiles, config)
        for (tile, *_), w in zip(dm.tile_blocks(layer), weights):
            tile.tile.set_weights(w.clone())


def _frozen_layers(frozen):
    return [m for m in frozen.modules() if isinstance(m, (ProgrammedConv2d, ProgrammedLayer))
            and not (isinstance(m, ProgrammedLayer) and any(
                isinstance(p, ProgrammedConv2d) and p.layer is m for p in frozen.modules()))]


def _check_layerwise(model, frozen, x):
    """Compare the first analog layer's outputs (no later layer can mask a difference)."""
    ref = model(x)
    fast = frozen(x)
    assert ref.shape == fast.shape
    layer = _frozen_layers(frozen)[-1]
    prog = layer.layer if isinstance(layer, ProgrammedConv2d) else layer
    n_row_blocks = len({(t.in_start, t.in_stop) for t in prog.tiles})
    step = torch.zeros(prog.out_features)
    for t in prog.tiles:
        step[t.out_start:t.out_stop] = torch.maximum(step[t.out_start:t.out_stop], t.out_scale.abs())
    shape = [1, -1] + [1] * (ref.ndim - 2)
    diff = (ref - fast).abs()
    assert bool((diff <= n_row_blocks * step.view(shape) * 1.001 + 1e-5).all()), float(diff.max())
    exact = (diff <= 1e-4 * ref.abs().max()).float().mean()
    assert exact > 0.99, float(exact)
    assert float(ref.abs().max()) > 0  # a real signal, not all zeros
    return prog


LINEAR_CASES = [  # (in, out, tile_size): one tile; rows split; rows and columns split
    (30, 7, 512),
    (40, 24, 16),
    (100, 33, 32),
]
CONV_CASES = [  # (in_ch, out_ch, kernel, stride, padding, dilation, tile_size, image)
    (2, 3, 3, 2, 1, 1, 512, 8),  # one tile
    (5, 7, 3, 1, 1, 1, 16, 9),  # 45 rows -> 3 blocks of 15: split inside channels
    (4, 20, (3, 2), 1, (2, 1), 2, 16, 10),  # 24 rows, 20 columns: rows and columns split
    (32, 8, 1, 1, 0, 1, 16, 6),  # 1x1 kernel, 2 row blocks on channel boundaries
    (4, 6, 3, 1, 1, 1, 18, 7),  # 36 rows -> 2 blocks of 2 whole channels
]


@pytest.mark.parametrize("ir_drop", [False, True])
@pytest.mark.parametrize("n_in,n_out,tile_size", LINEAR_CASES)
def test_linear_matches_aihwkit(n_in, n_out, tile_size, ir_drop):
    torch.manual_seed(n_in)
    net = torch.nn.Sequential(torch.nn.Linear(n_in, n_out))
    x = torch.randn(64, n_in)
    model = _analog(net, x, dm.AnalogOptions(tile_size=tile_size, drift="none"), seed=3)
    transform = IRDropTransform(IRDropConfig(2.0, array_size=tile_size, method="solve")) if ir_drop else None
    frozen = dm.freeze(model, tile_transform=transform)
    if ir_drop:
        _set_ir_weights(model, transform.config)
    with torch.no_grad():
        _check_layerwise(model.eval(), frozen, x)


@pytest.mark.parametrize("ir_drop", [False, True])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_aihwkit(case, ir_drop):
    c_in, c_out, k, stride, padding, dilation, tile_size, image = case
    torch.manual_seed(c_in * 10 + c_out)
    net = torch.nn.Sequential(torch.nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding,
                                              dilation=dilation, bias=True))
    x = torch.randn(6, c_in, image, image)
    model = _analog(net, x, dm.AnalogOptions(tile_size=tile_size, drift="none"), seed=4)
    transform = IRDropTransform(IRDropConfig(2.0, array_size=tile_size, method="solve")) if ir_drop else None
    frozen = dm.freeze(model, tile_transform=transform)
    if ir_drop:
        _set_ir_weights(model, transform.config)
    with torch.no_grad():
        prog = _check_layerwise(model.eval(), frozen, x)
    assert len(prog.tiles) == len(list(dm.analog_tiles(model)))


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_each_tile_keeps_its_own_input_range(kind):
    torch.manual_seed(7)
    if kind == "linear":
        net, x = torch.nn.Sequential(torch.nn.Linear(40, 24)), torch.randn(64, 40)
    else:
        net, x = torch.nn.Sequential(torch.nn.Conv2d(5, 20, 3, padding=1)), torch.randn(4, 5, 7, 7)
    model = _analog(net, x, dm.AnalogOptions(tile_size=16, drift="none"), seed=5, ranges_differ=True)
    frozen = dm.freeze(model)
    with torch.no_grad():
        prog = _check_layerwise(model.eval(), frozen, x)
    assert len({t.input_range for t in prog.tiles}) > 1


def test_the_conv_path_is_native_and_equals_the_unfold_path():
    """The conv2d path is not the unfold fallback, and both give the same codes."""
    torch.manual_seed(8)
    net = torch.nn.Sequential(torch.nn.Conv2d(5, 7, 3, padding=1))
    x = torch.randn(4, 5, 9, 9)
    model = _analog(net, x, dm.AnalogOptions(tile_size=16, drift="none"), seed=6)
    conv = dm.freeze(model)[0]
    assert isinstance(conv, ProgrammedConv2d) and len(conv.kernels) == 3
    calls = []
    original = torch.nn.functional.unfold

    def spy(*a, **k):
        calls.append(1)
        return original(*a, **k)

    torch.nn.functional.unfold = spy
    try:
        with torch.no_grad():
            native = conv(x)
            assert not calls
            unfolded = conv._unfold_forward(x)
    finally:
        torch.nn.functional.unfold = original
    assert calls
    step = max(float(t.out_scale.abs().max()) for t in conv.layer.tiles)
    assert float((native - unfolded).abs().max()) <= 3 * step * 1.001


def test_output_noise_has_the_asked_sigma_per_tile():
    """Output noise (σ in ADC codes per tile) on the conv path: same spread as aihwkit's."""
    torch.manual_seed(9)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, padding=1))
    x = torch.randn(8, 4, 8, 8)
    # no drift compensation: its factor comes from a (noisy) reference read, so the noisy and the
    # clean network would differ by more than the output noise
    noisy = dm.AnalogOptions(tile_size=512, drift="none", out_noise=0.5, drift_compensation=False)
    model = _analog(net, x, noisy, seed=7)
    frozen = dm.freeze(model, seed=3)
    clean = dm.freeze(_analog(net, x, dataclasses.replace(noisy, out_noise=0.0), seed=7))
    tile = frozen[0].layer.tiles[0]
    assert tile.out_noise_codes == pytest.approx(0.5 / tile.adc_step)
    with torch.no_grad():
        base = clean(x)
        codes_fast = (frozen(x) - base) / tile.out_scale.view(1, -1, 1, 1)
        torch.manual_seed(1)
        codes_ref = (model.eval()(x) - base) / tile.out_scale.view(1, -1, 1, 1)
    sigma = tile.out_noise_codes
    assert float(codes_fast.std()) == pytest.approx(sigma, rel=0.05)
    assert float(codes_ref.std()) == pytest.approx(sigma, rel=0.05)
    assert abs(float(codes_fast.mean())) < 0.05 * sigma


def test_output_noise_takes_any_derived_seed_and_each_layer_its_own_draws():
    """Seeds derived by name span 63 bits (memlab.seeds): freeze must take them (an offset such
    as seed * 1000 + layer overflowed torch's generator), reproducibly, with independent layers."""
    from memlab.seeds import derive

    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Linear(16, 16, bias=False), torch.nn.Linear(16, 16, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.eye(16))
    x = torch.randn(64, 16)
    options = dm.AnalogOptions(tile_size=512, drift="none", out_noise=0.5, drift_compensation=False)
    model = _analog(net, x, options, seed=7)
    seed = derive(2**62, "repeat", "0")
    assert seed >= 2**40
    with torch.no_grad():
        first = dm.freeze(model, seed=seed)
        a, b = first(x), dm.freeze(model, seed=seed)(x)
        c = dm.freeze(model, seed=derive(2**62, "repeat", "1"))(x)
        n0 = dm.freeze(model, seed=seed)[0](x) - dm.freeze(_analog(net, x, dataclasses.replace(options, out_noise=0.0), seed=7))[0](x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert first[0]._seed != first[1]._seed and float(n0.std()) > 0
