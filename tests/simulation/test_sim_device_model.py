"""Weight -> pulses -> conductance mapping, noise statistics, drift, seeds, errors."""

from __future__ import annotations

import math

import pytest
import torch

from memlab.errors import ConfigError
from memlab.simulation import analog as dm
from tests.helpers.sim_device import G0_S, STATES, STEP_S, device


def noise_model(dev, **opts):
    options = dm.AnalogOptions(**opts)
    return dm.DeviceNoiseModel(dm.branch_model(dev, options.branch), options)


@pytest.mark.parametrize("branch", ["potentiation", "depression"])
def test_noiseless_mapping_is_exact_quantisation(branch):
    model = noise_model(device(sigma_S=0.0), branch=branch, d2d_fraction=0.0, drift="none")
    torch.manual_seed(0)
    w = torch.rand(40, 50) * 1.4 - 0.7
    w[0, 0] = 0.7  # max |w| is the top state
    programmed, _ = model.apply_programming_noise(w)
    wmax = 0.7
    expected = torch.round(w / wmax * (STATES - 1)) / (STATES - 1) * wmax
    assert torch.allclose(programmed, expected, atol=1e-5)
    assert len(torch.unique(torch.round(programmed / wmax * (STATES - 1)))) == 2 * STATES - 1


def test_pulse_count_follows_linear_fit_and_clamps():
    model = noise_model(device(), drift="none")
    g0 = G0_S * 1e6
    step = STEP_S * 1e6
    g = torch.tensor([g0, g0 + 0.49 * step, g0 + 0.51 * step, g0 + 7 * step, g0 + 40 * step, g0 - 3 * step])
    assert model.pulses(g).tolist() == [0, 0, 1, 7, STATES - 1, 0]


def test_programming_noise_matches_measured_states():
    dev = device(sigma_S=20e-6, nonlinear=True)
    model = noise_model(dev, d2d_fraction=0.0, drift="none", programming="open_loop")
    branch = model.branch
    torch.manual_seed(1)
    for n in (0, 5, 15):
        target = torch.full((200_000,), branch.g_start_uS + n * branch.step_uS)
        change = model.apply_programming_noise_to_conductance(target) - branch.g_start_uS
        # the measured (nonlinear) mean of state n, not the fit's n * step
        assert change.mean().item() == pytest.approx(branch.delta_mean_uS[n], abs=0.2)
        assert change.std().item() == pytest.approx(20.0, rel=0.02)
    assert branch.delta_mean_uS[5] != pytest.approx(5 * branch.step_uS, rel=0.01)


def test_open_loop_d2d_spread_is_multiplicative_on_the_update():
    model = noise_model(device(sigma_S=0.0), d2d_fraction=0.3, drift="none", programming="open_loop")
    b = model.branch
    torch.manual_seed(2)
    target = torch.full((200_000,), b.g_start_uS + 10 * b.step_uS)
    ratio = (model.apply_programming_noise_to_conductance(target) - b.g_start_uS) / b.delta_mean_uS[10]
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.005)
    assert ratio.std().item() == pytest.approx(0.3, rel=0.02)
    idle = model.apply_programming_noise_to_conductance(torch.full((1000,), b.g_start_uS))
    assert torch.allclose(idle, torch.full_like(idle, b.g_start_uS))  # zero weight stays at the start


def test_write_verify_reaches_the_fit_level_without_d2d():
    model = noise_model(device(sigma_S=0.0, nonlinear=True), d2d_fraction=0.0, drift="none")
    b = model.branch
    n = torch.arange(b.states, dtype=torch.float32)
    change = model.apply_programming_noise_to_conductance(b.g_start_uS + n * b.step_uS) - b.g_start_uS
    # verify reads back, so the fit's level n * step is met, not the non-linear mean
    assert torch.allclose(change, n * b.step_uS, atol=1e-3)


def test_write_verify_d2d_costs_resolution_and_clips_at_short_ranges():
    model = noise_model(device(sigma_S=0.0), d2d_fraction=0.3, drift="none")
    b = model.branch
    torch.manual_seed(4)
    mid = model.apply_programming_noise_to_conductance(torch.full((200_000,), b.g_start_uS + 6 * b.step_uS))
    err = (mid - b.g_start_uS) / b.step_uS - 6
    assert abs(err.mean().item()) < 0.05  # nearly unbiased mid-range (2 % of ranges end below it) ...
    assert 0.05 < err.std().item() < 0.5  # ... within about half of a device's own step
    top = model.apply_programming_noise_to_conductance(torch.full((200_000,), b.g_start_uS + b.span_uS))
    short = (top - b.g_start_uS) < b.span_uS - 0.5 * b.step_uS
    # about half of the devices have a range below the nominal top: they saturate there
    assert short.float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert (top - b.g_start_uS).max().item() <= 1.3 * b.span_uS * (1 + 0.3 * 5)
    idle = model.apply_programming_noise_to_conductance(torch.full((1000,), b.g_start_uS))
    assert torch.allclose(idle, torch.full_like(idle, b.g_start_uS))


