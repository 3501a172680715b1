"""Protocol files and their validation: every refusal names the field, value and limit."""

from __future__ import annotations

import copy
import pathlib

import pytest

from memlab.errors import ConfigError, DataNotFoundError, LimitError
from memlab.protocols.loader import load_protocol, protocol_from_dict, protocol_to_dict
from memlab.protocols.protocol import PulseCyclingProtocol, PulseTrain, ReadPulse

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "sample_data" / "protocols"

BASE = {
    "kind": "pulse_cycling",
    "name": "t",
    "cycles": 3,
    "current_range": "10mA",
    "potentiation": {"count": 4, "amplitude_V": {"from": 0.7, "to": 0.995},
                     "width_s": {"from": 160e-9, "to": 190e-9}},
    "depression": {"count": 4, "amplitude_V": 0.8, "width_s": 200e-9, "polarity": "negative"},
    "read": {"amplitude_V": -0.1, "width_s": 30e-6, "delay_s": 20e-6},
}
RETENTION = {
    "kind": "retention", "name": "r", "target_pulses": [0, 2],
    "program": {"count": 4, "amplitude_V": 0.9, "width_s": 200e-9},
    "reset": {"count": 4, "amplitude_V": 0.9, "width_s": 200e-9},
    "first_read_s": 1e-3, "duration_s": 10.0, "points": 5,
}
IV = {"kind": "iv_sweep", "name": "iv", "stops_V": [1.0, -1.0], "step_V": 0.05}


