"""Device file: save/load identity and strict refusal of every kind of bad file."""

from __future__ import annotations

import copy
import json
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.analysis import device_file as dfm
from memlab.analysis.device_file import load_device_file, save_device_file
from memlab.errors import DataNotFoundError, SchemaError

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"


def paper_dict() -> dict:
    return json.loads(PAPER.read_text())


def _bins_by_hand(up_mean, up_sigma, down_mean, down_sigma, k):
    """docs/DEVICE_FILE.md's n_bins, written out with plain loops: one level per pulse-count sum
    i + j (mean of G+_i - G-_j, sigma the RMS of sqrt(s+_i^2 + s-_j^2)), counted when more than k x
    the larger sigma above the last counted one."""
    n = len(up_mean)
    levels = []
    for s in range(2 * n - 1):
        pairs = [(i, s - i) for i in range(n) if 0 <= s - i < n]
        level = sum(up_mean[i] - down_mean[j] for i, j in pairs) / len(pairs)
        sigma = math.sqrt(sum(up_sigma[i] ** 2 + down_sigma[j] ** 2 for i, j in pairs) / len(pairs))
        levels.append((level, sigma))
    levels.sort()
    kept = [levels[0]]
    for level, sigma in levels[1:]:
        if level - kept[-1][0] > k * max(sigma, kept[-1][1]):
            kept.append((level, sigma))
    return len(kept)


def test_sample_device_file_is_derived_from_the_committed_runs():
    """The committed runs are the file's sources (SHA-256), and every summary number of the file
    follows from its own per-state lists by the documented definitions, recomputed here with numpy
    (no memlab analysis code): a hand-edited or stale number fails. That the lists themselves follow
    from the runs is tests/virtual_device/test_sample_devices.py (re-analysis of the committed runs)."""
    from memlab.files import sha256_file

    d = load_device_file(PAPER)
    assert [r.file for r in d.source_runs] == ["paper-tailored-sim.h5", "retention-sim.h5"]
    for run in d.source_runs:
        assert sha256_file(ROOT / "sample_data" / "runs" / run.file) == run.sha256 and run.status == "complete"
    up, dn = d.branch("potentiation"), d.branch("depression")
    m = d.pulses_per_state
    for b in (up, dn):
        means, sigmas = np.array(b.state_mean_S), np.array(b.state_sigma_S)
        assert len(means) == len(sigmas) == d.states_per_branch
        assert (b.window_stop_pulse - b.window_start_pulse + m - 1) // m == d.states_per_branch
        pulses = m * np.arange(len(means))
        slope, intercept = np.polyfit(pulses, means, 1)
        fitted = intercept + slope * pulses
        r2 = 1 - np.sum((means - fitted) ** 2) / np.sum((means - means.mean()) ** 2)
        assert b.slope_S_per_pulse == pytest.approx(slope, rel=1e-9)
        assert b.intercept_S == pytest.approx(intercept, rel=1e-9)
        assert b.r_squared == pytest.approx(r2, rel=1e-9)
        assert b.bin_width_S == pytest.approx(np.mean(np.abs(np.diff(means))), rel=1e-9)
    assert np.all(np.diff(up.state_mean_S) > 0) and np.all(np.diff(dn.state_mean_S) < 0)  # programming order
    every = np.concatenate([up.state_mean_S, dn.state_mean_S])
    assert (d.g_min_S, d.g_max_S) == (pytest.approx(every.min(), rel=1e-12), pytest.approx(every.max(), rel=1e-12))
    assert d.dynamic_range == pytest.approx(every.max() / every.min(), rel=1e-9)
    assert d.sigma_mean_S == pytest.approx(np.mean(np.concatenate([up.state_sigma_S, dn.state_sigma_S])), rel=1e-9)
    assert d.symmetry.slope_ratio == pytest.approx(abs(dn.slope_S_per_pulse) / up.slope_S_per_pulse, rel=1e-9)
    assert d.symmetry.nonlinearity_asymmetry == pytest.approx(up.nonlinearity - dn.nonlinearity, abs=1e-12)
    assert d.n_bins == _bins_by_hand(up.state_mean_S, up.state_sigma_S, dn.state_mean_S, dn.state_sigma_S, d.k_sigma)
    assert d.drift is not None and d.drift.span_s > 900 and d.energy_per_cycle_J.source == "measured"
    nus = [s.nu for s in d.drift.states]
    assert d.drift.nu_mean == pytest.approx(np.mean(nus), rel=1e-9)
    assert d.drift.nu_std == pytest.approx(np.std(nus, ddof=1), rel=1e-9)
    assert isinstance(up.state_mean_S, tuple)


def test_a_measured_value_without_source_runs_is_refused():
    data = paper_dict()
    data["source_runs"] = []
    with pytest.raises(SchemaError, match=r"energy_per_cycle_J.source.*'measured' but source_runs is empty"):
        dfm.from_dict(data, source="typed.json")
    data["energy_per_cycle_J"] = None  # nothing claimed as measured: a hand-made test device is fine
    dfm.from_dict(data, source="typed.json")


def test_round_trip_identity(tmp_path):
    d = load_device_file(PAPER)
    out = save_device_file(d, tmp_path / "sub" / "x.json")
    assert load_device_file(out) == d
    assert dfm.from_dict(dfm.to_dict(d)) == d


@settings(max_examples=25, deadline=None)
@given(g=st.floats(1e-7, 1e-2), step=st.floats(1e-8, 1e-4), n=st.integers(2, 40),
       sigma=st.floats(0, 1e-4), nu=st.one_of(st.none(), st.floats(-1, 1)))
