"""The ctypes binding (instruments/wgfmu/library.py) across a real C boundary: the compiled stand-in.

Every argument crosses as C types (strings, doubles, int and double pointers
the library writes, arrays it fills, the error-summary buffer), every error
comes back as a negative return code with the library's summary text.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re

import numpy as np
import pytest
from standin import SOURCE

from memlab.errors import InstrumentAbortedError, InstrumentError, InstrumentTimeoutError
from memlab.instruments.wgfmu import (
    ErrorCode,
    MeasureCurrentRange,
    MeasureEventData,
    MeasureMode,
    OperationMode,
    Status,
    WGFMULibrary,
)
from memlab.instruments.wgfmu.library import SIGNATURES, load_library

C_TYPES = {"int": ctypes.c_int, "double": ctypes.c_double, "const char *": ctypes.c_char_p,
           "char *": ctypes.c_char_p, "int *": ctypes.POINTER(ctypes.c_int),
           "double *": ctypes.POINTER(ctypes.c_double)}


def c_prototypes() -> dict[str, list]:
    """``API int WGFMU_name(type name, ...)`` of the stand-in's source, as ctypes types."""
    text = SOURCE.read_text()
    found = {}
    for name, args in re.findall(r"API int WGFMU_(\w+)\(([^)]*)\)", text):
        types = []
        for arg in (a.strip() for a in args.split(",") if a.strip() and a.strip() != "void"):
            declared = re.fullmatch(r"(const char \*|char \*|int \*|double \*|int|double)\s*\w+", arg)
            assert declared, f"WGFMU_{name}: cannot read argument {arg!r}"
            types.append(C_TYPES[declared.group(1).replace(" *", " *").strip()])
        found[name] = types
    return found


def test_the_stand_in_has_the_bindings_prototypes():
    prototypes = c_prototypes()
    assert set(SIGNATURES) <= set(prototypes), f"missing: {set(SIGNATURES) - set(prototypes)}"
    for name, argtypes in SIGNATURES.items():
        assert prototypes[name] == argtypes, f"WGFMU_{name}: C {prototypes[name]} vs binding {argtypes}"


def test_the_binding_loads_the_shared_object_by_path(standin_path):
    dll = load_library(str(standin_path))
    assert dll.WGFMU_getStatus.argtypes == SIGNATURES["getStatus"]


def test_a_shared_object_without_the_functions_is_refused_by_name():
    libm = ctypes.util.find_library("m")
    if libm is None:
        pytest.skip("ctypes.util finds no libm to load as a foreign library")
    with pytest.raises(InstrumentError, match="not the WGFMU library .*WGFMU_openSession"):
        load_library(libm)


def _session(standin_path, *, loops=3, current_range=MeasureCurrentRange.RANGE_1MA) -> WGFMULibrary:
    """A 12 us pattern (0.5 V for 10 us) x ``loops``; 101 measures V, 102 measures I, 5 raw points each."""
    w = WGFMULibrary(str(standin_path))
    w.clear()
    w.createPattern("p", 0.0)
    w.addVectors("p", [1e-6, 10e-6, 1e-6], [0.5, 0.5, 0.0])
    w.createPattern("g", 0.0)
    w.addVector("g", 12e-6, 0.0)
    for name in ("p", "g"):
        w.setMeasureEvent(name, "r", 2e-6, 5, 1e-6, 1e-6, MeasureEventData.RAW)
        w.setMeasureEvent(name, "avg", 8e-6, 4, 0.5e-6, 0.5e-6, MeasureEventData.AVERAGED)
    w.addSequence(101, "p", loops)
    w.addSequence(102, "g", loops)
    w.openSession("GPIB0::17::INSTR")
    w.initialize()
    for ch in (101, 102):
        w.setOperationMode(ch, OperationMode.FASTIV)
    w.setMeasureMode(101, MeasureMode.VOLTAGE)
    w.setMeasureMode(102, MeasureMode.CURRENT)
    w.setMeasureCurrentRange(102, current_range)
    w.connect(101)
    w.connect(102)
    return w


