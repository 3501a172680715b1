"""Every exit path leaves the WGFMU outputs at 0 V and disconnected; injected faults raise the right error."""

from __future__ import annotations

import pytest
from wgfmu_helpers import BOTTOM, TOP, open_session, tailored_cycle

from memlab.errors import ConfigError, InstrumentAbortedError, InstrumentError, InstrumentTimeoutError
from memlab.instruments.ohmic import OhmicDevice
from memlab.instruments.wgfmu import SimulatedWGFMU, Status


def start_run(w, loops=20):
    open_session(w)
    tailored_cycle(w)
    w.addSequence(TOP, "cycle", loops)
    w.addSequence(BOTTOM, "ground", loops)
    w.execute()


def read_until_done(w):
    got = 0
    while w.getStatus().status is Status.RUNNING or got < w.getMeasureValueSize(BOTTOM)[1]:
        measured, _ = w.getMeasureValueSize(BOTTOM)
        if measured > got:
            w.getMeasureValues(BOTTOM, got, measured - got)
            got = measured


def assert_safe(w):
    assert not w.session_open
    for channel in (TOP, BOTTOM):
        assert w.output_V(channel) == 0.0
        assert not w.is_connected(channel)


def test_normal_exit_is_safe():
    w = SimulatedWGFMU(OhmicDevice())
    with w:
        start_run(w)
        assert w.is_connected(TOP)
        read_until_done(w)
    assert_safe(w)


def test_exception_inside_the_block_is_safe_and_propagates():
    w = SimulatedWGFMU(OhmicDevice())
    with pytest.raises(RuntimeError, match="analysis bug"):
        with w:
            start_run(w)
            w.getStatus()
            raise RuntimeError("analysis bug")
    assert_safe(w)


def test_ctrl_c_while_running_is_safe():
    w = SimulatedWGFMU(OhmicDevice())
    with pytest.raises(KeyboardInterrupt):
        with w:
            start_run(w)
            w.getStatus()
            raise KeyboardInterrupt
    assert_safe(w)


@pytest.mark.parametrize(
    ("call", "failure", "error"),
    [
        ("getMeasureValues", "io", InstrumentError),
        ("getStatus", "timeout", InstrumentTimeoutError),
        ("getMeasureValueSize", "abort", InstrumentAbortedError),
    ],
)
def test_injected_fault_raises_its_error_and_leaves_outputs_safe(call, failure, error):
    w = SimulatedWGFMU(OhmicDevice(), fail_at={call: 3}, failure=failure)
    with pytest.raises(error, match=f"WGFMU_{call} failed: simulated .* \\(fault injected\\)"):
        with w:
            start_run(w)
            read_until_done(w)
    assert w.faults.calls[call] >= 3  # close() may call it again
    assert_safe(w)


def test_abort_fault_aborts_the_sequencer():
    w = SimulatedWGFMU(OhmicDevice(), fail_at={"getStatus": 2}, failure="abort")
    start_run(w)
    w.getStatus()
    with pytest.raises(InstrumentAbortedError):
        w.getStatus()
    assert w.getStatus().status is Status.ABORTED
    w.close()
    assert_safe(w)


def test_fault_during_close_still_closes_and_zeroes():
    w = SimulatedWGFMU(OhmicDevice(), fail_at={"initialize": 2, "disconnect": (1, "timeout")})
    with pytest.raises(InstrumentError, match="WGFMU_initialize"):
        with w:
            start_run(w)
    assert_safe(w)


def test_transient_fault_can_be_retried():
    w = SimulatedWGFMU(OhmicDevice(), fail_at={"getMeasureValues": 1}, failure="timeout")
    with w:
        start_run(w, loops=2)
        w.waitUntilCompleted()
        with pytest.raises(InstrumentTimeoutError):
            w.getMeasureValues(BOTTOM, 0, 10)
        assert len(w.getMeasureValues(BOTTOM, 0, 10)[1]) == 10


def test_unknown_failure_kind_refused():
    with pytest.raises(ConfigError, match="failure='smoke'"):
        SimulatedWGFMU(fail_at={"execute": 1}, failure="smoke")
