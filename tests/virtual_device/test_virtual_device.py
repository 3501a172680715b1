"""Physics of the virtual memristor: each variability effect is visible and switches off.

These are evidence tests of the model's behaviour (what each parameter does),
not of its calibration to the paper: that is ``test_calibration.py``.
"""

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
NOMINAL = VirtualDeviceParams()
QUIET = calibration.quiet(NOMINAL)


def cycles(params: VirtualDeviceParams, n: int, seed: int = 11, device_seed: int = 0, settle: int = 3):
    device = VirtualMemristor(params, device_seed=device_seed, seed=seed)
    calibration.run_tailored(device, settle)
    return calibration.run_tailored(device, n)


def r2_first16(g_mean: np.ndarray) -> float:
    return float(np.corrcoef(np.arange(16), g_mean[:16])[0, 1] ** 2)


@pytest.fixture(scope="module")
def nominal_run():
    return cycles(NOMINAL, 100)


# --------------------------------------------------------------------------- the nominal device

def test_mean_update_is_monotonic_under_the_tailored_scheme(nominal_run):
    mean = nominal_run[0].mean(axis=0)
    assert np.all(np.diff(mean[:16]) > 0) and np.all(np.diff(mean[N:N + 16]) < 0)


def test_sigma_is_flat_across_states(nominal_run):
    sigma = nominal_run[0].std(axis=0, ddof=1)
    window = np.concatenate([sigma[:16], sigma[N:N + 16]])
    assert window.max() / window.min() < 1.6
    ideal_sigma = cycles(VirtualDeviceParams.ideal(), 100)[0].std(axis=0, ddof=1)
    assert ideal_sigma[14] / ideal_sigma[0] > 1.6  # the ideal device's sigma grows along the branch


# --------------------------------------------------------------------------- each effect, on and off

def test_uneven_steps_come_from_the_step_roughness():
    rough = cycles(dataclasses.replace(QUIET, start_compression=0.0, end_compression=0.0), 1)[0][0]
    smooth = cycles(dataclasses.replace(QUIET, step_roughness=0.0, start_compression=0.0, end_compression=0.0),
                    1)[0][0]
    steps_rough, steps_smooth = np.diff(rough[:15]), np.diff(smooth[:15])
    assert np.std(steps_rough) > 3 * np.std(steps_smooth)
    assert r2_first16(smooth) > r2_first16(rough) + 2e-4


def test_texture_differs_between_devices():
    a = cycles(QUIET, 1, device_seed=0)[0][0]
    b = cycles(dataclasses.replace(QUIET, d2d_rate_rel_std=0.0, d2d_g_rel_std=0.0), 1, device_seed=5)[0][0]
    assert np.max(np.abs(np.diff(a[:15]) - np.diff(b[:15]))) > 5e-6


def test_compression_shortens_the_steps_at_both_ends():
    base = dataclasses.replace(QUIET, step_roughness=0.0)
    on = np.diff(cycles(base, 1)[0][0][:16])
    off = np.diff(cycles(dataclasses.replace(base, start_compression=0.0, end_compression=0.0), 1)[0][0][:16])
    middle = on[5:10].mean()
    assert on[0] < 0.9 * middle and on[-1] < 0.9 * middle
    assert (off[0] / off[5:10].mean()) > (on[0] / middle) + 0.05


def test_configuration_scatter_does_not_accumulate_along_a_branch():
    only = dataclasses.replace(QUIET, program_noise_std_S=20e-6)
    sigma = cycles(only, 100)[0].std(axis=0, ddof=1)[:16]
    assert np.all(np.abs(sigma - 20e-6) < 6e-6)
    assert np.all(cycles(QUIET, 5)[0].std(axis=0, ddof=1) < 1e-9)  # off: a noise-free device repeats exactly


def test_update_noise_accumulates_along_a_branch():
    only = dataclasses.replace(QUIET, c2c_rel_std=0.15)
    sigma = cycles(only, 100)[0].std(axis=0, ddof=1)
    assert sigma[6:12].mean() > 2.5 * sigma[0]  # (the end compression pulls the last states together again)


def test_read_noise_does_not_grow_with_the_state():
    params = dataclasses.replace(QUIET, read_noise_std_S=5e-6)
    device = VirtualMemristor(params, seed=3)
    low = [device.current_A(-0.1) / -0.1 for _ in range(2000)]
    for _ in range(15):
        device.apply_segment(0.995, 0.995, 350e-9)
        device.relax(1e-6)
    high = [device.current_A(-0.1) / -0.1 for _ in range(2000)]
    assert np.mean(high) > np.mean(low) + 500e-6
    assert np.std(low) == pytest.approx(5e-6, rel=0.1) and np.std(high) == pytest.approx(5e-6, rel=0.1)
    quiet_reads = [VirtualMemristor(QUIET).current_A(-0.1) for _ in range(10)]
    assert np.ptp(quiet_reads) == 0.0


