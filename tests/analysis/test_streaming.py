"""Block-by-block analysis against the whole arrays in memory: the same device file to rounding.

The reference is :func:`extract` on the stacked arrays of every run (what ``analyze``
did before it read cycles in blocks); the streamed path must give the same states,
windows, bins, σ, energy and bootstrap intervals whatever the block size, and a
cycle range of a long archive the same as an archive holding only those cycles.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from memlab.analysis.conductance import conductance
from memlab.analysis.device_file import to_dict as device_file_to_dict
from memlab.analysis.energy import Energy, pulse_energy
from memlab.analysis.extraction import extract, to_device_file
from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs
from memlab.analysis.streaming import Moments
from memlab.protocols.archive import PulseData, WaveformData, read_run, write_pulse_archive

import analysis_synth as synth

_SKIP = {"created_utc", "source_runs", "memlab_version"}


def _in_memory(paths, options: AnalyzeOptions):
    """The whole-array reference: every run's reads stacked, devices moved onto the average device."""
    runs = [read_run(p) for p in paths]
    gs, devs, energies = [], [], []
    for r in runs:
        p = r.pulses
        gs.append(conductance(p.read_current_A, p.read_voltage_V, p.read_status, p.read_conductance_S).g_S)
        devs += [r.attrs.get("device_id") or r.uuid if len(runs) > 1 else r.uuid] * p.n_cycles
        if p.waveform is not None:
            w = p.waveform
            energies.append(pulse_energy(w.time_s, w.voltage_V, w.current_A, w.pulse_index, p.pulses_per_cycle))
    g, devs = np.vstack(gs), np.array(devs)
    ids = list(dict.fromkeys(devs.tolist()))
    if len(ids) > 1:
        means = {d: np.nanmean(g[devs == d], axis=0) for d in ids}
        grand = np.nanmean(np.vstack(list(means.values())), axis=0)
        g = g.copy()
        for d in ids:
            g[devs == d] += grand - means[d]
    energy = None
    if energies:
        energy = Energy(np.vstack([e.per_pulse_J for e in energies]),
                        np.concatenate([e.per_cycle_J for e in energies]), "measured")
    p0 = runs[0].pulses
    return extract(g, p0.n_up, p0.n_down, energy=energy, k_sigma=options.k_sigma, r2_min=options.r2_min,
                   n_boot=options.n_boot, level=options.level, seed=options.seed)


def _flat(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if k not in _SKIP and k != "d2d":
                out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(tree, (list, tuple)):
        return {f"{prefix}{i}": v for i, v in enumerate(tree)}
    return {prefix.rstrip("."): tree}


def _assert_same(a, b, rel=1e-9):
    fa, fb = _flat(device_file_to_dict(a)), _flat(device_file_to_dict(b))
    assert fa.keys() == fb.keys()
    for key in fa:
        x, y = fa[key], fb[key]
        if isinstance(x, float) and isinstance(y, float):
            # the nonlinearity is a bounded minimiser's answer (xatol 1e-6): rounding may move it within that
            tol = 1e-6 if key.endswith("nonlinearity") else 1e-18
            assert x == pytest.approx(y, rel=rel, abs=tol) or (math.isnan(x) and math.isnan(y)), key
        else:
            assert x == y, key


def _write(path, cycles, seed=0, device_id=None, waveform=True, **kw):
    _, pd = synth.pulse_data(cycles=cycles, seed=seed, waveform=waveform, **kw)
    write_pulse_archive(path, pd, {"name": "synthetic"}, {"device_id": device_id} if device_id else {},
                        kind="pulse_cycling")
    return pd


def test_moments_merge_equals_the_whole_column_statistics():
    rng = np.random.default_rng(3)
    x = rng.normal(1e-3, 2e-5, (1001, 5))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 4] = np.nan
    x[7, 4] = 1.0  # one value: a mean but no sigma
    merged = Moments.empty(5)
    for a in range(0, 1001, 97):
        merged = merged.merge(Moments.of(x[a:a + 97]))
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        sigma = np.nanstd(x, axis=0, ddof=1)
    assert np.array_equal(merged.n, np.isfinite(x).sum(axis=0))
    np.testing.assert_allclose(merged.mean_or_nan, np.nanmean(x, axis=0), rtol=1e-13)
    np.testing.assert_allclose(merged.sigma[:4], sigma[:4], rtol=1e-11)
    assert np.isnan(merged.sigma[4])


