"""Drift in the simulation: the measured law is the virtual device's, wan2022 is aihwkit's own model."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel

from memlab import drift_law
from memlab.errors import ConfigError
from memlab.instruments.virtual_device import VirtualMemristor
from memlab.instruments.virtual_device_params import VirtualDeviceParams
from memlab.simulation import analog as dm

from memlab.analysis.device_file import from_dict

from tests.helpers.sim_device import device, device_dict

TIMES = (1.0, 86400.0, 172800.0)
DRIFT = {"nu_mean": 0.004, "nu_std": 0.0, "t0_s": 0.7, "relative_change": -0.02, "span_s": 1e3}


def _model(dev=None, **options) -> dm.DeviceNoiseModel:
    dev = dev or device(sigma_S=0.0)
    opts = dm.AnalogOptions(**{"d2d_fraction": 0.0, **options})
    return dm.DeviceNoiseModel(dm.branch_model(dev, opts.branch), opts)


def _wan_frame_g_max(model: dm.DeviceNoiseModel, scaling: str) -> float:
    return 40.0 if scaling == "relative" else model.branch.span_uS


@pytest.mark.parametrize("scaling", ["absolute", "relative"])
@pytest.mark.parametrize("t", TIMES)
def test_wan2022_is_aihwkits_own_model_on_the_same_conductances_and_seed(scaling, t):
    model = _model(drift="wan2022", wan2022_scaling=scaling)
    b = model.branch
    n = torch.arange(b.states).repeat_interleave(20_000)
    level = b.g_start_uS + n.double() * b.step_uS  # on-level targets (float64: exact frame mapping)
    g_max = _wan_frame_g_max(model, scaling)
    torch.manual_seed(11)
    ours = model.apply_drift_noise_to_conductance(level.clone(), level, t)
    ref_model = ReRamWan2022NoiseModel(g_max=g_max)  # aihwkit's, frame 0 .. g_max
    target = (level - b.g_start_uS) * (g_max / b.span_uS)
    torch.manual_seed(11)
    ref = ref_model.apply_drift_noise_to_conductance(target, target, t)
    ref_uS = b.g_start_uS + ref * (b.span_uS / g_max)
    assert torch.allclose(ours, ref_uS, rtol=0, atol=1e-6 * b.span_uS)
    # per state: the same mean and sigma, and sigma(t) is the polynomial's, scaled to this device
    for k in (3, 8, 15):
        sel = n == k
        dev_ours, dev_ref = ours[sel] - level[sel], ref_uS[sel] - level[sel]
        assert dev_ours.mean().item() == pytest.approx(dev_ref.mean().item(), abs=1e-6)
        assert dev_ours.std().item() == pytest.approx(dev_ref.std().item(), rel=1e-6)
        frac = k / (b.states - 1)
        poly = sum(c * frac ** i for i, c in enumerate(ref_model.coeff_dic[t]))
        assert dev_ours.std().item() == pytest.approx(poly * b.span_uS / g_max, rel=0.03)


def test_wan2022_scalings_differ_by_the_window_ratio():
    rel, ab = _model(drift="wan2022", wan2022_scaling="relative"), _model(drift="wan2022", wan2022_scaling="absolute")
    b = rel.branch
    level = torch.full((50_000,), b.g_start_uS + 8 * b.step_uS)
    torch.manual_seed(2)
    s_rel = (rel.apply_drift_noise_to_conductance(level, level, 86400.0) - level).std()
    torch.manual_seed(2)
    s_abs = (ab.apply_drift_noise_to_conductance(level, level, 86400.0) - level).std()
    assert (s_rel / s_abs).item() == pytest.approx(b.span_uS / 40.0, rel=1e-4)
    with pytest.raises(ConfigError, match="wan2022_scaling"):
        dm.AnalogOptions(wan2022_scaling="sideways")


def _programmed_layer(options: dm.AnalogOptions, dev, value: float = 0.5):
    net = torch.nn.Sequential(torch.nn.Linear(64, 64, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(value)
        net[0].weight[0, 0] = 1.0  # max |w|: the others sit at a fixed level
    model = dm.to_analog(net, dev, options, hwat=False)
    dm.program(model, 5)
    return model


def _weights(model) -> torch.Tensor:
    tile = next(dm.analog_tiles(model))
    return tile.tile.get_weights().detach().clone()


def test_wan2022_replaces_the_programmed_state_not_adds_to_it():
    """C2C sigma 23.7 uS per device at programming (both devices of a pair: x sqrt 2); at 1 day the
    state is level + Wan sigma only (absolute scaling: ~2.7 uS at the top state, ~0.4 at the idle one)."""
    options = dm.AnalogOptions(drift="wan2022", wan2022_scaling="absolute", d2d_fraction=0.0,
                               drift_compensation=False, tile_size=64)
    dev = device(sigma_S=23.7e-6)
    model = _programmed_layer(options, dev)
    b = dm.branch_model(dev, "potentiation")
    w_per_uS = 1.0 / b.span_uS  # weight units per µS of change
    dm.drift_to(model, 0.0, 1)
    at_programming = _weights(model)[1:, 1:].std().item() / w_per_uS
    dm.drift_to(model, 86400.0, 1)
    at_day = _weights(model)[1:, 1:].std().item() / w_per_uS
    assert at_programming == pytest.approx(23.7 * 2 ** 0.5, rel=0.1)
    assert 1.0 < at_day < 5.0  # a model that adds to the programmed state would give >= 33 uS


def test_measured_drift_is_the_virtual_devices_law():
    """The simulation drifts a device exactly as the virtual device relaxes (same nu, same t0)."""
    params = dataclasses.replace(VirtualDeviceParams(), nu_std=0.0, read_noise_std_S=0.0, drift_t0_s=0.7,
                                 nu_mean=0.004)
    vd = VirtualMemristor(params, seed=3)
    vd.apply_segment(0.9, 0.9, 300e-9)
    g0 = vd.conductance_S
    model = _model(device(sigma_S=0.0, drift=DRIFT), drift="measured")
    g = torch.tensor([g0 * 1e6])
    nu = model.generate_drift_coefficients(g)
    elapsed = 0.0
    for t in (1.0, 3600.0, 86400.0, 3.15e7):
        vd.relax(t - elapsed)
        elapsed = t
        sim = model.apply_drift_noise_to_conductance(g, nu, t).item() / (g0 * 1e6)
        assert sim == pytest.approx(vd.conductance_S / g0, rel=1e-6)
        assert sim == pytest.approx(drift_law.drift_factor(t, 0.004, 0.7), rel=1e-6)


def test_measured_drift_follows_the_device_files_nu_of_g_and_read_noise():
    drift = {**DRIFT, "law": drift_law.LAW, "nu_mean_ci": None, "first_read_s": 1e-3, "read_noise_S": 4e-6,
             "nu_g_ref_S": 1.5e-3, "nu_slope_per_S": 2.0, "nu_spread": 0.0,
             "states": [{"g0_S": g, "nu": 0.004 + 2.0 * (g - 1.5e-3), "nu_se": 1e-4, "nu_ci_low": 0.0,
                         "nu_ci_high": 0.01, "read_noise_S": 4e-6, "n_reads": 31, "relative_change": -0.02}
                        for g in (1.0e-3, 1.5e-3, 2.0e-3)]}
    data = device_dict(sigma_S=0.0, drift=drift)
    data["schema_version"] = 3
    data.update({"sigma_source": "cycle_to_cycle", "iv": None, "endurance": None})
    dev = from_dict(data)
    model = _model(dev, drift="measured")
    g = torch.tensor([1000.0, 1500.0, 2000.0, 3000.0])  # µS; 3000 is beyond the measured states
    nu = model.generate_drift_coefficients(g)
    assert nu.tolist() == pytest.approx([0.003, 0.004, 0.005, 0.005])
    torch.manual_seed(0)
    many = model.apply_drift_noise_to_conductance(torch.full((40_000,), 1500.0), torch.full((40_000,), 0.004),
                                                  3600.0)
    assert many.std().item() == pytest.approx(4.0, rel=0.05)  # the retention read noise, µS
    assert many.mean().item() == pytest.approx(1500.0 * drift_law.drift_factor(3600.0, 0.004, 0.7), rel=1e-4)
    desc = model.drift_description()
    assert desc["model"] == "measured" and desc["law"] == drift_law.LAW and desc["t0_s"] == 0.7