def edit(base: dict, path: str, value) -> dict:
    """A deep copy of ``base`` with the dotted ``path`` set (``value=...`` deletes it)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def test_paper_tailored_reproduces_the_paper_scheme():
    p = load_protocol(SAMPLES / "paper-tailored.toml")
    assert isinstance(p, PulseCyclingProtocol)
    assert (p.n_up, p.n_down, p.cycles) == (20, 20, 100)
    assert p.potentiation.amplitude_V[0] == pytest.approx(0.7) and p.potentiation.amplitude_V[-1] == pytest.approx(0.995)
    assert p.pulse_width_s[0] == pytest.approx(160e-9) and p.pulse_width_s[19] == pytest.approx(350e-9)
    assert all(a < 0 for a in p.pulse_amplitude_V[20:]) and all(a > 0 for a in p.pulse_amplitude_V[:20])
    assert (p.read.amplitude_V, p.read.width_s, p.read.delay_s) == (-0.1, 30e-6, 20e-6)
    assert p.record_waveforms and p.warnings == ()


@pytest.mark.parametrize("name", ["paper-tailored", "constant", "retention", "iv-sweep"])
def test_sample_protocols_load_and_round_trip_through_json(name):
    p = load_protocol(SAMPLES / f"{name}.toml")
    assert protocol_from_dict(protocol_to_dict(p)) == p


def test_constant_protocol_has_identical_pulses():
    p = load_protocol(SAMPLES / "constant.toml")
    assert len(set(p.potentiation.amplitude_V)) == 1 and len(set(p.pulse_width_s)) == 1


def test_off_grid_time_is_rounded_by_the_loader_with_a_recorded_warning():
    p = protocol_from_dict(edit(BASE, "read.delay_s", 20.004e-6))
    assert p.read.delay_s == pytest.approx(20e-6)
    assert len(p.warnings) == 1 and "read.delay_s" in p.warnings[0] and "rounded" in p.warnings[0]
    assert protocol_to_dict(p)["warnings"] == list(p.warnings)


def test_off_grid_time_is_refused_by_the_dataclass():
    with pytest.raises(LimitError, match=r"width_s\[0\]=1.55e-07.*10 ns grid"):
        PulseTrain(amplitude_V=(0.8,), width_s=(155e-9,), name="potentiation")


# (case id, protocol dict, text the message must contain)
REFUSALS = [
    ("time-rounds-below-10ns", edit(BASE, "rise_s", 3e-9), "rise_s=0"),
    ("width-above-vector-max", edit(BASE, "depression.width_s", 2e4), "depression.width_s[0]=20000"),
    ("amplitude-above-5V", edit(BASE, "depression.amplitude_V", 5.5), "depression.amplitude_V[0]=5.5 V: allowed"),
    ("amplitude-not-positive", edit(BASE, "depression.amplitude_V", -0.8), "amplitude_V[0]=-0.8"),
    ("amplitude-nan", edit(BASE, "depression.amplitude_V", float("nan")), "amplitude_V[0]=nan"),
    ("read-amplitude-above-5V", edit(BASE, "read.amplitude_V", -6.0), "read.amplitude_V=-6.0 V: allowed -5"),
    ("read-amplitude-zero", edit(BASE, "read.amplitude_V", 0.0), "read.amplitude_V=0"),
    ("read-too-short-for-1uA", edit(BASE, "current_range", "1uA"), "read.width_s=3e-05 s: allowed 3.701e-05"),
    ("read-too-short-for-10mA", edit(BASE, "read.width_s", 100e-9), "read.width_s=1e-07 s: allowed 1.55e-07"),
    ("unknown-current-range", edit(BASE, "current_range", "2mA"), "current_range='2mA': allowed 1uA"),
    ("same-polarity", edit(BASE, "depression.polarity", "positive"), "depression.polarity='positive': must be opposite"),
    ("bad-polarity", edit(BASE, "depression.polarity", "down"), "depression.polarity='down': allowed positive, negative"),
    ("zero-cycles", edit(BASE, "cycles", 0), "cycles=0: allowed whole numbers 1"),
    ("fractional-cycles", edit(BASE, "cycles", 2.5), "cycles=2.5"),
    ("points-capacity", edit(BASE, "depression.width_s", 0.05), "points per cycle=2000"),
    ("unknown-key", edit(BASE, "cylces", 3), "unknown key(s) cylces"),
    ("unknown-train-key", edit(BASE, "potentiation.amplitude", 1), "[potentiation]: unknown key(s) amplitude"),
    ("list-length-vs-count", edit(BASE, "potentiation.width_s", [160e-9, 170e-9]), "potentiation.width_s has 2 values: count=4"),
    ("scalar-without-count", edit(BASE, "depression.count", ...), "a single value or a ramp needs 'count'"),
    ("widths-vs-amplitudes", edit(edit(edit(BASE, "depression.count", ...), "depression.amplitude_V", [0.8, 0.9]),
                                  "depression.width_s", [1e-7]), "depression.width_s has 1 values: count=2"),
    ("zero-count", edit(BASE, "potentiation.count", 0), "potentiation.count=0"),
    ("missing-train", edit(BASE, "depression", ...), "[depression]: missing table"),
    ("missing-name", edit(BASE, "name", ...), "missing key name"),
    ("unknown-kind", edit(BASE, "kind", "stdp"), "kind='stdp': allowed"),
    ("ramp-needs-both-ends", edit(BASE, "potentiation.amplitude_V", {"from": 0.7}), "needs both 'from' and 'to'"),
    ("retention-target-beyond-train", edit(RETENTION, "target_pulses", [0, 9]), "target_pulses[1]=9: allowed whole numbers 0 .. 4"),
    ("retention-no-states", edit(RETENTION, "target_pulses", []), "target_pulses=[]"),
    ("retention-first-read-too-early", edit(RETENTION, "first_read_s", 10e-6), "first_read_s=1e-05 s: allowed"),
    ("retention-duration-too-short", edit(RETENTION, "duration_s", 1.5e-3), "duration_s=0.0015 s: allowed"),
    ("retention-one-point", edit(RETENTION, "points", 1), "points=1: allowed whole numbers 2"),
    ("retention-same-polarity", edit(RETENTION, "reset.polarity", "positive"), "reset.polarity='positive'"),
    ("iv-too-many-steps", edit(edit(IV, "step_V", 1e-4), "stops_V", [2.0]), "gives 20001 steps: the B1500A sweeps at most 10001"),
    ("iv-compliance-above-smu", edit(IV, "compliance_A", 1.0), "compliance_A=1.0"),
    ("iv-stop-above-smu", edit(IV, "stops_V", [150.0]), "stops_V[0]=150.0 V: allowed -100 .. 100 V"),
    ("iv-zero-stop", edit(IV, "stops_V", [0.0]), "stops_V[0]=0 V"),
    ("iv-negative-hold", edit(IV, "hold_s", -1.0), "hold_s=-1.0 s: allowed 0 .. 655.35"),
]


@pytest.mark.parametrize("data,message", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_bad_protocol_is_refused_naming_field_value_and_limit(data, message):
    with pytest.raises(ConfigError) as info:
        protocol_from_dict(data)
    assert message in str(info.value)


def test_refusal_from_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('kind = "pulse_cycling"\nname = "x"\ncycles = -1\n'
                    '[potentiation]\ncount = 1\namplitude_V = 0.8\nwidth_s = 1e-7\n'
                    '[depression]\ncount = 1\namplitude_V = 0.8\nwidth_s = 1e-7\n')
    with pytest.raises(LimitError, match=r"bad.toml: cycles=-1"):
        load_protocol(path)


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("kind = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_protocol(bad)
    with pytest.raises(DataNotFoundError, match="not found"):
        load_protocol(tmp_path / "absent.toml")


def test_read_averages_the_settled_flat_top():
    read = ReadPulse(amplitude_V=-0.1, width_s=30e-6)
    assert read.averaging_s("10mA") == pytest.approx(30e-6 - 150e-9)
    assert read.averaging_s("1mA") == pytest.approx(30e-6 - 240e-9)
