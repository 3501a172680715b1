"""SIGKILL in every phase of a run's life, shared by the tests and ``benchmarks/reliability_report.py``.

A child process (:mod:`.kill_child`) runs the real CLI with :mod:`.kill_hooks` installed, so it
SIGKILLs itself at exactly one moment: while the archive is created, on the
first append, while resuming, while closing, while a device file or an
imported archive is written. What it leaves must be explained by ``memlab
info`` (an archive that says ``interrupted`` or ``complete``, never
``running`` once its writer is gone; or no archive and, for a ``.partial``
file, a one-line explanation), hold only cycles bit-identical to a clean run,
and recover: ``--resume`` (or rerunning the command) completes the work.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

from .cases import (Outcome, _cli_cmd, _env, check_archive_after_fault, check_resume, clean_rows, cli,
                    _status, measure_args, patched_sim, protocol_file, rows_of, differing_cycles)
from .kill_hooks import PHASES
from tests.helpers.child import child_env

CYCLES = 150
"""Long enough that the first append (64 cycles) is not the last one, short enough to take ~1 s."""


def _slug(phase: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in phase).strip("-")


def run_killed(phase: str, args: list[str], timeout_s: float = 120, env: dict | None = None
               ) -> subprocess.CompletedProcess:
    """``memlab ARGS`` in a child that SIGKILLs itself in ``phase`` (``env``: extra variables)."""
    return subprocess.run([sys.executable, "-m", "tests.reliability.kill_child", phase, *args],
                          capture_output=True, text=True, timeout=timeout_s,
                          env=child_env({**_env(), **(env or {})}))


def _explained(o: Outcome, path: pathlib.Path) -> int | None:
    """``memlab info PATH``: exit 0, or exit 2 with one line that explains why (no traceback)."""
    rc, _, err = cli("info", str(path))
    err = err.strip()
    o.check(rc in (0, 2), f"info {path.name}: exit {rc}: {err[:200]!r}")
    o.check("Traceback" not in err and len(err.splitlines()) <= 1, f"info {path.name}: {err[:300]!r}")
    if rc == 2:
        o.check("unfinished" in err or "not found" in err, f"info {path.name} does not explain it: {err[:200]!r}")
    return rc


def _partials(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(folder.glob("*.partial"))


def _check_leftovers(o: Outcome, folder: pathlib.Path, out: pathlib.Path) -> None:
    """Every file the kill left is explained by info; a missing output names its partial file."""
    for partial in _partials(folder):
        rc = _explained(o, partial)
        o.check(rc == 2, f"info accepted the unfinished {partial.name}")
    if not out.exists():
        rc, _, err = cli("info", str(out))
        o.check(rc == 2 and "not found" in err, f"info on the missing {out.name}: exit {rc} {err.strip()[:200]!r}")
        if _partials(folder):
            o.check(".partial" in err, f"info on the missing {out.name} does not name the partial file: {err!r}")


def kill_phase_case(folder: pathlib.Path, phase: str) -> Outcome:
    """One SIGKILL in ``phase`` (a key of :data:`kill_hooks.PHASES`); then what it left is judged and recovered."""
    o = Outcome(f"SIGKILL in {phase}")
    kind = PHASES[phase]
    folder = folder / _slug(phase)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    protocol = protocol_file(folder, CYCLES, waveforms=False)
    ref = clean_rows(protocol, folder)
    if kind in ("measure", "resume"):
        out = folder / "run.h5"
        if kind == "resume":  # an interrupted archive to resume: killed after its first append
            first = run_killed("first append: flushed", measure_args(protocol, out))
            o.check(first.returncode == -9, f"the run to resume was not killed: exit {first.returncode}")
            args = measure_args(None, out, resume=True)
        else:
            args = measure_args(protocol, out)
        done = run_killed(phase, args)
        o.check(done.returncode == -9, f"the phase was never reached: exit {done.returncode} "
                                       f"{done.stderr.strip()[-200:]!r}")
        o.interrupted = done.returncode == -9  # the kill lands inside the phase by construction
        _check_leftovers(o, folder, out)
        if out.exists():
            rc = _explained(o, out)
            o.check(rc == 0, f"info cannot read the archive the kill left (exit {rc})")
            before = check_archive_after_fault(o, out, ref, statuses=("interrupted", "complete"))
            status = _status(out)
            if status is None:
                o.fail("the archive the kill left cannot be read")
            elif status == "complete":
                o.check(before is not None and before["read_time_s"].shape[0] == CYCLES,
                        "a complete archive lacks cycles")
            else:
                check_resume(o, out, before, CYCLES)
        else:  # killed before the archive existed: rerunning the command starts it afresh
            _rerun(o, measure_args(protocol, out), out, ref)
        o.cycles = None
        return o
    if kind == "import":
        up, down = folder / "up.csv", folder / "down.csv"
        up.write_text("1e-4,2e-4,3e-4\n1.1e-4,2.1e-4,3.1e-4\n")
        down.write_text("3e-4,2e-4,1e-4\n3.1e-4,2.1e-4,1.1e-4\n")
        out = folder / "imported.h5"
        args = ["import", "--layout", "rows", "--quantity", "conductance", "--up", str(up), "--down", str(down),
                "--out", str(out)]
    else:  # analyze -> device file
        base = folder / "base.h5"
        with patched_sim():
            rc, _, err = cli(*measure_args(protocol, base))
        o.check(rc == 0, f"base run: {err.strip()[:200]}")
        out = folder / "device.json"
        args = ["analyze", str(base), "--out", str(out), "--bootstrap", "0"]
    done = run_killed(phase, args)
    o.check(done.returncode == -9, f"the phase was never reached: exit {done.returncode} "
                                   f"{done.stderr.strip()[-200:]!r}")
    o.interrupted = done.returncode == -9
    o.check(not out.exists(), f"{out.name} exists after a kill before it was complete")
    _check_leftovers(o, folder, out)
    rc, _, err = cli(*args)
    o.check(rc == 0, f"rerun after the kill: exit {rc}: {err.strip()[:200]!r}")
    o.check(out.exists() and not _partials(folder), "the rerun left no output, or a partial file")
    if kind == "analyze" and out.exists():
        from memlab.analysis.device_file import load_device_file

        load_device_file(out)
    return o


def _rerun(o: Outcome, args: list[str], out: pathlib.Path, ref) -> None:
    with patched_sim():
        rc, _, err = cli(*args)
    o.check(rc == 0, f"rerun after the kill: exit {rc}: {err.strip()[:200]!r}")
    o.check(not _partials(out.parent), "the rerun left a partial file")
    if rc == 0:
        o.lost += differing_cycles(rows_of(out), ref)
        o.check(rows_of(out)["read_time_s"].shape[0] == CYCLES, "the rerun's archive lacks cycles")


def kill_phase_outcomes(folder: pathlib.Path) -> list[Outcome]:
    return [kill_phase_case(folder, phase) for phase in PHASES]


__all__ = ["PHASES", "kill_phase_case", "kill_phase_outcomes", "run_killed", "_cli_cmd"]
