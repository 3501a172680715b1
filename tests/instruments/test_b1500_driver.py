"""The B1500A driver against ordered (command, reply) scripts, and once through real pyvisa (pyvisa-sim)."""

from __future__ import annotations

import math

import pytest

from memlab.errors import InstrumentError, InstrumentTimeoutError, LimitError
from memlab.instruments.b1500 import B1500, SIM_YAML
from memlab.status import PointStatus
from tests.helpers.visa_script import ScriptedResource

NO_ERROR = ("ERRX?", '0,"No Error."')


def driver(script, **kwargs):
    resource = ScriptedResource(script)
    return B1500(resource, **kwargs), resource


def test_identification_and_modules():
    b, r = driver([("*IDN?", "Keysight Technologies,B1500A,MY123,A.06.01"),
                   ("UNT?", "B1517A,0;B1511B,0;0,0;B1530A,0")])
    assert b.idn() == {"vendor": "Keysight Technologies", "model": "B1500A", "serial": "MY123", "firmware": "A.06.01"}
    assert b.modules() == [("B1517A", 0), ("B1511B", 0), ("0", 0), ("B1530A", 0)]
    r.assert_done()


def test_commands_drain_the_error_queue():
    b, r = driver([("*RST", None), NO_ERROR, ("FMT 21,0", None), NO_ERROR, ("CN 1,2", None), NO_ERROR,
                   ("RI 1,-19", None), NO_ERROR, ("AIT 1,2,2", None), NO_ERROR,
                   ("DV 1,0,-0.1,0.001", None), NO_ERROR])
    b.reset()
    b.set_format(21)
    b.enable([1, 2])
    b.set_current_range(1, -19)
    b.set_integration(1, 2, 2)
    b.force_voltage(1, -0.1, 1e-3)
    assert b.fmt == 21
    r.assert_done()


def test_an_instrument_error_raises_with_code_and_text_and_drains_the_queue():
    b, r = driver([("DV 3,0,1,0.001", None), ("ERRX?", '+200,"Output not enabled"'),
                   ("ERRX?", '+120,"Incorrect numeric data"'), NO_ERROR])
    with pytest.raises(InstrumentError, match=r"after 'DV 3,0,1,0.001': Output not enabled \(\+1 more") as info:
        b.force_voltage(3, 1.0, 1e-3)
    assert info.value.code == 200
    r.assert_done()


def test_spot_measurements_keep_status_and_channel():
    b, r = driver([("TI 1", "CAI+001.000E-03"), NO_ERROR, ("TV 2,0", "NBV-000.100E+00"), NO_ERROR])
    current = b.measure_current(1)
    assert current.value == pytest.approx(1e-3) and current.status == PointStatus.COMPLIANCE and current.channel == 1
    voltage = b.measure_voltage(2, 0)
    assert voltage.value == pytest.approx(-0.1) and voltage.kind == "V"
    r.assert_done()


def test_malformed_measurement_reply_is_an_instrument_error():
    b, _ = driver([("TI 1", "NAI+0.0E+00,garbage")])
    with pytest.raises(InstrumentError, match="malformed FMT1 value 'garbage'"):
        b.measure_current(1)


def test_staircase_sweep_sends_wt_wv_mm_xe_and_parses_every_step():
    data = "NAI+000.000E+00,NAI+500.000E-06,CAI+001.000E-03,VAI+199.999E+99"
    b, r = driver([("WT 0.01,0.001", None), NO_ERROR, ("WV 1,1,0,0,1.5,4,0.001", None), NO_ERROR,
                   ("MM 2,1", None), NO_ERROR, ("XE", data), NO_ERROR])
    points = b.staircase_sweep(1, 0.0, 1.5, 4, 1e-3, hold_s=0.01, delay_s=0.001)
    assert [p.status for p in points] == [PointStatus.OK, PointStatus.OK, PointStatus.COMPLIANCE, PointStatus.OVERFLOW]
    assert math.isnan(points[3].value)
    r.assert_done()


