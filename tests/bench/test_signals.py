"""SIGINT, SIGTERM and SIGHUP sent to a real `memlab measure` child process on the simulated backend.

A thin harness in the child logs what the simulated WGFMU was asked to do
(abort, the cycles it had measured then, the state of every output when the
session closed); the run itself is the real CLI. Each signal must abort the
sequence, save every cycle measured, leave every output at 0 V and
disconnected, close the archive as interrupted naming the signal, and exit
128 + the signal with one line. A second signal during the cleanup must not
skip the 0 V step.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from memlab.protocols.archive import read_run

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"

HARNESS = r"""
import os, sys, time
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
slow_cleanup = float(sys.argv[2])
import memlab.instruments.wgfmu.simulated as sim

def say(text):
    os.write(log, (text + "\n").encode())

class Logged(sim.SimulatedWGFMU):
    def _measured_cycles(self):
        plan = self._plans.get(self.bottom_channel)
        return 0 if plan is None else self._run.measured(plan) // 40

    def abort(self):
        super().abort()
        say(f"aborted {self._measured_cycles()}")

    def initialize(self):
        if self._run is not None:  # the cleanup's initialize (0 V), not the run's first
            say("cleanup")
            time.sleep(slow_cleanup)
        super().initialize()

    def closeSession(self):
        super().closeSession()
        safe = all(ch.output_V == 0.0 and not ch.connected for ch in self._channels.values())
        say(f"closed safe={safe}")

sim.SimulatedWGFMU = Logged
from memlab.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _protocol(folder: pathlib.Path, cycles: int = 3000) -> pathlib.Path:
    text = PAPER.read_text().replace("cycles = 100", f"cycles = {cycles}")
    path = folder / "long.toml"
    path.write_text(text.replace("record_waveforms = true", "record_waveforms = false"))
    return path


def _cycles(out: pathlib.Path) -> int:
    try:
        with h5py.File(out, "r", locking=False) as f:
            return int(f["pulses/read_time_s"].shape[0]) if "pulses" in f else 0
    except (OSError, KeyError):
        return 0


def _start(tmp_path: pathlib.Path, slow_cleanup_s: float = 0.0):
    out, log = tmp_path / "run.h5", tmp_path / "events.log"
    cmd = [sys.executable, "-c", HARNESS, str(log), str(slow_cleanup_s), "measure", "--protocol",
           str(_protocol(tmp_path)), "--backend", "sim", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _cycles(out) < 1:
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no cycle recorded in 120 s"
        time.sleep(0.02)
    return proc, out, log


def _wait_for(log: pathlib.Path, text: str, proc, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (log.exists() and text in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, f"never logged {text!r}"
        time.sleep(0.005)


def _check_clean_stop(proc, out: pathlib.Path, log: pathlib.Path, sig: signal.Signals, err: str) -> None:
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert err.strip() == f"memlab: interrupted by {sig.name}", err
    events = log.read_text().splitlines()
    aborted = [int(e.split()[1]) for e in events if e.startswith("aborted")]
    assert aborted, f"the sequence was not aborted: {events}"
    assert events[-1] == "closed safe=True", events
    run = read_run(out)
    assert run.status == "interrupted" and sig.name in run.status_reason, run.status_reason
    # every cycle the instrument had measured when it was aborted is in the archive, none torn
    assert run.pulses.n_cycles == aborted[0] > 0
    assert np.isfinite(run.pulses.read_current_A).all()
    assert not pathlib.Path(str(out) + ".lock").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_signal_aborts_saves_what_was_measured_and_drives_0V(tmp_path, sig):
    proc, out, log = _start(tmp_path)
    try:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    _check_clean_stop(proc, out, log, sig, err)


def test_a_second_signal_during_cleanup_does_not_skip_0V(tmp_path):
    proc, out, log = _start(tmp_path, slow_cleanup_s=1.0)
    try:
        proc.send_signal(signal.SIGTERM)
        _wait_for(log, "cleanup", proc)
        proc.send_signal(signal.SIGTERM)  # the impatient supervisor
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    _check_clean_stop(proc, out, log, signal.SIGTERM, err)


def test_resume_continues_a_run_stopped_by_sigterm(tmp_path):
    proc, out, log = _start(tmp_path)
    try:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    n = read_run(out).pulses.n_cycles
    done = subprocess.run([sys.executable, "-m", "memlab.cli", "measure", "--backend", "sim", "--out", str(out),
                           "--resume", "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = read_run(out)
    assert run.status == "complete" and run.pulses.n_cycles == 3000 > n
    assert "SIGTERM" in run.attrs["resume_log"][-1]["previous_reason"]
