"""The device-derived HWAT recipe (``hwat_noise='device'``): the weight a training step computes
with is the weight the deployment simulation programs, and each piece of the recipe acts.

Reference for the noise: the deployment path itself (``analog.program`` / ``drift_to`` through
aihwkit's tiles and memlab's ``DeviceNoiseModel``) on the same tile weights.
"""

from __future__ import annotations

import dataclasses
import pathlib

import pytest
import torch

from memlab.analysis.device_file import from_dict, load_device_file
from memlab.errors import ConfigError
from memlab.simulation import analog as dm
from memlab.simulation import hwat_fast, training
from tests.helpers.sim_device import STATES, device_dict

SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "sample_data" / "devices" / "virtual-hfs2.json"


def _device(sigma_rising=True):
    d = device_dict()
    if sigma_rising:  # per-state σ from 5 to 50 µS: a mean σ would be wrong at both ends
        for b in d["branches"].values():
            b["state_sigma_S"] = [5e-6 + 45e-6 * n / (STATES - 1) for n in range(STATES)]
    return from_dict(d, source="<test device>")


def _layer(options, device=None, rows=64, cols=48, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(rows, cols, bias=False))
    analog = dm.to_analog(net, device or _device(), options, hwat=True)
    return analog, hwat_fast.trainable(analog)


def _states(w):
    return (w.abs() / w.abs().max() * (STATES - 1)).round().long()


def _deployed_draws(fast, n=200):
    tile = fast.fast_tiles()[0]
    fast.train()
    with torch.no_grad():
        return tile.weight.detach().clone(), torch.stack([tile.noise.deployed(tile.weight) for _ in range(n)])


def test_per_state_sigma_is_the_device_files():
    """d2d 0, no drift: the spread of the training weight at state n is sqrt(σ[n]² + σ[0]²) / step
    (the active device's σ of its state and the idle device's), not one mean σ."""
    options = dm.AnalogOptions(tile_size=512, drift="none", d2d_fraction=0.0)
    _, fast = _layer(options)
    w, draws = _deployed_draws(fast)
    n = _states(w)
    sigma_uS = torch.tensor([5.0 + 45.0 * k / (STATES - 1) for k in range(STATES)])
    unit = float(w.abs().max()) / (STATES - 1)  # one state step in weight units
    spread = draws.std(0)
    for k in (1, 7, 14):
        expect = float(torch.sqrt(sigma_uS[k] ** 2 + sigma_uS[0] ** 2) / 80.0) * unit
        assert float(spread[n == k].mean()) == pytest.approx(expect, rel=0.06), k


def test_training_weight_equals_the_deployed_weights_statistics():
    """The sample device file, write-verify with 30 % D2D and the measured drift at one day
    (compensation off): per state, mean and σ of the training weight's error equal those of the
    weights the deployment simulation programs and drifts (over many programmings)."""
    device = load_device_file(SAMPLE)
    options = dm.AnalogOptions(tile_size=512, drift="measured", drift_compensation=False,
                               hwat_drift_horizon_s=86400.0, hwat_d2d_hold="step")
    analog, fast = _layer(options, device, rows=96, cols=64)
    w, draws = _deployed_draws(fast, n=60)
    deployed = []
    for seed in range(60):
        dm.program(analog, seed)
        dm.drift_to(analog, 86400.0, seed)
        deployed.append(dm.freeze(analog)[0].tiles[0].weight.clone())
    deployed = torch.stack(deployed)
    n = _states(w)
    for k in (0, 5, 10, 15):
        sel = n == k
        err_t, err_d = (draws - w)[:, sel], (deployed - w)[:, sel]
        assert float(err_t.mean()) == pytest.approx(float(err_d.mean()), abs=0.1 * float(err_d.std()) + 1e-4), k
        assert float(err_t.std()) == pytest.approx(float(err_d.std()), rel=0.06), k