def test_window_wander_moves_every_state_of_a_cycle_together():
    wander = dataclasses.replace(QUIET, window_wander_rel_std=0.01)
    g = cycles(wander, 60)[0]
    dev = g - g.mean(axis=0)
    assert np.corrcoef(dev[:, 3], dev[:, 12])[0, 1] > 0.9  # one factor per cycle
    assert g.std(axis=0, ddof=1)[10] == pytest.approx(0.01 * g.mean(axis=0)[10], rel=0.3)


def test_high_field_wander_spreads_the_energy_but_not_the_reads():
    on = cycles(dataclasses.replace(QUIET, high_field_wander_rel_std=0.2), 40)
    off = cycles(QUIET, 40)
    assert on[1].std() / on[1].mean() > 0.03 and off[1].std() / off[1].mean() < 1e-6
    assert np.max(on[0].std(axis=0)) < 5e-6  # the -0.1 V read barely sees the high-field current


def test_depression_is_slightly_weaker_than_potentiation():
    base = dataclasses.replace(QUIET, step_roughness=0.0)
    g = cycles(base, 1)[0][0]
    sym = cycles(dataclasses.replace(base, depression_rate_ratio=1.0), 1)[0][0]
    up, down = np.diff(g[:16]).mean(), -np.diff(g[N:N + 16]).mean()
    assert 0.97 < down / up < 0.999
    assert -np.diff(sym[N:N + 16]).mean() / np.diff(sym[:16]).mean() == pytest.approx(1.0, abs=1e-3)


def test_failed_pulses_leave_the_state_unchanged():
    stuck = dataclasses.replace(QUIET, failed_pulse_probability=1.0)
    device = VirtualMemristor(stuck, seed=2)
    g0 = device.conductance_S
    calibration.run_tailored(device, 2)
    assert device.conductance_S == pytest.approx(g0, rel=1e-9)
    rare = dataclasses.replace(QUIET, failed_pulse_probability=0.01, stuck_pulses_mean=3.0)
    g = cycles(rare, 60)[0]
    assert g.std(axis=0, ddof=1)[:16].max() > 20e-6  # some cycles fall behind by several steps


def test_stuck_runs_last_as_long_as_asked():
    params = dataclasses.replace(QUIET, failed_pulse_probability=0.02, stuck_pulses_mean=4.0)
    device = VirtualMemristor(params, seed=9)
    failed = []
    for _ in range(4000):
        x = device.state
        device.apply_segment(0.9, 0.9, 50e-9)
        device.relax(1e-6)
        failed.append(device.state == x)
        if device.state > 0.9:  # stay away from the bound, where every pulse looks "failed"
            device.apply_segment(-0.995, -0.995, 2e-6)
            device.relax(1e-6)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, failed, 0])))[::2]
    assert runs.mean() == pytest.approx(4.0, rel=0.35)


def test_wear_shrinks_the_window_slowly():
    worn = dataclasses.replace(QUIET, wear_rel_per_pulse=2e-4)
    first = cycles(worn, 1, settle=0)[0][0]
    later = cycles(worn, 1, settle=50)[0][0]
    span = lambda g: g.max() - g.min()  # noqa: E731
    assert span(later) / span(first) == pytest.approx(np.exp(-2e-4 * 40 * 50), rel=0.05)
    assert span(cycles(QUIET, 1, settle=50)[0][0]) == pytest.approx(span(cycles(QUIET, 1, settle=0)[0][0]), rel=1e-6)


def test_retention_follows_a_slow_power_law():
    params = dataclasses.replace(NOMINAL, nu_std=0.0, program_noise_std_S=0.0, read_noise_std_S=0.0)
    device = VirtualMemristor(params=params, seed=5)
    for _ in range(8):
        device.apply_segment(0.9, 0.9, 300e-9)
    g0 = device.conductance_S
    times = np.logspace(0, 4, 5)
    g, elapsed = [], 0.0
    for t in times:
        device.relax(t - elapsed)
        elapsed = t
        g.append(device.conductance_S)
    slope = np.polyfit(np.log(1 + times / params.drift_t0_s), np.log(g), 1)[0]
    assert slope == pytest.approx(-params.nu_mean, rel=0.05)
    assert 0 < 1 - g[-1] / g0 < 0.03
    frozen = VirtualMemristor(dataclasses.replace(params, nu_mean=0.0), seed=5)
    frozen.apply_segment(0.9, 0.9, 300e-9)
    before = frozen.conductance_S
    frozen.relax(1e4)
    assert frozen.conductance_S == before


