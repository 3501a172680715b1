"""Everything that reads a whole archive does so a block of cycles at a time.

Memory is measured with :mod:`tracemalloc` (numpy reports its array buffers to
it, so every block h5py reads is counted): with the block size made small, the
peak while verifying, summarising or watching an archive stays a small part of
the archive's data; reading it whole would need all of it at once.
"""

from __future__ import annotations

import dataclasses
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


KEYS = [(), (slice(None),), (5,), (-1,), (slice(3, 40, 7),), (slice(None, None, -3),), (slice(50, 10, -4), 2),
        (Ellipsis, 3), (slice(7, 7),), (slice(590, 700), slice(None, 5)), (np.int64(9), -2), (slice(-20, None),)]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_lazy_dataset_indexes_like_the_array_it_views(long_run, key):
    import h5py

    run = read_run(long_run)
    with h5py.File(long_run, "r", locking=False) as f:
        whole = {name: f["pulses"][name][()] for name in run.dataset_names()}
    for name, ref in whole.items():
        lazy = run.dataset(name)
        assert lazy.shape == ref.shape and lazy.dtype == ref.dtype and lazy.units in ("s", "V", "A", "1")
        np.testing.assert_array_equal(lazy[key], ref[key], err_msg=f"{name}[{key!r}]")


def test_lazy_dataset_blocks_pickles_and_reads_only_what_is_indexed(long_run):
    import pickle

    run = read_run(long_run)
    lazy = run.dataset("waveform/current_A")
    whole = np.asarray(lazy)
    assert lazy.nbytes == whole.nbytes > 5e6
    got = list(lazy.blocks(rows=64))
    assert [a for a, _ in got] == list(range(0, CYCLES, 64))
    np.testing.assert_array_equal(np.vstack([b for _, b in got]), whole)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy))[100:103], whole[100:103])
    lazy[:2]  # warm
    peak = _peak_B(lambda: lazy[200:210])
    assert peak < 20 * whole[0].nbytes, peak  # ten cycles, not the dataset
    with pytest.raises(TypeError, match="integers and slices"):
        lazy[[1, 2]]
    with pytest.raises(IndexError, match="out of range"):
        lazy[CYCLES]
    with pytest.raises(Exception, match="no pulse dataset 'read_conductance_S'"):
        run.dataset("read_conductance_S")


def test_open_run_is_lazy_and_equals_the_loaded_dataset(long_run):
    import memlab
    from memlab.protocols.dataset import run_dataset

    memlab.open_run(long_run)  # warm
    peak = _peak_B(lambda: memlab.open_run(long_run).isel(cycle=slice(300, 310)).load())
    reads_B = CYCLES * 40 * 8 * 5
    assert peak < reads_B / 8, (peak, reads_B)
    ds = memlab.open_run(long_run)
    eager = run_dataset(read_run(long_run, waveforms=False), lazy=False)
    ds.load().equals(eager) or pytest.fail("the lazy dataset differs from the eager one")
    assert ds.identical(eager)
    part = memlab.open_run(long_run).isel(cycle=slice(-7, None, 2), pulse=slice(30, None))
    assert part.identical(eager.isel(cycle=slice(-7, None, 2), pulse=slice(30, None)))


def test_analysis_reads_each_cycle_once_and_matches_reading_it_whole(long_run, monkeypatch, small_blocks):
    from memlab.analysis.extraction import extract
    from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs

    asked = []
    original = archive_read.Run.pulse_chunks

    def spy(self, ranges=None, **kw):
        asked.append((ranges, kw.get("waveforms", True)))
        return original(self, ranges, **kw)

    monkeypatch.setattr(archive_read.Run, "pulse_chunks", spy)
    got = analyze_runs([long_run], AnalyzeOptions(n_boot=200)).extraction
    assert asked == [(None, True)]  # one pass over the cycles: the bootstrap reuses its reads
    p = read_run(long_run).pulses
    whole = extract(conductance(p.read_current_A, p.read_voltage_V, p.read_status).g_S, p.n_up, p.n_down,
                    n_boot=200)
    assert whole.intervals and whole.intervals.keys() <= got.intervals.keys()  # (energy: not in the reads)
    for key, interval in whole.intervals.items():  # the bootstrap drew the same resamples of the same reads
        np.testing.assert_allclose(dataclasses.astuple(got.intervals[key]), dataclasses.astuple(interval),
                                   rtol=1e-9, err_msg=key)
