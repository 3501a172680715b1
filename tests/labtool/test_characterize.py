"""I-V, endurance and single-trace analyses: synthetic truth, the real external files, the device-file keys."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np
import pytest

from memlab.analysis import device_file as dfm
from memlab.analysis.endurance import endurance_analysis
from memlab.analysis.import_endurance import read_keithley_endurance_csv
from memlab.analysis.iv import iv_analysis
from memlab.cli import main
from memlab.errors import ConfigError, ImportDataError
from tests.helpers.shared_data import SHARED_DATA, needs_shared_data

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXTERNAL = SHARED_DATA / "external"
needs_external = needs_shared_data("external")  # required under CI, else skipped
KEITHLEY = EXTERNAL / "keithley4200-endurance"
SUMMARY = KEITHLEY / "05 endurance ratio csv.csv"
PAPER = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
IV_RUN = ROOT / "sample_data" / "runs" / "iv-sweep-sim.h5"


def _bipolar_sweep(g_hrs=1e-5, g_lrs=1e-3, v_set=0.8, v_reset=-0.6, stop=1.2, step=0.01, state="hrs"):
    """One sweep 0 -> +stop -> 0 -> -stop -> 0 of an ideal abrupt device; returns (V, I, final state)."""
    legs = [np.arange(0, stop + step / 2, step), np.arange(stop, -step / 2, -step),
            np.arange(0, -stop - step / 2, -step), np.arange(-stop, step / 2, step)]
    v = np.concatenate(legs)
    i = np.empty_like(v)
    for k, x in enumerate(v):
        if state == "hrs" and x >= v_set:
            state = "lrs"
        elif state == "lrs" and x <= v_reset:
            state = "hrs"
        i[k] = x * (g_lrs if state == "lrs" else g_hrs)
    return v, i, state


def test_iv_finds_set_reset_states_and_forming():
    sweeps = []
    state = "hrs"
    for k in range(6):
        v, i, state = _bipolar_sweep(v_set=1.1 if k == 0 else 0.8, g_hrs=1e-7 if k == 0 else 1e-5, state=state)
        sweeps.append((v, i))
    v = np.array([s[0] for s in sweeps])
    i = np.array([s[1] for s in sweeps])
    r = iv_analysis(v, i, read_voltage_V=0.1)
    assert r.n_sweeps == 6 and r.forming_sweep == 0 and r.forming_V == pytest.approx(1.1)
    np.testing.assert_allclose(r.cycling(r.v_set_V), 0.8, atol=1e-9)
    np.testing.assert_allclose(r.v_reset_V, -0.6, atol=1e-9)
    np.testing.assert_allclose(r.g_lrs_S, 1e-3)
    np.testing.assert_allclose(r.g_hrs_S[1:], 1e-5)
    np.testing.assert_allclose(r.cycling(r.on_off_ratio), 100)
    with pytest.raises(ConfigError, match="read_voltage_V"):
        iv_analysis(v, i, read_voltage_V=0)


def test_analyze_points_iv_runs_to_characterize(tmp_path, capsys):
    assert main(["analyze", str(IV_RUN), "--out", str(tmp_path / "d.json")]) == 2
    assert "memlab characterize" in capsys.readouterr().err


def test_iv_of_the_simulated_bipolar_sweep():
    from memlab.protocols.archive import read_run

    iv = read_run(IV_RUN).iv
    r = iv_analysis(iv.voltage_V, iv.current_A, iv.status)
    assert np.all(r.v_set_V > 0) and np.all(r.v_reset_V < 0) and np.all(r.on_off_ratio > 1.2)
    assert r.forming_sweep is None


@needs_external
def test_iv_of_the_keithley_xlsx_reproduces_clarius_own_numbers(tmp_path):
    """The export's Calc columns hold Clarius' VSET, ILRS, IHRS (read at -0.2 V): ours must agree."""
    from memlab.analysis.importers import read_keithley_xlsx

    iv, sheets = read_keithley_xlsx(KEITHLEY / "05 endurance set.xlsx")
    r = iv_analysis(iv.voltage_V, iv.current_A, iv.status, read_voltage_V=0.2)
    rows = {int(row[0]): row for row in csv.reader(SUMMARY.read_text(encoding="utf-8-sig").splitlines()[2:])
            if row and row[0].isdigit()}
    for k, sheet in enumerate(sheets):
        row = rows[int(sheet[3:])]
        assert abs(r.v_set_V[k]) == pytest.approx(float(row[3]), abs=1e-6), sheet
        assert r.g_lrs_S[k] * 0.2 == pytest.approx(float(row[1]), rel=1e-6), sheet
        assert r.g_hrs_S[k] * 0.2 == pytest.approx(float(row[2]), rel=1e-6), sheet


@needs_external
def test_endurance_of_the_keithley_summary():
    d = read_keithley_endurance_csv(SUMMARY)
    assert d.cycle.size == 1000 and d.groups == ("RESET", "SET")
    r = endurance_analysis(d.cycle, d.i_lrs_A / 0.2, d.i_hrs_A / 0.2)
    ratio = d.reset_i_hrs_A.size and d.set_i_lrs_A / d.reset_i_hrs_A
    np.testing.assert_allclose(r.ratio, ratio)
    assert r.closing_decades_per_decade < 0  # this device's window closes slowly
    s = r.summary()
    assert s["g_lrs_S_last"] < s["g_lrs_S_first"] and s["g_hrs_S_last"] < s["g_hrs_S_first"]
    assert r.cycles_to_min_ratio is not None  # the run of ~13 stuck cycles near the end


def test_endurance_fit_recovers_a_known_power_law():
    c = np.arange(1, 2001)
    lrs = np.full(c.size, 1e-3)
    hrs = 1e-5 * c ** 0.5  # ratio = 100 * c^-0.5: 1 decade per 2 decades; below 10 from cycle 100
    r = endurance_analysis(c, lrs, hrs, min_ratio=10, window=1)
    assert r.closing_decades_per_decade == pytest.approx(-0.5)
    assert r.projected_cycles_to_min_ratio == pytest.approx(100)
    assert r.cycles_to_min_ratio == 101
    with pytest.raises(ConfigError, match="differ in length"):
        endurance_analysis(c, lrs[:-1], hrs)


def test_endurance_reader_refuses_garbage_by_row_and_column(tmp_path):
    bad = tmp_path / "e.csv"
    bad.write_text("Cycle,SET#1,SET#1\nIndex,ILRS,IHRS\n1,1e-4,1e-6\n2,oops,1e-6\n")
    with pytest.raises(ImportDataError, match=r"row 4, column 2 \(ILRS\): 'oops'"):
        read_keithley_endurance_csv(bad)
    bad.write_text("Time,a\n")
    with pytest.raises(ImportDataError, match="Cycle"):
        read_keithley_endurance_csv(bad)


@needs_external
def test_cli_characterize_adds_the_keys_to_a_device_file(tmp_path, capsys):
    device = tmp_path / "device.json"
    device.write_text(PAPER.read_text())
    figures = tmp_path / "fig"
    assert main(["characterize", str(IV_RUN), "--endurance", str(SUMMARY), "--endurance-read-voltage", "0.2",
                 "--device", str(device), "--out", str(tmp_path / "char.json"), "--figures", str(figures)]) == 0
    out = capsys.readouterr().out
    assert "I-V: 3 sweeps" in out and "endurance: 1000 cycles" in out
    d = dfm.load_device_file(device)
    assert d.schema_version == 3 and d.iv.n_sweeps == 3 and d.endurance.n_cycles == 1000
    assert d.iv.v_set_V.mean > 0 and d.iv.v_reset_V.mean < 0
    assert d.endurance.source_file == SUMMARY.name
    char = json.loads((tmp_path / "char.json").read_text())
    assert char["kind"] == "memlab-characterization" and char["iv"] == dfm.to_dict(d.iv)
    assert {p.name for p in figures.iterdir()} >= {"iv_loops.png", "iv_states.png", "endurance.png"}
    assert main(["characterize", "--endurance", str(SUMMARY), "--out", str(tmp_path / "x.json")]) == 2
    assert "--endurance-read-voltage" in capsys.readouterr().err
    assert main(["characterize", str(ROOT / "sample_data" / "runs" / "paper-tailored-sim.h5"),
                 "--out", str(tmp_path / "x.json")]) == 2


def test_version_1_device_files_still_load(tmp_path):
    data = json.loads(PAPER.read_text())
    assert data["schema_version"] == dfm.SCHEMA_VERSION == 3
    for key in ("sigma_source", "iv", "endurance"):  # what version 2 added
        del data[key]
    data["schema_version"] = 1
    old = tmp_path / "v1.json"
    old.write_text(json.dumps(data))
    d = dfm.load_device_file(old)
    assert d.sigma_source == "cycle_to_cycle" and d.iv is None and d.endurance is None
    assert dfm.to_dict(d) | {"schema_version": 1} == dfm.to_dict(dfm.load_device_file(PAPER)) | {"schema_version": 1}


@needs_external
def test_single_gong_trace_gives_a_device_file_with_within_trace_sigma(tmp_path, capsys):
    run = tmp_path / "gong.h5"
    assert main(["import", "--layout", "branch-columns", "--quantity", "unitless", "--scale-S", "1e-5",
                 "--offset-S", "3e-5", str(EXTERNAL / "gong-2018-pulse-response" / "gong_et_al.csv"),
                 "--out", str(run)]) == 0
    assert main(["analyze", str(run), "--out", str(tmp_path / "g.json"), "--bootstrap", "0", "--pulses-per-state", "100",
                 "--figures", str(tmp_path / "fig")]) == 0
    assert "within-trace" in capsys.readouterr().out
    d = dfm.load_device_file(tmp_path / "g.json")
    assert d.sigma_source == "within_trace" and d.n_cycles == 1 and d.states_per_branch >= 2
    assert 0 < d.sigma_mean_S < d.branch("potentiation").bin_width_S
