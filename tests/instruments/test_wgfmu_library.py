"""The ctypes binding, tested against a stand-in for wgfmu.dll (no Windows, no instrument needed)."""

from __future__ import annotations

import ctypes
import sys

import numpy as np
import pytest

from memlab.errors import InstrumentError, InstrumentTimeoutError, LimitError
from memlab.instruments.wgfmu import MeasureCurrentRange, MeasureEventData, Status, WGFMULibrary
from memlab.instruments.wgfmu.library import SIGNATURES


class StandInFunction:
    """Records calls; ``behaviour(*args)`` writes outputs and returns the code (default 0)."""

    def __init__(self, dll, name):
        self.dll, self.name = dll, name
        self.argtypes = self.restype = None

    def __call__(self, *args):
        self.dll.calls.append((self.name, args))
        behaviour = self.dll.behaviours.get(self.name)
        return 0 if behaviour is None else behaviour(*args)


class StandInDLL:
    def __init__(self):
        self.calls = []
        self.behaviours = {"getStatus": lambda s, e, t: (s.__setitem__(0, int(Status.IDLE)), 0)[1]}

    def __getattr__(self, attribute):
        if not attribute.startswith("WGFMU_"):
            raise AttributeError(attribute)
        function = StandInFunction(self, attribute[len("WGFMU_"):])
        setattr(self, attribute, function)
        return function

    def names(self):
        return [name for name, _ in self.calls]


@pytest.fixture
def dll():
    return StandInDLL()


@pytest.fixture
def lib(dll):
    return WGFMULibrary(loader=lambda name: dll)


@pytest.mark.skipif(sys.platform == "win32", reason="checks the message on systems without wgfmu.dll")
def test_without_the_dll_the_error_says_windows_only_and_where_it_looked():
    lib = WGFMULibrary(path="/opt/keysight/wgfmu.dll")
    with pytest.raises(InstrumentError) as info:
        lib.openSession("GPIB0::17::INSTR")
    message = str(info.value)
    assert "Windows-only" in message and "/opt/keysight/wgfmu.dll then wgfmu.dll" in message
    assert r"C:\Windows\System32" in message


def test_loader_failures_name_every_candidate():
    def loader(name):
        raise OSError(f"cannot open {name}")

    with pytest.raises(InstrumentError, match=r"looked for D:\\lib\\wgfmu\.dll then wgfmu\.dll .*cannot open wgfmu\.dll"):
        WGFMULibrary(path=r"D:\lib\wgfmu.dll", loader=loader).initialize()


def test_every_function_gets_argtypes_and_int_restype(lib, dll):
    lib.initialize()
    for name, argtypes in SIGNATURES.items():
        function = getattr(dll, "WGFMU_" + name)
        assert function.argtypes == argtypes and function.restype is ctypes.c_int


def test_strings_and_numbers_are_marshalled(lib, dll):
    lib.openSession("GPIB0::17::INSTR")
    lib.createPattern("cycle", 0.0)
    lib.addVector("cycle", 16e-9, 0.8)  # snapped to 20 ns before sending
    lib.setMeasureEvent("cycle", "read", 1e-6, 3, 1e-6, 0.5e-6, MeasureEventData.AVERAGED)
    lib.setMeasureCurrentRange(102, MeasureCurrentRange.RANGE_1MA)
    lib.addSequence(101, "cycle", 100)
    calls = dict(dll.calls)
    assert calls["openSession"] == (b"GPIB0::17::INSTR",)
    pattern, dt, v = calls["addVector"]
    assert pattern == b"cycle" and dt.value == pytest.approx(20e-9, abs=1e-18) and v.value == 0.8
    assert [a.value if isinstance(a, ctypes.c_double) else a for a in calls["setMeasureEvent"]] == [
        b"cycle", b"read", 1e-6, 3, 1e-6, 0.5e-6, 12000]
    assert calls["setMeasureCurrentRange"] == (102, 6004)
    channel, name, loops = calls["addSequence"]
    assert (channel, name, loops.value) == (101, b"cycle", 100.0)
    assert lib.session_open


def test_add_vectors_passes_arrays(lib, dll):
    lib.createPattern("p", 0.0)
    lib.addVectors("p", [10e-9, 1e-6], [0.5, 0.0])
    _, deltas, volts, n = dict(dll.calls)["addVectors"]
    assert n == 2 and list(deltas) == pytest.approx([10e-9, 1e-6]) and list(volts) == [0.5, 0.0]


