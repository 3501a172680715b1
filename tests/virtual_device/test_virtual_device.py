"""Statistical properties of the virtual memristor over many seeded cycles."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from memlab.errors import ConfigError
from memlab.instruments.virtual_device import VirtualDeviceParams, VirtualMemristor

_spec = importlib.util.spec_from_file_location(
    "vd_calibration", Path(__file__).parents[2] / "benchmarks" / "virtual_device.py")
calibration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(calibration)

N = calibration.N_PULSES
LINEAR = slice(0, 16)  # the 16 linear reads per branch of the calibrated device


@pytest.fixture(scope="module")
def tailored_run():
    device = VirtualMemristor(seed=11)
    calibration.run_tailored(device, 5)  # settle into the cycle
    return calibration.run_tailored(device, 100)


def test_mean_update_is_monotonic_under_the_tailored_scheme(tailored_run):
    g, _ = tailored_run
    mean = g.mean(axis=0)
    assert np.all(np.diff(mean[:N][LINEAR]) > 0)
    assert np.all(np.diff(mean[N:][LINEAR]) < 0)


@pytest.mark.parametrize("branch, target_uS", [(slice(0, N), 81.077), (slice(N, 2 * N), 80.520)])
def test_step_sigma_and_linearity_match_the_paper(tailored_run, branch, target_uS):
    g, _ = tailored_run
    stats = calibration.branch_stats(g[:, branch], LINEAR)
    assert stats["bin_width_S"] * 1e6 == pytest.approx(target_uS, rel=0.10)
    assert stats["sigma_S"] * 1e6 == pytest.approx(23.7, rel=0.10)
    assert stats["r2"] >= 0.998


def test_states_beyond_the_window_are_not_separable(tailored_run):
    """After 16 reads the state saturates: the next step is below 2 sigma, as in the paper."""
    g, _ = tailored_run
    steps_uS = np.diff(g[:, :N].mean(axis=0)) * 1e6
    assert steps_uS[15] < 2 * 23.7


def test_energy_per_cycle_matches_the_paper(tailored_run):
    _, energy = tailored_run
    assert energy.mean() * 1e9 == pytest.approx(23.74, rel=0.10)


def test_identical_pulses_saturate():
    device = VirtualMemristor(seed=3)
    g = []
    for _ in range(20):
        device.apply_segment(0.0, 0.85, 10e-9)
        device.apply_segment(0.85, 0.85, 250e-9)
        device.apply_segment(0.85, 0.0, 10e-9)
        g.append(device.conductance_S)
    steps = np.diff(g)
    assert np.all(steps > -1e-9)
    assert steps[:3].mean() > 3 * steps[-3:].mean()


def test_reads_do_not_disturb_the_state():
    device = VirtualMemristor(seed=4)
    x0 = device.state
    for _ in range(1000):
        device.apply_segment(-0.1, -0.1, 30e-6)
    assert device.state == pytest.approx(x0, rel=1e-3)  # only the slow relaxation


def test_fixed_seed_reproduces_and_new_seed_differs():
    runs = [calibration.run_tailored(VirtualMemristor(device_seed=2, seed=s), 3)[0] for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_device_seeds_pick_different_devices():
    a, b = VirtualMemristor(device_seed=1), VirtualMemristor(device_seed=2)
    assert a.params != b.params
    assert VirtualMemristor(device_seed=0).params == VirtualDeviceParams()
    ga = calibration.run_tailored(a, 3)[0].mean(axis=0)
    gb = calibration.run_tailored(b, 3)[0].mean(axis=0)
    assert np.max(np.abs(ga - gb)) > 10e-6


def test_current_is_mildly_non_ohmic_and_odd():
    device = VirtualMemristor(params=dataclasses.replace(VirtualDeviceParams(), read_noise_rel_std=0.0))
    g = device.conductance_S
    assert device.current_A(-0.1) == pytest.approx(-0.1 * g, rel=0.01)
    assert device.current_A(1.0) / (1.0 * g) == pytest.approx(np.sinh(1.0), rel=1e-6)


def test_retention_follows_a_slow_power_law():
    params = dataclasses.replace(VirtualDeviceParams(), nu_std=0.0)
    device = VirtualMemristor(params=params, seed=5)
    for _ in range(8):
        device.apply_segment(0.9, 0.9, 300e-9)
    g0 = device.conductance_S
    times = np.logspace(0, 4, 5)
    g = []
    elapsed = 0.0
    for t in times:
        device.relax(t - elapsed)
        elapsed = t
        g.append(device.conductance_S)
    slope = np.polyfit(np.log(1 + times / params.drift_t0_s), np.log(g), 1)[0]
    assert slope == pytest.approx(-params.nu_mean, rel=0.05)
    assert 0 < 1 - g[-1] / g0 < 0.03


@pytest.mark.parametrize("field, value", [("g_off_S", -1e-3), ("rate0_per_s", float("nan")), ("c2c_rel_std", -0.1),
                                          ("initial_state", 1.5), ("g_on_S", 1e-3)])
def test_invalid_parameters_are_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(VirtualDeviceParams(), **{field: value})