def test_two_way_sweep_expects_twice_the_steps():
    b, r = driver([("WT 0,0", None), NO_ERROR, ("WV 1,3,0,0,1,2,0.001", None), NO_ERROR, ("MM 2,1", None), NO_ERROR,
                   ("XE", "NAI+0.0E+00,NAI+1.0E-03,NAI+1.0E-03")])
    with pytest.raises(InstrumentError, match="expected 4 values, got 3"):
        b.staircase_sweep(1, 0.0, 1.0, 2, 1e-3, two_way=True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.force_voltage(1, 150.0, 1e-3), r"voltage_V=150.0 V: allowed -100 \.\. 100 V"),
        (lambda b: b.force_voltage(1, 1.0, 0.5), r"compliance_A=0.5 A: allowed -0.1 \.\. 0.1 A"),
        (lambda b: b.force_voltage(1, 1.0, 0.0), "compliance_A=0: a current compliance must be non-zero"),
        (lambda b: b.force_voltage(11, 1.0, 1e-3), r"channel=11 \(slot\): allowed 1 \.\. 10"),
        (lambda b: b.staircase_sweep(1, 0, 1, 20000, 1e-3), r"steps=20000: allowed 1 \.\. 10001"),
        (lambda b: b.staircase_sweep(1, 0, 1, 10, 1e-3, hold_s=700), r"hold_s=700 s: allowed 0 \.\. 655.35 s"),
        (lambda b: b.staircase_sweep(1, 0, 2.5, 10, 1e-3), r"stop_V=2.5 V: allowed -2 \.\. 2 V"),
    ],
)
def test_limits_are_checked_before_anything_is_sent(call, message):
    b, r = driver([], voltage_limit_V=100.0 if "stop_V" not in message else 2.0)
    with pytest.raises(LimitError, match=message):
        call(b)
    r.assert_done()


def test_close_sends_dz_then_cl_even_after_an_exception():
    b, r = driver([("DZ", None), ("CL", None), NO_ERROR])
    with pytest.raises(ZeroDivisionError):
        with b:
            1 / 0
    r.assert_done()
    assert r.closed


def test_safe_start_reads_the_switches_then_forces_0_v_and_disconnects_before_anything_else():
    b, r = driver([("*LRN? 0", "CN1,2"), ("DZ", None), NO_ERROR, ("CL", None), NO_ERROR])
    record = b.safe_start("GPIB0::17::INSTR")
    r.assert_done()
    assert record["live"] is True and record["found"]["channels"] == {"1": {"connected": True}, "2": {"connected": True}}
    assert record["action"].startswith("DZ") and record["address"] == "GPIB0::17::INSTR"
    b, r = driver([("*LRN? 0", "CL"), ("DZ", None), NO_ERROR, ("CL", None), NO_ERROR])
    assert b.safe_start()["live"] is False
    # an unreadable reply: the state is unknown (counted live), and DZ and CL still go out
    b, r = driver([("*LRN? 0", "garbage"), ("DZ", None), NO_ERROR, ("CL", None), NO_ERROR])
    record = b.safe_start()
    r.assert_done()
    assert record["live"] is True and "state unknown" in record["found"]["note"]


def test_close_still_disconnects_when_dz_fails():
    class FailingDZ(ScriptedResource):
        def write(self, message):
            if message == "DZ":
                raise OSError("VI_ERROR_IO: bus error")
            super().write(message)

    resource = FailingDZ([("CL", None), NO_ERROR])
    with pytest.raises(InstrumentError, match="bus error"):
        B1500(resource).close()
    resource.assert_done()


def test_visa_timeout_becomes_instrument_timeout_error():
    class Silent(ScriptedResource):
        def query(self, message):
            raise OSError("VI_ERROR_TMO (-1073807339): Timeout expired before operation completed.")

    with pytest.raises(InstrumentTimeoutError, match="VI_ERROR_TMO"):
        B1500(Silent([])).idn()


def test_after_a_timeout_close_clears_the_device_before_dz_and_cl():
    """The mainframe may still be measuring: a device clear aborts it, so DZ acts at once and its
    late reply is not read as the answer to ERRX?."""
    sent = []

    class SilentOnce(ScriptedResource):
        def read(self):
            raise InstrumentTimeoutError("no reply to 'XE' within 1 s")

        def clear(self):
            sent.append("device clear")

        def write(self, message):
            sent.append(message)
            super().write(message)

    resource = SilentOnce([("XE", None), ("DZ", None), ("CL", None), NO_ERROR])
    b = B1500(resource)
    with pytest.raises(InstrumentTimeoutError):
        b.write("XE")
        b.read()
    b.close()
    resource.assert_done()
    assert sent == ["XE", "device clear", "DZ", "CL"]


