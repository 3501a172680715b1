"""`memlab simulate --ir-drop` applies the crossbar model and records its settings in the results."""

from __future__ import annotations

import json
from pathlib import Path

from memlab.cli import main

DEVICE = Path(__file__).parents[2] / "sample_data" / "devices" / "virtual-hfs2.json"


def test_ir_drop_settings_reach_the_results(tmp_path):
    out = tmp_path / "r.json"
    code = main(["simulate", str(DEVICE), "--task", "digits", "--quick", "--repeats", "1",
                 "--ir-drop", "--wire-resistance-ohm", "0.5", "--array-size", "64", "--out", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    transform = results["config"]["tile_transform"]
    assert transform["ir_drop"] is True
    assert transform["wire_resistance_ohm"] == 0.5 and transform["array_size"] == 64
    assert 0.0 <= results["analog_accuracy"]["mean"] <= 1.0


def test_wire_resistance_without_ir_drop_is_refused(tmp_path, capsys):
    code = main(["simulate", str(DEVICE), "--task", "digits", "--quick", "--wire-resistance-ohm", "1",
                 "--out", str(tmp_path / "r.json")])
    assert code == 2
    assert "--ir-drop" in capsys.readouterr().err