def test_reads_do_not_disturb_the_state():
    device = VirtualMemristor(seed=4)
    x0 = device.state
    for _ in range(1000):
        device.apply_segment(-0.1, -0.1, 30e-6)
    assert device.state == pytest.approx(x0, abs=1e-3)  # only the slow relaxation


def test_identical_pulses_saturate():
    device = VirtualMemristor(QUIET, seed=3)
    g = []
    for _ in range(20):
        device.apply_segment(0.0, 0.85, 10e-9)
        device.apply_segment(0.85, 0.85, 250e-9)
        device.apply_segment(0.85, 0.0, 10e-9)
        device.relax(1e-6)
        g.append(device.conductance_S)
    steps = np.diff(g)
    assert np.all(steps > -1e-9)
    assert steps[:3].mean() > 3 * steps[-3:].mean()


def test_current_is_mildly_non_ohmic_and_odd():
    device = VirtualMemristor(QUIET)
    g = device.conductance_S
    v_nl = QUIET.v_nonlinear_V
    assert device.current_A(-0.1) == pytest.approx(-0.1 * g, rel=0.01)
    assert device.current_A(1.0) == pytest.approx(g * v_nl * np.sinh(1.0 / v_nl), rel=1e-9)
    assert device.current_A(-0.7) == pytest.approx(-device.current_A(0.7), rel=1e-12)
    assert device.current_A(0.0) == 0.0


# --------------------------------------------------------------------------- population and seeds

def test_fixed_seed_reproduces_and_new_seed_differs():
    runs = [calibration.run_tailored(VirtualMemristor(device_seed=2, seed=s), 3)[0] for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_population_spreads_step_size_range_and_drift_as_documented():
    devices = [NOMINAL.for_device(s) for s in range(1, 301)]
    rate = np.log([d.rate0_per_s / NOMINAL.rate0_per_s for d in devices])
    g_off = np.log([d.g_off_S / NOMINAL.g_off_S for d in devices])
    span = np.log([(d.g_on_S - d.g_off_S) / (NOMINAL.g_on_S - NOMINAL.g_off_S) for d in devices])
    nu = np.log([d.nu_mean / NOMINAL.nu_mean for d in devices])
    for values, spread in ((rate, NOMINAL.d2d_rate_rel_std), (g_off, NOMINAL.d2d_g_rel_std),
                           (span, NOMINAL.d2d_g_rel_std), (nu, NOMINAL.d2d_nu_rel_std)):
        assert np.std(values, ddof=1) == pytest.approx(spread, rel=0.15)
        assert abs(np.mean(values)) < 3 * spread / np.sqrt(len(values))
    assert VirtualMemristor(device_seed=0).params == VirtualDeviceParams()


def test_population_spread_switches_off():
    none = dataclasses.replace(NOMINAL, d2d_rate_rel_std=0.0, d2d_g_rel_std=0.0, d2d_nu_rel_std=0.0)
    assert none.for_device(7) == none


# --------------------------------------------------------------------------- all effects off

@pytest.mark.calibration
def test_calibration_all_effects_off_recover_the_ideal_device():
    """Calibration, not evidence: the ideal device (every effect off) is the device memlab had before,
    whose switching rate was fitted to the paper's 81.077 uS bin width: equal steps to a hard bound
    (15 x ~81 uS, then < 45 uS), R^2 > 0.9999, sigma rising ~12 -> ~26 uS, 0.4 % energy spread."""
    g, energy = cycles(VirtualDeviceParams.ideal(), 100, seed=1, settle=5)
    mean, sigma = g.mean(axis=0), g.std(axis=0, ddof=1)
    steps = np.diff(mean[:N]) * 1e6
    assert np.all(np.abs(steps[:14] - 81.077) < 6) and steps[15] < 45
    assert r2_first16(mean[:N]) > 0.9999 and r2_first16(mean[N:]) > 0.9999
    assert 9e-6 < sigma[0] < 16e-6 and 22e-6 < sigma[14] < 30e-6
    assert energy.std() / energy.mean() < 0.01


@pytest.mark.parametrize("field, value", [("g_off_S", -1e-3), ("rate0_per_s", float("nan")), ("c2c_rel_std", -0.1),
                                          ("initial_state", 1.5), ("g_on_S", 1e-3), ("failed_pulse_probability", 2.0),
                                          ("stuck_pulses_mean", 0.5), ("step_roughness", float("inf"))])
def test_invalid_parameters_are_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(VirtualDeviceParams(), **{field: value})
