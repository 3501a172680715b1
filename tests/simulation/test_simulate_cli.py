"""`memlab simulate` through the CLI, checked by behaviour: read noise and measured drift change the
accuracy they should, and the same command twice gives the same numbers (so a difference is the
option's, not chance's). The trained networks are shared (tests.helpers.simulate_cli)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.simulate_cli import DEVICE, mean, simulate


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("simulate-cli")


@pytest.fixture(scope="module")
def baseline(root, digits_checkpoints):
    return simulate(root / "base.json", "--drift", "none", checkpoints=digits_checkpoints)


def test_the_same_command_gives_the_same_numbers(root, baseline, digits_checkpoints):
    again = simulate(root / "again.json", "--drift", "none", checkpoints=digits_checkpoints)
    assert again["analog_accuracy"] == baseline["analog_accuracy"]
    assert again["digital_accuracy"] == baseline["digital_accuracy"]


def test_read_noise_costs_accuracy_and_grows_with_its_sigma(root, baseline, digits_checkpoints):
    """--read-noise s draws a fresh N(0, s G) on every read: 20 % of G on every device costs digits
    ~30 points (0.96 -> ~0.66); 5 % less; both recorded in the options."""
    small = simulate(root / "rn05.json", "--drift", "none", "--read-noise", "0.05", checkpoints=digits_checkpoints)
    large = simulate(root / "rn20.json", "--drift", "none", "--read-noise", "0.2", checkpoints=digits_checkpoints)
    assert small["config"]["options"]["read_noise_fraction"] == 0.05
    assert large["config"]["options"]["read_noise_fraction"] == 0.2
    assert baseline["config"]["options"]["read_noise_fraction"] == 0.0
    assert large["digital_accuracy"] == baseline["digital_accuracy"]  # the same trained network
    assert small["analog_accuracy"]["repeats"] != baseline["analog_accuracy"]["repeats"]
    assert mean(large) < mean(small) <= mean(baseline) + 0.01
    assert mean(large) < mean(baseline) - 0.15, (mean(baseline), mean(small), mean(large))


def _faster_drift(path, factor):
    """A copy of the sample device file whose retention drifts ``factor`` x faster (every nu scaled)."""
    data = json.loads(DEVICE.read_text())
    d = data["drift"]
    for key in ("nu_mean", "nu_std", "nu_slope_per_S", "nu_spread"):
        d[key] *= factor
    d["nu_mean_ci"] = {**d["nu_mean_ci"], "low": d["nu_mean_ci"]["low"] * factor,
                       "high": d["nu_mean_ci"]["high"] * factor}
    for s in d["states"]:
        for key in ("nu", "nu_se", "nu_ci_low", "nu_ci_high"):
            s[key] *= factor
    path.write_text(json.dumps(data))
    return path


def _by_variant(results):
    return {(v["branch"], v["hwat"], v["drift_compensation"]): [a["mean"] for a in v["accuracy"]]
            for v in results["accuracy_vs_time"]}


def test_measured_drift_end_to_end_follows_the_device_files_nu(root, digits_checkpoints):
    """--drift measured applies the device file's own law G(0)(1 + t/t0)^-nu at 1 s ... 10 years.
    The sample device (nu ~0.003) keeps its accuracy for 10 years; the same file with every nu
    x30 (nu ~0.09, spread ~0.03 between devices) loses most of it within a day, in every variant."""
    slow = simulate(root / "measured.json", "--drift", "measured", checkpoints=digits_checkpoints)
    fast = simulate(root / "measured30.json", "--drift", "measured", checkpoints=digits_checkpoints,
                    device=_faster_drift(root / "fast-drift.json", 30.0))
    law = json.loads(DEVICE.read_text())["drift"]
    assert slow["config"]["options"]["drift"] == "measured" and slow["drift_model"]["model"] == "measured"
    assert slow["drift_model"]["law"] == law["law"]
    times = slow["accuracy_vs_time"][0]["times_s"]
    assert times[0] == 1.0 and times[-1] == pytest.approx(10 * 365.25 * 86400, rel=0.01)
    day = times.index(86400.0)
    slow_v, fast_v = _by_variant(slow), _by_variant(fast)
    assert len(slow_v) == 4  # --quick: the potentiation branch, HWAT or not x GDC or not
    for variant, acc in slow_v.items():
        assert acc[-1] > acc[0] - 0.05, (variant, acc)  # 10 years of the sample's drift: a few points at most
    for variant, acc in fast_v.items():
        assert acc[day] < acc[0] - 0.4, (variant, acc)  # 1 s ~0.79 (nu ~0.09 drifts already), 1 day ~0.09
