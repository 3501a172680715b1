"""Real-instrument checks: skipped unless --wgfmu-address / --b1500-address is given.

They only read identification and apply 0 V or -0.1 V reads: safe on any device
(the SIGTERM check runs a protocol of +-0.1 V "pulses" and reads, below any
switching threshold, and is stopped mid-run).
"""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
import time

import h5py
import pytest

from memlab.instruments.b1500 import B1500
from memlab.instruments.wgfmu import MeasureCurrentRange, MeasureMode, OperationMode, WGFMULibrary


@pytest.mark.hardware("b1500")
def test_b1500_identifies_and_has_an_empty_error_queue(b1500_address, visa_library):
    with B1500.open(b1500_address, backend=visa_library) as b:
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


SAFE_PROTOCOL = """
kind = "pulse_cycling"
name = "hardware-sigterm"
description = "+-0.1 V pulses and -0.1 V reads only: nothing switches"
cycles = 20000
current_range = "1mA"
record_waveforms = false

[potentiation]
count = 4
polarity = "positive"
amplitude_V = 0.1
width_s = 1e-6

[depression]
count = 4
polarity = "negative"
amplitude_V = 0.1
width_s = 1e-6

[read]
amplitude_V = -0.1
width_s = 30e-6
"""


@pytest.mark.hardware("wgfmu")
def test_sigterm_on_a_real_wgfmu_stops_at_0V_and_closes_the_archive(tmp_path, wgfmu_address, wgfmu_library):
    """`memlab measure --backend wgfmu` gets SIGTERM mid-run: exit 143, archive interrupted with the
    cycles measured, and afterwards a fresh session reads 0 V on both channels."""
    from memlab.protocols.archive import read_run

    protocol, out = tmp_path / "safe.toml", tmp_path / "run.h5"
    protocol.write_text(SAFE_PROTOCOL)
    cmd = [sys.executable, "-m", "memlab.cli", "measure", "--protocol", str(protocol), "--backend", "wgfmu",
           "--address", wgfmu_address, "--out", str(out), "--quiet"]
    if wgfmu_library:
        cmd += ["--wgfmu-library", wgfmu_library]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no cycle recorded in 120 s"
            try:
                with h5py.File(out, "r", locking=False) as f:
                    if "pulses" in f and f["pulses/read_time_s"].shape[0] > 0:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and "SIGTERM" in err
    run = read_run(out)
    assert run.status == "interrupted" and "SIGTERM" in run.status_reason and 0 < run.pulses.n_cycles < 20000
    with WGFMULibrary(wgfmu_library) as w:  # the outputs were left at 0 V: measure them
        w.openSession(wgfmu_address)
        channels = w.getChannelIds()[:2]
        for channel in channels:
            w.setOperationMode(channel, OperationMode.DC)
            w.setMeasureMode(channel, MeasureMode.VOLTAGE)
            w.connect(channel)
        for channel in channels:
            assert abs(w.dcmeasureValue(channel)) < 0.01


SAFE_IV_PROTOCOL = """
kind = "iv_sweep"
name = "hardware-sigterm-iv"
description = "+-0.1 V double sweeps: below any switching threshold"
stops_V = [0.1, -0.1]
step_V = 0.02
sweeps = 10000
compliance_A = 1e-4
smu_channel = {channel}
"""


@pytest.mark.hardware("b1500")
def test_sigterm_on_a_real_b1500_stops_at_0V_and_closes_the_archive(tmp_path, b1500_address, visa_library):
    """`memlab measure --backend b1500` gets SIGTERM after its first sweeps: exit 143, archive interrupted
    with the sweeps measured, and afterwards no output switch of the mainframe is on (*LRN? 0).

    The SMU is the first B151x module of UNT?; the sweeps stay within +-0.1 V and 100 uA."""
    from memlab.protocols.archive import read_run

    with B1500.open(b1500_address, backend=visa_library) as b:
        slots = [i + 1 for i, (model, _) in enumerate(b.modules()) if model.startswith("B151")]
    assert slots, "no B151x SMU in the mainframe"
    protocol, out = tmp_path / "safe-iv.toml", tmp_path / "iv.h5"
    protocol.write_text(SAFE_IV_PROTOCOL.format(channel=slots[0]))
    cmd = [sys.executable, "-m", "memlab.cli", "measure", "--protocol", str(protocol), "--backend", "b1500",
           "--address", b1500_address, "--out", str(out), "--quiet"]
    if visa_library:
        cmd += ["--visa-library", visa_library]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no sweep recorded in 120 s"
            try:
                with h5py.File(out, "r", locking=False) as f:
                    if _iv_rows(f) > 0:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and "SIGTERM" in err
    run = read_run(out)
    assert run.status == "interrupted" and "SIGTERM" in run.status_reason
    assert 0 < run.iv.current_A.shape[0] < 10000
    with B1500.open(b1500_address, backend=visa_library) as b:
        assert b.outputs_on() == []


def _iv_rows(f: h5py.File) -> int:
    """Sweeps in the archive (``/iv`` grows by one row per sweep)."""
    return f["iv/current_A"].shape[0] if "iv/current_A" in f else 0
