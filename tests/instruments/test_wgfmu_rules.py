"""The simulated WGFMU refuses what the B1530A refuses: one test per rule, message checked."""

from __future__ import annotations

import warnings

import pytest
from wgfmu_helpers import BOTTOM, TOP, open_session, tailored_cycle

from memlab.errors import InstrumentError, LimitError
from memlab.instruments.wgfmu import (
    ErrorCode,
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureEventData,
    MeasureMode,
    OperationMode,
    SettlingWarning,
    SimulatedWGFMU,
)

RAW, AVG = MeasureEventData.RAW, MeasureEventData.AVERAGED


@pytest.fixture
def w():
    return SimulatedWGFMU(seed=0)


def simple(w, *, voltage=0.5, duration=1e-6, loops=1):
    """A flat pulse on the top channel, ground on the bottom, both in sequence."""
    w.createPattern("p", 0.0)
    w.addVector("p", duration, voltage)
    w.createPattern("g", 0.0)
    w.addVector("g", duration, 0.0)
    w.addSequence(TOP, "p", loops)
    w.addSequence(BOTTOM, "g", loops)


def test_channel_setup_needs_open_session(w):
    with pytest.raises(InstrumentError, match="openSession") as info:
        w.setOperationMode(TOP, OperationMode.FASTIV)
    assert info.value.code == ErrorCode.CONTEXT


def test_execute_needs_open_session(w):
    simple(w)
    with pytest.raises(InstrumentError, match="openSession"):
        w.execute()


def test_vector_step_below_10_ns_refused(w):
    w.createPattern("p", 0.0)
    with pytest.raises(LimitError, match=r"deltaTime=4e-09 s: allowed 1e-08 \.\. 10995 s"):
        w.addVector("p", 4e-9, 0.1)


def test_vector_step_is_rounded_to_the_10_ns_grid(w):
    open_session(w)
    w.createPattern("p", 0.0)
    w.addVector("p", 1.004e-6, 0.1)  # rounds to 1.000 us
    w.addVector("p", 16e-9, 0.1)  # rounds to 20 ns
    w.createPattern("g", 0.0)
    w.addVector("g", 1.02e-6, 0.0)
    w.addSequence(TOP, "p", 1)
    w.addSequence(BOTTOM, "g", 1)
    w.execute()
    assert w.getStatus().total_s == pytest.approx(1.02e-6, abs=1e-15)


def test_more_than_2048_vectors_per_pattern_refused(w):
    w.createPattern("p", 0.0)
    w.addVectors("p", [10e-9] * 2048, [0.1] * 2048)
    with pytest.raises(LimitError, match="2049 vectors, allowed at most 2048 per pattern"):
        w.addVector("p", 10e-9, 0.0)


def test_voltage_above_safety_limit_refused():
    w = SimulatedWGFMU(voltage_limit_V=1.5)
    w.createPattern("p", 0.0)
    with pytest.raises(LimitError, match=r"voltage=2\.0 V: allowed -1\.5 \.\. 1\.5 V"):
        w.addVector("p", 1e-6, 2.0)


def test_measure_event_outside_its_pattern_refused_at_execute(w):
    open_session(w)
    simple(w, duration=1e-6)
    w.setMeasureEvent("p", "late", 0.9e-6, 20, 10e-9, 0.0, RAW)  # ends at 1.1 us
    with pytest.raises(LimitError, match=r"'late' of pattern 'p': ends at 1\.1e-06 s, outside the pattern"):
        w.execute()


def test_averaging_longer_than_interval_refused(w):
    w.createPattern("p", 0.0)
    with pytest.raises(LimitError, match="averagingTime=2e-06 s: must not exceed measurementInterval=1e-06 s"):
        w.setMeasureEvent("p", "e", 0.0, 2, 1e-6, 2e-6, AVG)


def test_sample_interval_outside_range_refused(w):
    w.createPattern("p", 0.0)
    with pytest.raises(LimitError, match=r"measurementInterval=2\.0 s: allowed 1e-08 \.\. 1\.34218 s"):
        w.setMeasureEvent("p", "e", 0.0, 2, 2.0, 0.0, RAW)


def test_overlapping_measure_events_refused(w):
    w.createPattern("p", 0.0)
    w.addVector("p", 10e-6, 0.1)
    w.setMeasureEvent("p", "a", 0.0, 100, 10e-9, 0.0, RAW)
    with pytest.raises(LimitError, match="overlaps event 'a'"):
        w.setMeasureEvent("p", "b", 0.5e-6, 1, 1e-6, 1e-6, AVG)


@pytest.mark.parametrize("loops", [0, 2**40 + 1, 1.5])
def test_loop_count_outside_range_refused(w, loops):
    w.createPattern("p", 0.0)
    w.addVector("p", 1e-6, 0.1)
    with pytest.raises(LimitError, match=r"loopCount=.*: allowed whole numbers 1 \.\. 1099511627776"):
        w.addSequence(TOP, "p", loops)


def test_points_per_channel_capacity_refused(w):
    open_session(w)
    simple(w, duration=50e-6, loops=1000)
    w.setMeasureEvent("g", "all", 0.0, 5000, 10e-9, 0.0, RAW)  # 5 million values
    with pytest.raises(LimitError, match="5000000 values, allowed at most 4194304 per channel"):
        w.execute()


