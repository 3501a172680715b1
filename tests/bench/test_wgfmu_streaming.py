"""Streaming: the simulated WGFMU exposes points as its clock advances; the runner writes by time and by count."""

from __future__ import annotations

import pathlib

import numpy as np

from memlab.instruments.virtual_device import VirtualMemristor
from memlab.instruments.wgfmu.simulated import SimulatedWGFMU
from memlab.protocols.archive import ArchiveWriter, read_run
from memlab.protocols.loader import load_protocol, protocol_to_dict
from memlab.protocols.runner import Channels, load_patterns, plan_cycle, run_pulse_cycling, start_session

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"


def _protocol(tmp_path, cycles):
    path = tmp_path / "p.toml"
    text = PAPER.read_text().replace("cycles = 100", f"cycles = {cycles}")
    path.write_text(text.replace("record_waveforms = true", "record_waveforms = false"))
    return load_protocol(path)


def test_measured_points_appear_a_few_cycles_per_poll(tmp_path):
    protocol = _protocol(tmp_path, 2000)
    plan = plan_cycle(protocol)
    w = SimulatedWGFMU(VirtualMemristor())
    load_patterns(w, plan.patterns, Channels(), 2000)
    start_session(w, protocol, Channels(), "GPIB0::17::INSTR", True)
    w.execute()
    seen = []
    for _ in range(30):
        measured, total = w.getMeasureValueSize(102)
        events, _ = w.getCompletedMeasureEventSize(102)  # polls too: the clock moves on
        assert events >= measured  # one averaged value per read event
        seen.append(measured // plan.points_per_cycle)
    steps = np.diff(seen)
    # two polls per look, ~13 cycles each; the old clock jumped 1/20 of the run (100 cycles) per poll
    assert seen[-1] > seen[0] and 0 < steps.max() <= 30, seen
    assert total == 2000 * plan.points_per_cycle
    w.close()


class Recorder(ArchiveWriter):
    sizes: list[int]

    def append_cycles(self, read_time_s, *args, **kwargs):
        self.sizes.append(np.asarray(read_time_s).shape[0])
        return super().append_cycles(read_time_s, *args, **kwargs)


def _run(tmp_path, name, **flush):
    protocol = _protocol(tmp_path, 300)
    plan = plan_cycle(protocol)
    writer = Recorder.create(tmp_path / name, kind=protocol.kind, protocol=protocol_to_dict(protocol))
    writer.sizes = []
    w = SimulatedWGFMU(VirtualMemristor())
    run_pulse_cycling(protocol, w, writer, address="GPIB0::17::INSTR", progress=False, poll_s=0.0, **flush)
    assert read_run(tmp_path / name).pulses.n_cycles == 300 and plan.points_per_cycle == 40
    return writer.sizes


def test_the_runner_writes_as_soon_as_n_cycles_wait(tmp_path):
    sizes = _run(tmp_path, "n.h5", flush_cycles=16, flush_every_s=3600.0)
    # a look at the instrument (two polls) adds ~26 cycles, so a write holds at most 16 + that
    assert sum(sizes) == 300 and max(sizes) <= 16 + 30 and len(sizes) >= 300 // 46


def test_the_runner_writes_by_time_when_few_cycles_wait(tmp_path):
    one_write = _run(tmp_path, "once.h5", flush_cycles=10**6, flush_every_s=3600.0)
    assert one_write == [64] * 4 + [44]  # nothing due by count or time: read in 64-cycle chunks at the end
    timed = _run(tmp_path, "timed.h5", flush_cycles=10**6, flush_every_s=1e-3)
    assert len(timed) > 10 and max(timed) < 64
