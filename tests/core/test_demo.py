"""`memlab demo --quick` runs the whole path and writes a report that links every file it names."""

from __future__ import annotations

import json
import re

from memlab.analysis.device_file import load_device_file
from memlab.cli import main


def test_quick_demo_on_digits_writes_a_linked_report(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--task", "digits", "--out", str(out)]) == 0
    device = load_device_file(out / "device.json")
    assert device.states_per_branch == 16 and device.n_bins == 31
    results = json.loads((out / "results.json").read_text())
    assert 0.5 < results["digital_accuracy"] <= 1.0
    report = (out / "index.html").read_text()
    links = re.findall(r'(?:href|src)="([^"]+)"', report)
    assert {"run.h5", "device.json", "results.json"} <= set(links)
    assert all((out / link).exists() for link in links)
    assert results["device_file_sha256"] in report