def test_stuck_devices_sit_at_the_extremes():
    model = noise_model(device(sigma_S=0.0), d2d_fraction=0.0, drift="none", stuck_fraction=0.2)
    b = model.branch
    torch.manual_seed(3)
    change = model.apply_programming_noise_to_conductance(torch.full((100_000,), b.g_start_uS + 7 * b.step_uS)) - b.g_start_uS
    assert (change.abs() < 1e-3).float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert ((change - b.delta_mean_uS[-1]).abs() < 1e-3).float().mean().item() == pytest.approx(0.1, abs=0.005)


def test_measured_drift_power_law():
    dev = device(sigma_S=0.0, drift={"nu_mean": 0.05, "nu_std": 0.0, "t0_s": 10.0,
                                     "relative_change": -0.1, "span_s": 1e4})
    model = noise_model(dev, d2d_fraction=0.0, drift="measured")
    g = torch.tensor([1000.0, 1500.0])
    nu = model.generate_drift_coefficients(g)
    drifted = model.apply_drift_noise_to_conductance(g, nu, 1000.0)
    assert torch.allclose(drifted, g * (1 + 1000.0 / 10.0) ** -0.05)  # memlab's one law, t0 = 10 s
    assert torch.allclose(model.apply_drift_noise_to_conductance(g, nu, 5.0), g * 1.5 ** -0.05)
    assert torch.equal(model.apply_drift_noise_to_conductance(g, nu, 0.0), g)  # programming time


def test_measured_drift_needs_retention_data():
    with pytest.raises(ConfigError, match="drift"):
        noise_model(device(), drift="measured")


def test_wan2022_time_restriction_is_a_clear_error():
    assert dm.check_drift_time("wan2022", 86400) == 86400.0
    with pytest.raises(ConfigError, match="86400"):
        dm.check_drift_time("wan2022", 3600)
    assert dm.check_drift_time("measured", 3600) == 3600.0
    with pytest.raises(ConfigError):
        dm.check_drift_time("none", -1)


def test_wan2022_spread_grows_with_time():
    model = noise_model(device(sigma_S=0.0), d2d_fraction=0.0, drift="wan2022")
    b = model.branch
    target = torch.full((100_000,), b.g_start_uS + 8 * b.step_uS)
    torch.manual_seed(4)
    s1 = (model.apply_drift_noise_to_conductance(target, target, 1.0) - target).std()
    s_day = (model.apply_drift_noise_to_conductance(target, target, 86400.0) - target).std()
    assert 0 < s1 < s_day < 0.2 * b.span_uS


@pytest.mark.parametrize("bad", [dict(d2d_fraction=-0.1), dict(drift="pcm"), dict(programming="blind"), dict(adc_bits=1),
                                 dict(tile_size=3), dict(branch="up"), dict(adc_bits=8.0)])
def test_options_validate(bad):
    with pytest.raises(ConfigError):
        dm.AnalogOptions(**bad)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(20, 12), torch.nn.ReLU(), torch.nn.Linear(12, 4))


def _weights(model):
    return [t.tile.get_weights().clone() for t in dm.analog_tiles(model)]


def test_seeds_reproduce_and_global_rng_is_untouched():
    model = dm.to_analog(_net(), device(), dm.AnalogOptions(), hwat=False)
    dm.calibrate_input_ranges(model, [torch.randn(8, 20)] * 5)
    state = torch.random.get_rng_state()
    dm.program(model, 5)
    dm.drift_to(model, 86400, 1)
    first = _weights(model)
    assert torch.equal(state, torch.random.get_rng_state())
    dm.program(model, 5)
    dm.drift_to(model, 86400, 1)
    assert all(torch.equal(a, b) for a, b in zip(first, _weights(model)))
    dm.program(model, 6)
    dm.drift_to(model, 86400, 1)
    assert not all(torch.equal(a, b) for a, b in zip(first, _weights(model)))


