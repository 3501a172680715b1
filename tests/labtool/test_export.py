"""``memlab export``: run archives to CSV / netCDF / Parquet (round trips), device files to aihwkit."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.cli import main
from memlab.status import PointStatus
from memlab.protocols.archive import PulseData, read_run, write_pulse_archive
from memlab.protocols.dataset import run_dataset
from memlab.protocols.export import export_run, read_parquet_metadata

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUN = ROOT / "sample_data" / "runs" / "paper-tailored-sim.h5"
IV_RUN = ROOT / "sample_data" / "runs" / "iv-sweep-sim.h5"
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"


def _pulses(cycles: int, n_up: int, n_down: int, seed: int, flag_at: tuple[int, int] | None = None) -> PulseData:
    rng = np.random.default_rng(seed)
    n = n_up + n_down
    v = np.full((cycles, n), -0.1)
    i = -rng.uniform(1e-5, 3e-4, (cycles, n))
    status = np.zeros((cycles, n), np.uint16)
    if flag_at is not None:
        status[flag_at] = PointStatus.COMPLIANCE | PointStatus.OVERFLOW
        i[flag_at] = np.nan
    amp = np.concatenate([np.linspace(0.7, 1.0, n_up), -np.linspace(0.7, 1.0, n_down)])
    return PulseData(n_up=n_up, n_down=n_down, pulse_amplitude_V=amp, pulse_width_s=np.full(n, 2e-7),
                     read_time_s=np.cumsum(np.full((cycles, n), 1e-5)).reshape(cycles, n), read_voltage_V=v,
                     read_current_A=i, read_status=status)


def _archive(tmp_path, cycles=3, n_up=4, n_down=3, seed=0, flag_at=(1, 2)) -> pathlib.Path:
    path = tmp_path / f"run{seed}.h5"
    write_pulse_archive(path, _pulses(cycles, n_up, n_down, seed, flag_at), {"imported": True, "note": "test"},
                        {"device_id": "D7", "nested": {"a": [1, 2]}}, overwrite=True)
    return path


def test_dataset_has_named_dims_coordinates_and_units():
    ds = run_dataset(read_run(RUN))
    assert ds["read_current_A"].dims == ("cycle", "pulse")
    assert ds.sizes["pulse"] == 40 and ds.sizes["cycle"] == read_run(RUN).pulses.n_cycles
    assert set(ds["branch"].values) == {"potentiation", "depression"}
    for name in ("read_time_s", "read_voltage_V", "read_current_A", "conductance_S", "pulse_amplitude_V"):
        assert ds[name].attrs["units"] == name.rsplit("_", 1)[1]
    assert ds.attrs["memlab_run_uuid"] == read_run(RUN).uuid
    df = ds.to_dataframe()
    assert len(df) == ds.sizes["cycle"] * 40 and "read_current_A" in df.columns


def test_iv_group_is_sweep_by_point():
    ds = run_dataset(read_run(IV_RUN))
    assert ds["current_A"].dims == ("sweep", "point") and ds["voltage_V"].attrs["units"] == "V"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cycles=st.integers(1, 4), n_up=st.integers(2, 5), n_down=st.integers(2, 5), seed=st.integers(0, 99))
def test_netcdf_round_trip_is_the_identity(tmp_path, cycles, n_up, n_down, seed):
    path = _archive(tmp_path, cycles, n_up, n_down, seed, flag_at=(0, 1))
    out = tmp_path / f"run{seed}.nc"
    export_run(path, "netcdf", out, overwrite=True)
    with xr.open_dataset(out, engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), run_dataset(read_run(path)))
        assert back["read_status"].dtype == np.uint16 and int(back["read_status"][0, 1]) == 5


def test_parquet_and_csv_hold_reads_flags_and_metadata(tmp_path):
    path = _archive(tmp_path)
    run = read_run(path)
    (pq_path,) = export_run(path, "parquet")
    csv_path, meta_path = export_run(path, "csv")
    assert pq_path.suffix == ".parquet" and csv_path.suffix == ".csv"
    for df in (pd.read_parquet(pq_path), pd.read_csv(csv_path, keep_default_na=False, na_values=[""])):
        assert len(df) == 3 * 7
        row = df[(df.cycle == 1) & (df.pulse == 2)].iloc[0]
        assert row.read_status == 5 and row.read_flags == "COMPLIANCE|OVERFLOW"
        assert np.isnan(row.read_current_A)
        ok = df[(df.cycle == 2) & (df.pulse == 6)].iloc[0]
        assert ok.read_current_A == run.pulses.read_current_A[2, 6]  # full precision survives
        assert ok.branch == "depression" and ok.branch_pulse == 2
    for meta in (read_parquet_metadata(pq_path), json.loads(meta_path.read_text())):
        assert meta["attrs"]["memlab_run_uuid"] == run.uuid and meta["attrs"]["device_id"] == "D7"
        assert json.loads(meta["attrs"]["nested"]) == {"a": [1, 2]}
        assert meta["columns"]["read_current_A"]["units"] == "A"
        assert meta["status_flags"]["COMPLIANCE"] == 1


def test_cli_export_refuses_existing_output_and_wrong_source(tmp_path, capsys):
    path = _archive(tmp_path)
    assert main(["export", str(path), "--to", "netcdf"]) == 0
    assert main(["export", str(path), "--to", "netcdf"]) == 2
    assert "file exists" in capsys.readouterr().err
    assert main(["export", str(DEVICE), "--to", "csv"]) == 2
    assert "--to aihwkit" in capsys.readouterr().err
    assert main(["export", str(path), "--to", "xlsx"]) == 2


def test_aihwkit_export_constructs_in_aihwkit(tmp_path):
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.configs.devices import PiecewiseStepDevice

    from memlab.analysis.device_file import load_device_file

    out = tmp_path / "dev.aihwkit.json"
    assert main(["export", str(DEVICE), "--to", "aihwkit", "--out", str(out)]) == 0
    config = json.loads(out.read_text())
    device = PiecewiseStepDevice(**config["parameters"])
    SingleRPUConfig(device=device)
    d = load_device_file(DEVICE)
    scale = config["memlab"]["scale_S_per_weight"]
    assert scale == pytest.approx((d.g_max_S - d.g_min_S) / 2)
    up, down = d.branch("potentiation"), d.branch("depression")
    dw_S = device.dw_min * scale  # one pulse, in S
    assert dw_S == pytest.approx((up.slope_S_per_pulse - down.slope_S_per_pulse) / 2)
    for b, nodes in ((up, device.piecewise_up), (down, device.piecewise_down)):
        steps = np.abs(np.diff(b.state_mean_S)) / d.pulses_per_state  # measured S per pulse between states
        got = np.array(nodes) * dw_S
        assert steps.min() * 0.999 <= got.min() and got.max() <= steps.max() * 1.001
        assert np.mean(got) == pytest.approx(np.mean(steps), rel=0.15)
    assert device.write_noise_std * device.dw_min * scale == pytest.approx(d.sigma_mean_S)
    assert len(device.piecewise_up) == len(device.piecewise_down) == d.states_per_branch


def test_aihwkit_python_snippet_runs(tmp_path):
    out = tmp_path / "dev.py"
    assert main(["export", str(DEVICE), "--to", "aihwkit", "--out", str(out)]) == 0
    done = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "PiecewiseStepDevice(" in done.stdout and "piecewise_up" in done.stdout


def test_archive_axes_are_hdf5_dimension_scales_other_tools_see(tmp_path):
    import h5py

    from memlab.protocols.archive import ArchiveWriter

    path = tmp_path / "run.h5"
    p = _pulses(3, 4, 3, 0)
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={})
    w.begin_pulses(n_up=4, n_down=3, pulse_amplitude_V=p.pulse_amplitude_V, pulse_width_s=p.pulse_width_s,
                   cycles_planned=3)
    w.append_cycles(p.read_time_s[:2], p.read_voltage_V[:2], p.read_current_A[:2], p.read_status[:2])
    w.close("interrupted", "test")
    w = ArchiveWriter.resume(path)  # the row scale continues where the reads do
    w.append_cycles(p.read_time_s[2], p.read_voltage_V[2], p.read_current_A[2], p.read_status[2])
    w.close()
    with h5py.File(path, "r") as f:
        ds = f["pulses/read_current_A"]
        assert [d.label for d in ds.dims] == ["cycle", "pulse"]
        assert list(ds.dims[0].keys()) == ["cycle"] and f["pulses/cycle"][()].tolist() == [0, 1, 2]
    with xr.open_dataset(path, engine="h5netcdf", group="pulses") as raw:  # plain netCDF-4 reader, no memlab
        assert raw["read_current_A"].dims == ("cycle", "pulse")
        np.testing.assert_array_equal(raw["read_current_A"].values, p.read_current_A)
    for sample in ("iv-sweep-sim.h5", "retention-sim.h5"):
        group = "iv" if sample.startswith("iv") else "retention"
        with xr.open_dataset(ROOT / "sample_data" / "runs" / sample, engine="h5netcdf", group=group) as raw:
            assert raw["current_A"].dims == (("sweep", "point") if group == "iv" else ("state", "point"))


def test_csv_and_parquet_are_written_a_block_of_cycles_at_a_time(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from memlab.protocols import export
    from memlab.protocols.dataset import run_dataset

    path = _archive(tmp_path)
    whole = export.table(run_dataset(read_run(path)))
    expected_csv = whole.to_csv(index=False)
    monkeypatch.setattr(export, "TABLE_BLOCK_ROWS", 10)  # one cycle of 7 pulses a block
    seen = []
    real = export.table
    monkeypatch.setattr(export, "table", lambda ds: seen.append(dict(ds.sizes)) or real(ds))
    csv_path, _ = export_run(path, "csv")
    assert seen == [{"cycle": 1, "pulse": 7}] * 3  # never the whole run at once
    assert csv_path.read_text() == expected_csv
    (pq_path,) = export_run(path, "parquet")
    assert pq.ParquetFile(pq_path).num_row_groups == 3
    pd.testing.assert_frame_equal(pd.read_parquet(pq_path), whole)
    assert read_parquet_metadata(pq_path)["attrs"]["memlab_run_uuid"] == read_run(path).uuid
