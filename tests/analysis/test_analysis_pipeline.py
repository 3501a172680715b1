"""Run archives → device file through the archive reader, the CLI and the figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memlab.analysis.device_file import load_device_file
from memlab.analysis.pipeline import AnalyzeOptions, analyze, analyze_runs, format_table, parse_windows
from memlab.cli import main
from memlab.errors import ConfigError
from memlab.protocols.archive import RetentionData, write_archive, write_pulse_archive

import analysis_synth as synth


def _archive(path, cycles=60, seed=0, device_id=None, **kw):
    truth, pd = synth.pulse_data(cycles=cycles, seed=seed, **kw)
    attrs = {"device_id": device_id} if device_id else {}
    write_pulse_archive(path, pd, {"name": "synthetic"}, attrs, kind="pulse_cycling")
    return truth


def test_analyze_archive_recovers_truth_and_energy(tmp_path):
    truth = _archive(tmp_path / "a.h5", cycles=80, flag_every=97)
    out = tmp_path / "dev.json"
    res = analyze([tmp_path / "a.h5"], out, options=AnalyzeOptions(n_boot=200))
    d = load_device_file(out)
    assert (d.states_per_branch, d.n_bins) == (16, 31)
    assert d.branch("potentiation").bin_width_S == pytest.approx(synth.BW_S, rel=0.03)
    assert d.energy_per_cycle_J.mean == pytest.approx(40 * 0.6e-9, rel=1e-6)
    assert d.energy_per_cycle_J.source == "measured"
    assert d.energy_per_pulse_J.mean == pytest.approx(0.6e-9, rel=1e-6)
    assert d.source_runs[0].file == "a.h5" and len(d.source_runs[0].sha256) == 64
    assert d.source_runs[0].status == "complete"
    assert res.read_quality.n_flagged > 0  # the absurd flagged currents were excluded ...
    assert d.g_max_S < 3e-3  # ... and never reached the numbers
    assert any("status flag" in n for n in res.notes)
    table = format_table(d, compare_paper=True)
    assert "81.077" in table and "31" in table


def test_several_devices_give_d2d(tmp_path):
    # devices 200 uS apart: pooled naively their spread would swamp the 23.7 uS cycle-to-cycle sigma
    for k in range(3):
        _archive(tmp_path / f"d{k}.h5", cycles=30, seed=k, device_id=f"dev{k}", waveform=False,
                 offset_S=200e-6 * k)
    res = analyze_runs([tmp_path / f"d{k}.h5" for k in range(3)], AnalyzeOptions(n_boot=50))
    d = res.device
    assert d.sigma_mean_S == pytest.approx(synth.SIGMA_S, rel=0.1)
    assert (d.states_per_branch, d.n_bins) == (16, 31)
    assert d.d2d.quantities["g_min_S"].std == pytest.approx(200e-6, rel=0.1)
    assert d.d2d is not None and d.d2d.n_devices == 3
    assert d.d2d.quantities["branches.potentiation.slope_S_per_pulse"].mean == pytest.approx(synth.BW_S, rel=0.05)
    assert d.n_cycles == 90 and len(d.source_runs) == 3 and d.energy_per_cycle_J is None
    assert set(res.per_device) == {"dev0", "dev1", "dev2"}


def test_retention_run_gives_drift(tmp_path):
    _archive(tmp_path / "p.h5", cycles=20, waveform=False)
    t = np.logspace(0, 3, 20)[None, :].repeat(4, axis=0)
    g = np.linspace(1e-3, 2e-3, 4)[:, None] * (1 + t / 0.1) ** -0.01
    write_archive(tmp_path / "r.h5", kind="retention", protocol={"name": "ret"},
                  retention=RetentionData(np.arange(4), t, np.full(t.shape, -0.1), -0.1 * g,
                                          np.zeros(t.shape, np.uint16)))
    d = analyze_runs([tmp_path / "p.h5", tmp_path / "r.h5"], AnalyzeOptions(n_boot=0)).device
    assert d.drift.nu_mean == pytest.approx(0.01, rel=1e-4) and d.drift.t0_s == pytest.approx(0.1, rel=1e-3)
    assert len(d.drift.states) == 4 and d.drift.law == "G(t) = G(0) * (1 + t / t0_s) ** -nu"
    assert d.drift.span_s == pytest.approx(999.0)
    assert d.confidence_intervals == {}


def test_mismatched_schedules_and_empty_inputs_are_refused(tmp_path):
    _archive(tmp_path / "a.h5", cycles=10, waveform=False)
    truth, pd = synth.pulse_data(cycles=10, waveform=False)
    from memlab.protocols.archive import PulseData
    short = PulseData(10, 30, pd.pulse_amplitude_V, pd.pulse_width_s, pd.read_time_s, pd.read_voltage_V,
                      pd.read_current_A, pd.read_status)
    write_pulse_archive(tmp_path / "b.h5", short, {"name": "x"}, kind="pulse_cycling")
    with pytest.raises(ConfigError, match="share the schedule"):
        analyze_runs([tmp_path / "a.h5", tmp_path / "b.h5"])
    with pytest.raises(ConfigError):
        analyze_runs([])


def test_parse_windows():
    assert parse_windows("up=2:18,down=1:17") == {"potentiation": (2, 18), "depression": (1, 17)}
    assert parse_windows(None) is None
    for bad in ("up=2-18", "left=1:2", "up=a:b"):
        with pytest.raises(ConfigError, match="--window"):
            parse_windows(bad)


def test_cli_analyze_with_figures_and_fixed_window(tmp_path, capsys):
    _archive(tmp_path / "a.h5", cycles=40)
    out, figs = tmp_path / "d.json", tmp_path / "figs"
    rc = main(["analyze", str(tmp_path / "a.h5"), "--out", str(out), "--figures", str(figs),
               "--window", "up=2:18,down=2:18", "--bootstrap", "100"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "states per branch" in text and "95% CI" in text
    d = json.loads(out.read_text())
    assert d["branches"]["potentiation"]["window_start_pulse"] == 2
    assert d["branches"]["potentiation"]["window_reason"].startswith("fixed by the user")
    names = {p.name for p in figs.iterdir()}
    for stem in ("cycles", "window", "sigma", "bins", "energy"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
        assert (figs / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (figs / f"{stem}.svg").read_bytes()[:2000]


def test_cli_analyze_bad_input_exits_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "d.json")]) == 2
    (tmp_path / "junk.h5").write_text("not hdf5")
    assert main(["analyze", str(tmp_path / "junk.h5"), "--out", str(tmp_path / "d.json")]) == 2
    _archive(tmp_path / "a.h5", cycles=10, waveform=False)
    assert main(["analyze", str(tmp_path / "a.h5"), "--out", str(tmp_path / "d.json"), "--window", "up=1"]) == 2
    assert main(["analyze", str(tmp_path / "a.h5"), "--out", str(tmp_path / "d.json"), "--k-sigma", "0"]) == 2
    assert "memlab: error" in capsys.readouterr().err


def test_interrupted_run_and_applied_waveform_are_reported(tmp_path):
    from memlab.protocols.archive import PulseData, WaveformData

    truth, pd = synth.pulse_data(cycles=20)
    wf = pd.waveform
    applied = PulseData(pd.n_up, pd.n_down, pd.pulse_amplitude_V, pd.pulse_width_s, pd.read_time_s,
                        pd.read_voltage_V, pd.read_current_A, pd.read_status, None,
                        WaveformData(wf.time_s, wf.voltage_V, wf.current_A, wf.pulse_index, measured=False))
    write_pulse_archive(tmp_path / "i.h5", applied, {"name": "x"}, status="interrupted", kind="pulse_cycling",
                        reason="stopped by the user (Ctrl-C)")
    res = analyze_runs([tmp_path / "i.h5"], AnalyzeOptions(n_boot=0))
    assert res.device.energy_per_cycle_J.source == "applied_waveform"
    assert res.device.source_runs[0].status == "interrupted"
    notes = " ".join(res.notes)
    assert "interrupted" in notes and "programmed voltage waveform" in notes