def test_points_are_readable_while_running_and_values_follow_the_built_in_resistor(standin, standin_path):
    standin.time_scale(1e-4)  # 12 us per loop -> 0.12 s of wall time per loop
    w = _session(standin_path, loops=4)
    w.execute()
    first = w.getStatus()
    assert first.status is Status.RUNNING and first.total_s == pytest.approx(48e-6)
    seen = []
    while w.getStatus().status is Status.RUNNING:
        seen.append(w.getMeasureValueSize(102))
    assert seen and seen[0][1] == 4 * 6 and any(0 < measured < 24 for measured, _ in seen)
    status = w.getStatus()
    assert status.status is Status.COMPLETED and status.elapsed_s == pytest.approx(48e-6)
    assert w.getCompletedMeasureEventSize(102) == (8, 8)
    t, v = w.getMeasureValues(101, 0, 24)
    _, i = w.getMeasureValues(102, 0, 24)
    loop0 = [2e-6, 3e-6, 4e-6, 5e-6, 6e-6, 8e-6]
    np.testing.assert_allclose(t[:6], loop0, rtol=1e-12)
    np.testing.assert_allclose(t[6:12], np.array(loop0) + 12e-6, rtol=1e-12)
    np.testing.assert_allclose(v, 0.5, atol=5e-3)  # 2e-4 of the 5 V range per sample
    # the bottom channel reads the current out of its output: minus I = -1 mS x 0.5 V
    np.testing.assert_allclose(i, -0.5e-3, atol=1e-5)
    info = w.isMeasureEventCompleted(102, "g", "avg", 0, 2, 0)
    assert (info.completed, info.index, info.offset, info.size) == (True, 5, 17, 1)
    w.close()
    assert standin.output(101) == (0.0, False) and not standin.session_open


def test_chunked_reads_return_what_one_read_returns(standin, standin_path):
    w = _session(standin_path, loops=50)
    w.execute()
    w.waitUntilCompleted()
    whole = w.getMeasureValues(102, 0, 300)
    parts = [w.getMeasureValues(102, k, 7) for k in range(0, 294, 7)] + [w.getMeasureValues(102, 294, 6)]
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole[1])
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    assert w.getMeasureValues(102, 300, 0)[0].size == 0
    w.close()


def test_a_range_clips_the_value_at_full_scale(standin, standin_path):
    w = _session(standin_path, current_range=MeasureCurrentRange.RANGE_100UA)  # 0.5 mA on a 100 uA range
    w.execute()
    w.waitUntilCompleted()
    _, i = w.getMeasureValues(102, 0, 6)
    np.testing.assert_array_equal(i, -100e-6)
    w.close()


@pytest.mark.parametrize("call, code, text", [
    (lambda w: w.addSequence(101, "nope", 1), ErrorCode.PATTERN_NOT_FOUND, 'pattern "nope" does not exist'),
    (lambda w: w.createPattern("p", 0.0), ErrorCode.PATTERN_ALREADY_EXISTS, 'pattern "p" already exists'),
    (lambda w: w.connect(301), ErrorCode.CHANNEL_NOT_FOUND, "channel 301 is not installed"),
    (lambda w: w.abort(), ErrorCode.SEQUENCER_NOT_RUNNING, "no sequence is running"),
    (lambda w: w.getMeasureValues(102, 0, 1), ErrorCode.RESULT_NOT_READY, "nothing executed yet"),
    (lambda w: w.isMeasureEventCompleted(102, "g", "zz", 0, 0, 0), ErrorCode.RESULT_NOT_READY, "nothing executed"),
    (lambda w: w.setMeasureEvent("p", "r", 0.0, 1, 1e-6, 0.0, MeasureEventData.RAW),
     ErrorCode.PARAMETER_OUT_OF_RANGE, 'event "r" already exists'),
    (lambda w: w.setMeasureEvent("p", "late", 11.5e-6, 100, 1e-6, 0.0, MeasureEventData.RAW) or w.execute(),
     ErrorCode.PARAMETER_OUT_OF_RANGE, 'measure event "late" ends outside pattern "p"'),
])
def test_a_negative_return_code_raises_with_its_name_and_the_library_summary(standin, standin_path, call, code, text):
    w = _session(standin_path)
    with pytest.raises(InstrumentError) as info:
        call(w)
    assert info.value.code == int(code)
    assert f"{code.name}: " in str(info.value) and text in str(info.value)
    assert w.getErrorSummary() == ""  # reading the summary cleared it
    w.close()


