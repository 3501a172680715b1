"""Benchmark: ``analyze`` of long archives with raw waveforms, in bounded memory.

In one run: writes a synthetic archive of ``--cycles`` cycles (40 pulses, 31
waveform samples per pulse: 1,240 a cycle, as ``paper-tailored.toml`` records
at the WGFMU's 10 ns resolution; ~21 kB of datasets a cycle) and one of
``--compare`` cycles (1,000), both through the project's own writer
(:class:`ArchiveWriter`, blocks of cycles appended and flushed as a measurement
does; the reads are the synthetic device of ``tests/analysis/analysis_synth``:
a 16-state ladder with 23.7 µS Gaussian cycle-to-cycle noise, rectangular
0.6 nJ pulses; generating them with the virtual device would only take longer
and analyse the same way). Then each archive is analysed in a fresh child
process (``analyze_runs``: archive reader, conductance, window search, fits,
bins, energy from every waveform sample, 1,000 bootstrap resamples, the sha256
for provenance; no figures), whose peak resident memory is read from the
kernel's accounting of that child (``os.wait4`` returns the child's
``getrusage`` record, ``ru_maxrss``). The time is the child's own
``perf_counter`` around ``analyze_runs`` (best of ``--repeat`` after a warm-up
run inside the child, the 1,000-cycle comparison best of at least 10: a quiet
moment then favours the comparison, never the long run; imports not included), and beside it the child's CPU time
(``process_time``, all its threads: the sha256 thread too), which other jobs on
a shared machine disturb far less than the wall clock; the load average is
printed with each size. Beside it, a plain h5py read of the same
datasets (block by block for the long archive, so the parent stays small).

The pair behind ``analysis_over_read`` (issue 26: target <= 2 at 1,000 cycles)
runs in the analysis child, both sides on the page-cached file, warmed up once,
then interleaved round by round and best of the same N (one process, one
allocator state, one moment of the machine for both): the plain side opens the
file with h5py and reads every dataset of ``/pulses`` (``ds[a:b]`` blocks of
4,096 rows, nothing checked, nothing computed); the analysis side is all of
``analyze_runs``: the validated reader (layout checks, every dataset read once,
checksums), the SHA-256 of the file for provenance (a thread beside the
reading) and the whole extraction with its bootstrap. Until 2026-12-04 the
plain side ran in the parent process, which had just written the archive
(``analysis_over_parent_read`` keeps that figure for comparison).

Each archive is also summarised by ``memlab info`` in a child of its own
(``run_summary``: header, time span, and a full ``verify`` that reads every
chunk), whose time and peak RSS are printed too.

Targets: peak <= 1,000 MB at 100,000 cycles; time per cycle no worse than at
1,000 cycles; (issue 26) analysis <= 2x the plain read at 1,000 cycles.

    .venv/bin/python benchmarks/analysis.py --cycles 100000 --dir /tmp

The archives are written under ``--dir`` (a temporary folder) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = pathlib.Path(__file__).resolve()
BLOCK = 2000  # cycles generated and appended at a time


def _synth():
    """The synthetic device of ``tests/analysis/analysis_synth``, imported by file path in the parent
    only: the analysis children import memlab alone, their ``sys.path`` untouched."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("analysis_synth", HERE.parents[1] / "tests" / "analysis"
                                                  / "analysis_synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_archive(path: pathlib.Path, cycles: int, samples_per_pulse: int) -> None:
    """A synthetic pulse-cycling archive with raw waveforms, through the project's writer."""
    from memlab.protocols.archive import ArchiveWriter

    synth = _synth()
    _, pd = synth.pulse_data(cycles=1, samples_per_pulse=samples_per_pulse)
    wf = pd.waveform
    truth = np.concatenate(synth.ladder())
    n = truth.size
    seeds = np.random.SeedSequence(2026).spawn(-(-cycles // BLOCK))
    with ArchiveWriter.create(path, kind="pulse_cycling", protocol={"name": "bench"}) as w:
        w.begin_pulses(n_up=pd.n_up, n_down=pd.n_down, pulse_amplitude_V=pd.pulse_amplitude_V,
                       pulse_width_s=pd.pulse_width_s, cycles_planned=cycles, waveform_time_s=wf.time_s,
                       waveform_pulse_index=wf.pulse_index)
        for k, a in enumerate(range(0, cycles, BLOCK)):
            b = min(cycles, a + BLOCK)
            rng = np.random.default_rng(seeds[k])
            g = truth + rng.normal(0.0, synth.SIGMA_S, (b - a, n))
            v = np.full(g.shape, synth.V_READ)
            t = (np.arange(a * n, b * n, dtype=float) * 1e-4).reshape(b - a, n)
            w.append_cycles(t, v, g * v, np.zeros(g.shape, np.uint16),
                            waveform_voltage_V=np.broadcast_to(wf.voltage_V[0], (b - a, wf.time_s.size)),
                            waveform_current_A=wf.current_A[0] * (1 + 0.05 * rng.standard_normal((b - a, 1))))


def plain_read(path: pathlib.Path, block: int = 4096) -> int:
    """Every dataset of /pulses read with plain h5py (row datasets ``block`` rows at a time)."""
    n = 0
    with h5py.File(path, "r") as f:
        def visit(_name, obj):
            nonlocal n
            if isinstance(obj, h5py.Dataset):
                if obj.ndim == 2:
                    for a in range(0, obj.shape[0], block):
                        n += obj[a:a + block].nbytes
                else:
                    n += obj[()].nbytes
        f["pulses"].visititems(visit)
    return n


def best(fn, repeat: int) -> float:
    return best_wall_cpu(fn, repeat)[0]


def best_wall_cpu(fn, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time (``process_time``: every thread of this process) of ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def child(path: str, repeat: int, n_boot: int) -> None:
    """Analyse ``path`` in this (child) process, and read it plainly, interleaved round by round
    (both warmed up once, best of ``repeat``: one process, one allocator, one moment of the
    machine for both sides); print one JSON line."""
    from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs

    opts = AnalyzeOptions(n_boot=n_boot)
    d = analyze_runs([path], opts).device  # warm-up (imports, first touches)
    plain_read(pathlib.Path(path))
    walls, cpus, reads = [], [], []
    for _ in range(repeat):
        t, c = best_wall_cpu(lambda: analyze_runs([path], opts), 1)
        walls.append(t)
        cpus.append(c)
        reads.append(best(lambda: plain_read(pathlib.Path(path)), 1))
    print(json.dumps({"seconds": min(walls), "cpu_seconds": min(cpus), "read_s": min(reads),
                      "states": d.states_per_branch, "bins": d.n_bins,
                      "energy_nJ": d.energy_per_cycle_J.mean * 1e9, "sigma_uS": d.sigma_mean_S * 1e6,
                      "n_cycles": d.n_cycles}))


def child_info(path: str) -> None:
    """``memlab info`` of ``path`` (its summary and a full ``verify``: every chunk read) in this child."""
    from memlab.protocols.info import run_summary

    t = time.perf_counter()
    s = run_summary(path)
    print(json.dumps({"seconds": time.perf_counter() - t, "intact": s["integrity"]["intact"],
                      "cycles": s["cycles_completed"]}))


def measure(path: pathlib.Path, repeat: int, n_boot: int, mode: str = "--child") -> dict:
    """Run :func:`child` (or :func:`child_info`) in a fresh interpreter; its result and its own peak RSS (MB)."""
    cmd = [sys.executable, str(HERE), mode, str(path), "--repeat", str(repeat), "--n-boot", str(n_boot)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's getrusage record
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"analysis child failed with exit {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_MB"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--compare", type=int, default=1000, help="cycles of the comparison archive")
    ap.add_argument("--samples-per-pulse", type=int, default=31)  # 1,240 per cycle; paper-tailored.toml: 1,220
    ap.add_argument("--repeat", type=int, default=3,
                    help="best of N after a warm-up run (archives over 10,000 cycles: at most 2)")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--dir", default=None, help="where the archives are written (deleted afterwards)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-info", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.repeat, args.n_boot)
    if args.child_info:
        return child_info(args.child_info)
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        long_repeat = min(2, args.repeat) if args.cycles > 10_000 else args.repeat
        # the short comparison is cheap: best of at least 10, so a lucky quiet moment favours it, not the long one
        # keyed by role: with --cycles equal to --compare (the default) the two rows used to overwrite each other
        for role, cycles, repeat in (("compare", args.compare, max(10, args.repeat)),
                                     ("long", args.cycles, long_repeat)):
            path = pathlib.Path(tmp) / f"bench-{cycles}.h5"
            t0 = time.perf_counter()
            write_archive(path, cycles, args.samples_per_pulse)
            t_write = time.perf_counter() - t0
            nbytes = plain_read(path)  # also warms the page cache for both sides
            t_parent_read = best(lambda: plain_read(path), repeat)
            r = measure(path, repeat, args.n_boot)
            info = measure(path, 1, 0, "--child-info")  # memlab info, with its full verify
            if not (info["intact"] and info["cycles"] == cycles):
                raise SystemExit(f"memlab info of {path}: {info}")
            r.update(info_s=info["seconds"], info_peak_MB=info["peak_MB"])
            r.update(parent_read_s=t_parent_read, mbytes=nbytes / 1e6, write_s=t_write,
                     file_MB=path.stat().st_size / 1e6)
            rows[role] = r
            print(f"{cycles} cycles: {nbytes / 1e6:.1f} MB of datasets (written in {t_write:.1f} s); "
                  f"states {r['states']}, bins {r['bins']}, sigma {r['sigma_uS']:.2f} uS, "
                  f"energy {r['energy_nJ']:.2f} nJ/cycle; analyze_runs {r['seconds']:.3f} s "
                  f"({r['seconds'] / cycles * 1e6:.1f} us/cycle; CPU {r['cpu_seconds'] / cycles * 1e6:.1f} us/cycle), "
                  f"load average {os.getloadavg()[0]:.1f}, peak RSS {r['peak_MB']:.0f} MB; "
                  f"plain h5py read {r['read_s']:.3f} s beside it ({r['parent_read_s']:.3f} s in the parent); memlab info (verify: every chunk) {r['info_s']:.2f} s, "
                  f"peak RSS {r['info_peak_MB']:.0f} MB", flush=True)
            path.unlink()
    big, small = rows["long"], rows["compare"]
    per_big, per_small = big["seconds"] / args.cycles, small["seconds"] / args.compare
    print(f"RESULT cycles={args.cycles} peak_MB={big['peak_MB']:.0f} seconds={big['seconds']:.2f} "
          f"us_per_cycle={per_big * 1e6:.1f} mbytes={big['mbytes']:.0f} "
          f"compare_cycles={args.compare} compare_peak_MB={small['peak_MB']:.0f} "
          f"compare_seconds={small['seconds']:.4f} compare_us_per_cycle={per_small * 1e6:.1f} "
          f"per_cycle_ratio={per_big / per_small:.2f} "
          f"cpu_us_per_cycle={big['cpu_seconds'] / args.cycles * 1e6:.1f} "
          f"compare_cpu_us_per_cycle={small['cpu_seconds'] / args.compare * 1e6:.1f} "
          f"cpu_per_cycle_ratio={(big['cpu_seconds'] / args.cycles) / (small['cpu_seconds'] / args.compare):.2f} "
          f"analysis_over_read={big['seconds'] / big['read_s']:.2f} "
          f"compare_analysis_over_read={small['seconds'] / small['read_s']:.2f} "
          f"read_s={big['read_s']:.4f} parent_read_s={big['parent_read_s']:.4f} "
          f"analysis_over_parent_read={big['seconds'] / big['parent_read_s']:.2f} "
          f"info_seconds={big['info_s']:.2f} info_peak_MB={big['info_peak_MB']:.0f} peak_target_MB=1000")


if __name__ == "__main__":
    main()