def test_no_device_clear_without_a_timeout():
    class Clearable(ScriptedResource):
        def clear(self):
            raise AssertionError("device clear sent after a clean session")

    resource = Clearable([("DZ", None), ("CL", None), NO_ERROR])
    B1500(resource).close()
    resource.assert_done()


def test_the_wait_for_a_sweep_reply_adds_the_sweep_duration_to_the_timeout():
    waited = []

    class Timed(ScriptedResource):
        timeout_s = 2.0

        def read(self):
            waited.append(self.timeout_s)
            return super().read()

    steps = ",".join(["NAI+001.000E-06"] * 10)
    resource = Timed([("WT 0.5,0.1", None), NO_ERROR, ("WV 1,3,0,0,1,5,0.001", None), NO_ERROR,
                      ("MM 2,1", None), NO_ERROR, ("XE", steps), NO_ERROR])
    B1500(resource).staircase_sweep(1, 0.0, 1.0, 5, 1e-3, two_way=True, hold_s=0.5, delay_s=0.1)
    resource.assert_done()
    assert waited == [pytest.approx(2.0 + 0.5 + 10 * (0.1 + 0.02))]
    assert resource.timeout_s == 2.0  # restored after the sweep


def test_every_command_method_names_its_flex_command():
    """House rule: a driver method's docstring ends its first line with the FLEX mnemonic(s)."""
    exempt = {"open", "write", "read", "query", "send", "close", "snapshot", "check_errors"}
    for name in dir(B1500):
        method = getattr(B1500, name)
        if name.startswith("_") or not callable(method) or name in exempt:
            continue
        first_line = method.__doc__.strip().splitlines()[0]
        assert first_line.endswith(")") and "(" in first_line, f"B1500.{name}: {first_line!r}"


def _yaml_dialogues() -> dict:
    """The pyvisa-sim file's query -> reply table, read with PyYAML (what the simulated instrument knows)."""
    import yaml

    spec = yaml.safe_load(SIM_YAML.read_text())
    return {d["q"]: d.get("r") for d in spec["devices"]["b1500a"]["dialogues"]}


def test_smoke_through_real_pyvisa_with_pyvisa_sim():
    """Real pyvisa + pyvisa-sim: every command the driver sends must be one the YAML knows (pyvisa-sim
    answers anything else with ERROR), and the sweep's points must be the YAML's reply decoded by
    the FMT1 rules (status letter, channel letter A = slot 1, value), decoded here by hand."""
    import pyvisa_sim  # noqa: F401  (a test dependency: pyproject's [test] extra)

    dialogues = _yaml_dialogues()
    expected = []
    for token in dialogues["XE"].split(","):  # e.g. NAI+025.000E-06: status N, channel A, current I
        status, channel, kind, value = token[0], token[1], token[2], float(token[3:])
        expected.append((value, {"N": PointStatus.OK, "C": PointStatus.COMPLIANCE}[status],
                         "ABCDEFGHIJ".index(channel) + 1, kind))
    assert len(expected) == 5 and expected[-1][1] == PointStatus.COMPLIANCE  # the file's own story
    assert "WV 1,1,0,0,1,5,0.001" in dialogues  # the sweep below must send exactly this
    with B1500.open("GPIB0::17::INSTR", backend=f"{SIM_YAML}@sim") as b:
        vendor, model, serial, firmware = dialogues["*IDN?"].split(",")
        assert b.idn() == {"vendor": vendor, "model": model, "serial": serial, "firmware": firmware}
        assert ("B1530A", 0) in b.modules()
        assert b.errors() == []
        b.set_format(1, 0)
        b.enable([1])
        points = b.staircase_sweep(1, 0.0, 1.0, 5, 1e-3)
    assert [(p.value, p.status, p.channel, p.kind) for p in points] == expected
