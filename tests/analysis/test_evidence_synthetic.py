"""Evidence, not calibration: run archives generated here with known parameters, written through the
archive writer and analysed by memlab's pipeline, must give back those parameters.

Every expected value is computed in this file from the generating parameters (states, steps, σ,
nonlinearity ν, pulse shapes, drift law), by the definitions in docs/DEVICE_FILE.md, never by
memlab's analysis code; the parameters are deliberately not the paper's (no 81 µS, 23.7 µS, 16
states), so a result fitted to the paper cannot pass. Tolerances are a few standard errors of the
generating noise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs
from memlab.protocols.archive import PulseData, RetentionData, WaveformData, write_archive, write_pulse_archive

V_READ = -0.1  # V: a negative read, so a sign-blind conductance would fail
CYCLES = 60


def _write_pulses(path, up_S, down_S, sigma_S, *, seed, waveform=None, amplitudes=None, widths=None):
    """An archive of CYCLES cycles whose read after pulse p is truth[p] + N(0, sigma_S)."""
    rng = np.random.default_rng(seed)
    truth = np.concatenate([up_S, down_S])
    g = truth + rng.normal(0.0, sigma_S, (CYCLES, truth.size))
    n_up, n_down = len(up_S), len(down_S)
    amps = amplitudes if amplitudes is not None else np.r_[np.full(n_up, 0.9), np.full(n_down, -0.9)]
    wid = widths if widths is not None else np.full(truth.size, 200e-9)
    t = np.arange(g.size, dtype=float).reshape(g.shape) * 1e-4
    v = np.full(g.shape, V_READ)
    pd = PulseData(n_up, n_down, np.asarray(amps, float), np.asarray(wid, float), t, v, g * v,
                   np.zeros(g.shape, np.uint16), None, waveform)
    write_pulse_archive(path, pd, {"name": "synthetic", "generator": "test_evidence_synthetic"}, kind="pulse_cycling")
    return g


# --------------------------------------------------------------------------- a linear, asymmetric device

G0, STEP_UP, STEP_DOWN, SIGMA, N_LIN, N_TAIL, TAIL = 0.8e-3, 60e-6, 45e-6, 10e-6, 12, 4, 2e-6


def _linear_ladders():
    """N_LIN linear states (steps STEP_UP / STEP_DOWN), then N_TAIL saturated pulses of TAIL each."""
    k = np.arange(N_LIN + N_TAIL)
    rise = np.where(k < N_LIN, STEP_UP * k, STEP_UP * (N_LIN - 1) + TAIL * (k - N_LIN + 1))
    up = G0 + rise
    fall = np.where(k < N_LIN, STEP_DOWN * k, STEP_DOWN * (N_LIN - 1) + TAIL * (k - N_LIN + 1))
    down = up[-1] - fall
    return up, down


@pytest.fixture(scope="module")
def linear_device(tmp_path_factory):
    path = tmp_path_factory.mktemp("linear") / "linear.h5"
    up, down = _linear_ladders()
    _write_pulses(path, up, down, SIGMA, seed=7)
    return up, down, analyze_runs([path], AnalyzeOptions(n_boot=0)).device


def test_states_are_the_linear_part_of_each_branch(linear_device):
    """Steps of 60 / 45 µS against 2σ = 20 µS: the 12 linear states; the 2 µS tail steps are not states."""
    _, _, d = linear_device
    assert (d.states_per_branch, d.pulses_per_state) == (N_LIN, 1)
    for name in ("potentiation", "depression"):
        b = d.branch(name)
        assert (b.window_start_pulse, b.window_stop_pulse) == (0, N_LIN)


def test_steps_slopes_and_linearity_are_the_generating_ones(linear_device):
    up, down, d = linear_device
    # a state mean of 60 cycles has a standard error se = 10 / sqrt(60) = 1.3 uS; the least-squares
    # slope over 12 states se / sqrt(sum (k - 5.5)^2) = 0.11 uS; the bin width (last - first) / 11
    # se sqrt(2) / 11 = 0.17 uS: 4 standard errors each
    se = SIGMA / math.sqrt(CYCLES)
    k = np.arange(N_LIN)
    for name, step, sign in (("potentiation", STEP_UP, 1), ("depression", STEP_DOWN, -1)):
        b = d.branch(name)
        assert b.slope_S_per_pulse == pytest.approx(sign * step, abs=4 * se / math.sqrt(np.sum((k - k.mean()) ** 2)))
        assert b.bin_width_S == pytest.approx(step, abs=4 * se * math.sqrt(2) / (N_LIN - 1))
        assert b.r_squared > 0.999
        assert abs(b.nonlinearity) < 0.05  # a straight line: nu = 0
    assert d.branch("potentiation").intercept_S == pytest.approx(G0, abs=3 * se)
    assert d.symmetry.slope_ratio == pytest.approx(STEP_DOWN / STEP_UP, rel=0.01)  # 0.75
    assert abs(d.symmetry.nonlinearity_asymmetry) < 0.1


def test_sigma_and_range_are_the_generating_ones(linear_device):
    up, down, d = linear_device
    # the sample sigma of 60 values has a relative standard error of 1/sqrt(2 * 59); 24 states averaged
    assert d.sigma_mean_S == pytest.approx(SIGMA, rel=4 / math.sqrt(2 * (CYCLES - 1) * 2 * N_LIN))
    for name in ("potentiation", "depression"):
        sig = np.array(d.branch(name).state_sigma_S)
        assert np.all(np.abs(sig - SIGMA) < 4 * SIGMA / math.sqrt(2 * (CYCLES - 1)))
    window = np.concatenate([up[:N_LIN], down[:N_LIN]])
    se = SIGMA / math.sqrt(CYCLES)
    assert d.g_min_S == pytest.approx(window.min(), abs=4 * se)
    assert d.g_max_S == pytest.approx(window.max(), abs=4 * se)


def test_bins_are_two_n_minus_one_when_the_levels_separate(linear_device):
    """For linear ladders the level of pulse-count sum s is c + s (a + b) / 2 exactly (the mean of
    a i + b j over i + j = s is symmetric in i), so neighbouring levels are 52.5 uS apart, against
    k x sqrt(2) sigma = 28 uS: every one of the 2 x 12 - 1 levels counts."""
    _, _, d = linear_device
    spacing = (STEP_UP + STEP_DOWN) / 2
    assert spacing > d.k_sigma * math.sqrt(2) * SIGMA * 1.5  # well clear of the criterion
    assert d.n_bins == 2 * N_LIN - 1


def test_bins_merge_when_sigma_swamps_the_steps(tmp_path):
    """The same ladders with sigma 40 uS: single pulses (45 and 60 uS steps) are no longer 2 sigma
    apart, so a state must span several pulses and there are fewer bins."""
    up, down = _linear_ladders()
    _write_pulses(tmp_path / "noisy.h5", up, down, 40e-6, seed=8)
    d = analyze_runs([tmp_path / "noisy.h5"], AnalyzeOptions(n_boot=0)).device
    assert d.pulses_per_state >= 2  # 45 uS steps < 2 x 40 uS: single pulses are not separable states
    assert d.n_bins < 2 * N_LIN - 1


# --------------------------------------------------------------------------- steps below sigma: m pulses a state

def test_steps_below_two_sigma_make_states_of_m_pulses(tmp_path):
    """12 uS steps with sigma 8 uS: one pulse (12 < 2 x 8) is no state, two pulses (24 > 16) are;
    24 linear pulses a branch give 12 states of m = 2 pulses."""
    step, sigma, n = 12e-6, 8e-6, 24
    up = 1.0e-3 + step * np.arange(n)
    down = up[-1] - step * np.arange(n)
    _write_pulses(tmp_path / "m2.h5", up, down, sigma, seed=9)
    d = analyze_runs([tmp_path / "m2.h5"], AnalyzeOptions(n_boot=0)).device
    m = next(m for m in range(1, 10) if m * step > 2 * sigma)  # from the generating numbers: 2
    assert (d.pulses_per_state, d.states_per_branch) == (m, n // m)
    assert d.branch("potentiation").slope_S_per_pulse == pytest.approx(step, rel=0.03)
    assert d.branch("potentiation").bin_width_S == pytest.approx(m * step, rel=0.03)


# --------------------------------------------------------------------------- nonlinearity

def _nl_curve(n, nu):
    """docs/DEVICE_FILE.md's model: y = (1 - exp(-nu x)) / (1 - exp(-nu)), x = 0..1 over n states."""
    x = np.linspace(0.0, 1.0, n)
    return x if nu == 0 else (1 - np.exp(-nu * x)) / (1 - np.exp(-nu))


