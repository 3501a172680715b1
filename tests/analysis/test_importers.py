"""memlab import: every supported format, every kind of garbage, and the real files in shared/data."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from memlab.analysis.importers import ImportSpec, import_keithley_xlsx, import_pulses, read_pulse_files
from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs
from memlab.cli import main
from memlab.errors import ConfigError, DataNotFoundError, ImportDataError
from memlab.status import PointStatus
from memlab.protocols.archive import read_run

from tests.helpers.shared_data import SHARED_DATA, needs_shared_data

EXTERNAL = SHARED_DATA / "external"
needs_external = needs_shared_data("external")  # required under CI, else skipped

UP = [[1.0, 1.1, 1.2], [2.0, 2.1, 2.2], [3.0, 3.1, None], [4.0, 4.2, None]]  # pulses x cycles (ragged)


def _csv(path: pathlib.Path, rows, header=None) -> pathlib.Path:
    lines = [",".join(header)] if header else []
    lines += [",".join("" if c is None else str(c) for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _g(p):
    return p.read_conductance_S if p.read_conductance_S is not None else p.read_current_A / p.read_voltage_V


def test_columns_layout_ragged_current(tmp_path):
    up = _csv(tmp_path / "set.csv", [[c * 1e-5 if c else None for c in r] for r in UP], ["r1", "r2", "r3"])
    down = _csv(tmp_path / "reset.csv", [[4e-5, 4e-5], [3e-5, 3.1e-5], [2e-5, 2e-5]], ["r1", "r2"])
    out = tmp_path / "run.h5"
    import_pulses(ImportSpec("columns", "current", "A", 0.1), out, up=up, down=down, device_id="D7")
    run = read_run(out)
    assert run.kind == "imported_pulse_cycling" and run.status == "complete"
    assert run.protocol["imported"] is True and run.protocol["files"]["potentiation"] == "set.csv"
    assert run.attrs["source_file"] == "set.csv" and len(run.attrs["source_sha256"]) == 64
    assert run.attrs["device_id"] == "D7"
    p = run.pulses
    assert (p.n_up, p.n_down, p.n_cycles) == (4, 3, 3)
    g = _g(p)
    assert g[0, :4] == pytest.approx([1e-4, 2e-4, 3e-4, 4e-4])
    assert np.isnan(g[2, 2]) and p.read_status[2, 2] == PointStatus.MISSING  # ragged end
    assert np.all(p.read_status[2, 4:] == PointStatus.MISSING)  # down has only 2 cycles


def test_rows_layout_resistance_units(tmp_path):
    up = _csv(tmp_path / "u.csv", [[1, 0.9, 0.8], [1.01, 0.91, 0.79]])
    down = _csv(tmp_path / "d.csv", [[0.8, 0.9, 1.0], [0.81, 0.9]])
    pulses, src = read_pulse_files(ImportSpec("rows", "resistance", "kohm"), up=up, down=down)
    assert pulses.read_conductance_S[0, :3] == pytest.approx([1e-3, 1 / 900, 1 / 800])
    assert pulses.read_status[1, 5] == PointStatus.MISSING and [r for r, _ in src] == ["potentiation", "depression"]


def test_long_layout_single_file_with_branch(tmp_path):
    rows = [[c, p, 100 + 10 * p + c, "up"] for c in (1, 2) for p in (1, 2, 3)]
    rows += [[c, p, 130 - 10 * p, "down"] for c in (1, 2) for p in (1, 2)]
    f = _csv(tmp_path / "long.csv", rows, ["cycle", "pulse", "value", "branch"])
    pulses, _ = read_pulse_files(ImportSpec("long", "conductance", "uS"), file=f)
    assert (pulses.n_up, pulses.n_down) == (3, 2)
    assert pulses.read_conductance_S[1] == pytest.approx(np.array([112, 122, 132, 120, 110]) * 1e-6)


def test_branch_columns_unitless_needs_a_scale(tmp_path):
    f = _csv(tmp_path / "g.csv", [[-0.5, 0.5], [0.0, 0.0], [0.5, -0.5]])
    with pytest.raises(ConfigError, match="unitless"):
        ImportSpec("branch-columns", "unitless")
    pulses, _ = read_pulse_files(ImportSpec("branch-columns", "unitless", scale_S=1e-4, offset_S=1e-4), file=f)
    assert pulses.read_conductance_S[0] == pytest.approx([0.5e-4, 1e-4, 1.5e-4, 1.5e-4, 1e-4, 0.5e-4])
    with pytest.raises(ImportDataError, match="row 1, column 1: -0.5 gives negative conductance"):
        read_pulse_files(ImportSpec("branch-columns", "unitless", scale_S=1e-4), file=f)
    neg = _csv(tmp_path / "neg.csv", [["cycle", "pulse", "value"], [3, 7, -1]])
    with pytest.raises(ImportDataError, match="cycle 3, pulse 7: -1 gives negative conductance"):
        read_pulse_files(ImportSpec("long", "conductance"), up=neg, down=neg)


@pytest.mark.parametrize("content, match", [
    ("", "file is empty"),
    ("\n\n", "file is empty"),
    ("a,b\n", "no data rows"),
    ("r1,r2\n1e-5,2e-5\n1e-5,abc\n", r"row 3, column 2 \(r2\): 'abc' is not a number"),
    ("r1,r2\n1e-5,2e-5\nnan,2e-5\n", r"row 3, column 1 \(r1\): 'nan' is not a finite number"),
    ("r1,r2\n1e-5,2e-5\n,2e-5\n3e-5,3e-5\n", r"row 3, column 1: empty cell inside a column"),
    ("r1,r2\n1e-5,2e-5\n-1e-5,2e-5\n", r"row 3, column 1: -1e-05 gives .*negative conductance"),
    ("r1\n1e-5,2e-5,3e-5\n", r"row 2 has 3 cells, the header only 1"),
    (",\n,\n", "file is empty"),
])
def test_columns_garbage_is_refused_naming_file_row_column(tmp_path, content, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    good = _csv(tmp_path / "good.csv", [[1e-5, 1e-5], [2e-5, 2e-5]])
    with pytest.raises(ImportDataError, match=match) as err:
        read_pulse_files(ImportSpec("columns", "current", read_voltage_V=0.1), up=good, down=bad)
    assert "bad.csv" in str(err.value)


@pytest.mark.parametrize("content, match", [
    ("cycle,pulse\n1,1\n", "no 'value' column"),
    ("1,1,5\n", "needs a header"),
    ("cycle,pulse,value\n1,1,5\n1,1,6\n", "row 3: cycle 1, pulse 1 appears twice"),
    ("cycle,pulse,value\n1,1.5,5\n", r"row 2, column 2 \(pulse\): 1.5 is not an integer"),
    ("cycle,pulse,value\n1,1\n", "row 2: 2 cells"),
    ("cycle,pulse,value,branch\n1,1,5,sideways\n", "'sideways' is not one of"),
])
def test_long_garbage(tmp_path, content, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    with pytest.raises(ImportDataError, match=match):
        read_pulse_files(ImportSpec("long", "conductance"), file=bad)


def test_shape_and_option_errors(tmp_path):
    three = _csv(tmp_path / "three.csv", [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ImportDataError, match="exactly 2 columns"):
        read_pulse_files(ImportSpec("branch-columns", "conductance"), file=three)
    one = _csv(tmp_path / "one.csv", [[1e-5, 1e-5]])
    with pytest.raises(ImportDataError, match="at least 2 pulses"):
        read_pulse_files(ImportSpec("columns", "conductance"), up=one, down=three)
    with pytest.raises(ConfigError, match="--up FILE and --down FILE"):
        read_pulse_files(ImportSpec("columns", "conductance"), up=three)
    with pytest.raises(ConfigError, match="read voltage"):
        ImportSpec("columns", "current")
    with pytest.raises(ConfigError, match="does not fit"):
        ImportSpec("columns", "conductance", unit="mA")
    with pytest.raises(ImportDataError, match="row 1, column 2: 0 gives resistance <= 0"):
        read_pulse_files(ImportSpec("rows", "resistance"), up=_csv(tmp_path / "r.csv", [[1, 0, 2]]), down=three)
    with pytest.raises(DataNotFoundError):
        read_pulse_files(ImportSpec("rows", "resistance"), up=tmp_path / "nope.csv", down=three)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ImportDataError, match="not a text CSV"):
        read_pulse_files(ImportSpec("rows", "conductance"), up=tmp_path / "bin.csv", down=three)


def _xlsx(path, sheets):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_keithley_xlsx_small(tmp_path):
    head = ["Time", "AI", "AV"]
    f = _xlsx(tmp_path / "k.xlsx", {"Run2": [head, [0, 1e-6, 0.0], [1, 2e-6, -0.01], [2, 3e-6, -0.02]],
                                     "Settings": [["Test Name", "x"]],
                                     "Run1": [head, [0, 5e-7, 0.0], [1, 6e-7, -0.01]]})
    import_keithley_xlsx(f, tmp_path / "k.h5")
    run = read_run(tmp_path / "k.h5")
    assert run.kind == "iv_sweep" and run.protocol["sheets"] == ["Run1", "Run2"]
    assert run.iv.voltage_V.shape == (2, 3) and run.iv.status[0, 2] == PointStatus.MISSING
    assert run.iv.current_A[1] == pytest.approx([1e-6, 2e-6, 3e-6])
    bad = _xlsx(tmp_path / "b.xlsx", {"Run1": [head, [0, 1e-6, 0.0], [1, "#REF", -0.01]]})
    with pytest.raises(ImportDataError, match=r"sheet 'Run1', row 3, column 2 \(AI\): '#REF'"):
        import_keithley_xlsx(bad, tmp_path / "b.h5")
    none = _xlsx(tmp_path / "n.xlsx", {"Calc": [["a", "b"]]})
    with pytest.raises(ImportDataError, match="no sheet has both"):
        import_keithley_xlsx(none, tmp_path / "n.h5")
    (tmp_path / "fake.xlsx").write_text("hello")
    with pytest.raises(ImportDataError, match="not a readable XLSX"):
        import_keithley_xlsx(tmp_path / "fake.xlsx", tmp_path / "f.h5")


def test_cli_import_and_errors(tmp_path, capsys):
    up = _csv(tmp_path / "u.csv", [[1, 2, 3], [1.1, 2.1, 3.1]])
    down = _csv(tmp_path / "d.csv", [[3, 2, 1], [3.1, 2.1, 1.1]])
    out = tmp_path / "o.h5"
    assert main(["import", "--layout", "rows", "--up", str(up), "--down", str(down), "--quantity",
                 "conductance", "--unit", "mS", "--out", str(out)]) == 0
    assert read_run(out).pulses.read_conductance_S[0, 0] == pytest.approx(1e-3)
    assert main(["import", "--layout", "rows", "--up", str(up), "--down", str(down), "--quantity",
                 "conductance", "--out", str(out)]) == 2  # exists, no --overwrite
    assert main(["import", "--layout", "rows", "--up", str(up), "--down", str(down), "--out",
                 str(tmp_path / "x.h5")]) == 2  # current without --read-voltage
    assert "read voltage" in capsys.readouterr().err


@needs_external
def test_real_crosssim_import_and_analysis(tmp_path):
    d = EXTERNAL / "crosssim-ltp-ltd"
    out = tmp_path / "cs.h5"
    import_pulses(ImportSpec("columns", "current", "A", 0.1), out, up=d / "set.csv", down=d / "reset.csv")
    p = read_run(out).pulses
    assert (p.n_up, p.n_down, p.n_cycles) == (192, 153, 40)
    assert np.count_nonzero(p.read_status == PointStatus.MISSING) > 0
    dev = analyze_runs([out], AnalyzeOptions(n_boot=100)).device
    # ~190 small steps below the cycle-to-cycle sigma: states are every m-th pulse
    assert dev.pulses_per_state > 1 and dev.states_per_branch >= 10
    assert dev.n_bins >= dev.states_per_branch
    assert 1.5e-3 < dev.g_min_S < dev.g_max_S < 2.6e-3


@needs_external
def test_real_gong_is_unitless(tmp_path):
    f = EXTERNAL / "gong-2018-pulse-response" / "gong_et_al.csv"
    pulses, _ = read_pulse_files(ImportSpec("branch-columns", "unitless", scale_S=1e-4, offset_S=2e-4), file=f)
    assert (pulses.n_up, pulses.n_down, pulses.n_cycles) == (1000, 1000, 1)
    import_pulses(ImportSpec("branch-columns", "unitless", scale_S=1e-4, offset_S=2e-4), tmp_path / "g.h5", file=f)
    # one trace: sigma is the within-trace scatter (analysis/single_trace.py), said so in the file and notes
    result = analyze_runs([tmp_path / "g.h5"])
    assert result.extraction.sigma_source == "within_trace" and result.device.sigma_source == "within_trace"
    assert any("within-trace" in note for note in result.notes)


@needs_external
def test_real_keithley_xlsx(tmp_path):
    f = EXTERNAL / "keithley4200-endurance" / "05 endurance set.xlsx"
    import_keithley_xlsx(f, tmp_path / "k.h5")
    run = read_run(tmp_path / "k.h5")
    assert run.iv.voltage_V.shape[0] == 101 and run.iv.voltage_V.shape[1] >= 500
    assert np.nanmin(run.iv.voltage_V) == pytest.approx(-2.5, abs=0.02)
    assert run.attrs["source_file"] == f.name


def test_rows_hole_and_long_two_files(tmp_path):
    holey = _csv(tmp_path / "h.csv", [[1, None, 3], [1, 2, 3]])
    ok = _csv(tmp_path / "ok.csv", [[3, 2, 1], [3, 2, 1]])
    with pytest.raises(ImportDataError, match="row 1, column 2: empty cell inside a row"):
        read_pulse_files(ImportSpec("rows", "conductance"), up=holey, down=ok)
    up = _csv(tmp_path / "lu.csv", [[1, 1, 5], [1, 2, 6], [2, 1, 5.1], [2, 2, 6.1]], ["cycle", "pulse", "value"])
    down = _csv(tmp_path / "ld.csv", [[1, 0, 6], [1, 1, 5]], ["Cycle", "Pulse", "Value"])
    pulses, _ = read_pulse_files(ImportSpec("long", "conductance", "mS"), up=up, down=down)
    assert pulses.read_conductance_S[0] == pytest.approx([5e-3, 6e-3, 6e-3, 5e-3])
    assert pulses.read_status[1, 2] == PointStatus.MISSING  # depression has one cycle only


def test_long_csv_is_read_as_a_stream_with_the_same_lines(tmp_path, monkeypatch):
    from memlab.analysis import csv_long

    text = "cycle,pulse,value\r\n1,1,5\r\n1,2,6\n2,1,7\r2,2,8\x0c3,1,9\r\n\n\n"
    f = tmp_path / "long.csv"
    f.write_bytes(text.encode())
    whole = list(csv_long.text_lines(f))
    monkeypatch.setattr(csv_long, "_TEXT_BLOCK", 3)  # block boundaries inside "\r\n" and inside rows
    assert list(csv_long.text_lines(f)) == whole == text.splitlines()
    grid, locate = csv_long.parse_long(f)["all"]
    np.testing.assert_array_equal(grid, [[5, 6], [7, 8], [9, np.nan]])
    assert locate(2, 0) == "cycle 3, pulse 1"
    (tmp_path / "gap.csv").write_text("cycle,pulse,value\n1,1,5\n\n1,2,6\n")
    with pytest.raises(ImportDataError, match="row 3: 0 cells"):  # a blank row inside the data
        csv_long.parse_long(tmp_path / "gap.csv")
    (tmp_path / "huge.csv").write_text("cycle,pulse,value\n1e300,1,5\n")
    with pytest.raises(ImportDataError, match=r"row 2, column 1 \(cycle\): 1e\+300 is out of range"):
        csv_long.parse_long(tmp_path / "huge.csv")


def test_grid_csv_is_parsed_as_a_stream_in_blocks_with_the_same_grid(tmp_path, monkeypatch):
    import tracemalloc

    from memlab.analysis import csv_long, importers

    rng = np.random.default_rng(3)
    rows, pulses = 20_000, 40
    values = rng.uniform(1e-4, 2e-4, (rows, pulses))
    ends = rng.integers(2, pulses + 1, rows)  # ragged rows: each ends early somewhere
    lines = ["\n".join(",".join(f"{v:.9e}" for v in r[:e]) for r, e in zip(values, ends))]
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    expect = np.where(np.arange(pulses) < ends[:, None], values, np.nan)
    got, locate = importers._grid(tmp_path / "big.csv", "rows")
    np.testing.assert_allclose(got, expect, rtol=1e-9)  # 10 significant digits written
    assert locate(19_999, 1) == "row 20000, column 2"
    # memory: the grid (8 bytes a cell) and its blocks, not the text of every row as Python strings
    tracemalloc.start()
    try:
        importers._grid(tmp_path / "big.csv", "rows")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * expect.nbytes, (peak, expect.nbytes)
    # block boundaries inside rows and inside the grid's packing change nothing
    monkeypatch.setattr(csv_long, "_TEXT_BLOCK", 7)
    monkeypatch.setattr(importers, "_ROWS_PER_BLOCK", 3)
    small, _ = importers._grid(tmp_path / "big.csv", "rows")
    np.testing.assert_array_equal(small, got)
    (tmp_path / "hole.csv").write_text("a,b,c\n1,2,3\n4,,6\n")
    with pytest.raises(ImportDataError, match="row 3, column 2: empty cell inside a row"):
        importers._grid(tmp_path / "hole.csv", "rows")


def test_endurance_csv_is_read_as_a_stream(tmp_path, monkeypatch):
    from memlab.analysis import csv_long
    from memlab.analysis.import_endurance import read_keithley_endurance_csv

    body = "".join(f"{c},{1e-4 + c * 1e-9},{1e-6},\r\n" for c in range(1, 3001))
    (tmp_path / "e.csv").write_text("Cycle,SET#1,SET#1,RESET#1\nIndex,ILRS,IHRS,VRESET\n" + body
                                    + "Subsite Name,x\nTotal Cycles,3000\n")
    whole = read_keithley_endurance_csv(tmp_path / "e.csv")
    monkeypatch.setattr(csv_long, "_TEXT_BLOCK", 5)
    d = read_keithley_endurance_csv(tmp_path / "e.csv")
    assert d.cycle.size == 3000 and d.groups == ("SET",)
    np.testing.assert_array_equal(d.set_i_lrs_A, whole.set_i_lrs_A)
    assert d.set_i_lrs_A[-1] == pytest.approx(1e-4 + 3000e-9)


def test_cli_import_keithley_xlsx_writes_the_sheets_values(tmp_path, capsys):
    """A successful `memlab import --layout keithley-xlsx` through the CLI: every sweep sheet becomes
    one I-V sweep with the values written into the workbook (non-default column names), the
    source file's name and SHA-256 (hashlib, here) in the archive, the device id stored."""
    import hashlib

    head = ["Time", "Imeas", "Vforce", "Note"]
    sweeps = {"Run1": [[0.0, 0.0, 0.0, "a"], [0.1, -1.5e-6, -0.01, ""], [0.2, -3.25e-6, -0.02, ""]],
              "Run2": [[0.0, 1e-9, 0.0, ""], [0.1, -2e-6, -0.01, ""], [0.2, -4.5e-6, -0.02, ""], [0.3, -7e-6, -0.03, ""]]}
    f = _xlsx(tmp_path / "clarius.xlsx", {"Settings": [["Test Name", "iv"]],
                                          **{name: [head, *rows] for name, rows in sweeps.items()}})
    out = tmp_path / "iv.h5"
    assert main(["import", "--layout", "keithley-xlsx", str(f), "--current-column", "Imeas",
                 "--voltage-column", "Vforce", "--device-id", "chip7", "--out", str(out)]) == 0
    assert f"imported into {out}" in capsys.readouterr().out
    run = read_run(out)
    assert run.kind == "iv_sweep" and run.protocol["sheets"] == ["Run1", "Run2"]
    assert run.attrs["source_file"] == "clarius.xlsx"
    assert run.attrs["source_sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert run.attrs["device_id"] == "chip7"
    assert run.iv.voltage_V.shape == (2, 4)
    for k, rows in enumerate(sweeps.values()):
        n = len(rows)
        assert run.iv.current_A[k, :n].tolist() == [r[1] for r in rows]
        assert run.iv.voltage_V[k, :n].tolist() == [r[2] for r in rows]
        assert (run.iv.status[k, :n] == PointStatus.OK).all()
    assert run.iv.status[0, 3] == PointStatus.MISSING  # Run1 is one point shorter
    # the same command again refuses to overwrite, and says how
    assert main(["import", "--layout", "keithley-xlsx", str(f), "--current-column", "Imeas",
                 "--voltage-column", "Vforce", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
