"""The runner on the simulated WGFMU: per-cycle recording, failure, Ctrl-C, kill and resume."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from memlab.errors import ConfigError, InstrumentError
from memlab.instruments.virtual_device import VirtualMemristor
from memlab.instruments.wgfmu.limits import MAX_VECTORS_PER_PATTERN
from memlab.instruments.wgfmu.simulated import SimulatedWGFMU
from memlab.protocols.archive import IN_PROGRESS_REASON, ArchiveWriter, read_run
from memlab.protocols.loader import load_protocol, protocol_to_dict
from memlab.protocols.measure import measure
from memlab.protocols.patterns import plan_cycle
from memlab.protocols.protocol import PulseTrain
from memlab.protocols.runner import run_pulse_cycling

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"
ADDRESS = "GPIB0::17::INSTR"


@pytest.fixture(scope="module")
def paper():
    return load_protocol(PAPER)


def short(protocol, cycles, **changes):
    return dataclasses.replace(protocol, cycles=cycles, **changes)


def write_toml(path: pathlib.Path, cycles: int, waveforms: bool) -> pathlib.Path:
    text = PAPER.read_text().replace("cycles = 100", f"cycles = {cycles}")
    if not waveforms:
        text = text.replace("record_waveforms = true", "record_waveforms = false")
    path.write_text(text)
    return path


def new_writer(path, protocol):
    return ArchiveWriter.create(path, kind="pulse_cycling", protocol=protocol_to_dict(protocol))


def assert_safe(sim: SimulatedWGFMU):
    """Outputs at 0 V, relays open, session closed."""
    assert not sim.session_open
    for ch in (101, 102):
        assert sim.output_V(ch) == 0.0 and not sim.is_connected(ch)


def test_cycle_plan_is_one_pattern_with_a_read_after_every_pulse(paper):
    plan = plan_cycle(paper)
    assert len(plan.patterns) == 1 and len(plan.patterns[0].top_deltas_s) == 8 * 40
    assert plan.read_index.shape == (40,) and plan.points_per_cycle == 40 + plan.sample_index.size
    # Samples cover every programming pulse at 10 ns, edges included, in pulse order.
    counts = np.bincount(plan.sample_pulse)
    np.testing.assert_array_equal(counts, [round((40e-9 + w) / 10e-9) + 1 for w in paper.pulse_width_s])
    assert np.all(np.diff(plan.sample_time_s) > 0)
    # Each read starts after the settling time of the 10 mA range (145 ns -> 150 ns).
    first_read = 20e-9 + 160e-9 + 20e-9 + 20e-6 + 20e-9 + 150e-9
    assert plan.read_offset_s[0] == pytest.approx(first_read)


def test_paper_protocol_records_100_cycles_of_40_reads_with_waveforms(tmp_path, paper):
    out = tmp_path / "run.h5"
    result = measure(PAPER, backend="sim", out=out, seed=3, sample="S1", device="D4", operator="ana",
                     progress=False)
    assert (result.status, result.cycles_completed) == ("complete", 100)
    run = read_run(out)
    p = run.pulses
    assert run.kind == "pulse_cycling" and run.status == "complete"
    assert p.read_current_A.shape == (100, 40) and p.read_status.shape == (100, 40)
    assert (p.n_up, p.n_down) == (20, 20) and not p.read_status.any()
    np.testing.assert_allclose(p.read_voltage_V, -0.1, atol=5e-3)
    g = p.read_current_A / p.read_voltage_V
    assert np.all(g > 0)
    # Potentiation raises the conductance, depression lowers it, every cycle.
    assert np.all(g[:, 19] > g[:, 0]) and np.all(g[:, 39] < g[:, 20])
    np.testing.assert_allclose(p.pulse_amplitude_V[:20], np.linspace(0.7, 0.995, 20))
    np.testing.assert_allclose(p.pulse_amplitude_V[20:], -np.linspace(0.7, 0.995, 20))
    assert np.all(np.diff(p.read_time_s.ravel()) > 0)
    wf = p.waveform
    assert wf.measured and wf.voltage_V.shape == (100, wf.time_s.size) == wf.current_A.shape
    assert set(np.unique(wf.pulse_index)) == set(range(40))
    top = wf.voltage_V[:, wf.pulse_index == 19]
    assert top.max() == pytest.approx(0.995, abs=0.01)
    assert run.attrs["sample_id"] == "S1" and run.attrs["device_id"] == "D4" and run.attrs["operator"] == "ana"
    inst = run.attrs["instrument"]
    assert inst["backend"] == "sim" and inst["virtual_device"]["seed"] == 3
    assert inst["channels"]["102"]["measure_current_range"] == "RANGE_10MA"


def test_library_calls_per_cycle_stay_constant(tmp_path, paper):
    calls = {}
    for cycles in (20, 200):
        sim = SimulatedWGFMU(VirtualMemristor(seed=1), seed=1)
        run_pulse_cycling(short(paper, cycles, record_waveforms=False), sim, None, address=ADDRESS, progress=False)
        calls[cycles] = sum(sim.faults.calls.values())
        assert sim.faults.calls["addSequence"] == 2 and sim.faults.calls["setMeasureEvent"] == 2 * 40
    # Setup is per run and readout per chunk of cycles: ten times the cycles, about the same calls.
    assert calls[200] < calls[20] + 40 < 200, calls


def test_a_cycle_longer_than_one_pattern_is_split(tmp_path, paper):
    n = 300  # 8 vectors a pulse: 600 pulses need 4800 vectors
    train = PulseTrain(amplitude_V=(0.8,) * n, width_s=(100e-9,) * n, name="potentiation")
    protocol = short(paper, 2, potentiation=train,
                     depression=dataclasses.replace(train, polarity="negative", name="depression"))
    plan = plan_cycle(protocol)
    assert len(plan.patterns) == 3 and all(len(p.top_deltas_s) <= MAX_VECTORS_PER_PATTERN for p in plan.patterns)
    out = tmp_path / "split.h5"
    run_pulse_cycling(protocol, SimulatedWGFMU(VirtualMemristor(seed=1), seed=1), new_writer(out, protocol),
                      address=ADDRESS, progress=False)
    p = read_run(out).pulses
    assert p.read_current_A.shape == (2, 600) and p.waveform.current_A.shape == (2, plan.sample_index.size)
    assert np.all(np.diff(p.read_time_s.ravel()) > 0)


def test_runs_beyond_the_point_memory_execute_in_blocks(tmp_path, paper, monkeypatch):
    protocol = short(paper, 20, record_waveforms=False)
    monkeypatch.setattr("memlab.protocols.patterns.MAX_POINTS_PER_CHANNEL", 7 * 40)
    sim = SimulatedWGFMU(VirtualMemristor(seed=1), seed=1)
    out = tmp_path / "blocks.h5"
    run_pulse_cycling(protocol, sim, new_writer(out, protocol), address=ADDRESS, progress=False)
    assert sim.faults.calls["execute"] == 3
    t = read_run(out).pulses.read_time_s
    cycle = plan_cycle(protocol).cycle_duration_s
    np.testing.assert_allclose(np.diff(t[:, 0]), cycle, rtol=1e-9)


def test_instrument_failure_mid_run_closes_the_archive_as_failed(tmp_path, paper):
    out = tmp_path / "fail.h5"
    sim = SimulatedWGFMU(VirtualMemristor(seed=1), seed=1, fail_at={"getMeasureValues": 5})
    protocol = short(paper, 100)
    with pytest.raises(InstrumentError, match="simulated I/O error"):
        run_pulse_cycling(protocol, sim, new_writer(out, protocol), address=ADDRESS, progress=False, flush_cycles=8)
    assert_safe(sim)
    run = read_run(out)
    assert run.status == "failed" and "getMeasureValues failed: simulated I/O error" in run.status_reason
    n = run.pulses.n_cycles
    assert 0 < n < 100 and run.pulses.waveform.current_A.shape[0] == n
    assert np.isfinite(run.pulses.read_current_A).all()


class CtrlC(SimulatedWGFMU):
    """A simulated WGFMU whose user presses Ctrl-C during the n-th readout."""

    def __init__(self, *args, at: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.at = at

    def getMeasureValues(self, channel_id, offset, size):
        if self.faults.calls["getMeasureValues"] + 1 == self.at:
            self.faults.calls["getMeasureValues"] += 1
            raise KeyboardInterrupt
        return super().getMeasureValues(channel_id, offset, size)


def test_ctrl_c_closes_the_archive_as_interrupted_with_outputs_at_0V(tmp_path, paper):
    out = tmp_path / "ctrlc.h5"
    sim = CtrlC(VirtualMemristor(seed=1), seed=1, at=7)
    protocol = short(paper, 100)
    with pytest.raises(KeyboardInterrupt):
        run_pulse_cycling(protocol, sim, new_writer(out, protocol), address=ADDRESS, progress=False, flush_cycles=4)
    assert_safe(sim)
    run = read_run(out)
    assert run.status == "interrupted" and "Ctrl-C" in run.status_reason
    assert 0 < run.pulses.n_cycles < 100


def test_resume_refuses_another_protocol_and_a_complete_run(tmp_path, paper):
    out = tmp_path / "run.h5"
    other = write_toml(tmp_path / "other.toml", 5, waveforms=False)
    measure(write_toml(tmp_path / "p.toml", 3, waveforms=False), backend="sim", out=out, progress=False)
    with pytest.raises(ConfigError, match="already 'complete'"):
        measure(None, backend="sim", out=out, resume=True, progress=False)
    with pytest.raises(ConfigError, match="differs from the protocol stored"):
        measure(other, backend="sim", out=out, resume=True, progress=False)
    with pytest.raises(ConfigError, match="file exists"):
        measure(other, backend="sim", out=out, progress=False)


def test_wgfmu_backend_fails_clearly_off_windows_before_creating_the_archive(tmp_path):
    if sys.platform == "win32":
        pytest.skip("the WGFMU library may be installed on Windows")
    with pytest.raises(InstrumentError, match="Windows"):
        measure(PAPER, backend="wgfmu", out=tmp_path / "x.h5", progress=False)
    assert not (tmp_path / "x.h5").exists()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "memlab.cli", *args]


def _wait_for_cycles(path: pathlib.Path, proc: subprocess.Popen, at_least: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            try:
                run = read_run(path)
                n = run.pulses.n_cycles if run.pulses is not None else 0
            except Exception:  # the writer may be mid-creation; look again
                n = 0
            if n >= at_least:
                return n
        time.sleep(0.02)
    raise AssertionError(f"the run never reached {at_least} cycles (exit {proc.poll()})")


def test_sigkill_mid_run_leaves_a_valid_archive_and_resume_completes_it(tmp_path):
    cycles = 600
    protocol = write_toml(tmp_path / "long.toml", cycles, waveforms=False)
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen(_cli("measure", "--protocol", str(protocol), "--backend", "sim", "--seed", "5",
                                 "--out", str(out), "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_cycles(out, proc, at_least=1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close(), proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    killed = read_run(out)
    assert killed.status == "interrupted" and killed.status_reason == IN_PROGRESS_REASON
    kp = killed.pulses
    n = kp.n_cycles
    assert 0 < n < cycles, "the kill must land mid-run"
    assert np.isfinite(kp.read_current_A).all() and not kp.read_status.any()
    cycle_s = plan_cycle(load_protocol(protocol)).cycle_duration_s
    np.testing.assert_allclose(kp.read_time_s - kp.read_time_s[:1] - np.arange(n)[:, None] * cycle_s, 0, atol=1e-12)

    done = subprocess.run(_cli("measure", "--backend", "sim", "--seed", "6", "--out", str(out), "--resume",
                               "--quiet"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = read_run(out)
    p = run.pulses
    assert run.status == "complete" and p.n_cycles == cycles
    # The killed run's cycles are untouched, and no cycle is missing or doubled.
    np.testing.assert_array_equal(p.read_current_A[:n], kp.read_current_A)
    np.testing.assert_allclose(p.read_time_s - p.read_time_s[:1] - np.arange(cycles)[:, None] * cycle_s, 0, atol=1e-9)
    assert run.attrs["resume_log"][0]["previous_reason"] == IN_PROGRESS_REASON
    assert run.attrs["resume_log"][0]["seed"] == 6


def test_sigint_stops_cleanly_with_exit_130_and_an_interrupted_archive(tmp_path):
    protocol = write_toml(tmp_path / "long.toml", 600, waveforms=False)
    out = tmp_path / "int.h5"
    proc = subprocess.Popen(_cli("measure", "--protocol", str(protocol), "--backend", "sim", "--out", str(out),
                                 "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_cycles(out, proc, at_least=1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    run = read_run(out)
    assert run.status == "interrupted" and "Ctrl-C" in run.status_reason and 0 < run.pulses.n_cycles < 600
    assert not pathlib.Path(str(out) + ".lock").exists()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL semantics")
def test_lock_is_released_when_the_writer_dies(tmp_path):
    out = tmp_path / "a.h5"
    code = ("from memlab.protocols.archive import ArchiveWriter; import os, signal; "
            f"w = ArchiveWriter.create({str(out)!r}, kind='pulse_cycling', protocol={{}}); "
            "os.kill(os.getpid(), signal.SIGKILL)")
    subprocess.run([sys.executable, "-c", code], timeout=60)
    ArchiveWriter.resume(out).close("interrupted", "checked")
    assert read_run(out).status == "interrupted"
