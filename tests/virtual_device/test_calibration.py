"""Calibration tests: the virtual device, measured and analyzed by memlab's own commands,
lands on the reference paper's numbers.

These check a *fit*: the defaults of ``VirtualDeviceParams`` were fitted
(``benchmarks/virtual_device.py --fit``, noise seed 1) to these very numbers, so
passing shows that the fit survives the real chain (simulated WGFMU -> archive
-> analysis) and other noise seeds, not that the model says anything about a
real device. The physics tests are in ``test_virtual_device.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "vd_calibration", Path(__file__).parents[2] / "benchmarks" / "virtual_device.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

pytestmark = [pytest.mark.calibration, pytest.mark.slow]


@pytest.fixture(scope="module", params=[1, 4], ids=["fitted-seed-1", "unseen-seed-4"])
def calibration_table(request, tmp_path_factory):
    device, drift = bench.measure_and_analyze(tmp_path_factory.mktemp(f"seed{request.param}"), 0, request.param)
    return {row[0]: row for row in bench.calibration_rows(device, drift)}


QUANTITIES = ["states per branch", "differential bins", "bin width up (uS)", "bin width down (uS)",
              "sigma per state, mean (uS)", "sigma per state, max / min", "R2 up", "R2 down",
              "energy per cycle, mean (nJ)", "energy per cycle, std (nJ)", "drift over 1000 s, largest state (%)"]


@pytest.mark.parametrize("quantity", QUANTITIES)
def test_calibration_target_is_met_through_measure_and_analyze(calibration_table, quantity):
    name, paper, got, target, met = calibration_table[quantity]
    assert met, f"{name}: virtual {got:.5g}, paper {paper}, target {target}"


def test_the_ideal_device_misses_the_targets_the_effects_were_added_for(tmp_path):
    """The same chain on the ideal device (every effect off) misses R^2, flat sigma and the energy
    spread: the calibration tests above do depend on the variability effects."""
    from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs
    from memlab.instruments.virtual_device import VirtualDeviceParams
    from memlab.protocols.measure import measure

    run = tmp_path / "ideal.h5"
    measure(bench.PAPER_PROTOCOL, backend="sim", out=run, seed=1, progress=False,
            device_params=VirtualDeviceParams.ideal())
    d = analyze_runs([run], AnalyzeOptions(n_boot=0)).device
    up, dn = d.branch("potentiation"), d.branch("depression")
    sigma = list(up.state_sigma_S) + list(dn.state_sigma_S)
    assert up.r_squared > 0.9999 and dn.r_squared > 0.9999
    assert max(sigma) / min(sigma) > 1.5
    assert d.energy_per_cycle_J.std < 0.3e-9
