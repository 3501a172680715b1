"""`memlab simulate` through the CLI on scikit-learn's digits, small enough for every test run.

The networks are trained once per test session (``--checkpoints`` in the session's folder, the
``digits_checkpoints`` fixture of ``tests/conftest.py``); every later call with the same training
settings reuses them, so runs that differ in an evaluation option (IR drop, read noise, drift)
compare the same trained networks with the same programming seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

from memlab.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
DIGITS = ("--task", "digits", "--quick", "--epochs", "3", "--hwat-epochs", "1", "--repeats", "2", "--seed", "0")


def simulate(out: Path, *extra: str, checkpoints: Path, device: Path = DEVICE) -> dict:
    """Run ``memlab simulate DEVICE --task digits ... --out OUT EXTRA``; the results JSON as a dict."""
    code = main(["simulate", str(device), *DIGITS, "--checkpoints", str(checkpoints), "--out", str(out), *extra])
    assert code == 0, f"memlab simulate {' '.join(extra)} exited {code}"
    return json.loads(Path(out).read_text())


def mean(results: dict) -> float:
    return results["analog_accuracy"]["mean"]
