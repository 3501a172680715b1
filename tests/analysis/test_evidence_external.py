"""Evidence on other labs' measurements (../shared/data/external, required under CI): memlab's import
and analysis against numbers derived here from the raw files with pandas and numpy alone.

memlab decides the window and the pulses per state (its search is tested on synthetic truth in
test_evidence_synthetic.py); given that choice, every number of the device file must be what the
raw file says: the state means and sigmas, the fit, the range, the bins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memlab.analysis.importers import ImportSpec, import_pulses, read_pulse_files
from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs
from tests.helpers.shared_data import shared_data

READ_V = 0.1  # V: CrossSim's read voltage (external/README.md)


@pytest.fixture(scope="module")
def crosssim(tmp_path_factory):
    folder = shared_data("external", "crosssim-ltp-ltd")
    out = tmp_path_factory.mktemp("crosssim") / "cs.h5"
    import_pulses(ImportSpec("columns", "current", "A", READ_V), out, up=folder / "set.csv", down=folder / "reset.csv")
    device = analyze_runs([out], AnalyzeOptions(n_boot=0)).device
    # the raw files by pandas: one column per ramp, one row per pulse, ragged ramps padded empty
    up = pd.read_csv(folder / "set.csv") / READ_V
    down = pd.read_csv(folder / "reset.csv") / READ_V
    return device, up, down


def _states(frame: pd.DataFrame, branch, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sigma over the ramps of the reads at the branch's state pulses (every m-th)."""
    rows = frame.iloc[branch.window_start_pulse:branch.window_stop_pulse:m]
    return rows.mean(axis=1, skipna=True).to_numpy(), rows.std(axis=1, ddof=1, skipna=True).to_numpy()


def test_crosssim_state_statistics_are_the_raw_files(crosssim):
    device, up, down = crosssim
    assert up.shape == (192, 39) and down.shape == (153, 40)  # the files, as README.md describes them
    assert device.n_cycles == 40
    for frame, name in ((up, "potentiation"), (down, "depression")):
        b = device.branch(name)
        mean, sigma = _states(frame, b, device.pulses_per_state)
        assert len(mean) == device.states_per_branch
        np.testing.assert_allclose(b.state_mean_S, mean, rtol=1e-9)
        np.testing.assert_allclose(b.state_sigma_S, sigma, rtol=1e-9)
        pulses = b.window_start_pulse + device.pulses_per_state * np.arange(len(mean))
        slope, intercept = np.polyfit(pulses - pulses[0], mean, 1)
        assert b.slope_S_per_pulse == pytest.approx(slope, rel=1e-6)
        assert b.intercept_S == pytest.approx(intercept, rel=1e-6)
        fitted = intercept + slope * (pulses - pulses[0])
        assert b.r_squared == pytest.approx(1 - np.sum((mean - fitted) ** 2) / np.sum((mean - mean.mean()) ** 2), rel=1e-9)
    means = np.concatenate([device.branch(b).state_mean_S for b in ("potentiation", "depression")])
    assert device.g_min_S == pytest.approx(means.min(), rel=1e-12) and device.g_max_S == pytest.approx(means.max(), rel=1e-12)
    sigmas = np.concatenate([device.branch(b).state_sigma_S for b in ("potentiation", "depression")])
    assert device.sigma_mean_S == pytest.approx(sigmas.mean(), rel=1e-9)


def test_crosssim_raw_facts_the_analysis_must_respect(crosssim):
    """Facts of the raw file, derived with pandas alone: single pulses move the conductance by less
    than twice its cycle-to-cycle sigma, so a state must span several pulses; the range sits
    between the files' own extremes of the per-pulse means."""
    device, up, down = crosssim
    step = up.mean(axis=1).diff().abs().median()
    sigma = up.std(axis=1, ddof=1).median()
    assert step < 2 * sigma  # ~190 steps across the window: each below the noise
    assert device.pulses_per_state > 1
    per_pulse = pd.concat([up.mean(axis=1), down.mean(axis=1)])
    assert per_pulse.min() <= device.g_min_S < device.g_max_S <= per_pulse.max()


def test_gong_import_is_the_raw_trace_scaled(tmp_path):
    """The unitless Gong et al. trace, with --scale-S / --offset-S: every read is offset + scale x value."""
    f = shared_data("external", "gong-2018-pulse-response", "gong_et_al.csv")
    raw = pd.read_csv(f, header=None).to_numpy(float)  # two columns: the up branch, the down branch
    assert raw.shape == (1000, 2)
    pulses, _ = read_pulse_files(ImportSpec("branch-columns", "unitless", scale_S=1e-4, offset_S=2e-4), file=f)
    assert (pulses.n_up, pulses.n_down, pulses.n_cycles) == (1000, 1000, 1)
    g = pulses.read_conductance_S[0]
    np.testing.assert_allclose(g[:1000], 2e-4 + 1e-4 * raw[:, 0], rtol=1e-12)
    np.testing.assert_allclose(g[1000:], 2e-4 + 1e-4 * raw[:, 1], rtol=1e-12)
