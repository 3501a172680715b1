"""The simulated WGFMU runs sequences on a device: values, timing, chunked readout, DC mode."""

from __future__ import annotations

import numpy as np
import pytest
from wgfmu_helpers import BOTTOM, READ_V, TOP, open_session, tailored_cycle

from memlab.errors import InstrumentAbortedError
from memlab.instruments.ohmic import OhmicDevice
from memlab.instruments.wgfmu import (
    MeasureCurrentRange,
    MeasureEventData,
    MeasureMode,
    OperationMode,
    SimulatedWGFMU,
    Status,
    flag_values,
)
from memlab.status import PointStatus

RAW, AVG = MeasureEventData.RAW, MeasureEventData.AVERAGED


def read_all(w, channel):
    """Read a channel's values in chunks while the run goes on, as a runner does."""
    times, values, sizes = [], [], []
    while True:
        status = w.getStatus().status
        measured, total = w.getMeasureValueSize(channel)
        done = sum(len(t) for t in times)
        if measured > done:
            t, v = w.getMeasureValues(channel, done, measured - done)
            times.append(t)
            values.append(v)
        sizes.append(measured)
        if status is not Status.RUNNING and measured == total:
            return np.concatenate(times), np.concatenate(values), sizes


def pulse_and_read(w, *, pulse_V=0.5, read_V=READ_V):
    """Top: 1 us at pulse_V, then 10 us at read_V; bottom at 0 V measures both (raw pulse, averaged read)."""
    w.createPattern("p", 0.0)
    w.addVectors("p", [10e-9, 1e-6, 10e-9, 10e-6], [pulse_V, pulse_V, read_V, read_V])
    w.createPattern("g", 0.0)
    w.addVector("g", 11.02e-6, 0.0)
    for pattern in ("p", "g"):
        w.setMeasureEvent(pattern, "pulse", 0.0, 102, 10e-9, 0.0, RAW)
        w.setMeasureEvent(pattern, "read", 3.02e-6, 1, 5e-6, 5e-6, AVG)


def test_ohmic_device_currents_and_voltages():
    device = OhmicDevice(1e-3)
    with SimulatedWGFMU(device, seed=1) as w:
        open_session(w)
        pulse_and_read(w)
        w.addSequence(TOP, "p", 3)
        w.addSequence(BOTTOM, "g", 3)
        w.setMeasureMode(TOP, MeasureMode.VOLTAGE)
        w.execute()
        w.waitUntilCompleted()
        assert w.getMeasureValueSize(BOTTOM) == (3 * 103, 3 * 103)
        t_i, current = w.getMeasureValues(BOTTOM, 0, 3 * 103)
        t_v, voltage = w.getMeasureValues(TOP, 0, 3 * 103)
    np.testing.assert_array_equal(t_i, t_v)
    per_cycle = current.reshape(3, 103)
    # the bottom channel reads the current out of its output: -I(device)
    np.testing.assert_allclose(per_cycle[:, 50], -0.5e-3, atol=10e-6)
    np.testing.assert_allclose(per_cycle[:, 102], -READ_V * 1e-3, rtol=2e-3)
    np.testing.assert_allclose(voltage.reshape(3, 103)[:, 102], READ_V, atol=1e-3)
    # raw samples: 10 ns apart, starting with the 10 ns rise from 0 V
    np.testing.assert_allclose(np.diff(t_v[:102]), 10e-9, atol=1e-15)
    assert voltage[0] == pytest.approx(0.0, abs=5e-3)
    np.testing.assert_allclose(t_v[103], 11.02e-6, atol=1e-15)  # second loop starts one pattern later
    assert device.elapsed_s == pytest.approx(3 * 11.02e-6)


@pytest.mark.filterwarnings("ignore::memlab.instruments.wgfmu.limits.SettlingWarning")
def test_currents_beyond_range_clip_at_full_scale():
    with SimulatedWGFMU(OhmicDevice(1e-3)) as w:
        open_session(w, current_range=MeasureCurrentRange.RANGE_10UA)
        pulse_and_read(w)
        w.addSequence(TOP, "p", 1)
        w.addSequence(BOTTOM, "g", 1)
        w.execute()
        w.waitUntilCompleted()
        _, current = w.getMeasureValues(BOTTOM, 0, 103)
    assert current[50] == -10e-6 and current[102] == 10e-6
    flags = flag_values(current, MeasureCurrentRange.RANGE_10UA)
    assert flags.dtype == np.uint16 and flags[50] == PointStatus.OVERFLOW and flags[102] == PointStatus.OVERFLOW
    assert flag_values([1e-6, -2e-6], MeasureCurrentRange.RANGE_10UA).tolist() == [0, 0]


def test_noise_shrinks_with_averaging_and_range():
    def read_spread(current_range, average_s):
        with SimulatedWGFMU(OhmicDevice(1e-4), seed=3) as w:
            open_session(w, current_range=current_range)
            w.createPattern("p", READ_V)
            w.addVector("p", 30e-6, READ_V)
            w.createPattern("g", 0.0)
            w.addVector("g", 30e-6, 0.0)
            w.setMeasureEvent("g", "r", 1e-6, 20, 1e-6, average_s, RAW)
            w.addSequence(TOP, "p", 1)
            w.addSequence(BOTTOM, "g", 1)
            w.execute()
            w.waitUntilCompleted()
            return np.std(w.getMeasureValues(BOTTOM, 0, 20)[1])

    assert read_spread(MeasureCurrentRange.RANGE_10MA, 0.0) > 5 * read_spread(MeasureCurrentRange.RANGE_10MA, 1e-6)
    assert read_spread(MeasureCurrentRange.RANGE_10MA, 0.0) > 5 * read_spread(MeasureCurrentRange.RANGE_100UA, 0.0)