def test_force_voltage_outside_force_range_refused(w):
    open_session(w)
    w.setForceVoltageRange(TOP, ForceVoltageRange.RANGE_3V)
    simple(w, voltage=4.0)
    with pytest.raises(LimitError, match=r"force voltages 0 \.\. 4 V: outside forceVoltageRange RANGE_3V"):
        w.execute()


def test_negative_10v_range_refuses_positive_voltage(w):
    open_session(w)
    w.setForceVoltageRange(TOP, ForceVoltageRange.RANGE_10V_NEGATIVE)
    simple(w, voltage=0.5)
    with pytest.raises(LimitError, match="RANGE_10V_NEGATIVE"):
        w.execute()


def test_current_measurement_refused_in_pg_mode(w):
    w.openSession("GPIB0::17::INSTR")
    w.setOperationMode(BOTTOM, OperationMode.PG)
    with pytest.raises(LimitError, match="measureMode=CURRENT: not allowed in operation mode PG"):
        w.setMeasureMode(BOTTOM, MeasureMode.CURRENT)
    with pytest.raises(LimitError, match="setMeasureCurrentRange: not available in operation mode PG"):
        w.setMeasureCurrentRange(BOTTOM, MeasureCurrentRange.RANGE_1MA)


def test_sequence_refused_in_dc_mode(w):
    open_session(w)
    w.setOperationMode(TOP, OperationMode.DC)
    simple(w)
    with pytest.raises(LimitError, match="sequences run in FASTIV or PG mode, not DC"):
        w.execute()


def test_unknown_enum_value_refused(w):
    w.openSession("GPIB0::17::INSTR")
    with pytest.raises(LimitError, match=r"measureCurrentRange=6009: allowed RANGE_1UA \(6001\)"):
        w.setMeasureCurrentRange(BOTTOM, 6009)


def test_disconnected_channel_refused_at_execute(w):
    w.openSession("GPIB0::17::INSTR")
    simple(w)
    with pytest.raises(InstrumentError, match="channel 101 has a sequence but is not connected"):
        w.execute()


def test_unknown_channel_and_pattern_refused(w):
    w.createPattern("p", 0.0)
    with pytest.raises(InstrumentError, match="channel 301 not installed") as info:
        w.addSequence(301, "p", 1)
    assert info.value.code == ErrorCode.CHANNEL_NOT_FOUND
    with pytest.raises(InstrumentError, match="pattern 'q' does not exist") as info:
        w.addSequence(TOP, "q", 1)
    assert info.value.code == ErrorCode.PATTERN_NOT_FOUND
    with pytest.raises(InstrumentError, match="already exists") as info:
        w.createPattern("p", 0.0)
    assert info.value.code == ErrorCode.PATTERN_ALREADY_EXISTS


def test_no_results_before_execute(w):
    open_session(w)
    with pytest.raises(InstrumentError, match="nothing executed yet") as info:
        w.getMeasureValues(BOTTOM, 0, 1)
    assert info.value.code == ErrorCode.RESULT_NOT_READY


def test_no_values_before_they_are_measured(w):
    open_session(w)
    tailored_cycle(w)
    w.addSequence(TOP, "cycle", 10)
    w.addSequence(BOTTOM, "ground", 10)
    w.execute()
    with pytest.raises(InstrumentError, match="399 requested, 0 measured so far") as info:
        w.getMeasureValues(BOTTOM, 0, 400)
    assert info.value.code == ErrorCode.RESULT_NOT_READY


def test_setup_changes_refused_while_running(w):
    open_session(w)
    simple(w, loops=100)
    w.setMeasureEvent("g", "e", 0.0, 1, 10e-9, 0.0, AVG)
    w.execute()
    with pytest.raises(InstrumentError, match="not allowed while a sequence is running"):
        w.createPattern("other", 0.0)


def test_results_of_an_older_setup_are_out_of_date(w):
    open_session(w)
    simple(w)
    w.setMeasureEvent("g", "e", 0.0, 1, 10e-9, 0.0, AVG)
    w.execute()
    w.waitUntilCompleted()
    w.createPattern("other", 0.0)
    with pytest.raises(InstrumentError, match="setup changed after execute") as info:
        w.getMeasureValueSize(BOTTOM)
    assert info.value.code == ErrorCode.RESULT_OUT_OF_DATE


def test_range_events_are_not_simulated(w):
    open_session(w)
    simple(w)
    w.setRangeEvent("g", "r", 0.0, MeasureCurrentRange.RANGE_10MA)
    with pytest.raises(InstrumentError, match="range events are not simulated") as info:
        w.execute()
    assert info.value.code == ErrorCode.FUNCTION_NOT_SUPPORTED


def test_short_read_on_1ua_range_warns_about_settling(w):
    open_session(w, current_range=MeasureCurrentRange.RANGE_1UA)
    tailored_cycle(w, n_up=2, n_down=2)
    w.addSequence(TOP, "cycle", 1)
    w.addSequence(BOTTOM, "ground", 1)
    with pytest.warns(SettlingWarning, match=r"4 measure event\(s\) \(ground/read0, .*\) start as early as 2 us .* below the 37 us"):
        w.execute()


def test_paper_read_on_1ma_range_passes_without_warning(w):
    open_session(w, current_range=MeasureCurrentRange.RANGE_1MA)
    tailored_cycle(w, raw=True)  # raw pulse captures are transients: no warning either
    w.addSequence(TOP, "cycle", 2)
    w.addSequence(BOTTOM, "ground", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SettlingWarning)
        w.execute()
        w.waitUntilCompleted()
