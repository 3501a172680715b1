"""Calibration test (not evidence): the virtual device, measured with the paper's tailored scheme and
analyzed by memlab's own commands, lands on the paper's table.

The virtual device's defaults were *fitted* to these very numbers (81.077 µS, 80.520 µS, 23.7 µS,
23.74 nJ: the paper's, from ``memlab.reference``), so passing shows that the fit survives the real
chain (simulated WGFMU -> archive -> ``memlab analyze``), not that the analysis is right. The
evidence that the analysis is right is in ``test_evidence_synthetic.py`` (archives generated with
known parameters) and ``test_evidence_external.py`` (other labs' data, numbers derived with numpy).
"""

from __future__ import annotations

import pathlib

import pytest

from memlab import reference as ref
from memlab.analysis.device_file import load_device_file
from memlab.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"  # tracked: never a reason to skip

pytestmark = [pytest.mark.calibration, pytest.mark.slow]


def test_calibration_measure_then_analyze_lands_on_the_papers_table(tmp_path, capsys):
    run = tmp_path / "paper.h5"
    assert main(["measure", "--protocol", str(PROTOCOL), "--backend", "sim", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "device.json"
    assert main(["analyze", str(run), "--out", str(out), "--compare-paper", "--bootstrap", "200"]) == 0
    table = capsys.readouterr().out
    d = load_device_file(out)
    up, down = d.branch("potentiation"), d.branch("depression")
    assert (d.states_per_branch, d.pulses_per_state, d.n_bins) == (16, 1, ref.N_BINS.value), table
    assert up.bin_width_S == pytest.approx(ref.BIN_WIDTH_UP.si, rel=0.05), table
    assert down.bin_width_S == pytest.approx(ref.BIN_WIDTH_DOWN.si, rel=0.05), table
    assert d.sigma_mean_S == pytest.approx(ref.SIGMA_MEAN.si, rel=0.15), table
    assert up.r_squared >= 0.998 and down.r_squared >= 0.998, table
    assert d.energy_per_cycle_J.mean == pytest.approx(ref.ENERGY_PER_CYCLE.si, rel=0.10), table
    assert d.energy_per_cycle_J.source == "measured"
    assert d.source_runs[0].status == "complete"