def test_d2d_instance_is_held_per_epoch_and_redrawn_between():
    """'epoch': within an epoch every step sees the same chip (no σ: the same weight), the next
    epoch another; 'step': a new chip every step."""
    d = device_dict(sigma_S=0.0)
    device = from_dict(d, source="<test device>")
    for hold, same_within in (("epoch", True), ("step", False)):
        options = dm.AnalogOptions(tile_size=512, drift="none", d2d_fraction=0.3, hwat_d2d_hold=hold,
                                   hwat_input_ranges="learned")
        _, fast = _layer(options, device)
        tile = fast.fast_tiles()[0]
        fast.begin_epoch(lambda: [])
        with torch.no_grad():
            a, b = tile.noise.deployed(tile.weight), tile.noise.deployed(tile.weight)
            fast.begin_epoch(lambda: [])
            c = tile.noise.deployed(tile.weight)
        assert torch.equal(a, b) == same_within, hold
        assert not torch.equal(a, c)
        assert float((a - tile.weight).abs().max()) > 0.05  # D2D acts (clipped or off-grid weights)


def test_drift_at_the_horizon_and_its_compensation():
    """Measured drift at 10 years shrinks the training weights as the drift law does; with
    global compensation their total magnitude is the programmed one."""
    device = load_device_file(SAMPLE)
    base = dm.AnalogOptions(tile_size=512, drift="measured", d2d_fraction=0.0, hwat_noise_scale=0.0,
                            hwat_drift_horizon_s=3.15e8, drift_compensation=False)
    _, fast = _layer(base, device)
    w, drifted = _deployed_draws(fast, n=2)
    _, fast0 = _layer(dataclasses.replace(base, hwat_drift_horizon_s=0.0), device)
    _, at0 = _deployed_draws(fast0, n=2)
    shrink = float(drifted[0].abs().sum() / at0[0].abs().sum())
    assert 0.8 < shrink < 0.99  # nu ~ 0.003 over ln(3e8) ~ 20: several per cent
    _, fastc = _layer(dataclasses.replace(base, drift_compensation=True), device)
    _, comp = _deployed_draws(fastc, n=2)
    assert float(comp[0].abs().sum() / at0[0].abs().sum()) == pytest.approx(1.0, abs=1e-4)


def test_weight_clipping_at_k_sigma_after_each_step():
    options = dm.AnalogOptions(tile_size=512, drift="none", hwat_clip_sigma=1.5)
    _, fast = _layer(options)
    tile = fast.fast_tiles()[0]
    with torch.no_grad():
        tile.weight[0, 0] = 50.0  # an outlier far beyond 1.5 σ
    before = (tile.weight * tile.scale.view(-1, 1)).detach().clone()
    tile.remap_()
    after = (tile.weight * tile.scale.view(-1, 1)).detach()
    bound = 1.5 * float(before.std())
    assert float(after.abs().max()) == pytest.approx(bound, rel=1e-5)
    inside = before.abs() < bound
    torch.testing.assert_close(after[inside], before[inside])


def test_held_ranges_are_calibrated_once_on_the_first_batches():
    """training.train on a 'held' recipe: the ranges are set by the 'max' rule before the first
    step and not changed by training."""
    options = dm.AnalogOptions(tile_size=16, drift="none")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    analog = dm.to_analog(net, _device(), options, hwat=True)
    fast = hwat_fast.trainable(analog)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(256, 20, generator=g), torch.randint(0, 3, (256,), generator=g)
    first = torch.cat(training.first_batches(x, 16, 3, "cpu"))
    expect = float(first[:, :16].abs().max())  # the first tile reads inputs 0..15
    training.train(fast, x, y, epochs=2, lr=0.05, batch_size=16, seed=3,
                   optimizer=hwat_fast.optimizer(fast, 0.05), progress=False)
    tile = fast.fast_tiles()[0]
    assert not tile.learns_range and float(tile.input_range) == pytest.approx(expect, rel=1e-6)
    assert fast.recipe()["input_ranges"] == "held" and fast.recipe()["d2d_hold"] == "epoch"


def test_recipe_options_are_validated():
    with pytest.raises(ConfigError, match="hwat_d2d_hold"):
        dm.AnalogOptions(hwat_d2d_hold="never")
    with pytest.raises(ConfigError, match="hwat_drift_horizon_s"):
        dm.AnalogOptions(drift="wan2022", hwat_drift_horizon_s=3600.0)  # not a Wan 2022 time
    with pytest.raises(ConfigError, match="hwat_clip_sigma"):
        dm.AnalogOptions(hwat_clip_sigma=0.0)
    with pytest.raises(ConfigError, match="input_range_calibration"):
        dm.AnalogOptions(input_range_calibration="p99")
