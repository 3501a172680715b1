"""FLEX message building and reply parsing: literal strings, and hypothesis on arbitrary input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.errors import InstrumentError
from memlab.instruments.b1500 import flex
from memlab.status import PointStatus


def test_builders_give_literal_commands():
    assert flex.dv(1, 0, 0.5, 1e-3) == "DV 1,0,0.5,0.001"
    assert flex.dv(2, 11, -1.25, 1e-6, None, None) == "DV 2,11,-1.25,1E-06"
    assert flex.di(1, 0, 1e-6, 2.0) == "DI 1,0,1E-06,2"
    assert flex.wv(1, 3, 0, -1.5, 1.5, 31, 5e-3) == "WV 1,3,0,-1.5,1.5,31,0.005"
    assert flex.wt(0.1, 0.0) == "WT 0.1,0"
    assert flex.mm(2, [1]) == "MM 2,1"
    assert flex.channels_command("CN", []) == "CN"
    assert flex.channels_command("CL", [1, 2]) == "CL 1,2"
    assert flex.command("TI", 1, None) == "TI 1"


def test_builder_refuses_a_gap_in_optional_arguments():
    with pytest.raises(InstrumentError, match="optional argument is missing"):
        flex.dv(1, 0, 0.5, None, 0)


def test_fmt1_normal_compliance_overflow_and_channels():
    points = flex.parse_fmt1("NAI+000.005E-09,CBI+100.000E-06,VAI+199.999E+99,TCV-001.500E+00,NJT+012.345E-03\r\n")
    assert [p.value for p in points[:2]] == [pytest.approx(5e-12), pytest.approx(100e-6)]
    assert [p.status for p in points] == [PointStatus.OK, PointStatus.COMPLIANCE, PointStatus.OVERFLOW,
                                          PointStatus.OTHER_COMPLIANCE, PointStatus.OK]
    assert math.isnan(points[2].value)
    assert [p.channel for p in points] == [1, 2, 1, 3, 10]
    assert [p.kind for p in points] == ["I", "I", "I", "V", "T"]
    assert points[3].value == -1.5 and points[3].raw_status == "T"


def test_fmt1_sweep_status_letters_are_normal_points():
    points = flex.parse_fmt1("WAV+000.100E+00,EAV+000.200E+00")
    assert [p.status for p in points] == [PointStatus.OK, PointStatus.OK]
    assert [p.raw_status for p in points] == ["W", "E"]


def test_fmt21_status_bits():
    points = flex.parse_fmt21("000AI+1.23456E-06,008AI+1.00000E-04,001BI+199.999E+99,004AV-2.50000E-01,066AI+0.00000E+00")
    assert points[0].value == pytest.approx(1.23456e-6) and points[0].status == PointStatus.OK
    assert points[1].status == PointStatus.COMPLIANCE
    assert points[2].status == PointStatus.OVERFLOW and math.isnan(points[2].value) and points[2].channel == 2
    assert points[3].status == PointStatus.OTHER_COMPLIANCE and points[3].kind == "V"
    assert points[4].status == PointStatus.OSCILLATION | PointStatus.MISSING


@pytest.mark.parametrize("reply", ["", "NAI", "NAI+", "QAI+000.005E-09", "NKI+000.005E-09", "NAI+1.0E-09,", "NAI+abc",
                                   "NAI+000.005E-09,XX", "000AI+1.0E-06"])
def test_malformed_fmt1_is_a_clear_instrument_error(reply):
    if reply == "NAI+1.0E-09,":  # a trailing separator is tolerated
        assert len(flex.parse_fmt1(reply)) == 1
        return
    with pytest.raises(InstrumentError, match="FMT1 value|empty data reply"):
        flex.parse_fmt1(reply)


def test_malformed_fmt21_is_a_clear_instrument_error():
    with pytest.raises(InstrumentError, match=r"malformed FMT21 value 'NAI\+000.005E-09' at position 1"):
        flex.parse_fmt21("000AI+1.0E-06,NAI+000.005E-09")


def test_errx_idn_unt():
    assert flex.parse_errx('0,"No Error."') == (0, "No Error.")
    assert flex.parse_errx('+100,"Undefined GPIB command."') == (100, "Undefined GPIB command.")
    assert flex.parse_idn("Keysight Technologies,B1500A,0,A.06.01")["model"] == "B1500A"
    assert flex.parse_unt("B1517A,0;0,0;B1530A,0") == [("B1517A", 0), ("0", 0), ("B1530A", 0)]
    for bad, parser in (("garbage", flex.parse_errx), ("B1500A", flex.parse_idn), ("B1517A;0,0", flex.parse_unt)):
        with pytest.raises(InstrumentError, match="malformed"):
            parser(bad)


def test_parse_data_refuses_other_formats():
    with pytest.raises(InstrumentError, match="FMT 2 is not parsed"):
        flex.parse_data("x", 2)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_raise_only_instrument_error_on_arbitrary_text(text):
    for parser in (flex.parse_fmt1, flex.parse_fmt21, flex.parse_errx, flex.parse_idn, flex.parse_unt):
        try:
            parser(text)
        except InstrumentError:
            pass


values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-15)
statuses = st.sampled_from([PointStatus.OK, PointStatus.COMPLIANCE, PointStatus.OTHER_COMPLIANCE])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(values, statuses, st.integers(1, 10), st.sampled_from("VIT")), min_size=1, max_size=20))
def test_format_then_parse_is_identity_to_the_printed_precision(points):
    originals = [flex.FlexPoint(v, s, c, k, "") for v, s, c, k in points]
    for encode, parse, rel in ((flex.format_fmt1, flex.parse_fmt1, 1e-3), (flex.format_fmt21, flex.parse_fmt21, 1e-5)):
        parsed = parse(",".join(encode(p) for p in originals))
        for original, back in zip(originals, parsed):
            assert back.value == pytest.approx(original.value, rel=rel, abs=1e-3 * 10 ** math.floor(
                math.log10(abs(original.value))) if original.value else 0)
            assert (back.status, back.channel, back.kind) == (original.status, original.channel, original.kind)
