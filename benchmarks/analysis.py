"""Benchmark: analyzing a 1,000-cycle archive with raw waveforms vs a plain h5py read.

Writes a synthetic archive (40 pulses per cycle, 31 waveform samples per pulse,
as ``paper-tailored.toml`` records at the WGFMU's 10 ns resolution), then times ``analyze_runs`` (read through
the archive reader, conductance, window search, fits, bins, energy, 1,000
bootstrap resamples, the archive's sha256 for provenance; no figures) against
reading the same datasets with plain h5py. The sha256 alone is timed too, for
reference. Best of ``--repeat`` runs each. Target: ratio <= 2.

    .venv/bin/python benchmarks/analysis.py [--cycles 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import h5py

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "analysis"))
import analysis_synth as synth  # noqa: E402

from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs  # noqa: E402
from memlab.files import sha256_file  # noqa: E402
from memlab.protocols.archive import read_run, write_pulse_archive  # noqa: E402


def plain_read(path: pathlib.Path) -> int:
    n = 0
    with h5py.File(path, "r") as f:
        def visit(_name, obj):
            nonlocal n
            if isinstance(obj, h5py.Dataset):
                n += obj[()].nbytes
        f["pulses"].visititems(visit)
    return n


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--samples-per-pulse", type=int, default=31)  # 1,240 per cycle; paper-tailored.toml: 1,220
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "bench.h5"
        _, pd = synth.pulse_data(cycles=args.cycles, samples_per_pulse=args.samples_per_pulse)
        write_pulse_archive(path, pd, {"name": "bench"}, kind="pulse_cycling")
        nbytes = plain_read(path)
        t_read = best(lambda: plain_read(path), args.repeat)
        t_reader = best(lambda: read_run(path).pulses, args.repeat)
        # analyze_runs hashes every archive for the device file's provenance (on a second thread)
        t_hash = best(lambda: sha256_file(path), args.repeat)
        opts = AnalyzeOptions(n_boot=1000)
        res = analyze_runs([path], opts)
        t_an = best(lambda: analyze_runs([path], opts), args.repeat)
        no_boot = AnalyzeOptions(n_boot=0)
        t_nb = best(lambda: analyze_runs([path], no_boot), args.repeat)
    d = res.device
    print(f"archive: {args.cycles} cycles, {nbytes / 1e6:.1f} MB of datasets; states {d.states_per_branch}, "
          f"bins {d.n_bins}, energy {d.energy_per_cycle_J.mean * 1e9:.2f} nJ/cycle")
    print(f"plain h5py read: {t_read * 1e3:.1f} ms; archive reader alone: {t_reader * 1e3:.1f} ms; "
          f"analyze_runs: {t_an * 1e3:.1f} ms ({t_nb * 1e3:.1f} ms without the bootstrap); "
          f"sha256 of the archive: {t_hash * 1e3:.1f} ms")
    print(f"RESULT analysis_over_read={t_an / t_read:.2f} analysis_s={t_an:.4f} read_s={t_read:.4f} "
          f"no_bootstrap_over_read={t_nb / t_read:.2f} reader_over_read={t_reader / t_read:.2f} sha256_over_read={t_hash / t_read:.2f} cycles={args.cycles} mbytes={nbytes / 1e6:.1f} target_ratio=2")


if __name__ == "__main__":
    main()