def test_calls_out_of_order_are_context_errors(standin, standin_path):
    w = WGFMULibrary(str(standin_path))
    with pytest.raises(InstrumentError, match="CONTEXT: WGFMU_execute: no session") as info:
        w.execute()
    assert info.value.code == int(ErrorCode.CONTEXT)
    w.openSession("GPIB0::17::INSTR")
    with pytest.raises(InstrumentError, match="a session is already open"):
        w.openSession("GPIB0::17::INSTR")
    with pytest.raises(InstrumentError, match="CONTEXT: .*no sequence"):
        w.execute()
    w.close()


def test_results_of_a_changed_setup_are_out_of_date(standin, standin_path):
    w = _session(standin_path)
    w.execute()
    w.waitUntilCompleted()
    w.createPattern("other", 0.0)
    with pytest.raises(InstrumentError) as info:
        w.getMeasureValueSize(102)
    assert info.value.code == int(ErrorCode.RESULT_OUT_OF_DATE)
    w.close()


def test_values_not_yet_measured_are_not_ready(standin, standin_path):
    standin.time_scale(1e-6)  # 36 us of sequence take 36 s
    w = _session(standin_path)
    w.execute()
    with pytest.raises(InstrumentError, match="RESULT_NOT_READY: .*measured so far") as info:
        w.getMeasureValues(102, 0, 18)
    assert info.value.code == int(ErrorCode.RESULT_NOT_READY)
    w.close()  # aborts the running sequence, 0 V, disconnects
    assert standin.output(101) == (0.0, False) and standin.output(102) == (0.0, False)


def test_a_timeout_is_an_instrument_timeout_error(standin, standin_path):
    standin.time_scale(1e-6)
    w = _session(standin_path)
    w.setTimeout(0.2)
    w.execute()
    with pytest.raises(InstrumentTimeoutError, match="COMMUNICATION: .*timeout.*0.2 s") as info:
        w.waitUntilCompleted()
    assert info.value.code == int(ErrorCode.COMMUNICATION)
    assert w.getStatus().status is Status.RUNNING
    w.close()
    assert standin.output(101) == (0.0, False)


def test_an_aborted_sequence_fails_its_wait(standin, standin_path):
    standin.time_scale(1e-6)
    w = _session(standin_path)
    w.execute()
    w.abort()
    assert w.getStatus().status is Status.ABORTED
    with pytest.raises(InstrumentAbortedError, match="ERROR: .*aborted"):
        w.waitUntilCompleted()
    w.close()


def test_a_long_error_summary_comes_back_whole_through_the_buffer(standin, standin_path):
    w = WGFMULibrary(str(standin_path))
    names = [f"missing_pattern_{k:03d}_" + "x" * 40 for k in range(60)]
    for name in names:  # each fails in C and leaves a line in the summary
        with pytest.raises(InstrumentError):
            w.addVector(name, 1e-6, 0.0)
    # the binding read (and so cleared) each line as it raised; pile some up behind its back
    dll = load_library(str(standin_path))
    for name in names:
        assert dll.WGFMU_addVector(name.encode(), ctypes.c_double(1e-6), ctypes.c_double(0.0)) == ErrorCode.PATTERN_NOT_FOUND
    summary = w.getErrorSummary()
    assert len(summary) > 5000 and summary.count("\n") == len(names) - 1
    assert all(f'pattern "{name}" does not exist' in summary for name in names)


