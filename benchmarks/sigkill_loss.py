"""Benchmark: the data a SIGKILL destroys during ``memlab measure --backend sim``, at seeded random moments.

Each trial starts a real ``memlab measure`` child process (20,000 cycles of
the paper's protocol without raw waveforms, the run the issue reported) and
sends it SIGKILL at a random moment between the archive's creation and
``--window`` seconds later. A thin harness in the child (a wrapper around the
simulated WGFMU and the archive writer; the run itself is unchanged) appends
one line per event to a log with ``os.write`` (kept by the OS after the
kill): each time the instrument has measured more cycles, and each time an
archive append returned. After the kill:

* ``loss_s``: seconds of the run whose data is not on disk: the kill time
  minus the last append that returned (minus the archive's creation if none did);
* ``loss_cycles``: cycles the instrument had measured minus the cycles in the archive.

Kills before the simulated WGFMU measured its first cycle lose the time its
``execute()`` spent planning the block (seconds for a 20,000-cycle block;
the instrument itself starts at once); the worst loss over the kills that
landed after the first measured cycle is printed apart.

The worst and median over ``--kills`` kills are printed for each side. The
baseline side runs another checkout's interpreter (``--baseline-python``,
e.g. a worktree of the commit before streaming); both sides alternate trial
by trial with the same kill times, so they share the machine's load.

    .venv/bin/python benchmarks/sigkill_loss.py [--kills 20] [--window 20] [--baseline-python OTHER/.venv/bin/python]

A baseline checkout: ``git archive c131ae9^ | tar -x -C BASE`` (the commit
before streaming and signal handling) and a venv in it with its own editable
install (``python -m venv BASE/.venv``, ``BASE/.venv/bin/pip install -e BASE``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"

HARNESS = r"""
import os, sys, time
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
ppc = int(sys.argv[2])
import memlab.instruments.wgfmu.simulated as sim
import memlab.protocols.archive as archive

class Logged(sim.SimulatedWGFMU):
    # Logs the cycles measured so far (all executes together) whenever they grow.
    _base = 0
    _seen = -1

    def execute(self):
        if self._run is not None:
            self._base += self._measured_now()
        super().execute()

    def _measured_now(self):
        plan = self._plans.get(self.bottom_channel)
        return 0 if plan is None or self._run is None else self._run.measured(plan) // ppc

    def _poll(self):
        super()._poll()
        n = self._base + self._measured_now()
        if n != self._seen:
            self._seen = n
            os.write(log, f"m {time.monotonic():.6f} {n}\n".encode())

sim.SimulatedWGFMU = Logged
original = archive.ArchiveWriter.append_cycles

def append(self, *args, **kwargs):
    original(self, *args, **kwargs)
    os.write(log, f"w {time.monotonic():.6f} {self.cycles_completed}\n".encode())

archive.ArchiveWriter.append_cycles = append
from memlab.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _protocol(folder: pathlib.Path, cycles: int) -> pathlib.Path:
    text = PAPER.read_text().replace("cycles = 100", f"cycles = {cycles}")
    path = folder / f"paper-{cycles}.toml"
    path.write_text(text.replace("record_waveforms = true", "record_waveforms = false"))
    return path


def _points_per_cycle(protocol: pathlib.Path) -> int:
    from memlab.protocols.loader import load_protocol
    from memlab.protocols.patterns import plan_cycle

    return plan_cycle(load_protocol(protocol)).points_per_cycle


def _archive_cycles(path: pathlib.Path) -> int:
    import h5py

    with h5py.File(path, "r") as f:  # the reader's 'running' check is not wanted on a killed run
        if "pulses" not in f:
            return 0
        t = f["pulses/read_time_s"][()]
    return int(np.isfinite(t).all(axis=1).sum()) if t.size else 0


def trial(python: str, protocol: pathlib.Path, ppc: int, folder: pathlib.Path, delay_s: float) -> dict:
    """One run killed ``delay_s`` after its archive appeared: the loss in seconds and cycles."""
    out, log = folder / "run.h5", folder / "events.log"
    for p in (out, log, pathlib.Path(str(out) + ".lock")):
        p.unlink(missing_ok=True)
    args = ["measure", "--protocol", str(protocol), "--backend", "sim", "--out", str(out), "--quiet"]
    # cwd: the temporary folder, never a checkout: `python -c` puts the working folder first on
    # sys.path, and a baseline interpreter started in this checkout would import its `memlab` from here
    proc = subprocess.Popen([python, "-c", HARNESS, str(log), str(ppc), *args], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        created = time.monotonic()
        time.sleep(delay_s)
        killed = time.monotonic()
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    measured, writes, first_measured = 0, [], None
    for line in log.read_text().splitlines() if log.exists() else []:
        kind, t, n = line.split()
        if kind == "m":
            measured = max(measured, int(n))
            if int(n) > 0 and first_measured is None:
                first_measured = float(t)
        else:
            writes.append(float(t))
    stored = _archive_cycles(out)
    last = max([created] + [t for t in writes if t <= killed])
    return {"loss_s": 0.0 if finished else killed - last, "loss_cycles": max(measured - stored, 0),
            "stored": stored, "finished": finished,
            "measuring": first_measured is not None and first_measured < killed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--window", type=float, default=20.0, help="kill within this many s of the archive's creation")
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--baseline-python", default=None, help="interpreter of the checkout to compare against")
    args = parser.parse_args()
    sides = {"this": sys.executable}
    if args.baseline_python:
        sides = {"baseline": args.baseline_python, **sides}
    delays = np.random.default_rng(args.seed).uniform(0.0, args.window, args.kills)
    results: dict[str, list[dict]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        protocol = _protocol(folder, args.cycles)
        ppc = _points_per_cycle(protocol)
        for k, delay in enumerate(delays):
            for name, python in sides.items():
                r = trial(python, protocol, ppc, folder, float(delay))
                results[name].append(r)
                print(f"{name:8s} kill {k:2d} at {delay:5.2f} s: lost {r['loss_s']:6.2f} s, {r['loss_cycles']:5d} "
                      f"cycles measured but not stored; {r['stored']} stored" + (" (run had ended)" if r["finished"]
                                                                               else ""), flush=True)
    fields = []
    for name, rs in results.items():
        loss_s = np.array([r["loss_s"] for r in rs])
        loss_c = np.array([r["loss_cycles"] for r in rs])
        running = np.array([r["measuring"] for r in rs])
        worst_running = float(loss_s[running].max()) if running.any() else float("nan")
        print(f"{name}: worst {loss_s.max():.2f} s / {loss_c.max()} cycles, median {np.median(loss_s):.2f} s / "
              f"{int(np.median(loss_c))} cycles over {len(rs)} SIGKILLs; {int(running.sum())} landed after the "
              f"first measured cycle, worst of those {worst_running:.2f} s")
        fields += [f"{name}_worst_loss_s={loss_s.max():.3f}", f"{name}_worst_loss_cycles={loss_c.max()}",
                   f"{name}_median_loss_s={np.median(loss_s):.3f}",
                   f"{name}_worst_loss_once_measuring_s={worst_running:.3f}"]
    print("RESULT sigkill_loss " + " ".join(fields) + f" kills={args.kills} window_s={args.window} cycles={args.cycles}")


if __name__ == "__main__":
    main()
