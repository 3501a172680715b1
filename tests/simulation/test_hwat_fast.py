"""Fast hardware-aware training computes what aihwkit's own layers compute.

Reference: the same network through ``analog.to_analog(..., hwat=True)`` (aihwkit's
torch tiles, ``AnalogSGD``). With the training noise off (``hwat_noise_scale=0``: the weight
discretisation, DAC, ADC and learned input ranges stay on) forward, gradients and several
optimizer steps must agree; with the noise on, its size per tile must.
"""

from __future__ import annotations

import pytest
import torch

from memlab.simulation import analog as dm
from memlab.simulation import hwat_fast, hwat_ops
from tests.helpers.sim_device import device


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 6, 3, stride=2, bias=False), torch.nn.ReLU(),  # 72 rows: 5 blocks inside channels
        torch.nn.Flatten(), torch.nn.Linear(6 * 3 * 3, 20), torch.nn.ReLU(),  # rows and columns split
        torch.nn.Linear(20, 5))


AIHWKIT_RECIPE = dict(hwat_noise="aihwkit", hwat_clip_sigma=None, hwat_input_ranges="learned")
"""The recipe whose arithmetic is aihwkit's torch tile (the reference of this file)."""


def _pair(noise_scale=0.0):
    options = dm.AnalogOptions(tile_size=16, drift="none", hwat_noise_scale=noise_scale, **AIHWKIT_RECIPE)
    analog = dm.to_analog(_net(), device(), options, hwat=True)
    return analog, hwat_fast.trainable(analog)


def _tiles(analog):
    return [tile for _, layer in analog.named_analog_layers() for tile, *_ in dm.tile_blocks(layer)]


def _data(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, 8, 8, generator=g), torch.randint(0, 5, (16,), generator=g)


def _step(model, opt, x, y):
    model.train()
    opt.zero_grad()
    out = model(x)
    torch.nn.functional.cross_entropy(out, y).backward()
    return out


LAYERS = [  # one analog layer each; tile_size 16
    lambda: torch.nn.Conv2d(3, 8, 3, padding=1, bias=False),  # 27 rows: 2 blocks inside channels
    lambda: torch.nn.Conv2d(8, 20, 3, stride=2, bias=True),  # 72 rows x 20 columns: 5 x 2 tiles
    lambda: torch.nn.Conv2d(32, 6, 1),  # 1x1: 2 blocks on channel boundaries
    lambda: torch.nn.Linear(54, 20),  # rows and columns split
    lambda: torch.nn.Linear(12, 5),  # one tile
]


def _single(make, noise_scale=0.0, adc_full_scale=12.0):
    torch.manual_seed(3)
    options = dm.AnalogOptions(tile_size=16, drift="none", hwat_noise_scale=noise_scale,
                               adc_full_scale=adc_full_scale, **AIHWKIT_RECIPE)
    analog = dm.to_analog(torch.nn.Sequential(make()), device(), options, hwat=True)
    return analog, hwat_fast.trainable(analog)


def _input(layer, seed):
    g = torch.Generator().manual_seed(seed)
    shape = (16, layer.in_features) if isinstance(layer, torch.nn.Linear) else (4, layer.in_channels, 9, 9)
    return torch.randn(shape, generator=g)


@pytest.mark.parametrize("make", LAYERS)
def test_layer_forward_and_gradients_match_aihwkit(make):
    """Train-mode forward (with the input ranges' start from data), then the gradients of
    the input, every tile's weight and bias, and the linear tiles' input ranges."""
    analog, fast = _single(make)
    x = _input(make(), 5)
    xa, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    analog.train(), fast.train()
    out_a, out_f = analog(xa), fast(xf)
    tiles_a, tiles_f = _tiles(analog), fast.fast_tiles()
    for ta, tf in zip(tiles_a, tiles_f):  # both started their ranges from the same data
        assert float(tf.input_range.detach()) == pytest.approx(float(ta.input_range.detach()), rel=1e-5)
    step = max(float((tf.s.out_step * tf.input_range * tf.scale).abs().max()) for tf in tiles_f)
    n_rows = len({(t.in_start, t.in_stop) for t in tiles_f})
    diff = (out_a - out_f).abs()
    assert float(diff.max()) <= n_rows * step * 1.01  # a rounding tie may land one ADC code apart
    assert float((diff < 1e-5).float().mean()) > 0.97
    g = torch.randn(out_a.shape, generator=torch.Generator().manual_seed(6))
    out_a.backward(g)
    out_f.backward(g)
    torch.testing.assert_close(xf.grad, xa.grad, rtol=1e-4, atol=1e-5)
    for ta, tf in zip(tiles_a, tiles_f):
        # float32 sums in another order: absolute error relative to the largest element (~300 here),
        # not to each element (a 1e-3 element differed by 1.5e-5 on one CPU)
        scale = float(ta.tile.weight.grad.abs().max())
        torch.testing.assert_close(tf.weight.grad, ta.tile.weight.grad, rtol=1e-3, atol=1e-6 * scale)
    # Input ranges (conv: aihwkit's rule on the patch elements, without unfold). The output
    # scale's term of d/dr is sum(g * y) / r, so an output one ADC code apart moves it by
    # g * code / r: that is the allowance, besides float rounding.
    for ta, tf in zip(tiles_a, tiles_f):
        ga, gf = float(ta.input_range.grad), float(tf.input_range.grad)
        allowance = float((g * (out_a - out_f)).abs().sum()) / float(tf.input_range)
        assert ga != 0 and abs(gf - ga) <= allowance * 1.01 + 1e-3 * abs(ga) + 1e-6, (ga, gf, allowance)


