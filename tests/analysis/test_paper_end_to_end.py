"""End to end: the virtual device measured with the paper's tailored scheme, then analyzed,
reproduces the paper's table (within the virtual device's calibration tolerance)."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from memlab.analysis.device_file import load_device_file
from memlab.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("memlab.commands.measure") is None or not PROTOCOL.is_file(),
    reason="needs `memlab measure` and sample_data/protocols/paper-tailored.toml")


@pytest.mark.slow
def test_measure_then_analyze_reproduces_the_papers_table(tmp_path, capsys):
    run = tmp_path / "paper.h5"
    assert main(["measure", "--protocol", str(PROTOCOL), "--backend", "sim", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "device.json"
    assert main(["analyze", str(run), "--out", str(out), "--compare-paper", "--bootstrap", "200"]) == 0
    table = capsys.readouterr().out
    d = load_device_file(out)
    up, down = d.branch("potentiation"), d.branch("depression")
    assert (d.states_per_branch, d.pulses_per_state, d.n_bins) == (16, 1, 31), table
    assert up.bin_width_S == pytest.approx(81.077e-6, rel=0.05), table
    assert down.bin_width_S == pytest.approx(80.520e-6, rel=0.05), table
    assert d.sigma_mean_S == pytest.approx(23.7e-6, rel=0.15), table
    assert up.r_squared >= 0.998 and down.r_squared >= 0.998, table
    assert d.energy_per_cycle_J.mean == pytest.approx(23.74e-9, rel=0.10), table
    assert d.energy_per_cycle_J.source == "measured"
    assert d.source_runs[0].status == "complete"
