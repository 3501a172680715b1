"""`memlab demo --quick` runs the whole path and writes a report that links every file it names,
and that a real browser renders with every image and without a request leaving the machine."""

from __future__ import annotations

import json
import re

import pytest

from cdp import Browser, find_chromium
from memlab.analysis.device_file import load_device_file
from memlab.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    assert main(["demo", "--quick", "--task", "digits", "--out", str(out)]) == 0
    return out


def test_quick_demo_on_digits_writes_a_linked_report(demo):
    out = demo
    device = load_device_file(out / "device.json")
    assert device.states_per_branch >= 2 and device.n_bins <= 2 * device.states_per_branch - 1
    results = json.loads((out / "results.json").read_text())
    assert 0.5 < results["digital_accuracy"] <= 1.0
    report = (out / "index.html").read_text()
    links = re.findall(r'(?:href|src)="([^"]+)"', report)
    assert {"run.h5", "device.json", "results.json"} <= set(links)
    files = [link for link in links if not link.startswith("#")]  # in-page anchors: sections, enlarged figures
    assert all((out / link).exists() for link in files)
    assert results["device_file_sha256"] in report
    # in the order of the path, each figure with a caption, a glossary and the drift's provenance
    order = [report.index(f'id="{s}"') for s in ("protocol", "raw", "states", "bins", "energy", "drift", "accuracy",
                                                  "cost", "budget")]
    assert order == sorted(order)
    assert report.index("fig-cycles") < report.index("fig-window") < report.index("fig-bins") < report.index(
        "fig-energy\"") < report.index("fig-accuracy")
    assert report.count("<figcaption>") == len(list((out / "figures").rglob("*.png")))
    for word in ("HWAT", "GDC", "D2D", "ADC / DAC"):
        assert f"<dt>{word}</dt>" in report
    # what the network costs: the table and the per-layer figure, read pulse from the demo's own run
    assert "<td>network</td>" in report and "fig-network_energy" in report
    assert results["energy"]["parameters"]["timing"]["source"] == "protocol of run archive run.h5"
    # where the accuracy goes: the budget's table and waterfall, its stages in the order run
    budget = results["budget"]
    assert "fig-budget" in report and "<th>full analog</th>" in report
    assert [report.index(f"<tr><td>{row['label']}</td>") for row in budget["stages"]] == sorted(
        report.index(f"<tr><td>{row['label']}</td>") for row in budget["stages"])
    assert budget["stages"][0]["stage"] == "states" and budget["repeats"] == 3
    drift = results["config"]["options"]["drift"]
    assert f"Drift in these numbers: <b>{drift}</b>" in report


@pytest.mark.skipif(find_chromium() is None, reason="no chromium on this machine (.ci/run installs Debian's "
                                                    "chromium package where it can)")
def test_report_renders_in_chromium_with_every_image_and_no_request_off_the_machine(demo):
    with Browser(find_chromium()) as browser:
        page = browser.page()
        urls = browser.load(page, (demo / "index.html").as_uri())
        images = browser.evaluate(page, "Array.from(document.images).map(i => [i.getAttribute('src'), "
                                        "i.complete && i.naturalWidth > 0])")
        assert images and all(ok for _, ok in images), [src for src, ok in images if not ok]
        pngs = {p.relative_to(demo).as_posix() for p in (demo / "figures").rglob("*.png")}
        assert {src for src, _ in images} == pngs
        off = [u for u in urls if not u.startswith(("file:", "data:", "about:"))]
        assert urls and not off, off
        # click to enlarge: the figure's overlay shows, and a click on it closes it
        browser.evaluate(page, "document.querySelector('a[href=\"#fig-cycles\"]').click()")
        shown = browser.evaluate(page, "getComputedStyle(document.getElementById('fig-cycles')).display")
        assert shown == "block"
        browser.evaluate(page, "document.querySelector('#fig-cycles a').click()")
        assert browser.evaluate(page, "getComputedStyle(document.getElementById('fig-cycles')).display") == "none"