def test_a_buffer_too_small_for_the_summary_is_refused_and_the_summary_kept(standin, standin_path):
    dll = load_library(str(standin_path))
    assert dll.WGFMU_clear() == 0
    assert dll.WGFMU_connect(101) == ErrorCode.CONTEXT
    size = ctypes.c_int()
    assert dll.WGFMU_getErrorSummarySize(ctypes.byref(size)) == 0 and size.value > 10
    small = ctypes.create_string_buffer(8)
    length = ctypes.c_int(8)
    assert dll.WGFMU_getErrorSummary(small, ctypes.byref(length)) == ErrorCode.PARAMETER_OUT_OF_RANGE
    assert "no session" in WGFMULibrary(str(standin_path)).getErrorSummary()


@pytest.mark.parametrize("function, args, text", [
    ("addVector", (b"p", ctypes.c_double(4e-9), ctypes.c_double(0.0)), "deltaTime[0]=4e-09 s"),
    ("addVector", (b"p", ctypes.c_double(1e-6), ctypes.c_double(10.5)), "voltage=10.5 V"),
    ("setMeasureEvent", (b"p", b"e", ctypes.c_double(0.0), 1, ctypes.c_double(1e-6), ctypes.c_double(2e-6), 12001),
     "averagingTime=2e-06 s"),
    ("setMeasureEvent", (b"p", b"e", ctypes.c_double(0.0), 0, ctypes.c_double(1e-6), ctypes.c_double(0.0), 12001),
     "measurementPoints=0"),
    ("setMeasureEvent", (b"p", b"e", ctypes.c_double(0.0), 1, ctypes.c_double(1e-6), ctypes.c_double(0.0), 7),
     "rawData=7"),
    ("addSequence", (101, b"p", ctypes.c_double(0.5)), "loopCount=0.5"),
    ("addSequence", (101, b"p", ctypes.c_double(2.0**40 + 1)), "loopCount="),
])
def test_the_library_checks_its_arguments_itself(standin, standin_path, function, args, text):
    """What the binding checks first in Python, the C library refuses on its own (the real one does too)."""
    dll = load_library(str(standin_path))
    assert dll.WGFMU_createPattern(b"p", ctypes.c_double(0.0)) == 0
    assert getattr(dll, "WGFMU_" + function)(*args) == ErrorCode.PARAMETER_OUT_OF_RANGE
    assert text in WGFMULibrary(str(standin_path)).getErrorSummary()


def test_too_many_vectors_for_one_pattern_are_refused_by_the_library(standin, standin_path):
    dll = load_library(str(standin_path))
    assert dll.WGFMU_createPattern(b"p", ctypes.c_double(0.0)) == 0
    n = 2049
    deltas, volts = (ctypes.c_double * n)(*[1e-6] * n), (ctypes.c_double * n)(*[0.1] * n)
    assert dll.WGFMU_addVectors(b"p", deltas, volts, n) == ErrorCode.PARAMETER_OUT_OF_RANGE
    assert "2049 vectors, at most 2048" in WGFMULibrary(str(standin_path)).getErrorSummary()
    assert dll.WGFMU_addVectors(b"p", deltas, volts, 2048) == 0


def test_dc_mode_forces_and_measures_through_the_library(standin, standin_path):
    w = WGFMULibrary(str(standin_path))
    w.openSession("GPIB0::17::INSTR")
    for ch in (101, 102):
        w.setOperationMode(ch, OperationMode.DC)
        w.connect(ch)
    w.setMeasureMode(102, MeasureMode.CURRENT)
    w.setMeasureCurrentRange(102, MeasureCurrentRange.RANGE_1MA)
    w.dcforceVoltage(101, -0.1)
    assert w.dcmeasureValue(102) == pytest.approx(0.1e-3, abs=1e-5)
    assert w.dcmeasureAveragedValue(102, 100, 10) == pytest.approx(0.1e-3, abs=1e-6)
    assert w.dcmeasureValue(101) == pytest.approx(-0.1, abs=5e-3)
    w.close()
    assert standin.output(101) == (0.0, False)
