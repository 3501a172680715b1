"""Population analysis on Dask: each device's runs read on a LocalCluster, D2D statistics merged;
bad archives reported and skipped (never silently dropped)."""

from __future__ import annotations

import dataclasses
import pathlib
import shutil

import pytest

from memlab.analysis.device_file import load_device_file
from memlab.analysis.pipeline import AnalyzeOptions, analyze, analyze_runs
from memlab.cli import main
from memlab.cluster import dask_client, run_mapper
from memlab.errors import ConfigError

RUNS = pathlib.Path(__file__).parents[2] / "sample_data" / "runs"
POPULATION = [RUNS / "paper-tailored-sim.h5"] + sorted(RUNS.glob("population-device*-sim.h5"))
OPTIONS = AnalyzeOptions(n_boot=0)


@pytest.fixture(scope="module")
def client():
    with dask_client(2) as c:
        yield c


def test_a_population_on_two_workers_equals_the_serial_analysis(client):
    serial = analyze_runs(POPULATION, OPTIONS)
    dask = analyze_runs(POPULATION, OPTIONS, map_runs=run_mapper(client))
    assert dask.device.d2d is not None and dask.device.d2d.n_devices == len(POPULATION) == 7
    same_time = dataclasses.replace(dask.device, created_utc=serial.device.created_utc)
    assert same_time == serial.device and dask.notes == serial.notes  # one run per device: same arithmetic


def test_bad_archives_are_reported_and_skipped(client, tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an archive")
    torn = tmp_path / "torn.h5"  # a readable header, damaged data: refused while its cycles are read
    shutil.copy(POPULATION[1], torn)
    _flip_a_chunk(torn, "/pulses/read_current_A")
    runs = [POPULATION[0], garbage, torn, *POPULATION[2:]]
    result = analyze(runs, tmp_path / "d.json", options=OPTIONS, map_runs=run_mapper(client))
    skipped = [n for n in result.notes if "skipped" in n]
    assert len(skipped) == 2 and "garbage.h5: skipped, not a readable run archive" in skipped[0]
    assert "torn.h5: skipped, its cycles could not be read" in skipped[1] and "read_current_A" in skipped[1]
    device = load_device_file(tmp_path / "d.json")
    assert device.d2d.n_devices == 6 and {s.file for s in device.source_runs} == {p.name for p in runs} - {
        "garbage.h5", "torn.h5"}
    # without the engine a damaged archive stops the analysis, naming it (nothing is skipped silently)
    with pytest.raises(Exception, match="read_current_A"):
        analyze_runs([POPULATION[0], torn], OPTIONS)
    with pytest.raises(ConfigError, match="no run could be read"):
        analyze_runs([garbage], OPTIONS, map_runs=run_mapper(client))


def _flip_a_chunk(path: pathlib.Path, dataset: str) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + 10] ^= 0xFF
    path.write_bytes(bytes(data))


def test_the_cli_reads_a_population_on_workers(tmp_path, capsys):
    out = tmp_path / "pop.json"
    assert main(["analyze", *map(str, POPULATION), "--out", str(out), "--bootstrap", "0", "--workers", "2"]) in (
        0, None)
    assert load_device_file(out).d2d.n_devices == 7
    assert main(["analyze", str(POPULATION[0]), "--out", str(out), "--workers", "2", "--every", "10"]) == 2
    assert "leave out --cycles/--every" in capsys.readouterr().err
