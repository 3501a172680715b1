"""`memlab simulate --ir-drop` through the CLI: the crossbar's wires cost accuracy, in proportion to
their resistance, and the settings are recorded in the results."""

from __future__ import annotations

import pytest

from memlab.cli import main
from tests.helpers.simulate_cli import DEVICE, mean, simulate


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits_checkpoints):
    root = tmp_path_factory.mktemp("ir-cli")
    common = ("--drift", "none", "--array-size", "64")

    def run(name, *extra):
        return simulate(root / f"{name}.json", *extra, checkpoints=digits_checkpoints)

    return {"none": run("none", "--drift", "none"),
            "weak": run("weak", *common, "--ir-drop", "--wire-resistance-ohm", "0.01"),
            "strong": run("strong", *common, "--ir-drop", "--wire-resistance-ohm", "1.0")}


def test_ir_drop_settings_reach_the_results(runs):
    transform = runs["strong"]["config"]["tile_transform"]
    assert transform["ir_drop"] is True and transform["model"] == "memlab.simulation.ir_fast"
    assert transform["wire_resistance_ohm"] == 1.0 and transform["array_size"] == 64
    assert runs["weak"]["config"]["tile_transform"]["wire_resistance_ohm"] == 0.01
    assert runs["none"]["config"]["tile_transform"] is None


def test_resistive_wires_cost_accuracy_in_proportion_to_their_resistance(runs):
    """Same trained networks, same programming seeds: only the crossbar differs. 1 ohm per segment on
    64 x 64 arrays of ~1-2 mS devices attenuates the far cells several-fold (digits: 0.96 -> ~0.56);
    0.01 ohm leaves the predictions as they were."""
    none, weak, strong = runs["none"], runs["weak"], runs["strong"]
    assert none["digital_accuracy"] == weak["digital_accuracy"] == strong["digital_accuracy"]
    assert mean(strong) < mean(none) - 0.2, (mean(none), mean(strong))
    assert all(s < n for s, n in zip(strong["analog_accuracy"]["repeats"], none["analog_accuracy"]["repeats"]))
    assert mean(weak) == pytest.approx(mean(none), abs=0.02)


def test_wire_resistance_without_ir_drop_is_refused(tmp_path, capsys):
    code = main(["simulate", str(DEVICE), "--task", "digits", "--quick", "--wire-resistance-ohm", "1",
                 "--out", str(tmp_path / "r.json")])
    assert code == 2
    assert "--ir-drop" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
