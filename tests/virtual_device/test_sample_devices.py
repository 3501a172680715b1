"""The sample device files are memlab's own analysis of the committed sample runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from memlab.analysis.device_file import load_device_file
from memlab.files import sha256_file

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("regenerate", ROOT / "sample_data" / "regenerate.py")
regenerate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regenerate)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("devices")
    return {p.name: p for p in regenerate.derive_device_files(out)}


@pytest.mark.parametrize("name", sorted(regenerate.DEVICE_FILES))
def test_regenerating_gives_the_committed_file_apart_from_its_time(fresh, name):
    committed = ROOT / "sample_data" / "devices" / name
    assert regenerate.comparable(fresh[name]) == regenerate.comparable(committed), (
        f"{name} no longer follows from the committed runs: run `.venv/bin/python sample_data/regenerate.py` "
        "and commit the device files (the analysis or the runs changed)")
    # and bit for bit once the time line is the same
    fresh_text = fresh[name].read_text().splitlines()
    committed_text = committed.read_text().splitlines()
    assert [l for l in fresh_text if '"created_utc"' not in l] == [l for l in committed_text if '"created_utc"' not in l]


@pytest.mark.parametrize("name", sorted(regenerate.DEVICE_FILES))
def test_sample_device_files_name_their_runs_and_hashes(name):
    d = load_device_file(ROOT / "sample_data" / "devices" / name)
    assert [r.file for r in d.source_runs] == regenerate.DEVICE_FILES[name]
    for run in d.source_runs:
        assert sha256_file(ROOT / "sample_data" / "runs" / run.file) == run.sha256
    assert d.drift is not None and d.energy_per_cycle_J is not None


def test_the_population_file_holds_device_to_device_statistics():
    d = load_device_file(ROOT / "sample_data" / "devices" / "virtual-hfs2-population.json")
    assert d.d2d is not None and d.d2d.n_devices == 1 + len(regenerate.POPULATION_SEEDS)
    slope = d.d2d.quantities["branches.potentiation.slope_S_per_pulse"]
    assert 0.02 < slope.std / slope.mean < 0.2  # the population's documented step-size spread (10 %)


def test_a_changed_run_is_noticed(tmp_path):
    """The comparison would catch a device file that no longer follows from its runs."""
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in regenerate.DEVICE_FILES["virtual-hfs2.json"]:
        (runs / name).write_bytes((ROOT / "sample_data" / "runs" / name).read_bytes())
    out = tmp_path / "out"
    regenerate._memlab(["analyze", str(runs / "paper-tailored-sim.h5"), "--out", str(out / "x.json")])
    committed = regenerate.comparable(ROOT / "sample_data" / "devices" / "virtual-hfs2.json")
    assert regenerate.comparable(out / "x.json") != committed  # without the retention run: no drift block
    assert json.loads((out / "x.json").read_text())["drift"] is None