def test_chunked_readout_while_running_matches_a_single_read():
    def run(steps, chunked):
        w = SimulatedWGFMU(OhmicDevice(2e-3), seed=5, steps_per_run=steps)
        with w:
            open_session(w)
            tailored_cycle(w, raw=True)
            w.addSequence(TOP, "cycle", 5)
            w.addSequence(BOTTOM, "ground", 5)
            w.execute()
            if chunked:
                return read_all(w, BOTTOM)
            w.waitUntilCompleted()
            measured, total = w.getMeasureValueSize(BOTTOM)
            return (*w.getMeasureValues(BOTTOM, 0, total), [measured])

    t_chunk, v_chunk, sizes = run(7, chunked=True)
    t_once, v_once, _ = run(20, chunked=False)
    assert len(sizes) >= 3 and sizes == sorted(sizes) and 0 < sizes[0] < sizes[-1]
    np.testing.assert_array_equal(t_chunk, t_once)
    np.testing.assert_array_equal(v_chunk, v_once)


def test_completed_events_and_event_offsets():
    with SimulatedWGFMU(OhmicDevice(1e-3), steps_per_run=4) as w:
        open_session(w)
        pulse_and_read(w)
        w.addSequence(TOP, "p", 8)
        w.addSequence(BOTTOM, "g", 8)
        w.execute()
        first = w.getCompletedMeasureEventSize(BOTTOM)
        assert first[1] == 16 and 0 < first[0] < 16
        w.waitUntilCompleted()
        assert w.getCompletedMeasureEventSize(BOTTOM) == (16, 16)
        info = w.isMeasureEventCompleted(BOTTOM, "g", "read", 0, 5, 0)
        assert info.completed and info.size == 1 and info.offset == 5 * 103 + 102 and info.index == 11
        _, values = w.getMeasureValues(BOTTOM, info.offset, info.size)
    assert values[0] == pytest.approx(1e-4, rel=2e-3)


def test_tailored_cycle_repeated_100_times_returns_100_x_40_reads():
    from memlab.instruments.virtual_device import VirtualMemristor

    device = VirtualMemristor(seed=11)
    with SimulatedWGFMU(device, seed=11) as w:
        open_session(w)
        tailored_cycle(w)
        w.addSequence(TOP, "cycle", 100)
        w.addSequence(BOTTOM, "ground", 100)
        w.execute()
        _, current, _ = read_all(w, BOTTOM)
        total_s = w.getStatus().total_s
    assert current.shape == (4000,)
    conductance = (current / -READ_V).reshape(100, 40)  # bottom reads -I, I = G * (-0.1 V)
    assert np.all((conductance > 0.5e-3) & (conductance < 5e-3))
    up, down = conductance[:, :20].mean(axis=0), conductance[:, 20:].mean(axis=0)
    assert up[-1] - up[0] > 0.5e-3  # potentiation raises the conductance
    assert down[0] - down[-1] > 0.5e-3  # depression lowers it
    assert device.elapsed_s == pytest.approx(total_s, rel=1e-9)


def test_abort_stops_the_run_and_zeroes_outputs():
    w = SimulatedWGFMU(OhmicDevice(), steps_per_run=50)
    open_session(w)
    pulse_and_read(w)
    w.addSequence(TOP, "p", 100)
    w.addSequence(BOTTOM, "g", 100)
    w.execute()
    w.getStatus()
    w.abort()
    assert w.getStatus().status is Status.ABORTED
    assert w.output_V(TOP) == 0.0
    measured, total = w.getMeasureValueSize(BOTTOM)
    assert 0 < measured < total
    w.getMeasureValues(BOTTOM, 0, measured)  # what was measured stays readable
    with pytest.raises(InstrumentAbortedError):
        w.waitUntilCompleted()
    w.close()


def test_dc_mode_force_and_measure():
    device = OhmicDevice(2e-3)
    with SimulatedWGFMU(device, seed=2) as w:
        w.openSession("GPIB0::17::INSTR")
        for channel in (TOP, BOTTOM):
            w.setOperationMode(channel, OperationMode.DC)
            w.connect(channel)
        w.setMeasureMode(BOTTOM, MeasureMode.CURRENT)
        w.setMeasureCurrentRange(BOTTOM, MeasureCurrentRange.RANGE_1MA)
        w.dcforceVoltage(TOP, READ_V)
        single = w.dcmeasureValue(BOTTOM)
        averaged = w.dcmeasureAveragedValue(BOTTOM, 100, 10)
        w.advance_time(2.0)
    assert single == pytest.approx(2e-4, rel=0.05)
    assert averaged == pytest.approx(2e-4, rel=0.01)
    assert device.elapsed_s == pytest.approx(2.0 + 10e-6 + 100 * 10 * 5e-9)