@pytest.mark.parametrize("chunk", [0, 1, 7, 64])
def test_streamed_analysis_equals_the_in_memory_one(tmp_path, chunk):
    # 150 cycles with flagged reads: blocks of 1, 7 (a boundary inside every state's run of
    # reads) and 64 cycles, and 0 (the default, all 150 in one block)
    _write(tmp_path / "a.h5", 150, flag_every=97)
    opts = AnalyzeOptions(n_boot=300, seed=4, chunk_cycles=chunk)
    streamed = analyze_runs([tmp_path / "a.h5"], opts)
    ref = _in_memory([tmp_path / "a.h5"], opts)
    _assert_same(streamed.device, to_device_file(ref))
    assert streamed.device.confidence_intervals.keys() == ref.intervals.keys() and len(ref.intervals) == 7
    assert streamed.extraction.energy.pulse_mean_std_J == pytest.approx(ref.energy.pulse_mean_std_J, rel=1e-12)
    np.testing.assert_allclose(streamed.extraction.trace_g_S, ref.trace_g_S, rtol=1e-15)


def test_streamed_devices_equal_the_in_memory_average_device(tmp_path):
    paths = []
    for k, cycles in enumerate((40, 25, 33)):
        paths.append(tmp_path / f"d{k}.h5")
        _write(paths[-1], cycles, seed=k, device_id=f"dev{k % 2}", waveform=False, offset_S=150e-6 * (k % 2))
    opts = AnalyzeOptions(n_boot=200, chunk_cycles=9)
    streamed = analyze_runs(paths, opts)
    ref = _in_memory(paths, opts)
    _assert_same(streamed.device, to_device_file(ref))
    assert streamed.device.d2d.n_devices == 2 and streamed.device.n_cycles == 98


def test_a_cycle_range_equals_an_archive_of_only_those_cycles(tmp_path):
    pd = _write(tmp_path / "long.h5", 200, seed=2)
    a, b = 37, 151
    w = pd.waveform
    part = dataclasses.replace(pd, read_time_s=pd.read_time_s[a:b], read_voltage_V=pd.read_voltage_V[a:b],
                               read_current_A=pd.read_current_A[a:b], read_status=pd.read_status[a:b],
                               waveform=WaveformData(w.time_s, w.voltage_V[a:b], w.current_A[a:b],
                                                     w.pulse_index, w.measured))
    write_pulse_archive(tmp_path / "part.h5", part, {"name": "synthetic"}, kind="pulse_cycling")
    sliced = analyze_runs([tmp_path / "long.h5"], AnalyzeOptions(n_boot=200, cycles=((a, b),), chunk_cycles=16))
    alone = analyze_runs([tmp_path / "part.h5"], AnalyzeOptions(n_boot=200))
    _assert_same(sliced.device, alone.device)
    assert sliced.device.n_cycles == b - a
    assert any(f"cycles {a}:{b}" in n for n in sliced.notes)


def test_a_cycle_range_outside_the_archive_is_refused(tmp_path):
    from memlab.errors import ConfigError

    _write(tmp_path / "a.h5", 20, waveform=False)
    with pytest.raises(ConfigError, match="at least one cycle in cycles 50:60"):
        analyze_runs([tmp_path / "a.h5"], AnalyzeOptions(cycles=((50, 60),)))
    with pytest.raises(ConfigError, match="cycle range 5:5"):
        AnalyzeOptions(cycles=((5, 5),))


def test_pulse_chunks_cover_the_cycles_once_in_order(tmp_path):
    pd = _write(tmp_path / "a.h5", 23)
    run = read_run(tmp_path / "a.h5")
    blocks = list(run.pulse_chunks([(0, 10), (15, 40)], chunk_cycles=4))
    assert [(b.first_cycle, b.n_cycles) for b in blocks] == [(0, 4), (4, 4), (8, 2), (15, 4), (19, 4)]
    got = np.vstack([b.read_current_A for b in blocks])
    assert np.array_equal(got, np.vstack([pd.read_current_A[:10], pd.read_current_A[15:]]))
    assert np.array_equal(np.vstack([b.waveform.current_A for b in blocks])[10:], pd.waveform.current_A[15:])
    assert all(b.waveform is None for b in run.pulse_chunks(chunk_cycles=5, waveforms=False))
    assert isinstance(run.pulses, PulseData) and run.pulses.n_cycles == 23 == run.n_cycles