@pytest.mark.parametrize("nu_up, nu_down", [(1.5, 0.5), (0.8, -0.6)])
def test_nonlinearity_is_the_generating_nu(tmp_path, nu_up, nu_down):
    n, span, sigma = 14, 700e-6, 4e-6
    up = 1.0e-3 + span * _nl_curve(n, nu_up)
    down = up[-1] - span * _nl_curve(n, nu_down)
    _write_pulses(tmp_path / "nl.h5", up, down, sigma, seed=10)
    opts = AnalyzeOptions(n_boot=0, r2_min=0.5, windows={"potentiation": (0, n), "depression": (0, n)})
    d = analyze_runs([tmp_path / "nl.h5"], opts).device
    assert d.states_per_branch == n
    assert d.branch("potentiation").nonlinearity == pytest.approx(nu_up, abs=0.1)
    assert d.branch("depression").nonlinearity == pytest.approx(nu_down, abs=0.1)
    assert d.symmetry.nonlinearity_asymmetry == pytest.approx(nu_up - nu_down, abs=0.15)


# --------------------------------------------------------------------------- energy

def test_energy_per_pulse_is_the_analytic_integral_of_trapezoidal_pulses(tmp_path):
    """Each pulse rises linearly over r_up, holds V_p for w_p, falls over r_down; the device passes
    I = G_p V, so P = G_p V(t)^2 and E_p = G_p V_p^2 (w_p + r_up / 3 + r_down / 3) exactly (the ramps
    integrate t^2). Amplitudes and widths differ pulse by pulse, as in a tailored scheme; the ramps
    differ so that a one-sided (rectangle) sum's errors on them do not cancel."""
    n = 10
    up = 1.0e-3 + 50e-6 * np.arange(n)
    down = up[-1] - 50e-6 * np.arange(n)
    g_pulse = np.concatenate([up, down])  # the current each pulse draws follows the state it starts from
    amps = np.r_[np.linspace(0.6, 1.0, n), -np.linspace(0.7, 1.1, n)]
    widths = np.r_[np.linspace(100e-9, 300e-9, n), np.linspace(150e-9, 350e-9, n)]
    r_up, r_down, per_ramp = 10e-9, 60e-9, 40  # trapezoid error on a ramp: 1 / (2 x 40^2) of it
    t, vv, idx = [], [], []
    t0 = 0.0
    for p, (a, w) in enumerate(zip(amps, widths)):
        rise = np.linspace(0, r_up, per_ramp + 1)
        flat = r_up + np.linspace(0, w, 11)[1:]
        fall = np.linspace(0, r_down, per_ramp + 1)[1:]
        shape = np.r_[rise / r_up, np.ones(10), 1 - fall / r_down]
        t += list(t0 + np.r_[rise, flat, r_up + w + fall]) + [t0 + r_up + w + r_down + 0.5e-6]
        vv += list(a * shape) + [0.0]
        idx += [p] * shape.size + [-1]
        t0 += r_up + w + r_down + 1e-6
    t, vv, idx = np.array(t), np.array(vv), np.array(idx)
    current = np.where(idx >= 0, g_pulse[np.maximum(idx, 0)] * vv, 0.0)
    wf = WaveformData(t, np.tile(vv, (CYCLES, 1)), np.tile(current, (CYCLES, 1)), idx, True)
    _write_pulses(tmp_path / "e.h5", up, down, 5e-6, seed=11, waveform=wf, amplitudes=amps, widths=widths)
    d = analyze_runs([tmp_path / "e.h5"], AnalyzeOptions(n_boot=0)).device
    expected = g_pulse * amps ** 2 * (widths + r_up / 3 + r_down / 3)
    assert d.energy_per_pulse_J.mean == pytest.approx(expected.mean(), rel=1e-3)
    # the std runs over every pulse of every cycle (docs/DEVICE_FILE.md): 60 copies of the 20 pulses
    assert d.energy_per_pulse_J.std == pytest.approx(np.tile(expected, CYCLES).std(ddof=1), rel=2e-3)
    assert d.energy_per_cycle_J.mean == pytest.approx(expected.sum(), rel=1e-3)
    assert d.energy_per_cycle_J.source == "measured"


