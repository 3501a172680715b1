"""Everything that reads a whole archive does so a block of cycles at a time.

Memory is measured with :mod:`tracemalloc` (numpy reports its array buffers to
it, so every block h5py reads is counted): with the block size made small, the
peak while verifying, summarising or watching an archive stays a small part of
the archive's data; reading it whole would need all of it at once.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from memlab.analysis.conductance import conductance
from memlab.protocols import archive_read
from memlab.protocols.archive import ArchiveWriter, read_run

import analysis_synth as synth

CYCLES = 600
SAMPLES = 31  # per pulse: 1,240 waveform samples a cycle, as the benchmark writes


def _writer(path, cycles: int):
    _, pd = synth.pulse_data(cycles=1, samples_per_pulse=SAMPLES)
    wf = pd.waveform
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={"name": "long"})
    w.begin_pulses(n_up=pd.n_up, n_down=pd.n_down, pulse_amplitude_V=pd.pulse_amplitude_V,
                   pulse_width_s=pd.pulse_width_s, cycles_planned=cycles, waveform_time_s=wf.time_s,
                   waveform_pulse_index=wf.pulse_index)
    return w, wf


def _append(w, wf, a: int, b: int, seed: int = 0) -> None:
    truth = np.concatenate(synth.ladder())
    rng = np.random.default_rng(seed)
    g = truth + rng.normal(0.0, synth.SIGMA_S, (b - a, truth.size))
    v = np.full(g.shape, synth.V_READ)
    t = (np.arange(a * truth.size, b * truth.size, dtype=float) * 1e-4).reshape(b - a, truth.size)
    w.append_cycles(t, v, g * v, np.zeros(g.shape, np.uint16),
                    waveform_voltage_V=np.broadcast_to(wf.voltage_V[0], (b - a, wf.time_s.size)),
                    waveform_current_A=np.broadcast_to(wf.current_A[0], (b - a, wf.time_s.size)))


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.h5"
    w, wf = _writer(path, CYCLES)
    with w:
        for a in range(0, CYCLES, 100):
            _append(w, wf, a, a + 100, seed=a)
    return path


def _data_B(path) -> int:
    run = read_run(path)
    return sum(b.read_current_A.nbytes * 5 + b.waveform.voltage_V.nbytes * 2 for b in run.pulse_chunks())


def _peak_B(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(archive_read, "CHUNK_BYTES", 256 << 10)  # ~12 cycles a block
    from memlab.protocols import verify

    monkeypatch.setattr(verify, "BLOCK_B", 256 << 10)


def test_verify_reads_the_archive_in_blocks(long_run, small_blocks):
    from memlab.protocols.verify import verify_archive

    data = _data_B(long_run)
    assert data > 12e6
    report = verify_archive(long_run)  # warm: first-call allocations (imports, caches) are not the data
    assert report.intact, report.damage
    peak = _peak_B(lambda: verify_archive(long_run))
    assert peak < data / 8, (peak, data)


def test_info_reads_the_archive_in_blocks(long_run, small_blocks):
    from memlab.protocols.info import run_summary

    s = run_summary(long_run)
    assert s["cycles_completed"] == CYCLES and s["integrity"]["intact"]
    peak = _peak_B(lambda: run_summary(long_run))
    assert peak < _data_B(long_run) / 8, peak


def test_watch_refresh_reads_only_the_new_cycles_and_keeps_bounded_state(tmp_path, monkeypatch, small_blocks):
    from memlab.watch import PulseFollower

    path = tmp_path / "growing.h5"
    w, wf = _writer(path, 300)
    with w:
        _append(w, wf, 0, 200)
        w.close("interrupted", "paused for the test")
    asked = []
    original = archive_read.Run.pulse_chunks

    def spy(self, ranges=None, **kw):
        asked.append(list(ranges))
        return original(self, ranges, **kw)

    monkeypatch.setattr(archive_read.Run, "pulse_chunks", spy)
    follower = PulseFollower(last=5)
    follower.update(read_run(path))
    with ArchiveWriter.resume(path) as w:
        _append(w, wf, 200, 300, seed=1)
    run = read_run(path)
    follower.update(run)
    follower.update(run)  # nothing new: nothing read
    assert asked == [[(0, 200)], [(200, 300)], [(300, 300)]]
    p = run.pulses
    g = conductance(p.read_current_A, p.read_voltage_V, p.read_status, p.read_conductance_S).g_S * 1e6
    np.testing.assert_allclose(follower.moments.mean, g.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(follower.moments.sigma, g.std(axis=0, ddof=1), rtol=1e-9)
    np.testing.assert_array_equal(follower.tail, g[-5:])
    assert follower.done == 300


def test_watch_render_of_a_long_run_stays_within_a_few_blocks(long_run, monkeypatch):
    from memlab.watch import PulseFollower

    monkeypatch.setattr(archive_read, "CHUNK_BYTES", 32 << 10)  # reads only: ~20 cycles a block
    run = read_run(long_run, waveforms=False)
    PulseFollower(last=5).update(run)  # warm
    peak = _peak_B(lambda: PulseFollower(last=5).update(run))
    reads_B = CYCLES * 40 * 8 * 5
    assert peak < reads_B / 4, (peak, reads_B)
