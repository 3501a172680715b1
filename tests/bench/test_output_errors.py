"""The small output errors of issue #20, one test each: valid JSON, flags in messages, folders, one-line errors."""

from __future__ import annotations

import json
import pathlib

import h5py
import numpy as np
import pytest

from memlab.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNS = ROOT / "sample_data" / "runs"
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"


def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


def test_info_json_is_valid_with_null_for_missing_times(tmp_path, capsys):
    path = tmp_path / "nan.h5"
    path.write_bytes((RUNS / "paper-tailored-sim.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        t = f["pulses/read_time_s"]
        t[...] = np.nan
    rc, out, err = run(capsys, "info", path, "--json")
    assert rc == 0, err
    summary = json.loads(out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert summary["time_span_s"] is None


def test_info_without_a_planned_count_prints_no_none(tmp_path, capsys):
    path = tmp_path / "iv.h5"
    path.write_bytes((RUNS / "iv-sweep-sim.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        proto = json.loads(f.attrs["protocol_json"])
        proto.pop("sweeps")
        f.attrs["protocol_json"] = json.dumps(proto)
    from memlab.protocols.info import format_summary, run_summary

    text = format_summary(run_summary(path))
    assert "None" not in text and "sweeps      3, 244 points" in text


@pytest.mark.parametrize("args, flag", [
    (["analyze", RUNS / "paper-tailored-sim.h5", "--out", "{tmp}/d.json", "--bootstrap", "-1"], "--bootstrap -1"),
    (["analyze", RUNS / "paper-tailored-sim.h5", "--out", "{tmp}/d.json", "--k-sigma", "0"], "--k-sigma 0"),
    (["simulate", ROOT / "sample_data/devices/virtual-hfs2.json", "--d2d", "5", "--out", "{tmp}/r.json",
      "--task", "digits"], "--d2d"),
    # found by the analysis, after the options were accepted
    (["analyze", RUNS / "paper-tailored-sim.h5", "--out", "{tmp}/d.json", "--pulses-per-state", "0"],
     "--pulses-per-state 0"),
    (["analyze", RUNS / "paper-tailored-sim.h5", "--out", "{tmp}/d.json", "--window", "up=5:2,down=1:3"],
     "--window up=5:2"),
    (["simulate", ROOT / "sample_data/devices/virtual-hfs2.json", "--out", "{tmp}/r.json", "--task", "digits",
      "--ir-drop", "--wire-resistance-ohm", "-1"], "--wire-resistance-ohm -1"),
    (["simulate", ROOT / "sample_data/devices/virtual-hfs2.json", "--out", "{tmp}/r.json", "--task", "digits",
      "--ir-drop", "--wire-resistance-ohm", "1", "--array-size", "0"], "--array-size 0"),
])
def test_messages_name_the_flag_the_user_typed(tmp_path, capsys, args, flag):
    rc, _, err = run(capsys, *[str(a).replace("{tmp}", str(tmp_path)) for a in args])
    assert rc == 2 and flag in err and one_line(err), err
    internal = ("n_boot", "k_sigma", "d2d_fraction", "pulses_per_state", "window potentiation",
                "wire_resistance_ohm", "array_size")
    assert not any(name in err for name in internal), err


def test_missing_output_folders_are_created_the_same_for_every_command(tmp_path, capsys):
    short = tmp_path / "p.toml"
    short.write_text(PAPER.read_text().replace("cycles = 100", "cycles = 2"))
    csv = tmp_path / "up.csv"
    csv.write_text("1e-4,2e-4,3e-4\n")
    cases = [
        ["measure", "--protocol", short, "--backend", "sim", "--quiet", "--out", tmp_path / "m" / "deep" / "x.h5"],
        ["import", "--layout", "rows", "--quantity", "conductance", "--up", csv, "--down", csv,
         "--out", tmp_path / "i" / "deep" / "x.h5"],
        ["analyze", RUNS / "paper-tailored-sim.h5", "--bootstrap", "0", "--out", tmp_path / "a" / "deep" / "d.json",
         "--figures", tmp_path / "a" / "figs" / "deep"],
        ["export", RUNS / "paper-tailored-sim.h5", "--to", "csv", "--out", tmp_path / "e" / "deep" / "x.csv"],
        ["watch", RUNS / "paper-tailored-sim.h5", "--until-done", "--interval", "0.05",
         "--png", tmp_path / "w" / "deep" / "x.png"],
        ["characterize", RUNS / "iv-sweep-sim.h5", "--out", tmp_path / "c" / "deep" / "x.json",
         "--figures", tmp_path / "c" / "figs"],
        ["measure", "--protocol", short, "--dry-run", "--waveform-png", tmp_path / "d" / "deep" / "x.png"],
    ]
    for args in cases:
        rc, _, err = run(capsys, *args)
        assert rc == 0, (args[0], err)
    assert (tmp_path / "m/deep/x.h5").is_file() and (tmp_path / "i/deep/x.h5").is_file()
    assert (tmp_path / "a/deep/d.json").is_file() and any((tmp_path / "a/figs/deep").iterdir())
    assert (tmp_path / "e/deep/x.csv").is_file() and (tmp_path / "w/deep/x.png").is_file()
    assert (tmp_path / "c/deep/x.json").is_file() and (tmp_path / "d/deep/x.png").is_file()


def test_an_output_folder_that_cannot_be_created_is_exit_2_naming_the_flag(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, _, err = run(capsys, "measure", "--protocol", PAPER, "--backend", "sim", "--out", blocker / "sub" / "x.h5")
    assert rc == 2 and one_line(err) and "--out" in err and "cannot create folder" in err


def test_import_on_an_existing_file_suggests_overwrite_not_resume(tmp_path, capsys):
    csv = tmp_path / "up.csv"
    csv.write_text("1e-4,2e-4,3e-4\n")
    out = tmp_path / "x.h5"
    out.write_bytes(b"")
    rc, _, err = run(capsys, "import", "--layout", "rows", "--quantity", "conductance", "--up", csv, "--down", csv,
                     "--out", out)
    assert rc == 2 and "--overwrite" in err and "--resume" not in err and one_line(err)


@pytest.mark.parametrize("args", [["info", "{tmp}"], ["analyze", "{tmp}", "--out", "{tmp}/d.json"],
                                  ["measure", "--backend", "sim", "--out", "{tmp}", "--protocol", str(PAPER)],
                                  ["analyze", str(RUNS / "paper-tailored-sim.h5"), "--out", "d.json",
                                   "--bootstrap", "many"]])
def test_wrong_argument_types_are_one_line_errors(tmp_path, capsys, args):
    rc, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert rc == 2 and one_line(err), err
    assert "Usage:" not in err and "error:" in err


def test_bootstrap_0_prints_no_stray_interval_column(tmp_path, capsys):
    rc, out, err = run(capsys, "analyze", RUNS / "paper-tailored-sim.h5", "--out", tmp_path / "d.json",
                       "--bootstrap", "0")
    assert rc == 0, err
    table = out.split("device file:")[0]
    assert not any(line.rstrip().endswith("/") for line in table.splitlines()), table
    assert "95% CI" not in table


def test_import_warns_when_a_read_voltage_looks_like_millivolts(tmp_path, capsys):
    csv = tmp_path / "up.csv"
    csv.write_text("1e-5,2e-5,3e-5\n")
    rc, _, err = run(capsys, "import", "--layout", "rows", "--up", csv, "--down", csv, "--read-voltage", "100",
                     "--out", tmp_path / "x.h5")
    assert rc == 0 and "warning" in err and "--read-voltage 100" in err and "0.1" in err
    rc, _, err = run(capsys, "import", "--layout", "rows", "--up", csv, "--down", csv, "--read-voltage", "0.1",
                     "--out", tmp_path / "y.h5")
    assert rc == 0 and "warning" not in err