def _real_weights(tiles, fast: bool):
    if fast:
        return torch.cat([(t.weight * t.scale.view(-1, 1)).detach().flatten() for t in tiles])
    return torch.cat([(t.tile.weight * t.get_mapping_scales().view(-1, 1)).detach().flatten() for t in tiles])


def test_training_steps_follow_analog_sgd():
    """Four SGD steps (momentum, remap after each) move the weights as AnalogSGD moves aihwkit's.

    The two sides add the same products in another order, so a weight or an output on a
    rounding tie can go one level apart and the paths drift slowly apart: the updates must
    agree in direction (cosine > 0.99) and size (within 3 %)."""
    analog, fast = _pair()
    a_opt, f_opt = dm.analog_optimizer(analog, 0.05), hwat_fast.optimizer(fast, 0.05)
    start = _real_weights(_tiles(analog), False)
    torch.testing.assert_close(_real_weights(fast.fast_tiles(), True), start)
    for seed in range(4):
        x, y = _data(10 + seed)
        _step(analog, a_opt, x, y)
        a_opt.step()
        _step(fast, f_opt, x, y)
        f_opt.step()
    moved_a = _real_weights(_tiles(analog), False) - start
    moved_f = _real_weights(fast.fast_tiles(), True) - start
    assert float(moved_a.norm()) > 1e-3
    assert float(torch.nn.functional.cosine_similarity(moved_a, moved_f, dim=0)) > 0.99
    assert float(moved_f.norm() / moved_a.norm()) == pytest.approx(1.0, abs=0.03)
    for ta, tf in zip(_tiles(analog), fast.fast_tiles()):  # remapped: every column's max is 1
        torch.testing.assert_close(tf.weight.abs().amax(1), torch.ones(tf.weight.shape[0]))
        torch.testing.assert_close(ta.tile.weight.abs().amax(1), torch.ones(tf.weight.shape[0]))
        assert float(tf.input_range) == pytest.approx(float(ta.input_range), rel=0.02)


def test_write_back_gives_the_aihwkit_network_the_trained_state():
    analog, fast = _pair()
    opt = hwat_fast.optimizer(fast, 0.05)
    for seed in range(3):
        x, y = _data(20 + seed)
        _step(fast, opt, x, y)
        opt.step()
    hwat_fast.write_back(fast, analog)
    for ta, tf in zip(_tiles(analog), fast.fast_tiles()):
        assert torch.equal(ta.tile.weight, tf.weight.detach())
        assert torch.equal(ta.get_mapping_scales().view(-1), tf.scale)
        assert float(ta.input_range) == float(tf.input_range)
    assert torch.equal(analog[1].running_mean, fast.net[1].running_mean)
    x, _ = _data(30)
    analog.eval(), fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(analog(x), fast(x), rtol=1e-4, atol=1e-5)


def test_training_noise_has_the_device_sigma():
    analog, fast = _pair(noise_scale=1.0)
    tile = fast.fast_tiles()[0]
    fast.train()
    with torch.no_grad():
        draws = torch.stack([tile.modified_weight() for _ in range(200)])
        clean = hwat_ops.RoundSTE.apply(tile.weight, tile.s.res * 2 * float(tile.weight.abs().max()))
    spread = (draws - clean).std(0).mean()
    assert tile.s.std_dev > 0 and tile.s.range_std_dev > 0
    assert float(spread) > tile.s.std_dev * 0.9  # additive σ, and the range bound clips some weights
    a_tile = _tiles(analog)[0]
    assert a_tile.rpu_config.modifier.std_dev == pytest.approx(tile.s.std_dev)