def test_outputs_come_back_from_pointers(lib, dll):
    def status(p_status, p_elapsed, p_total):
        p_status[0], p_elapsed[0], p_total[0] = 10002, 0.25, 1.5
        return 0

    def sizes(channel, p_measured, p_total):
        p_measured[0], p_total[0] = 3, 10
        return 0

    def values(channel, offset, p_size, times, vals):
        assert (channel, offset, p_size[0]) == (102, 4, 3)
        for i in range(3):
            times[i], vals[i] = (offset + i) * 1e-6, (offset + i) * 1e-4
        return 0

    def ids(p_ids, p_size):
        p_ids[0], p_ids[1] = 101, 102
        return 0

    def id_size(p_size):
        p_size[0] = 2
        return 0

    dll.behaviours.update(getStatus=status, getMeasureValueSize=sizes, getMeasureValues=values,
                          getChannelIds=ids, getChannelIdSize=id_size)
    run = lib.getStatus()
    assert run.status is Status.RUNNING and (run.elapsed_s, run.total_s) == (0.25, 1.5)
    assert lib.getMeasureValueSize(102) == (3, 10)
    times, vals = lib.getMeasureValues(102, 4, 3)
    np.testing.assert_allclose(times, [4e-6, 5e-6, 6e-6])
    np.testing.assert_allclose(vals, [4e-4, 5e-4, 6e-4])
    assert lib.getChannelIds() == [101, 102]


def test_negative_return_code_raises_with_code_and_summary(lib, dll):
    text = b"Parameter out of range: loopCount"

    def summary_size(p_size):
        p_size[0] = len(text)
        return 0

    def summary(buffer, p_size):
        ctypes.memmove(buffer, text, len(text))
        return 0

    dll.behaviours.update(execute=lambda: -1, getErrorSummarySize=summary_size, getErrorSummary=summary)
    with pytest.raises(InstrumentError, match="WGFMU_execute failed: PARAMETER_OUT_OF_RANGE: Parameter out of range: loopCount") as info:
        lib.execute()
    assert info.value.code == -1


def test_timeout_text_maps_to_timeout_error(lib, dll):
    text = b"VISA timeout"
    dll.behaviours.update(
        waitUntilCompleted=lambda: -5,
        getErrorSummarySize=lambda p: (p.__setitem__(0, len(text)), 0)[1],
        getErrorSummary=lambda buf, p: (ctypes.memmove(buf, text, len(text)), 0)[1],
    )
    with pytest.raises(InstrumentTimeoutError) as info:
        lib.waitUntilCompleted()
    assert info.value.code == -5


def test_limits_are_checked_before_anything_is_sent(lib, dll):
    with pytest.raises(LimitError, match="deltaTime=5e-09 s"):
        lib.addVector("p", 5e-9, 0.1)
    with pytest.raises(LimitError, match="voltage=11.0 V"):
        lib.dcforceVoltage(101, 11.0)
    with pytest.raises(LimitError, match="loopCount=0"):
        lib.addSequence(101, "p", 0)
    with pytest.raises(LimitError, match="must be ASCII"):
        lib.createPattern("µ", 0.0)
    assert dll.calls == []


def test_close_aborts_zeroes_disconnects_and_closes_in_order(lib, dll):
    dll.behaviours.update(
        getChannelIdSize=lambda p: (p.__setitem__(0, 2), 0)[1],
        getChannelIds=lambda ids, p: (ids.__setitem__(0, 101), ids.__setitem__(1, 102), 0)[2],
        getStatus=lambda s, e, t: (s.__setitem__(0, 10002), 0)[1],
    )
    with lib:
        lib.openSession("GPIB0::17::INSTR")
    assert dll.names()[1:] == ["getChannelIdSize", "getChannelIds", "getStatus", "abort", "initialize",
                               "disconnect", "disconnect", "closeSession"]
    assert not lib.session_open


def test_unknown_status_is_an_instrument_error(lib, dll):
    dll.behaviours["getStatus"] = lambda s, e, t: (s.__setitem__(0, 4242), 0)[1]
    with pytest.raises(InstrumentError, match="unknown status 4242"):
        lib.getStatus()


def test_close_goes_on_after_a_failing_step(lib, dll):
    dll.behaviours.update(initialize=lambda: -5)
    with pytest.raises(InstrumentError, match="WGFMU_initialize"):
        with lib:
            lib.openSession("GPIB0::17::INSTR")
    assert dll.names()[-1] == "closeSession" and not lib.session_open
