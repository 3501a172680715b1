"""Run-archive benchmark: recording overhead and reader speed on a 1,000-cycle simulated run.

Usage: python benchmarks/archive.py [--cycles N] [--repeats R]

Every pair runs each side once untimed (warm-up), then alternately, and keeps
the best of N for each side, so load on the machine hits both alike.

1. Recording overhead: the paper's tailored protocol, N cycles with raw
   waveforms, on the simulated WGFMU (built outside the timed region on both
   sides, same seeds). Timed on the recording side: creating the archive file
   (``ArchiveWriter.create``: header, protocol, provenance) + the run with every
   chunk appended and flushed + closing the file; on the other side: the same
   run with writing disabled (``writer=None``). Ratio = with ÷ without (target
   <= 1.2), best of ``--repeats`` (default 5) each.
2. Reader: ``read_run(path).pulses`` (all reads as cycle × pulse arrays plus
   the waveforms) ÷ plain h5py reading the same datasets with ``ds[()]``
   (target <= 1.5), and the same for the reads alone
   (``read_run(path, waveforms=False).pulses`` ÷ h5py reading the four read
   datasets and the two per-pulse ones); best of 15 / 50. Both sides open the
   file inside the timed region.
3. Fletcher-32 (schema 2): the cost of the checksum filter alone. The run's
   datasets are written again as the writer does (same chunks, one append and
   flush per cycle) with the filter and without it, and each copy read back
   whole with h5py; same data and work both sides, alternately, best of 5.

The last line is ``RESULT name=value ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
import tempfile
import time

import h5py

from memlab.instruments.virtual_device import VirtualMemristor
from memlab.instruments.wgfmu.simulated import SimulatedWGFMU
from memlab.protocols.archive import ArchiveWriter, read_run
from memlab.protocols.loader import load_protocol, protocol_to_dict
from memlab.protocols.runner import run_pulse_cycling

ROOT = pathlib.Path(__file__).resolve().parents[1]
READS = ("read_time_s", "read_voltage_V", "read_current_A", "read_status")


def run_once(protocol, path: pathlib.Path | None) -> float:
    """Seconds of one run; with ``path``, creating the archive is inside the timed region
    (``run_pulse_cycling`` closes it before it returns)."""
    sim = SimulatedWGFMU(VirtualMemristor(seed=1), seed=1)
    if path is not None:
        path.unlink(missing_ok=True)  # the previous round's file: not part of this run's cost
    start = time.perf_counter()
    writer = None
    if path is not None:
        writer = ArchiveWriter.create(path, kind="pulse_cycling", protocol=protocol_to_dict(protocol))
    run_pulse_cycling(protocol, sim, writer, address="GPIB0::17::INSTR", progress=False, poll_s=0.0)
    return time.perf_counter() - start


def paired(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Best times of two functions measured alternately (so cache state and load hit both alike),
    after one untimed warm-up call of each."""
    fn_a()
    fn_b()
    a, b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, a), (fn_b, b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(a), min(b)


def plain_h5py(path: pathlib.Path, waveforms: bool) -> None:
    with h5py.File(path, "r") as f:
        g = f["pulses"]
        for name in READS + ("pulse_amplitude_V", "pulse_width_s"):
            g[name][()]
        if waveforms:
            for name in ("time_s", "pulse_index", "voltage_V", "current_A"):
                g["waveform"][name][()]


def _rewrite(src: pathlib.Path, dst: pathlib.Path, fletcher32: bool) -> None:
    """Write ``src``'s datasets to ``dst`` as :class:`ArchiveWriter` does: fixed arrays at once,
    row datasets one cycle per append, flushed after each."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w", locking=False) as out:
        rows = {}
        for name in ("pulses/pulse_amplitude_V", "pulses/pulse_width_s", "pulses/waveform/time_s",
                     "pulses/waveform/pulse_index"):
            out.create_dataset(name, data=f[name][()], chunks=f[name].chunks, fletcher32=fletcher32)
        for name in [f"pulses/{r}" for r in READS] + ["pulses/waveform/voltage_V", "pulses/waveform/current_A"]:
            ds = f[name]
            rows[name] = (ds[()], out.create_dataset(name, shape=(0, ds.shape[1]), maxshape=(None, ds.shape[1]),
                                                     dtype=ds.dtype, chunks=ds.chunks, fletcher32=fletcher32))
        n = next(iter(rows.values()))[0].shape[0]
        for c in range(n):
            for data, ds in rows.values():
                ds.resize(c + 1, axis=0)
                ds[c] = data[c]
            out.flush()


def _read_all(path: pathlib.Path) -> None:
    with h5py.File(path, "r") as f:
        names: list[str] = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in names:
            f[name][()]


def filter_cost(src: pathlib.Path, folder: pathlib.Path, repeats: int = 5) -> tuple[float, float, float, float]:
    """(write with, write without, read with, read without) Fletcher-32, seconds, best of ``repeats``."""
    on, off = folder / "fletcher.h5", folder / "plain.h5"
    w_on, w_off = paired(lambda: _rewrite(src, on, True), lambda: _rewrite(src, off, False), repeats)
    with h5py.File(on, "r") as f:
        assert f["pulses/read_current_A"].fletcher32
    r_on, r_off = paired(lambda: _read_all(on), lambda: _read_all(off), 3 * repeats)
    return w_on, w_off, r_on, r_off


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="best of N runs per side, after a warm-up run")
    args = parser.parse_args()
    protocol = dataclasses.replace(load_protocol(ROOT / "sample_data/protocols/paper-tailored.toml"),
                                   cycles=args.cycles)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "bench.h5"
        with_archive, without = [], []
        run_once(protocol, None)  # warm-up, both sides
        run_once(protocol, path)
        for _ in range(args.repeats):
            without.append(run_once(protocol, None))
            with_archive.append(run_once(protocol, path))
        t_with, t_without = min(with_archive), min(without)
        size_MB = path.stat().st_size / 1e6
        run = read_run(path)
        assert run.pulses.n_cycles == args.cycles and run.pulses.waveform is not None
        t_reader, t_plain = paired(lambda: read_run(path).pulses, lambda: plain_h5py(path, True), 15)
        t_reader_reads, t_plain_reads = paired(lambda: read_run(path, waveforms=False).pulses,
                                               lambda: plain_h5py(path, False), 50)
        w_on, w_off, r_on, r_off = filter_cost(path, pathlib.Path(tmp))
    overhead = t_with / t_without
    reader = t_reader / t_plain
    reader_reads = t_reader_reads / t_plain_reads
    print(f"{args.cycles} cycles x 40 reads with raw waveforms, archive {size_MB:.1f} MB")
    print(f"run with archive   {t_with:8.3f} s   without {t_without:8.3f} s   ratio {overhead:.3f} (target <= 1.2)")
    print(f"reader (all)       {t_reader * 1e3:8.2f} ms  h5py    {t_plain * 1e3:8.2f} ms  ratio {reader:.3f} (target <= 1.5)")
    print(f"reader (reads)     {t_reader_reads * 1e3:8.2f} ms  h5py    {t_plain_reads * 1e3:8.2f} ms  ratio {reader_reads:.3f}")
    print(f"Fletcher-32 write  {w_on:8.3f} s   without {w_off:8.3f} s   ratio {w_on / w_off:.3f} "
          f"(per-cycle append + flush)")
    print(f"Fletcher-32 read   {r_on * 1e3:8.2f} ms  without {r_off * 1e3:8.2f} ms  ratio {r_on / r_off:.3f}")
    print(f"RESULT cycles={args.cycles} repeats={args.repeats} record_overhead_ratio={overhead:.3f} run_with_archive_s={t_with:.3f} "
          f"run_without_archive_s={t_without:.3f} reader_ratio={reader:.3f} reader_s={t_reader:.4f} "
          f"h5py_s={t_plain:.4f} reader_reads_only_ratio={reader_reads:.3f} archive_MB={size_MB:.1f} "
          f"fletcher_write_ratio={w_on / w_off:.3f} fletcher_read_ratio={r_on / r_off:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
