"""Instruments left live by a killed run are found as the crash left them and made safe first.

A real ``memlab measure --backend sim`` child SIGKILLs itself mid-run (a
sequence running on the WGFMU, or an SMU output on during an I-V sweep). The
simulated instruments keep their outputs in state files, as the hardware
keeps them, so afterwards the bench really is live. Then either ``memlab
zero`` or the next ``memlab measure`` must find it so, drive every output to
0 V and disconnect it before anything else, and record what it found and did
(stdout for ``zero``; the archive's ``safe_starts`` and a warning line for a run).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil

from .cases import ROOT, Outcome, cli, measure_args, patched_sim, protocol_file
from .kill_cases import run_killed

IV_PROTOCOL = ROOT / "sample_data" / "protocols" / "iv-sweep.toml"


@contextlib.contextmanager
def state_dir(folder: pathlib.Path):
    """The simulated instruments' state folder for this process and its children."""
    from memlab.instruments.output_state import STATE_DIR_ENV

    previous = os.environ.get(STATE_DIR_ENV)
    os.environ[STATE_DIR_ENV] = str(folder)
    try:
        yield {STATE_DIR_ENV: str(folder)}
    finally:
        if previous is None:
            os.environ.pop(STATE_DIR_ENV, None)
        else:
            os.environ[STATE_DIR_ENV] = previous


def _states(folder: pathlib.Path) -> dict[str, dict]:
    return {p.stem.split("-", 1)[0]: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _live(state: dict) -> bool:
    return bool(state.get("sequence_running")) or any(
        c.get("connected") or c.get("output_V", 0.0) != 0.0 for c in state.get("channels", {}).values())


def _killed_run(o: Outcome, folder: pathlib.Path, kind: str, env: dict) -> pathlib.Path:
    out = folder / f"{kind}.h5"
    protocol = IV_PROTOCOL if kind == "iv" else protocol_file(folder, 150, waveforms=False)
    phase = "first append: two datasets written" if kind == "iv" else "first append: flushed"
    done = run_killed(phase, measure_args(protocol, out), env=env)
    o.check(done.returncode == -9, f"the run was not killed: exit {done.returncode} {done.stderr[-200:]!r}")
    o.interrupted = done.returncode == -9
    instrument = "b1500" if kind == "iv" else "wgfmu"
    state = _states(folder / "state").get(instrument)
    o.check(state is not None and _live(state), f"the killed run left no live {instrument} state: {state}")
    return out


def _check_safe_now(o: Outcome, folder: pathlib.Path) -> None:
    for name, state in _states(folder / "state").items():
        o.check(not _live(state) and not state.get("session_open"), f"{name} still live after: {state}")


def zero_after_kill(folder: pathlib.Path, kind: str) -> Outcome:
    """Killed ``kind`` run (pulse or iv), then ``memlab zero --backend sim``."""
    o = Outcome(f"{kind} run killed, then memlab zero")
    folder = folder / f"zero-{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with state_dir(folder / "state") as env:
        _killed_run(o, folder, kind, env)
        rc, out, err = cli("zero", "--backend", "sim")
        o.check(rc == 0, f"zero: exit {rc} {err.strip()[:200]!r}")
        line = next((x for x in out.splitlines() if ("B1500" if kind == "iv" else "WGFMU") in x), "")
        o.check("outputs found LIVE" in line and "(gone)" in line, f"zero did not report the live outputs: {out!r}")
        o.check("0 V" in line, f"zero did not say what it did: {line!r}")
        _check_safe_now(o, folder)
        rc, out, _ = cli("zero", "--backend", "sim")
        o.check(rc == 0 and out.count("outputs already safe") == 2, f"a second zero: {out!r}")
    return o


def next_run_after_kill(folder: pathlib.Path, kind: str) -> Outcome:
    """Killed ``kind`` run, then the next ``memlab measure`` (a resume) makes the bench safe first."""
    from memlab.protocols.archive import read_run

    o = Outcome(f"{kind} run killed, then the next run")
    folder = folder / f"next-{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with state_dir(folder / "state") as env:
        out = _killed_run(o, folder, kind, env)
        with patched_sim() as made:
            rc, _, err = cli(*measure_args(None, out, resume=True))
        o.check(rc == 0, f"resume: exit {rc} {err.strip()[:200]!r}")
        if kind == "pulse" and made:  # before anything else: the first calls after openSession make it safe
            calls = [c for c in made[0].calls if c not in ("getErrorSummary",)]
            start = calls.index("openSession") + 1 if "openSession" in calls else 0
            o.check(calls[start:start + 4] == ["initialize", "getChannelIds", "disconnect", "disconnect"],
                    f"after openSession the run called {calls[start:start + 6]}")
        o.check("memlab: warning:" in err and "outputs found LIVE" in err, f"no warning line: {err.strip()[:300]!r}")
        records = read_run(out).attrs.get("safe_starts", [])
        o.check(len(records) == 2, f"safe_starts holds {len(records)} records, expected 2 (run, resume)")
        if len(records) == 2:
            o.check(records[0]["live"] is False, f"the first run found {records[0]}")
            o.check(records[1]["live"] is True and records[1]["action"], f"the resume recorded {records[1]}")
        _check_safe_now(o, folder)
    return o


def safe_start_outcomes(folder: pathlib.Path) -> list[Outcome]:
    return [zero_after_kill(folder, "pulse"), zero_after_kill(folder, "iv"),
            next_run_after_kill(folder, "pulse"), next_run_after_kill(folder, "iv")]
