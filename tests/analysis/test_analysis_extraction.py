"""Pure extraction functions on synthetic arrays with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.analysis.bins import count_bins_batch, differential_bins
from memlab.analysis.bootstrap import bootstrap_headline
from memlab.analysis.conductance import conductance
from memlab.analysis.energy import pulse_energy
from memlab.analysis.extraction import extract, to_device_file
from memlab.analysis.fits import exp_curve, linear_fit, nonlinearity_factor, power_law_fit
from memlab.analysis.retention import retention_drift
from memlab.analysis.states import branch_stats, split_branches
from memlab.analysis.window import choose_windows
from memlab.errors import ConfigError
from memlab.status import PointStatus

import analysis_synth as synth


def test_conductance_sign_aware_and_flags_excluded_and_counted():
    i = np.array([[-10e-6, 10e-6, -5e-6, 1.0, -1e-6]])
    v = np.array([[-0.1, 0.1, -0.1, -0.1, 0.0]])
    st = np.array([[0, 0, 0, PointStatus.COMPLIANCE, 0]], dtype=np.uint16)
    c = conductance(i, v, st)
    assert c.g_S[0, :3] == pytest.approx([100e-6, 100e-6, 50e-6])
    assert np.isnan(c.g_S[0, 3]) and np.isnan(c.g_S[0, 4])  # flagged, zero bias: never used
    assert (c.n_flagged, c.n_zero_bias, c.n_excluded, c.n_negative) == (1, 1, 2, 0)
    g = conductance(i, v, st, read_conductance_S=np.full((1, 5), 2e-3))
    assert np.isnan(g.g_S[0, 3]) and g.g_S[0, 0] == 2e-3


def test_per_pulse_mean_and_sigma_recover_truth():
    truth, i, v, st = synth.pulse_arrays(cycles=400, sigma=20e-6, seed=3)
    up, down = split_branches(conductance(i, v, st).g_S, 20, 20)
    assert up.mean_S == pytest.approx(truth[:20], abs=4 * 20e-6 / np.sqrt(400))
    assert np.mean(down.sigma_S) == pytest.approx(20e-6, rel=0.03)
    assert up.direction == 1 and down.direction == -1


def test_linear_fit_exact_and_noisy():
    x = np.arange(16.0)
    f = linear_fit(x, 1e-3 + 81e-6 * x)
    assert (f.slope, f.intercept, f.r_squared) == pytest.approx((81e-6, 1e-3, 1.0))
    with pytest.raises(ConfigError):
        linear_fit([1.0], [2.0])


@pytest.mark.parametrize("nu", [-3.0, 0.0, 0.7, 4.0])
def test_nonlinearity_factor_recovers_known_nu(nu):
    p = np.arange(30)
    g = 1e-3 + 1e-3 * exp_curve(p / 29, nu)
    assert nonlinearity_factor(p, g) == pytest.approx(nu, abs=1e-3)
    # a falling (depression) branch with the same shape gives the same factor
    assert nonlinearity_factor(p, 2e-3 - 1e-3 * exp_curve(p / 29, nu)) == pytest.approx(nu, abs=1e-3)


def test_window_finds_the_16_linear_states_of_20():
    truth, i, v, st = synth.pulse_arrays(cycles=100, seed=1)
    up, down = split_branches(conductance(i, v, st).g_S, 20, 20)
    wu, wd = choose_windows(up, down)
    assert (wu.start, wu.stop, wu.m, wu.n_states) == (1, 17, 1, 16)
    assert (wd.start, wd.stop) == (1, 17)
    assert "16" in wu.reason and wu.min_separation_ratio > 1


def test_window_chooses_m_when_steps_are_below_sigma():
    # 120 pulses of 5 uS steps with sigma 10 uS: one pulse cannot be told from the next,
    # every 5th pulse (25 uS > 2 sigma) can: expect m = 5 and 24 states.
    rng = np.random.default_rng(0)
    ramp = 1e-3 + 5e-6 * np.arange(120)
    g = ramp + rng.normal(0, 10e-6, (200, 120))
    up, down = branch_stats("potentiation", g), branch_stats("depression", g[:, ::-1])
    wu, wd = choose_windows(up, down)
    assert wu.m == 5 and wu.n_states == 24 and wd.n_states == 24
    fixed_m = choose_windows(up, down, pulses_per_state=10)[0]
    assert fixed_m.m == 10 and fixed_m.n_states == 12


def test_window_fixed_and_unusable():
    truth, i, v, st = synth.pulse_arrays(cycles=50, seed=2)
    up, down = split_branches(conductance(i, v, st).g_S, 20, 20)
    wu, wd = choose_windows(up, down, fixed={"potentiation": (0, 20), "depression": (4, 10)})
    assert wu.n_states == wd.n_states == 6 and "trimmed" in wu.reason and wu.stop == 6
    with pytest.raises(ConfigError, match="both branches"):
        choose_windows(up, down, fixed={"potentiation": (0, 20)})
    with pytest.raises(ConfigError, match="0:20"):
        choose_windows(up, down, fixed={"potentiation": (0, 25), "depression": (0, 20)})
    flat = branch_stats("potentiation", np.random.default_rng(0).normal(1e-3, 1e-5, (30, 20)))
    with pytest.raises(ConfigError, match="no usable window"):
        choose_windows(flat, flat)


def test_bins_separable_ladders_give_2n_minus_1():
    up = 1e-3 + 81.077e-6 * np.arange(16)
    down = 2.2e-3 - 80.520e-6 * np.arange(16)
    s = np.full(16, 23.7e-6)
    assert differential_bins(up, s, down, s, 2.0).n_bins == 31
    assert differential_bins(up[:5], s[:5], down[:5], s[:5], 2.0).n_bins == 9


def test_bins_overlapping_states_merge():
    up = 1e-3 + 20e-6 * np.arange(16)
    down = 1.3e-3 - 20e-6 * np.arange(16)
    s = np.full(16, 23.7e-6)
    ladder = differential_bins(up, s, down, s, 2.0)
    # separation needs > 2 * sqrt(2) * 23.7 = 67 uS between kept levels: every 4th 20-uS level
    assert ladder.n_bins == 8
    assert np.all(np.diff(ladder.level_S) > 2 * np.sqrt(2) * 23.7e-6)
    assert differential_bins(up, s * 0, down, s * 0, 2.0).n_bins == 31


def test_bins_batch_agrees_with_single():
    rng = np.random.default_rng(5)
    um = np.sort(rng.uniform(1e-3, 2e-3, (20, 8)), axis=1)
    dm = -np.sort(-rng.uniform(1e-3, 2e-3, (20, 8)), axis=1)
    us, ds = rng.uniform(1e-6, 5e-5, (2, 20, 8))
    batch = count_bins_batch(um, us, dm, ds, 2.0)
    assert batch.tolist() == [differential_bins(um[b], us[b], dm[b], ds[b], 2.0).n_bins for b in range(20)]


def test_energy_of_known_waveform():
    t = np.linspace(0, 1e-6, 101)
    idx = np.where(t < 0.5e-6, 0, 1)
    idx[50] = -1
    v = np.where(idx >= 0, 0.8, 0.0)[None, :].repeat(3, axis=0)
    i = np.full_like(v, 2e-3)
    e = pulse_energy(t, v, i, idx, 2)
    # pulse 0: samples 0..49 span 0.49 us; pulse 1: samples 51..100 span 0.49 us
    assert e.per_pulse_J == pytest.approx(np.full((3, 2), 0.8 * 2e-3 * 0.49e-6))
    assert e.cycle_mean_std_J == pytest.approx((2 * 0.8 * 2e-3 * 0.49e-6, 0.0))
    assert pulse_energy(t, v, i, idx, 2, measured=False).source == "applied_waveform"
    # a sine-shaped pulse integrates like the analytic integral
    t2 = np.linspace(0, 1e-6, 2001)
    v2 = np.sin(np.pi * t2 / 1e-6)[None, :]
    e2 = pulse_energy(t2, v2, v2 * 1e-3, np.zeros(t2.size, int), 1)
    assert e2.per_cycle_J[0] == pytest.approx(1e-3 * 0.5e-6, rel=1e-6)
    with pytest.raises(ConfigError):
        pulse_energy(t[::-1], v, i, idx, 2)


def test_retention_recovers_known_nu():
    t = np.logspace(0, 4, 40)[None, :].repeat(5, axis=0)
    nus = np.array([0.001, 0.002, 0.003, 0.004, 0.005])
    g0 = np.linspace(1e-3, 2e-3, 5)[:, None]
    g = g0 * (1 + t / 3.0) ** -nus[:, None]  # memlab's drift law, t0 = 3 s
    d = retention_drift(t, np.full(t.shape, -0.1), -0.1 * g)
    assert d.nu == pytest.approx(nus, rel=1e-4)
    assert d.nu_mean == pytest.approx(0.003, rel=1e-4) and d.nu_std == pytest.approx(np.std(nus, ddof=1), rel=1e-3)
    assert d.relative_change == pytest.approx(((1 + 1e4 / 3) / (1 + 1 / 3)) ** -nus - 1)
    assert d.span_s == pytest.approx(1e4 - 1) and d.t0_s == pytest.approx(3.0, rel=1e-3)
    assert d.first_read_s == pytest.approx(1.0)
    assert power_law_fit(t[0], g0[0] * t[0] ** -0.001).nu == pytest.approx(0.001)


def test_bootstrap_intervals_cover_truth_and_are_seeded():
    truth, i, v, st = synth.pulse_arrays(cycles=100, sigma=23.7e-6, seed=7)
    g = conductance(i, v, st).g_S
    up, down = g[:, 1:17], g[:, 21:37]
    e = np.random.default_rng(0).normal(23.7e-9, 1.3e-9, 100)
    ci = bootstrap_headline(up, down, 2.0, e, n_boot=400, seed=1)
    assert ci["sigma_mean_S"].low < 23.7e-6 < ci["sigma_mean_S"].high
    assert ci["branches.potentiation.bin_width_S"].low < 81e-6 < ci["branches.potentiation.bin_width_S"].high
    assert ci["n_bins"].low == ci["n_bins"].high == 31
    assert ci["energy_per_cycle_J.mean"].low < 23.7e-9 < ci["energy_per_cycle_J.mean"].high
    assert bootstrap_headline(up, down, 2.0, e, n_boot=50, seed=3) == bootstrap_headline(up, down, 2.0, e, n_boot=50, seed=3)


def test_extract_end_to_end_on_synthetic_device():
    truth, i, v, st = synth.pulse_arrays(cycles=100, seed=4)
    ex = extract(conductance(i, v, st).g_S, 20, 20, n_boot=200)
    d = to_device_file(ex)
    assert (d.states_per_branch, d.n_bins, d.pulses_per_state) == (16, 31, 1)
    up = d.branch("potentiation")
    assert up.bin_width_S == pytest.approx(81e-6, rel=0.02)
    assert up.slope_S_per_pulse == pytest.approx(81e-6, rel=0.02)
    assert d.branch("depression").slope_S_per_pulse == pytest.approx(-81e-6, rel=0.02)
    assert up.intercept_S == pytest.approx(truth[1], abs=10e-6)
    assert d.sigma_mean_S == pytest.approx(synth.SIGMA_S, rel=0.05)
    assert up.r_squared > 0.999 and abs(up.nonlinearity) < 0.1
    assert d.symmetry.slope_ratio == pytest.approx(1.0, abs=0.03)
    assert d.g_min_S == pytest.approx(min(truth[1:17]), abs=10e-6)
    assert "sigma_mean_S" in d.confidence_intervals


def test_extract_of_one_trace_takes_sigma_within_the_trace_and_says_so():
    rng = np.random.default_rng(3)
    n = 400  # 200 steps of 2 uS per branch, read scatter 3 uS: sigma must come out near 3 uS
    up = 1e-4 + 2e-6 * np.arange(n // 2)
    g = np.concatenate([up, up[::-1]]) + rng.normal(0, 3e-6, n)
    ex = extract(g[None, :], n // 2, n // 2, n_boot=0)
    assert ex.sigma_source == "within_trace" and ex.intervals == {}
    assert ex.sigma_mean_S == pytest.approx(3e-6, rel=0.25)
    assert ex.up.fit.slope == pytest.approx(2e-6, rel=0.05) and ex.down.fit.slope == pytest.approx(-2e-6, rel=0.05)
    assert to_device_file(ex).sigma_source == "within_trace"
    with pytest.raises(ConfigError, match=r"0 cycle\(s\) with usable reads"):
        extract(np.full((2, 40), np.nan), 20, 20)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 24), bw=st.floats(1e-6, 1e-4), ratio=st.floats(0.0, 0.45))
def test_bins_property_equal_ladders_give_2n_minus_1(n, bw, ratio):
    # sigma below bw / (2 * sqrt(2)) keeps every level of the difference ladder usable
    up = 1e-3 + bw * np.arange(n)
    down = up[::-1]
    s = np.full(n, ratio * bw / np.sqrt(2))
    assert differential_bins(up, s, down, s, 2.0).n_bins == 2 * n - 1


@settings(max_examples=20, deadline=None)
@given(p=st.integers(4, 40), bw=st.floats(1e-6, 1e-4), seed=st.integers(0, 100))
def test_window_takes_every_pulse_of_exact_linear_data(p, bw, seed):
    rng = np.random.default_rng(seed)
    ramp = 1e-3 + bw * np.arange(p)
    noise = rng.normal(0, bw / 20, (20, p))
    up, down = branch_stats("potentiation", ramp + noise), branch_stats("depression", ramp[::-1] + noise)
    wu, wd = choose_windows(up, down, r2_min=0.99)
    assert (wu.start, wu.stop, wu.m) == (0, p, 1) and wd.n_states == p
