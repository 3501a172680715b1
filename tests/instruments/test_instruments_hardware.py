"""Real-instrument checks: skipped unless --wgfmu-address / --b1500-address is given.

They only read identification and apply 0 V or a -0.1 V read: safe on any device.
"""

from __future__ import annotations

import pytest

from memlab.instruments.b1500 import B1500
from memlab.instruments.wgfmu import MeasureCurrentRange, MeasureMode, OperationMode, WGFMULibrary


@pytest.mark.hardware("b1500")
def test_b1500_identifies_and_has_an_empty_error_queue(b1500_address):
    with B1500.open(b1500_address, backend="") as b:
        assert b.idn()["model"].startswith("B1500")
        assert b.modules()
        b.errors()  # drain leftovers (a leftover error makes the WGFMU's openSession fail)
        assert b.errors() == []


@pytest.mark.hardware("wgfmu")
def test_wgfmu_dc_read_at_minus_100_mV(wgfmu_address):
    with WGFMULibrary() as w:
        w.openSession(wgfmu_address)
        w.initialize()
        channels = w.getChannelIds()
        assert len(channels) >= 2
        top, bottom = channels[:2]
        for channel in (top, bottom):
            w.setOperationMode(channel, OperationMode.DC)
            w.connect(channel)
        w.setMeasureMode(bottom, MeasureMode.CURRENT)
        w.setMeasureCurrentRange(bottom, MeasureCurrentRange.RANGE_1MA)
        w.dcforceVoltage(top, -0.1)
        current = w.dcmeasureAveragedValue(bottom, 100, 10)
        assert abs(current) < 1e-3
