"""The simulated B1500A: FLEX state machine on a device, compliance, errors, faults and safe exit."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.errors import InstrumentError, InstrumentTimeoutError
from memlab.instruments.b1500 import SimulatedB1500
from memlab.instruments.ohmic import OhmicDevice
from memlab.status import PointStatus


def assert_safe(b):
    assert b.instrument.enabled == set()
    assert all(v == 0.0 for v in b.instrument.output_V.values())


def test_sweep_on_a_resistor_gives_ohms_law_and_flags_compliance():
    with SimulatedB1500(OhmicDevice(1e-3), seed=1) as b:
        b.enable([1])
        points = b.staircase_sweep(1, -1.0, 1.0, 21, 5e-4)
    currents = np.array([p.value for p in points])
    expected = np.clip(np.linspace(-1.0, 1.0, 21) * 1e-3, -5e-4, 5e-4)
    np.testing.assert_allclose(currents, expected, atol=1e-9)
    flagged = [p.status == PointStatus.COMPLIANCE for p in points]
    assert flagged == [abs(v) > 0.5 + 1e-9 for v in np.linspace(-1.0, 1.0, 21)]
    assert_safe(b)


def test_two_way_sweep_and_fmt21():
    with SimulatedB1500(OhmicDevice(1e-3)) as b:
        b.set_format(21)
        b.enable([1])
        points = b.staircase_sweep(1, 0.0, 0.5, 6, 1e-2, two_way=True)
        assert b.instrument.log[-2] == "XE"
    assert len(points) == 12 and points[5].value == pytest.approx(points[6].value, abs=1e-9)
    assert points[0].raw_status == "000"


def test_spot_read_of_the_virtual_memristor():
    from memlab.instruments.virtual_device import VirtualMemristor

    device = VirtualMemristor(seed=3)
    g = device.conductance_S
    with SimulatedB1500(device) as b:
        b.enable([1])
        b.force_voltage(1, -0.1, 1e-3)
        point = b.measure_current(1)
    assert point.value == pytest.approx(-0.1 * g, rel=0.01)  # mildly non-ohmic, 0.1 % read noise


def test_instrument_errors_surface_with_code():
    with SimulatedB1500(OhmicDevice()) as b:
        with pytest.raises(InstrumentError, match="output not enabled; send CN first") as info:
            b.force_voltage(1, 0.5, 1e-3)
        assert info.value.code == 200
        with pytest.raises(InstrumentError, match="no SMU in that slot"):
            b.enable([3])
        with pytest.raises(InstrumentError, match="Undefined GPIB command: XYZ") as info:
            b.send("XYZ")
        assert info.value.code == 100


@pytest.mark.parametrize(("failure", "error"), [("timeout", InstrumentTimeoutError), ("io", InstrumentError)])
def test_fault_mid_sweep_leaves_outputs_at_zero_and_disconnected(failure, error):
    b = SimulatedB1500(OhmicDevice(), fail_at={"XE": 1}, failure=failure)
    with pytest.raises(error, match="B1500A XE failed: simulated"):
        with b:
            b.enable([1])
            b.force_voltage(1, 0.8, 1e-3)
            assert b.instrument.output_V[1] == 0.8
            b.staircase_sweep(1, 0.0, 1.0, 11, 1e-3)
    assert_safe(b)
    assert b.instrument.log[-3:] == ["DZ", "CL", "ERRX?"]


def test_fault_on_dz_still_disconnects():
    b = SimulatedB1500(OhmicDevice(), fail_at={"DZ": 1})
    with pytest.raises(KeyboardInterrupt):
        with b:
            b.enable([1])
            b.force_voltage(1, 0.8, 1e-3)
            raise KeyboardInterrupt
    assert_safe(b)