def test_drift_to_rejects_unknown_wan_time_before_touching_weights():
    model = dm.to_analog(_net(), device(), dm.AnalogOptions(drift="wan2022"), hwat=False)
    dm.program(model, 0)
    before = _weights(model)
    with pytest.raises(ConfigError, match="1 day"):
        dm.drift_to(model, 7 * 86400)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(model)))


def test_hwat_modifier_is_derived_from_the_device():
    dev = device(sigma_S=24e-6)
    cfg = dm.rpu_config(dev, dm.AnalogOptions(d2d_fraction=0.25), hwat=True)
    assert cfg.modifier.res == pytest.approx(1 / 30)
    assert cfg.modifier.std_dev == pytest.approx(math.sqrt(2) * 24 / (15 * 80), rel=1e-6)
    assert cfg.modifier.mult_std_dev == 0 and cfg.modifier.range_std_dev == pytest.approx(0.25)
    blind = dm.rpu_config(dev, dm.AnalogOptions(d2d_fraction=0.25, programming="open_loop"), hwat=True)
    assert blind.modifier.mult_std_dev == pytest.approx(0.25) and blind.modifier.range_std_dev == 0
    assert cfg.forward.inp_res == pytest.approx(1 / 254) and cfg.forward.out_res == pytest.approx(1 / 254)
    plain = dm.rpu_config(dev, dm.AnalogOptions(), hwat=False)
    assert plain.modifier.std_dev == 0


def _noise_std(model, x) -> float:
    """Std of the difference of two training-mode forward passes on the same input (no gradients)."""
    model.train()
    with torch.no_grad():
        return float((model(x) - model(x)).std())


def test_hwat_forward_draws_the_devices_weight_noise_and_inference_does_not():
    """HWAT's point: each training forward pass sees a fresh draw of the device's programming noise,
    scaled by the device file's sigma; evaluation and the non-HWAT network see none."""
    x = torch.randn(256, 20, generator=torch.Generator().manual_seed(1))
    one_layer = lambda: (torch.manual_seed(0), torch.nn.Sequential(torch.nn.Linear(20, 12)))[1]  # noqa: E731
    opts = dm.AnalogOptions(d2d_fraction=0.0)
    hwat = dm.to_analog(one_layer(), device(sigma_S=48e-6), opts, hwat=True)
    plain = dm.to_analog(one_layer(), device(sigma_S=48e-6), opts, hwat=False)
    noisy = _noise_std(hwat, x)
    assert noisy > 0.02, noisy  # outputs ~0.45 in size: a visible draw per pass
    assert _noise_std(plain, x) == 0.0
    hwat.eval()
    with torch.no_grad():
        assert torch.equal(hwat(x), hwat(x))
    # the draw follows the device: twice the sigma, twice the noise (d2d off, so sigma is all of it;
    # sigma well above the 1/30 discretisation step, whose rounding makes small draws sub-linear)
    doubled = _noise_std(dm.to_analog(one_layer(), device(sigma_S=96e-6), opts, hwat=True), x)
    assert doubled / noisy == pytest.approx(2.0, rel=0.1)


def test_hwat_training_steps_lower_the_loss_with_finite_weights():
    model = dm.to_analog(_net(), device(), dm.AnalogOptions(), hwat=True)
    opt = dm.analog_optimizer(model, 0.05)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(64, 20, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # a rule the net can learn
    model.train()
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(w).all() for w in _weights(model))
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses


def test_analog_state_round_trip():
    model = dm.to_analog(_net(), device(), dm.AnalogOptions(), hwat=False)
    dm.calibrate_input_ranges(model, [torch.randn(8, 20) * 3] * 5)
    state = dm.analog_state(model)
    fresh = dm.to_analog(_net(), device(), dm.AnalogOptions(), hwat=False)
    dm.load_analog_state(fresh, state)
    again = dm.analog_state(fresh)
    assert state.keys() == again.keys()
    assert all(torch.allclose(state[k], again[k], atol=1e-6) for k in state)


def test_options_come_back_from_a_results_file():
    """What a results file records (asdict through JSON: tuples become lists) builds the same options."""
    import dataclasses
    import json

    opts = dm.AnalogOptions(ideal=("drift", "adc"), drift="measured", hwat_clip_sigma=None, adc_bits=6)
    assert dm.AnalogOptions.from_json(json.loads(json.dumps(dataclasses.asdict(opts)))) == opts
    with pytest.raises(ConfigError, match="unknown option.*adc_bitz.*allowed"):
        dm.AnalogOptions.from_json({"adc_bitz": 6})