def test_fast_calibration_gives_aihwkit_input_ranges():
    """The no-HWAT baseline's calibration: the same ranges as aihwkit's own train-mode passes."""
    options = dm.AnalogOptions(tile_size=16, drift="none")
    a = dm.to_analog(_net(), device(), options, hwat=False)
    b = dm.to_analog(_net(), device(), options, hwat=False)
    batches = [_data(40 + i)[0] for i in range(4)]
    dm.calibrate_input_ranges(a, batches)
    hwat_fast.calibrate_input_ranges(b, batches, rule="std3")
    ra = torch.cat([t.input_range.detach().view(-1) for t in _tiles(a)])
    rb = torch.cat([t.input_range.detach().view(-1) for t in _tiles(b)])
    assert not torch.allclose(ra, torch.full_like(ra, 3.0))  # moved from aihwkit's initial value
    torch.testing.assert_close(rb, ra, rtol=2e-3, atol=1e-6)
    assert not b.training and torch.equal(a[1].running_mean, b[1].running_mean)


@pytest.mark.parametrize("adc_full_scale", [12.0, 0.5])
@pytest.mark.parametrize("make", LAYERS)
def test_held_range_forward_and_gradients_match_aihwkit(make, adc_full_scale):
    """Input ranges held after their start from data (the fused DAC/ADC path): forward, input
    and weight gradients equal aihwkit's tiles with the same ranges frozen (no range gradient).
    A 0.5 ADC full scale clips many outputs (their gradient is zero on both sides)."""
    analog, fast = _single(make, adc_full_scale=adc_full_scale)
    x = _input(make(), 5)
    analog.train(), fast.train()
    for _ in range(2):  # the same data-driven start on both sides, then hold
        analog(x), fast(x)
    for ta, tf in zip(_tiles(analog), fast.fast_tiles()):
        ta.input_range.requires_grad_(False)
        ta.input_range_update_idx.data[:] = ta.rpu_config.pre_post.input_range.init_from_data
        tf.hold_range()
        assert not tf.learns_range and float(tf.input_range) == pytest.approx(float(ta.input_range), rel=1e-5)
    xa, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_f = analog(xa), fast(xf)
    tiles_f = fast.fast_tiles()
    step = max(float((tf.s.out_step * tf.input_range * tf.scale).abs().max()) for tf in tiles_f)
    n_rows = len({(t.in_start, t.in_stop) for t in tiles_f})
    diff = (out_a - out_f).abs()
    assert float(diff.max()) <= n_rows * step * 1.01
    assert float((diff < 1e-5).float().mean()) > 0.97
    g = torch.randn(out_a.shape, generator=torch.Generator().manual_seed(6))
    out_a.backward(g)
    out_f.backward(g)
    torch.testing.assert_close(xf.grad, xa.grad, rtol=1e-4, atol=1e-5)
    for ta, tf in zip(_tiles(analog), tiles_f):
        scale = float(ta.tile.weight.grad.abs().max())
        torch.testing.assert_close(tf.weight.grad, ta.tile.weight.grad, rtol=1e-3, atol=1e-6 * scale)
        assert tf.input_range.grad is None
    if adc_full_scale < 1:
        clipped = max(float((out_f.detach().abs() >= 0.999 * (tf.s.out_bound * tf.input_range * tf.scale).max()).float().mean()) for tf in tiles_f)
        assert clipped > 0.01


def test_max_calibration_clips_nothing_of_its_batches():
    """The 'max' rule (the baseline's default): each tile's range is the largest |input| it saw,
    so (but for the last DAC step's rounding upstream) no DAC input of the calibration batches
    clips; 'std3' (aihwkit's rule) clips the tails."""
    options = dm.AnalogOptions(tile_size=16, drift="none")
    batches = [_data(40 + i)[0] for i in range(4)]
    clipped = {}
    for rule in ("max", "std3"):
        analog = dm.to_analog(_net(), device(), options, hwat=False)
        fast = hwat_fast.prepare(analog, batches, rule=rule)
        assert all(not t.learns_range for t in fast.fast_tiles())
        counts = []
        for t in fast.fast_tiles():  # count every tile's inputs beyond its range
            def dac(x, *a, f=t.dac, t=t):
                counts.append((float((x.abs() > t.input_range * 1.001).float().mean()), float(x.abs().max() / t.input_range)))
                return f(x, *a)
            t.dac = dac
        fast.eval()
        with torch.no_grad():
            for x in batches:
                fast(x)
        clipped[rule] = counts
    mean = {rule: sum(c for c, _ in v) / len(v) for rule, v in clipped.items()}
    assert mean["max"] < 1e-3 and max(m for _, m in clipped["max"]) < 1.1
    assert mean["std3"] > 10 * max(mean["max"], 1e-4)
