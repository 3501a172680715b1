"""Device-to-device spread from a device population (``--d2d measured``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from memlab.analysis.device_file import from_dict, load_device_file
from memlab.errors import ConfigError
from memlab.simulation.d2d import assumed_d2d, measured_d2d
from memlab.simulation.analog import AnalogOptions

ROOT = Path(__file__).resolve().parents[2]
POPULATION = ROOT / "sample_data" / "devices" / "virtual-hfs2-population.json"
SINGLE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"


def test_measured_spread_is_the_populations_std_over_mean():
    d = load_device_file(POPULATION)
    spread = measured_d2d(d, "potentiation")
    q = d.d2d.quantities
    slope = q["branches.potentiation.slope_S_per_pulse"]
    assert spread.step_fraction == pytest.approx(slope.std / abs(slope.mean))
    assert spread.range_fraction == pytest.approx(q["g_range_S"].std / q["g_range_S"].mean)
    assert spread.source == "measured" and spread.n_devices == 7
    # the virtual population's documented spreads: 10 % rate, 5 % range (log-normal), far below 30 %
    assert 0.02 < spread.step_fraction < 0.2 and 0.02 < spread.range_fraction < 0.2
    down = measured_d2d(d, "depression")
    assert down.step_fraction != spread.step_fraction


def test_without_g_range_the_ends_are_combined_as_independent():
    data = json.loads(POPULATION.read_text())
    del data["d2d"]["quantities"]["g_range_S"]
    d = from_dict(data)
    q = d.d2d.quantities
    expected = (q["g_max_S"].std ** 2 + q["g_min_S"].std ** 2) ** 0.5 / (q["g_max_S"].mean - q["g_min_S"].mean)
    assert measured_d2d(d).range_fraction == pytest.approx(expected)


def test_a_single_device_has_no_measured_spread():
    with pytest.raises(ConfigError, match="virtual-hfs2.json holds no device-to-device statistics"):
        measured_d2d(load_device_file(SINGLE), name="virtual-hfs2.json")


def test_assumed_spread_is_one_number_for_both():
    s = assumed_d2d(0.3)
    assert (s.step_fraction, s.range_fraction, s.source) == (0.3, 0.3, "assumed")


def test_options_keep_the_range_spread_apart():
    o = AnalogOptions(d2d_fraction=0.08, d2d_range_fraction=0.05, d2d_source="measured")
    assert o.range_fraction == 0.05
    assert AnalogOptions(d2d_fraction=0.3).range_fraction == 0.3
    with pytest.raises(ConfigError, match="d2d_source"):
        AnalogOptions(d2d_source="guessed")
    with pytest.raises(ConfigError, match="d2d_range_fraction"):
        AnalogOptions(d2d_range_fraction=3.0)


def test_programming_uses_the_range_spread():
    """Write-verify: a target above every device's range lands at that device's own top, so the
    spread of the top states is the range spread, whatever the step spread."""
    import torch

    from memlab.simulation import analog as dm

    branch = dm.branch_model(load_device_file(SINGLE), "potentiation")
    target = torch.full((20000,), branch.g_start_uS + 10 * branch.span_uS)
    for step, rng in ((0.0, 0.2), (0.3, 0.05)):
        options = AnalogOptions(d2d_fraction=step, d2d_range_fraction=rng, d2d_source="measured", drift="none")
        torch.manual_seed(0)
        g = dm.DeviceNoiseModel(branch, options).apply_programming_noise_to_conductance(target)
        change = (g - branch.g_start_uS).abs()
        assert float(change.std() / change.mean()) == pytest.approx(rng, rel=0.25), (step, rng)


def test_cli_simulate_with_measured_d2d_says_so_in_the_results(tmp_path, capsys):
    from memlab.cli import main

    out = tmp_path / "r.json"
    code = main(["simulate", str(POPULATION), "--task", "digits", "--epochs", "2", "--hwat-epochs", "1",
                 "--repeats", "1", "--drift", "none", "--d2d", "measured", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "--d2d measured: step size" in capsys.readouterr().out
    options = json.loads(out.read_text())["config"]["options"]
    spread = measured_d2d(load_device_file(POPULATION))
    assert options["d2d_source"] == "measured"
    assert options["d2d_fraction"] == pytest.approx(spread.step_fraction)
    assert options["d2d_range_fraction"] == pytest.approx(spread.range_fraction)


@pytest.mark.parametrize("device, d2d, message", [
    (SINGLE, "measured", "holds no device-to-device statistics"),
    (POPULATION, "lots", "--d2d"),
])
def test_cli_measured_d2d_refusals_exit_2(tmp_path, capsys, device, d2d, message):
    from memlab.cli import main

    code = main(["simulate", str(device), "--task", "digits", "--d2d", d2d, "--out", str(tmp_path / "r.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
