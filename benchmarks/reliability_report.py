"""Reliability report: every fault and hostile-input class, how many cases survived, data lost.

Runs the same cases as ``tests/reliability`` (``tests/reliability/cases.py``)
and prints one row per class: cases tried, survived (clear message and exit
code, outputs at 0 V and disconnected, no voltage beyond the protocol's,
archive valid, ``--resume`` completes, hostile files refused naming the file
and left unchanged) and cycles lost or altered (must be 0); for faults and
signals, how many hit a running measurement ("hit a run": the archive
existed and the run had not completed) and how many retries it took: a signal
that interrupted nothing is retried earlier or later, and one that still hits
nothing is not counted as survived; and for damage
that must be noticed (bit flips inside a dataset's data, data pointing
outside the file) how many were detected. The fuzzing row
runs the hypothesis properties of ``tests/reliability/test_fuzz.py`` (the parsers)
and ``test_cli_properties.py`` (protocol loader, device-file validator and
importers through the CLI: exit 0 with a valid output, or exit 2 with one line
naming the key or position and nothing at ``--out``).

    .venv/bin/python -m benchmarks.reliability_report [--reps 6] [--no-fuzz]    # from the repository root

(as a module, so that the cases import as the package ``tests.reliability``).

The last line is ``RESULT reliability ...`` with the totals and the time taken.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
try:
    from tests.reliability import cases, integrity_cases, kill_cases, safe_cases
except ImportError as exc:  # run as a script: the repository root is not on the path
    sys.exit(f"benchmarks/reliability_report.py: run it from the repository root as "
             f"'python -m benchmarks.reliability_report' ({exc})")


def classes(folder: pathlib.Path, reps: int):
    """(class name, callable returning a list of Outcome) in report order."""
    def each(fn, *argsets):
        return lambda: [fn(*a) for a in argsets]

    yield "instrument fault: I/O error", each(cases.instrument_fault, *[(folder / "io", "io", p)
                                                                       for p in cases.FAULT_POINTS])
    yield "instrument fault: timeout", each(cases.instrument_fault, *[(folder / "to", "timeout", p)
                                                                     for p in cases.FAULT_POINTS])
    yield "instrument fault: abort", each(cases.instrument_fault, *[(folder / "ab", "abort", p)
                                                                   for p in cases.FAULT_POINTS])
    yield "instrument fault: disconnect", each(cases.instrument_fault, *[(folder / "dc", "disconnect", p)
                                                                        for p in cases.FAULT_POINTS])
    yield "archive flush fails (disk full)", each(cases.flush_fault, *[(folder / "flush", n) for n in (1, 2, 5)])
    yield "SIGKILL at a random moment", each(cases.signal_case, *[(folder / "kill", signal.SIGKILL, r)
                                                                  for r in range(reps)])
    yield "SIGKILL in each phase of a run's life", lambda: kill_cases.kill_phase_outcomes(folder / "phases")
    yield "SIGINT at a random moment", each(cases.signal_case, *[(folder / "int", signal.SIGINT, r)
                                                                 for r in range(reps)])
    yield "instrument left live by a killed run", lambda: safe_cases.safe_start_outcomes(folder / "safe")
    yield "file size limit (ulimit -f)", each(cases.disk_full_case, *[(folder / "fsize", b)
                                                                     for b in (300_000, 1_200_000)])
    yield "two writers on one archive", each(cases.two_writers_case, (folder / "writers",))
    for consumer in ("info", "analyze", "resume"):
        yield f"hostile archive -> {consumer}", (lambda c=consumer: cases.hostile_archive_outcomes(folder / "h", c))
    yield "bit flips inside dataset data", lambda: integrity_cases.data_flip_outcomes(folder / "flips", reps)
    yield "datasets pointing outside the file", lambda: integrity_cases.outside_file_outcomes(folder / "outside")
    yield "hostile protocol TOML", lambda: cases.hostile_protocol_outcomes(folder / "toml")
    yield "hostile CSV/XLSX import", lambda: cases.hostile_import_outcomes(folder / "csv")
    yield "hostile device JSON", lambda: cases.hostile_device_outcomes(folder / "json")


def fuzz_row() -> tuple[int, int, str]:
    """(properties run, properties passed, examples note) from pytest on the hypothesis tests."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "reliability" / "test_fuzz.py"),
                           str(ROOT / "tests" / "reliability" / "test_cli_properties.py")],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    passed, failed = (int(m.group(1)) if (m := re.search(rf"(\d+) {word}", tail)) else 0
                      for word in ("passed", "failed"))
    return passed + failed, passed, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=6, help="seeded repetitions per signal")
    parser.add_argument("--no-fuzz", action="store_true", help="skip the hypothesis properties")
    args = parser.parse_args()
    started = time.perf_counter()
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="memlab-reliability-") as tmp:
        for name, run in classes(pathlib.Path(tmp), args.reps):
            t0 = time.perf_counter()
            outcomes = run()
            survived = sum(o.counts for o in outcomes)  # a fault that interrupted nothing does not count
            lost = sum(o.lost for o in outcomes)
            judged = [o.detected for o in outcomes if o.detected is not None]
            detected = f"{sum(judged)}/{len(judged)}" if judged else "-"
            hits = [o.interrupted for o in outcomes if o.interrupted is not None]
            hit = f"{sum(hits)}/{len(hits)}" if hits else "-"
            retried = sum(o.attempts - 1 for o in outcomes)
            rows.append((name, len(outcomes), survived, lost, detected, hit, retried, time.perf_counter() - t0))
            failures += [str(o) for o in outcomes if not o.counts or o.detected is False]
            print(f"  {name}: {survived}/{len(outcomes)} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    if not args.no_fuzz:
        t0 = time.perf_counter()
        tried, passed, tail = fuzz_row()
        rows.append(("fuzz properties (hypothesis)", tried, passed, 0, "-", "-", 0, time.perf_counter() - t0))
        if passed != tried:
            failures.append(f"fuzz: {tail}")

    width = max(len(r[0]) for r in rows)
    print(f"{'fault or input class':<{width}}  {'tried':>5}  {'survived':>8}  {'data lost':>9}  {'detected':>9}"
          f"  {'hit a run':>9}  {'retried':>7}  {'time s':>6}")
    print("-" * (width + 68))
    for name, tried, survived, lost, detected, hit, retried, secs in rows:
        print(f"{name:<{width}}  {tried:>5}  {survived:>8}  {lost:>9}  {detected:>9}  {hit:>9}  {retried:>7}"
              f"  {secs:>6.1f}")
    total = sum(r[1] for r in rows)
    ok = sum(r[2] for r in rows)
    lost = sum(r[3] for r in rows)
    print("-" * (width + 68))
    print(f"{'total':<{width}}  {total:>5}  {ok:>8}  {lost:>9}")
    for line in failures:
        print(f"FAILED {line}")
    elapsed = time.perf_counter() - started
    flips = [r for r in rows if r[0] == "bit flips inside dataset data"]
    flips_detected = flips[0][4] if flips else "-"
    faults = [r for r in rows if r[5] != "-"]
    hit_n = sum(int(r[5].split("/")[0]) for r in faults)
    hit_of = sum(int(r[5].split("/")[1]) for r in faults)
    print(f"RESULT reliability cases={total} survived={ok} survived_ratio={ok / total:.3f} "
          f"data_lost={lost} data_flips_detected={flips_detected} faults_hit_running={hit_n}/{hit_of} "
          f"fault_retries={sum(r[6] for r in rows)} elapsed_s={elapsed:.1f}")
    return 0 if ok == total and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