# --------------------------------------------------------------------------- drift

def test_drift_recovers_each_states_nu_t0_and_the_nu_of_g_line(tmp_path):
    """Retention of 6 states relaxing by G0 (1 + t / t0)^-nu with t0 = 0.5 s and nu rising with G0
    (nu = 0.01 + 20 / S x (G0 - 1 mS): 0.01 .. 0.03), read noise 0.3 uS; the pulse run only gives
    the file its states."""
    up, down = _linear_ladders()
    _write_pulses(tmp_path / "p.h5", up, down, SIGMA, seed=12)
    t0, noise = 0.5, 0.3e-6
    g0 = np.linspace(1.0e-3, 2.0e-3, 6)
    nu = 0.01 + 20.0 * (g0 - 1.0e-3)
    t = np.logspace(-1, 3, 40)[None, :].repeat(6, axis=0)
    rng = np.random.default_rng(13)
    g = g0[:, None] * (1 + t / t0) ** -nu[:, None] + rng.normal(0, noise, t.shape)
    write_archive(tmp_path / "r.h5", kind="retention", protocol={"name": "synthetic retention"},
                  retention=RetentionData(np.arange(6), t, np.full(t.shape, V_READ), V_READ * g,
                                          np.zeros(t.shape, np.uint16)))
    d = analyze_runs([tmp_path / "p.h5", tmp_path / "r.h5"], AnalyzeOptions(n_boot=0)).device.drift
    assert d.t0_s == pytest.approx(t0, rel=0.1)
    assert [s.nu for s in d.states] == pytest.approx(nu.tolist(), abs=1e-3)
    assert [s.g0_S for s in d.states] == pytest.approx(g0.tolist(), rel=1e-3)
    assert d.nu_mean == pytest.approx(nu.mean(), abs=5e-4)
    assert d.nu_std == pytest.approx(nu.std(ddof=1), rel=0.05)
    assert d.nu_slope_per_S == pytest.approx(20.0, rel=0.05)
    assert d.read_noise_S == pytest.approx(noise, rel=0.2)
    assert d.span_s == pytest.approx(1000 - 0.1, rel=1e-6)