def test_every_gives_one_extraction_per_window_and_figures(tmp_path):
    import json

    from memlab.cli import main

    _write(tmp_path / "a.h5", 120, seed=5)
    out, figs = tmp_path / "dev.json", tmp_path / "figs"
    rc = main(["analyze", str(tmp_path / "a.h5"), "--out", str(out), "--figures", str(figs),
               "--cycles", "10:40", "--every", "50", "--bootstrap", "100"])
    assert rc == 0
    wear = json.loads((tmp_path / "dev.wear.json").read_text())
    assert [(w["start_cycle"], w["stop_cycle"]) for w in wear["windows"]] == [(10, 40), (60, 90)]
    run = read_run(tmp_path / "a.h5")
    # each window equals the analysis of that window alone; the device file pools both windows
    alone = analyze_runs([tmp_path / "a.h5"], AnalyzeOptions(n_boot=100, cycles=((60, 90),))).device
    w = wear["windows"][1]
    assert (w["n_cycles"], w["n_bins"], w["states_per_branch"]) == (30, alone.n_bins, alone.states_per_branch)
    assert w["sigma_mean_S"] == pytest.approx(alone.sigma_mean_S, rel=1e-12)
    assert w["energy_per_cycle_J"] == pytest.approx(alone.energy_per_cycle_J.mean, rel=1e-12)
    assert w["sigma_mean_S_ci"][0] < w["sigma_mean_S"] < w["sigma_mean_S_ci"][1]
    assert wear["source_runs"][0]["uuid"] == run.uuid
    pooled = json.loads(out.read_text())
    assert pooled["n_cycles"] == 60
    for name in ("wear_bins", "wear_sigma", "wear_energy", "cycles", "window"):
        assert (figs / f"{name}.png").stat().st_size > 0


@pytest.mark.parametrize("args, match", [
    (["--cycles", "x:3"], "--cycles: cannot parse 'x:3'"),
    (["--cycles", "9:4"], "--cycles 9:4: need 0 <= A < B"),
    (["--every", "0"], "--every 0: must be >= 1"),
    (["--every", "1"], "windows of 1 cycle"),
    (["--cycles", "15:30", "--every", "500"], "no window of 15 cycles fits in the 20"),
])
def test_bad_cycle_selections_exit_2_naming_the_flag(tmp_path, capsys, args, match):
    from memlab.cli import main

    _write(tmp_path / "a.h5", 20, waveform=False)
    assert main(["analyze", str(tmp_path / "a.h5"), "--out", str(tmp_path / "d.json"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and "\n" not in err
    assert not (tmp_path / "d.json").exists()


def test_a_worn_out_window_is_reported_not_fatal(tmp_path):
    from memlab.analysis.wear import analyze_windows

    pd = _write(tmp_path / "a.h5", 40, waveform=False)
    status = pd.read_status.copy()
    status[20:] = 1  # the second half flagged: no usable reads
    write_pulse_archive(tmp_path / "b.h5", dataclasses.replace(pd, read_status=status), {"name": "x"},
                        kind="pulse_cycling")
    points = analyze_windows([read_run(tmp_path / "b.h5")], [(0, 20), (20, 40)], AnalyzeOptions(n_boot=0))
    assert points[0].n_bins > 0 and not points[0].error
    assert "0 cycle(s) with usable reads" in points[1].error


def test_info_reads_the_time_span_from_the_ends_only(tmp_path):
    from memlab.protocols import info

    pd = _write(tmp_path / "a.h5", 30, waveform=False)
    t = pd.read_time_s.copy()
    t[:12] = np.nan  # an import without times in its first cycles
    t[-3:] = np.nan
    write_pulse_archive(tmp_path / "b.h5", dataclasses.replace(pd, read_time_s=t), {"name": "x"},
                        kind="pulse_cycling")
    finite = t[np.isfinite(t)]
    s = info.run_summary(tmp_path / "b.h5")
    assert s["time_span_s"] == [float(finite[0]), float(finite[-1])] and s["cycles_completed"] == 30
    assert info._pulse_span(read_run(tmp_path / "b.h5"), block=4) == s["time_span_s"]  # blocks without a time