def test_round_trip_property(tmp_path_factory, g, step, n, sigma, nu):
    means = tuple(g + i * step for i in range(n))
    b = dfm.Branch(0, n, "fixed", step, g, 0.9, step, 0.1, means, (sigma,) * n)
    drift = None if nu is None else dfm.Drift(nu, 0.0, 1.0, -0.01, 100.0)
    d = dfm.DeviceFile(dfm.SCHEMA_VERSION, dfm.KIND, "0", dfm.utc_now(), (dfm.SourceRun("u", "f", "h", "complete"),),
                       10, 2.0, 1, g, means[-1], means[-1] / g, n, 2 * n - 1, sigma, dfm.Branches(b, b),
                       dfm.Symmetry(1.0, 0.0), None, None, drift,
                       {"n_bins": dfm.Interval(1.0, 3.0, 0.95)}, dfm.D2D(2, {"g_min_S": dfm.Stat(g, 0.0)}))
    path = tmp_path_factory.mktemp("rt") / "d.json"
    assert load_device_file(save_device_file(d, path)) == d


def _write(tmp_path, data, raw=None) -> pathlib.Path:
    p = tmp_path / "bad.json"
    p.write_text(raw if raw is not None else json.dumps(data))
    return p


def _mutate(path_keys, value=None, delete=False):
    data = paper_dict()
    obj = data
    for k in path_keys[:-1]:
        obj = obj[k]
    if delete:
        del obj[path_keys[-1]]
    else:
        obj[path_keys[-1]] = value
    return data


@pytest.mark.parametrize("keys, value, delete, expect", [
    (["g_min_S"], None, True, "'g_min_S' is missing"),
    (["branches", "depression", "r_squared"], None, True, "'branches.depression.r_squared' is missing"),
    (["n_bins"], "31", False, "'n_bins' must be an integer"),
    (["n_bins"], 31.0, False, "'n_bins' must be an integer"),
    (["k_sigma"], True, False, "'k_sigma' must be a number"),
    (["sigma_mean_S"], None, False, "'sigma_mean_S' must be a number"),
    (["g_min_S"], -1e-3, False, "'g_min_S' must be >= 0"),
    (["branches", "potentiation", "state_mean_S", 3], -1e-6, False,
     "'branches.potentiation.state_mean_S[3]' must be >= 0"),
    (["branches", "potentiation", "state_sigma_S"], 1.0, False, "must be a list"),
    (["energy_per_cycle_J", "source"], "guessed", False, "allowed"),
    (["schema_version"], 99, False, "'schema_version' is 99"),
    (["schema_version"], None, True, "'schema_version' is None"),
    (["kind"], "something-else", False, "not a memlab device file"),
    (["surprise"], 1, False, "'surprise' is not a known key"),
    (["branches", "potentiation", "state_sigma_S"], [1e-6] * 3, False, "has 3 states"),
    (["g_min_S"], 1.0, False, "exceeds g_max_S"),
    (["n_bins"], 40, False, "exceeds 2 * states_per_branch - 1"),
])
def test_bad_files_are_refused_naming_file_and_key(tmp_path, keys, value, delete, expect):
    p = _write(tmp_path, _mutate(keys, value, delete))
    with pytest.raises(SchemaError) as err:
        load_device_file(p)
    assert str(p) in str(err.value)
    assert expect in str(err.value)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(tmp_path, token):
    text = PAPER.read_text()
    value = json.dumps(json.loads(text)["sigma_mean_S"])
    raw = text.replace(f'"sigma_mean_S": {value}', f'"sigma_mean_S": {token}')
    assert token in raw
    with pytest.raises(SchemaError, match="sigma_mean_S|NaN|Infinity"):
        load_device_file(_write(tmp_path, None, raw))


def test_not_json_and_not_object_and_missing(tmp_path):
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_device_file(_write(tmp_path, None, "{oops"))
    with pytest.raises(SchemaError, match="must be a JSON object"):
        load_device_file(_write(tmp_path, [1, 2]))
    with pytest.raises(DataNotFoundError):
        load_device_file(tmp_path / "nope.json")


def test_save_refuses_nan_and_keeps_old_file(tmp_path):
    d = load_device_file(PAPER)
    out = save_device_file(d, tmp_path / "d.json")
    bad = copy.deepcopy(d)
    object.__setattr__(bad, "sigma_mean_S", float("nan"))
    with pytest.raises(SchemaError, match="sigma_mean_S"):
        save_device_file(bad, out)
    assert load_device_file(out) == d


def test_every_key_is_documented():
    import dataclasses

    doc = (ROOT / "docs" / "DEVICE_FILE.md").read_text()
    seen = set()

    def walk(cls):
        for f in dataclasses.fields(cls):
            seen.add(f.name)
            for arg in getattr(f.type, "__args__", ()) + (f.type,):
                t = getattr(dfm, str(arg).split("|")[0].strip(), None) if isinstance(arg, str) else arg
                if dataclasses.is_dataclass(t) and t is not cls:
                    walk(t)

    walk(dfm.DeviceFile)
    for sub in (dfm.Branch, dfm.SourceRun, dfm.Symmetry, dfm.EnergyPerCycle, dfm.Drift, dfm.DriftState, dfm.Interval, dfm.D2D,
                dfm.IVSummary, dfm.EnduranceSummary):
        walk(sub)
    import re

    missing = sorted(k for k in seen if not re.search(rf"[`{{.,] ?{k}[`}},.:]", doc))
    assert not missing, f"keys not documented in docs/DEVICE_FILE.md: {missing}"
