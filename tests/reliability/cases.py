"""Fault cases shared by the reliability tests and ``benchmarks/reliability_report.py``.

Each case runs one fault or hostile input through the real code path and
returns an :class:`Outcome`: whether the pipeline survived it (clear message
and exit code, outputs safe, archive valid, resume completes) and how many
recorded cycles were lost or altered (must be 0). Tests assert on outcomes;
the report counts them. Everything is seeded, so a failing case reruns
identically.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import resource
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"
SEED, DEVICE_SEED = 3, 2
FAULT_KINDS = ("io", "timeout", "abort", "disconnect")
FAULT_POINTS = {
    # point name -> (library call that fails, which call); the runner's call order decides the moment
    "before-execute": ("execute", 1),
    "between-blocks": ("execute", 2),
    "mid-sequence": ("getMeasureValueSize", 5),
    "readout": ("getMeasureValues", 2),  # the first write's second channel: a short run is one write
    "completion": ("waitUntilCompleted", 1),
    "cleanup": ("closeSession", 1),
}
ROW_FIELDS = ("read_time_s", "read_voltage_V", "read_current_A", "read_status")


@dataclass
class Outcome:
    """What one case showed. ``survived`` needs every check to pass; ``lost`` counts cycles."""

    case: str
    survived: bool = True
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    cycles: int | None = None
    detected: bool | None = None
    """For damage that must be noticed (bit flips in data): whether it was; None where it does not apply."""
    interrupted: bool | None = None
    """For faults and signals: whether it hit a running measurement (the archive existed and the run had
    not completed); None where it does not apply. A case that interrupted nothing proves nothing: it is
    retried, and if it still hits nothing it is not counted as survived (:attr:`counts`)."""
    attempts: int = 1

    @property
    def counts(self) -> bool:
        """Survived with nothing lost, and (for a fault) survived a fault that hit a running run."""
        return self.survived and not self.lost and self.interrupted is not False

    def fail(self, why: str) -> None:
        self.survived = False
        self.problems.append(why)

    def check(self, ok: bool, why: str) -> None:
        if not ok:
            self.fail(why)

    def __str__(self) -> str:
        state = ("ok" if self.interrupted is not False else "INTERRUPTED NOTHING") if self.survived and not self.lost \
            else "FAILED"
        return f"{self.case}: {state}, lost={self.lost}, cycles={self.cycles}; " + "; ".join(self.problems)


@contextlib.contextmanager
def memory_cap(extra_B: int = 1 << 30):
    """Cap this process's address space at its present size plus ``extra_B`` for the block.

    In-process cases that could allocate without bound (a hostile count or
    shape) then fail with MemoryError instead of waking the OOM killer.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/status") as fh:
            vm_B = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (OSError, StopIteration):  # no /proc: leave the limit alone
        yield
        return
    cap = vm_B + extra_B if hard == resource.RLIM_INFINITY else min(vm_B + extra_B, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# --------------------------------------------------------------------------- protocol files


def protocol_file(folder: pathlib.Path, cycles: int, waveforms: bool = True) -> pathlib.Path:
    """The paper's protocol shortened to ``cycles`` (optionally without raw waveforms)."""
    text = PAPER.read_text().replace("cycles = 100", f"cycles = {cycles}")
    if not waveforms:
        text = text.replace("record_waveforms = true", "record_waveforms = false")
    path = folder / f"paper-{cycles}{'' if waveforms else '-nowf'}.toml"
    path.write_text(text)
    return path


def voltage_bound_V(protocol: pathlib.Path | dict) -> float:
    """The largest |V| the validated protocol (a file, or the dict an archive stores) may apply."""
    from memlab.protocols.loader import load_protocol, protocol_from_dict

    p = protocol_from_dict(protocol) if isinstance(protocol, dict) else load_protocol(protocol)
    return max(max(abs(v) for v in p.pulse_amplitude_V), abs(p.read.amplitude_V))


# --------------------------------------------------------------------------- instrument probe


def probe_class():
    """A SimulatedWGFMU that records every voltage it is asked to apply and can lose its link.

    ``lost_at=("getMeasureValues", 3)``: from that call on, every library call
    fails as if the cable were pulled (the simulated outputs still go to 0 V on
    ``closeSession``, as the real library's session end does).
    """
    from memlab.errors import InstrumentError
    from memlab.instruments.wgfmu.simulated import SimulatedWGFMU

    class Probe(SimulatedWGFMU):
        def __init__(self, *args, lost_at: tuple[str, int] | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.lost_at, self.lost, self.max_abs_V = lost_at, False, 0.0
            self._seen: dict[str, int] = {}
            self.calls: list[str] = []

        def _enter(self, function, **kwargs):
            self._seen[function] = self._seen.get(function, 0) + 1
            self.calls.append(function)
            if self.lost_at is not None and (function, self._seen[function]) == tuple(self.lost_at):
                self.lost = True
            if self.lost:
                raise InstrumentError(f"WGFMU_{function} failed: connection to the instrument lost "
                                      "(fault injected)", code=-3)
            super()._enter(function, **kwargs)

        def _record(self, volts) -> None:
            self.max_abs_V = max(self.max_abs_V, float(np.max(np.abs(np.asarray(volts, dtype=float)), initial=0.0)))

        def createPattern(self, pattern, initial_V):
            self._record([initial_V])
            return super().createPattern(pattern, initial_V)

        def addVectors(self, pattern, deltas_s, voltages_V, **kwargs):  # addVector comes here too
            self._record(voltages_V)
            return super().addVectors(pattern, deltas_s, voltages_V, **kwargs)

        def dcforceVoltage(self, channel_id, voltage_V):
            self._record([voltage_V])
            return super().dcforceVoltage(channel_id, voltage_V)

        def safe(self) -> bool:
            """Session closed, every output at 0 V and disconnected."""
            return not self.session_open and all(
                ch.output_V == 0.0 and not ch.connected for ch in self._channels.values())

    return Probe


@contextlib.contextmanager
def patched_sim(**probe_kwargs):
    """Make ``measure(backend='sim')`` build a :func:`probe_class` instrument; yields the instances made."""
    import memlab.instruments.wgfmu.simulated as mod

    original, made = mod.SimulatedWGFMU, []
    probe = probe_class()

    def factory(*args, **kwargs):
        inst = probe(*args, **{**kwargs, **probe_kwargs})
        made.append(inst)
        return inst

    mod.SimulatedWGFMU = factory
    try:
        yield made
    finally:
        mod.SimulatedWGFMU = original


@contextlib.contextmanager
def failing_flush(at_call: int):
    """The ``at_call``-th ``ArchiveWriter.append_cycles`` raises as a full disk would."""
    from memlab.protocols.archive import ArchiveWriter

    original, calls = ArchiveWriter.append_cycles, [0]

    def append(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == at_call:
            raise OSError(28, "No space left on device (fault injected)")
        return original(self, *args, **kwargs)

    ArchiveWriter.append_cycles = append
    try:
        yield
    finally:
        ArchiveWriter.append_cycles = original


@contextlib.contextmanager
def few_cycles_per_write(cycles: int):
    """The runner writes as soon as ``cycles`` are measured, so a short run makes several appends."""
    import memlab.protocols.runner as runner

    original = runner.FLUSH_CYCLES
    runner.FLUSH_CYCLES = cycles
    try:
        yield
    finally:
        runner.FLUSH_CYCLES = original


@contextlib.contextmanager
def small_point_memory(points: int | None):
    """Shrink the WGFMU point memory the planner assumes, so a run needs several blocks."""
    if points is None:
        yield
        return
    import memlab.protocols.patterns as patterns

    original = patterns.MAX_POINTS_PER_CHANNEL
    patterns.MAX_POINTS_PER_CHANNEL = points
    try:
        yield
    finally:
        patterns.MAX_POINTS_PER_CHANNEL = original


def cli(*args: str) -> tuple[int, str, str]:
    """``memlab ARGS`` in this process: (exit status, stdout, stderr)."""
    from memlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def measure_args(protocol: pathlib.Path | None, out: pathlib.Path, resume: bool = False) -> list[str]:
    args = ["measure", "--backend", "sim", "--seed", str(SEED), "--device-seed", str(DEVICE_SEED),
            "--out", str(out), "--quiet"]
    if protocol is not None:
        args += ["--protocol", str(protocol)]
    return args + (["--resume"] if resume else [])


# --------------------------------------------------------------------------- comparing runs


def rows_of(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Every per-cycle array of a pulse archive (reads and waveforms)."""
    from memlab.protocols.archive import read_run

    p = read_run(path).pulses
    rows = {name: getattr(p, name) for name in ROW_FIELDS}
    if p.waveform is not None:
        rows["waveform_voltage_V"], rows["waveform_current_A"] = p.waveform.voltage_V, p.waveform.current_A
    return rows


def differing_cycles(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> int:
    """Cycles of ``got`` that are not bit-identical to the same cycles of ``ref`` (NaN == NaN)."""
    n = got["read_time_s"].shape[0]
    if n == 0:
        return 0
    if n > ref["read_time_s"].shape[0] or set(got) != set(ref):
        return n
    bad = np.zeros(n, dtype=bool)
    for key, a in got.items():
        b = ref[key][:n]
        if a.shape != b.shape:  # another layout altogether (e.g. overwritten by an import): all lost
            return n
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
        bad |= ~same.reshape(n, -1).all(axis=1)
    return int(bad.sum())


_CLEAN: dict[tuple, dict[str, np.ndarray]] = {}


def clean_rows(protocol: pathlib.Path, folder: pathlib.Path, points: int | None = None) -> dict[str, np.ndarray]:
    """The fault-free run of ``protocol`` with the same seeds (cached per protocol text and block size)."""
    key = (protocol.read_text(), points)
    if key not in _CLEAN:
        out = folder / f"clean-{len(_CLEAN)}.h5"
        with small_point_memory(points), patched_sim():
            rc, _, err = cli(*measure_args(protocol, out))
        assert rc == 0, err
        _CLEAN[key] = rows_of(out)
    return _CLEAN[key]


def check_archive_after_fault(o: Outcome, out: pathlib.Path, ref: dict[str, np.ndarray],
                              statuses=("failed", "interrupted")) -> dict[str, np.ndarray] | None:
    """The archive a fault left: readable, the right status, every cycle bit-identical to the clean run."""
    from memlab.errors import MemlabError
    from memlab.protocols.archive import read_run

    if not out.exists():
        return None
    try:
        run = read_run(out)
        got = rows_of(out) if run.pulses is not None else None
    except MemlabError as exc:
        o.fail(f"archive unreadable after the fault: {exc}")
        o.lost += ref["read_time_s"].shape[0]  # unknown how many were in it: count them all
        return None
    o.check(run.status in statuses, f"archive status {run.status!r}, expected one of {statuses}")
    if got is not None:
        o.cycles = got["read_time_s"].shape[0]
        o.lost += differing_cycles(got, ref)
    return got


def check_resume(o: Outcome, out: pathlib.Path, before: dict[str, np.ndarray] | None, planned: int,
                 points: int | None = None) -> None:
    """``--resume`` completes the run, keeping every cycle recorded before it untouched."""
    from memlab.protocols.archive import read_run

    with small_point_memory(points), patched_sim() as made:
        rc, _, err = cli(*measure_args(None, out, resume=True))
    if rc != 0:
        o.fail(f"--resume exit {rc}: {err.strip()}")
        return
    run = read_run(out)
    _check_instruments(o, made, voltage_bound_V(run.protocol))
    got = rows_of(out)
    n = got["read_time_s"].shape[0]
    o.check(run.status == "complete", f"resumed run ends {run.status!r}")
    if n < planned:
        o.lost += planned - n
    if before is not None:
        k = before["read_time_s"].shape[0]
        o.lost += differing_cycles({key: a[:k] for key, a in got.items()}, before)


# --------------------------------------------------------------------------- 1. instrument faults


def instrument_fault(folder: pathlib.Path, kind: str, point: str, cycles: int = 12) -> Outcome:
    """One fault of ``kind`` at ``point`` during ``memlab measure --backend sim``, then ``--resume``."""
    o = Outcome(f"instrument {kind} @ {point}")
    folder.mkdir(parents=True, exist_ok=True)
    blocks = point == "between-blocks"
    protocol = protocol_file(folder, cycles, waveforms=not blocks)
    points = 4 * 40 if blocks else None  # 4 cycles of 40 reads a block: the run needs 3 executes
    bound = voltage_bound_V(protocol)
    ref = clean_rows(protocol, folder, points)
    out = folder / f"{kind}-{point}.h5"
    call, nth = FAULT_POINTS[point]
    probe = {"lost_at": (call, nth)} if kind == "disconnect" else {"fail_at": {call: nth}, "failure": kind}
    with small_point_memory(points), patched_sim(**probe) as made:
        rc, _, err = cli(*measure_args(protocol, out))
    _check_exit(o, rc, err, 2, "fault injected")
    _check_instruments(o, made, bound)
    o.check(out.exists(), "no archive: the fault struck before the run was recorded")
    o.interrupted = _status(out) in ("failed", "interrupted")  # the fault stopped a running run
    before = check_archive_after_fault(o, out, ref)
    check_resume(o, out, before, cycles, points)
    return o


def flush_fault(folder: pathlib.Path, at_call: int, cycles: int = 12) -> Outcome:
    """The archive write fails (disk full) at the ``at_call``-th flush; then ``--resume``."""
    o = Outcome(f"archive flush fails @ append {at_call}")
    folder.mkdir(parents=True, exist_ok=True)
    protocol = protocol_file(folder, cycles)
    ref = clean_rows(protocol, folder)
    out = folder / f"flush-{at_call}.h5"
    with failing_flush(at_call), few_cycles_per_write(2), patched_sim() as made:
        rc, _, err = cli(*measure_args(protocol, out))
    # Not bad input but the machine: the CLI's exit 1, with the OS's reason on one line.
    _check_exit(o, rc, err, 1, "No space left on device")
    _check_instruments(o, made, voltage_bound_V(protocol))
    o.interrupted = _status(out) in ("failed", "interrupted")  # the fault stopped a running run
    before = check_archive_after_fault(o, out, ref)
    check_resume(o, out, before, cycles)
    return o


def _check_exit(o: Outcome, rc: int, err: str, expected: int, text: str) -> None:
    o.check(rc == expected, f"exit {rc}, expected {expected}: {err.strip()[:200]}")
    o.check("Traceback" not in err and len(err.strip().splitlines()) == 1,
            f"message is not one line: {err.strip()[:300]!r}")
    o.check(text in err, f"message does not say what failed: {err.strip()[:200]!r}")


def _check_instruments(o: Outcome, made: list, bound_V: float) -> None:
    o.check(bool(made), "no instrument was created")
    for m in made:
        o.check(m.safe(), "an output was left on or connected")
        o.check(m.max_abs_V <= bound_V + 1e-12,
                f"{m.max_abs_V} V was programmed, the protocol allows {bound_V} V")


# --------------------------------------------------------------------------- 2. process faults


def _cli_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "memlab.cli", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    return env


def _pulse_cycles(path: pathlib.Path) -> int:
    from memlab.protocols.archive import read_run

    try:
        p = read_run(path, waveforms=False).pulses
        return 0 if p is None else p.n_cycles
    except Exception:  # noqa: BLE001 - the writer may be creating the file this instant
        return 0


def _status(path: pathlib.Path) -> str | None:
    from memlab.protocols.archive import read_run

    try:
        return read_run(path, waveforms=False).status
    except Exception:  # noqa: BLE001 - missing or unreadable: judged by the caller
        return None


SIGNAL_ATTEMPTS = 5


def signal_case(folder: pathlib.Path, sig: int, rep: int, cycles: int = 400) -> Outcome:
    """``memlab measure`` in a subprocess gets ``sig`` at a seeded random moment; then ``--resume``.

    SIGKILL lands anywhere from process start (imports, archive creation,
    mid-run, closing); SIGINT once the archive exists (a Ctrl-C during Python's
    own start-up is Python's business, not memlab's). A signal that interrupted
    nothing (it came before the archive existed or after the run completed) is
    retried earlier or later, up to :data:`SIGNAL_ATTEMPTS` times; the outcome
    says whether it finally hit a running measurement (``interrupted``).
    """
    name = signal.Signals(sig).name
    o = Outcome(f"{name} #{rep}")
    folder.mkdir(parents=True, exist_ok=True)
    protocol = protocol_file(folder, cycles, waveforms=rep % 2 == 0)
    ref = clean_rows(protocol, folder)
    rng = np.random.default_rng([rep, sig])
    low, high = 0.0, 3.0 if sig == signal.SIGKILL else 2.5  # the run takes ~2 s (no waveforms) to ~4 s here
    for attempt in range(1, SIGNAL_ATTEMPTS + 1):
        o.attempts = attempt
        delay = float(rng.uniform(low, high))
        out = folder / f"{name}-{rep}-{attempt}.h5"
        missed = _signal_once(o, sig, protocol, out, delay, ref, cycles)
        if missed is None:
            o.interrupted = True
            return o
        o.interrupted = False
        if missed == "late":  # the run had completed: aim earlier
            high = delay
        else:  # no archive yet: aim later
            low = delay
    return o


def _signal_once(o: Outcome, sig: int, protocol: pathlib.Path, out: pathlib.Path, delay: float,
                 ref: dict[str, np.ndarray], cycles: int) -> str | None:
    """One signal after ``delay`` s; judges the result. Returns None when it hit a running run,
    ``"early"`` when it came before the archive existed, ``"late"`` when the run had completed."""
    proc = subprocess.Popen(_cli_cmd(*measure_args(protocol, out)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        if sig == signal.SIGINT:
            deadline = time.monotonic() + 60
            while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lock = pathlib.Path(str(out) + ".lock")
    after_run = (0, -sig, 130) if sig == signal.SIGINT else (0, -sig)
    if proc.returncode in after_run and _status(out) == "complete":
        # The signal came after the run (while the interpreter exited): nothing to interrupt, but what
        # is there must still be right.
        check_archive_after_fault(o, out, ref, statuses=("complete",))
        o.check(_pulse_cycles(out) == cycles, "a complete archive lacks cycles")
        o.check(not lock.exists(), "lock file left behind")
        return "late"
    if sig == signal.SIGINT:
        _check_exit(o, proc.returncode, err, 130, "interrupted")
    else:
        o.check(proc.returncode == -signal.SIGKILL, f"exit {proc.returncode}")
    if not out.exists():
        return "early"  # nothing was recording yet: a kill then costs nothing, and proves nothing
    before = check_archive_after_fault(o, out, ref)
    if sig == signal.SIGINT:
        o.check(not lock.exists(), "lock file left behind after Ctrl-C")
    check_resume(o, out, before, cycles)
    return None


def disk_full_case(folder: pathlib.Path, limit_B: int, cycles: int = 60) -> Outcome:
    """``measure`` under ``ulimit -f limit_B``: a clear failure, a valid archive, ``--resume`` completes."""
    o = Outcome(f"file size limit {limit_B // 1024} KiB")
    folder.mkdir(parents=True, exist_ok=True)
    protocol = protocol_file(folder, cycles)
    ref = clean_rows(protocol, folder)
    out = folder / f"fsize-{limit_B}.h5"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_B, limit_B))

    done = subprocess.run(_cli_cmd(*measure_args(protocol, out)), capture_output=True, text=True,
                          timeout=300, preexec_fn=limit, env=_env())
    _check_exit(o, done.returncode, done.stderr, 2, "no room for the next")
    o.interrupted = _status(out) in ("failed", "interrupted")  # the fault stopped a running run
    before = check_archive_after_fault(o, out, ref)
    check_resume(o, out, before, cycles)
    return o


def two_writers_case(folder: pathlib.Path, cycles: int = 4000) -> Outcome:
    """A second writer (resume, import --overwrite) while a run records: refused, the run intact.

    The run must outlast two CLI start-ups: ~4,000 cycles without waveforms take ~9 s here.
    """
    o = Outcome("two writers on one archive")
    folder.mkdir(parents=True, exist_ok=True)
    protocol = protocol_file(folder, cycles, waveforms=False)
    ref = clean_rows(protocol, folder)
    out = folder / "shared.h5"
    csv = folder / "up.csv"
    csv.write_text("1e-4,2e-4,3e-4\n")
    proc = subprocess.Popen(_cli_cmd(*measure_args(protocol, out)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 60
        while _pulse_cycles(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        o.check(proc.poll() is None, "the first run ended before the second writer came")
        for args in (measure_args(None, out, resume=True),
                     ["import", "--layout", "rows", "--quantity", "conductance", "--up", str(csv), "--down",
                      str(csv), "--out", str(out), "--overwrite"]):
            second = subprocess.run(_cli_cmd(*args), capture_output=True, text=True, timeout=120, env=_env())
            o.check(second.returncode == 2 and "another writer" in second.stderr,
                    f"second writer {args[0]}: exit {second.returncode} {second.stderr.strip()[:200]!r}")
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    o.check(proc.returncode == 0, f"the first run failed: {err.strip()[:200]}")
    got = check_archive_after_fault(o, out, ref, statuses=("complete",))
    if got is None or got["read_time_s"].shape[0] != cycles:
        o.fail("the first run's archive is incomplete")
        o.lost += cycles - (0 if got is None else got["read_time_s"].shape[0])
    return o


# --------------------------------------------------------------------------- 3. hostile files

HOSTILE_RUNNER = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({mem}, {mem}))
    from memlab.cli import main
    import contextlib, io
    for args in json.loads(sys.argv[1]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                rc = main(args)
            except BaseException as exc:  # main must not let anything out
                rc = 'escaped ' + type(exc).__name__
        print(json.dumps({{"args": args, "rc": rc, "err": err.getvalue()}}), flush=True)
""")
MEMORY_CAP_B = 3 << 30


def run_capped(commands: list[list[str]], timeout_s: float = 240, memory_B: int = MEMORY_CAP_B) -> list[dict]:
    """Run CLI commands in one subprocess with an address-space cap; one result dict per command.

    A crash (segfault, hang) leaves the remaining commands without a result;
    the missing ones come back with ``rc`` = the reason.
    """
    code = HOSTILE_RUNNER.format(mem=memory_B)
    try:
        done = subprocess.run([sys.executable, "-c", code, json.dumps(commands)], capture_output=True, text=True,
                              timeout=timeout_s, env=_env())
        stdout, why = done.stdout, f"process died (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    except subprocess.TimeoutExpired as exc:
        stdout, why = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""), "hang"
    results = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    for args in commands[len(results):]:
        results.append({"args": args, "rc": why, "err": ""})
    return results


def judge_refusal(o: Outcome, result: dict, must_name: str, allow_ok: bool = False) -> None:
    """A hostile input must end in exit 2 naming the file (or exit 0 when it is harmless)."""
    rc, err = result["rc"], result["err"].strip()
    if rc == 0 and allow_ok:
        return
    o.check(rc == 2, f"{' '.join(result['args'][:2])}: exit {rc}: {err[:300]!r}")
    o.check("Traceback" not in err and len(err.splitlines()) <= 1, f"message is not one line: {err[:300]!r}")
    o.check(must_name in err, f"message does not name {must_name}: {err[:200]!r}")


def _edit(path: pathlib.Path, change) -> None:
    import h5py

    with h5py.File(path, "r+", locking=False) as f:
        change(f)


def _replace(name: str, data=None, **create) -> callable:
    def change(f) -> None:
        del f[name]
        if data is not None or create:
            f.create_dataset(name, data=data, **create)
    return change


def _set_attr(where: str, key: str, value) -> callable:
    def change(f) -> None:
        f[where].attrs[key] = value
    return change


def _del_attr(where: str, key: str) -> callable:
    def change(f) -> None:
        del f[where].attrs[key]
    return change


def hostile_archives(base: pathlib.Path, folder: pathlib.Path, n_flips: int = 24) -> dict[str, tuple[pathlib.Path, bool]]:
    """Damaged and foreign variants of the valid archive ``base``: name -> (file, may it read fine?).

    Random bit flips over the whole file may land where they change nothing a
    reader checks (padding, free space, the checksum of an unread chunk), so
    those may read fine; every other variant must be refused. Flips inside a
    dataset's data are judged apart (``integrity_cases.data_flip_outcomes``:
    every one must be detected).
    """
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    raw = base.read_bytes()
    out: dict[str, tuple[pathlib.Path, bool]] = {}

    def add(name: str, data: bytes | None = None, change=None, harmless: bool = False) -> None:
        path = folder / f"{name}.h5"
        path.write_bytes(raw if data is None else data)
        if change is not None:
            _edit(path, change)
        out[name] = (path, harmless)

    for frac in (0.0, 0.001, 0.05, 0.3, 0.6, 0.9, 0.999):
        add(f"truncated-{frac}", raw[: int(len(raw) * frac)])
    rng = np.random.default_rng(9)
    for k in range(n_flips):
        data = bytearray(raw)
        # half the flips aim at the first 8 KiB, where the superblock and object headers live
        span = 8192 if k % 2 == 0 else len(raw)
        for pos in rng.integers(0, span, size=int(rng.integers(1, 40))):
            data[pos] ^= 1 << int(rng.integers(0, 8))
        add(f"bitflip-{k}", bytes(data), harmless=True)
    add("empty", b"")
    add("text", b"cycle,pulse,value\n1,1,1e-3\n")
    add("png", b"\x89PNG\r\n\x1a\n" + bytes(200))
    foreign = folder / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("data", data=np.arange(10.0))
        f.attrs["format"] = "something-else"
    out["foreign-hdf5"] = (foreign, False)
    bare = folder / "bare-format.h5"
    with h5py.File(bare, "w") as f:
        f.attrs["format"] = "memlab-run-archive"
    out["format-only"] = (bare, False)

    for key in ("format", "schema_version", "kind", "uuid", "status", "status_reason", "protocol_json"):
        add(f"no-attr-{key}", change=_del_attr("/", key))
    for label, value in (("str", "1"), ("float", 1.5), ("future", 999), ("zero", 0), ("negative", -1),
                         ("array", np.array([1, 1]))):
        add(f"schema_version-{label}", change=_set_attr("/", "schema_version", value))
    add("kind-unknown", change=_set_attr("/", "kind", "bogus"))
    add("status-unknown", change=_set_attr("/", "status", "weird"))
    add("status-int", change=_set_attr("/", "status", 3))
    add("protocol-not-json", change=_set_attr("/", "protocol_json", "{not json"))
    add("protocol-a-list", change=_set_attr("/", "protocol_json", "[1, 2]"))
    add("protocol-nan", change=_set_attr("/", "protocol_json", '{"name": NaN, "cycles": 1e999}'))
    add("json_attrs-not-json", change=_set_attr("/", "json_attrs", "nope"))
    add("json_attrs-names-plain", change=_set_attr("/", "json_attrs", '["start_utc"]'))
    add("instrument-not-object", change=_set_attr("/", "instrument", "[1]"))
    for name in ("read_time_s", "read_voltage_V", "read_current_A", "read_status", "pulse_amplitude_V",
                 "pulse_width_s", "waveform/time_s", "waveform/voltage_V", "waveform/current_A",
                 "waveform/pulse_index"):
        add(f"missing-{name.replace('/', '-')}", change=_replace(f"pulses/{name}"))
    for key in ("n_up", "n_down", "cycles_planned"):
        add(f"no-attr-{key}", change=_del_attr("pulses", key))
    add("n_up-str", change=_set_attr("pulses", "n_up", "twenty"))
    add("n_up-negative", change=_set_attr("pulses", "n_up", -5))
    add("n_up-huge", change=_set_attr("pulses", "n_up", 10**15))
    add("cycles_planned-float", change=_set_attr("pulses", "cycles_planned", 2.5))
    add("no-pulses-group", change=_replace("pulses"), harmless=True)  # a run that recorded nothing

    def pulses_a_dataset(f) -> None:
        del f["pulses"]
        f.create_dataset("pulses", data=np.zeros(3))
    add("pulses-a-dataset", change=pulses_a_dataset)
    add("current-strings", change=_replace("pulses/read_current_A", np.array([[b"x"] * 40] * 3)))
    add("current-complex", change=_replace("pulses/read_current_A", np.ones((3, 40), dtype=complex)))
    add("current-int", change=_replace("pulses/read_current_A", np.ones((3, 40), dtype=np.int8)))
    add("status-float", change=_replace("pulses/read_status", np.full((3, 40), 0.5)))
    add("status-negative-int", change=_replace("pulses/read_status", np.full((3, 40), -1, dtype=np.int64)))
    add("time-1d", change=_replace("pulses/read_time_s", np.zeros(120)))
    add("current-3d", change=_replace("pulses/read_current_A", np.zeros((3, 40, 2))))
    add("current-short", change=_replace("pulses/read_current_A", np.zeros((2, 40))))
    add("current-wide", change=_replace("pulses/read_current_A", np.zeros((3, 41))))
    add("amplitude-2d", change=_replace("pulses/pulse_amplitude_V", np.zeros((40, 2))))
    add("amplitude-short", change=_replace("pulses/pulse_amplitude_V", np.zeros(7)))
    add("amplitude-scalar", change=_replace("pulses/pulse_amplitude_V", np.float64(1.0)))
    add("pulse-index-float", change=_replace("pulses/waveform/pulse_index", np.full(10, 0.5)))
    add("waveform-time-short", change=_replace("pulses/waveform/time_s", np.zeros(5)))
    add("waveform-time-2d", change=_replace("pulses/waveform/time_s", np.zeros((5, 5))))
    add("waveform-measured-str", change=_set_attr("pulses/waveform", "measured", "maybe"))
    # Absurd sizes: datasets that declare huge shapes but store (almost) nothing.
    for name, shape in (("read_current_A", (10**9, 40)), ("read_time_s", (10**10, 40)),
                        ("waveform/voltage_V", (10**8, 6000)), ("waveform/time_s", (10**11,))):
        label = name.replace("/", "-")
        add(f"huge-{label}", change=_replace(f"pulses/{name}", shape=shape, dtype=np.float64,
                                              chunks=(1,) * len(shape) if len(shape) == 1 else (1, shape[1] // 10),
                                              maxshape=(None,) * len(shape)))
    return out


def hostile_protocols(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """Malformed protocol TOML files (each must be refused by ``memlab measure`` with exit 2)."""
    import re

    folder.mkdir(parents=True, exist_ok=True)
    good = PAPER.read_text()

    def top(line: str, drop: str | None = None) -> str:
        """``good`` with a top-level ``line`` added (and the table ``[drop]`` removed)."""
        text = re.sub(rf"\n\[{drop}\]\n[^\[]*", "\n", good) if drop else good
        return text.replace('kind = "pulse_cycling"\n', f'kind = "pulse_cycling"\n{line}\n', 1)

    variants = {
        "binary": b"\x00\xff\xfe garbage \x89PNG",
        "not-toml": "kind = pulse_cycling\n[[[",
        "empty": "",
        "unknown-key": top("voltage_boost = 3"),
        "no-kind": good.replace('kind = "pulse_cycling"', ""),
        "kind-number": good.replace('kind = "pulse_cycling"', "kind = 3"),
        "cycles-huge": good.replace("cycles = 100", "cycles = 1000000000000000000"),
        # inside the loop-count limit, but cycles x points is ~100 TB of archive: beyond any disk here
        "cycles-beyond-disk": good.replace("cycles = 100", "cycles = 100000000000"),
        "cycles-negative": good.replace("cycles = 100", "cycles = -1"),
        "cycles-float": good.replace("cycles = 100", "cycles = 2.5"),
        "cycles-nan": good.replace("cycles = 100", "cycles = nan"),
        "amplitude-too-high": good.replace("amplitude_V = { from = 0.7, to = 0.995 }", "amplitude_V = 12.0", 1),
        "amplitude-nan": good.replace("amplitude_V = { from = 0.7, to = 0.995 }", "amplitude_V = nan", 1),
        "amplitude-inf": good.replace("amplitude_V = { from = 0.7, to = 0.995 }", "amplitude_V = inf", 1),
        "amplitude-string": good.replace("amplitude_V = { from = 0.7, to = 0.995 }", 'amplitude_V = "1 V"', 1),
        "ramp-to-too-high": good.replace("to = 0.995 }", "to = 99.0 }", 1),
        "width-inf": good.replace("width_s = { from = 160e-9, to = 350e-9 }", "width_s = inf", 1),
        "width-zero": good.replace("width_s = { from = 160e-9, to = 350e-9 }", "width_s = 0.0", 1),
        "width-negative": good.replace("width_s = { from = 160e-9, to = 350e-9 }", "width_s = -1e-6", 1),
        "count-huge": good.replace("count = 20", "count = 1000000000000", 1),
        "count-big": good.replace("count = 20", "count = 300000000", 1),
        "count-zero": good.replace("count = 20", "count = 0", 1),
        "read-zero": good.replace("amplitude_V = -0.1", "amplitude_V = 0.0"),
        "read-too-high": good.replace("amplitude_V = -0.1", "amplitude_V = -7.0"),
        "read-a-list": top("read = [1, 2]", drop="read"),
        "same-polarity": good.replace('polarity = "negative"', 'polarity = "positive"'),
        "polarity-number": good.replace('polarity = "negative"', "polarity = -1"),
        "range-unknown": good.replace('current_range = "10mA"', 'current_range = "1A"'),
        "name-table": good.replace('name = "paper-tailored"', "name = { a = 1 }"),
        "description-list": top('description = ["x"]', drop=None).replace("\ndescription = \"", "\n# \""),
        "waveforms-string": good.replace("record_waveforms = true", 'record_waveforms = "yes"'),
        "deep-nesting": "kind = \"pulse_cycling\"\nx = " + "[" * 5000 + "]" * 5000 + "\n",
        "potentiation-a-string": top("potentiation = 'x'", drop="potentiation"),
        "list-length-mismatch": good.replace("amplitude_V = { from = 0.7, to = 0.995 }", "amplitude_V = [0.7, 0.8]", 1),
    }
    out = {}
    for name, text in variants.items():
        path = folder / f"{name}.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        out[name] = path
    return out


def hostile_csvs(folder: pathlib.Path) -> dict[str, tuple[list[str], pathlib.Path]]:
    """Garbage CSV/XLSX imports: name -> (``memlab import`` arguments, the file that must be named)."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good.csv"
    good.write_text("1e-3,2e-3,3e-3\n1.1e-3,2.1e-3,3.1e-3\n")
    texts = {
        "binary": b"\x00\x01\x02\xff\xfe\xfd" * 50,
        "latin1": "1e-3,2e-3\n\xe9\xe8,1\n".encode("latin-1"),
        "empty": b"",
        "only-header": b"a,b,c\n",
        "words": b"one,two\nthree,four\n",
        "nan": b"1e-3,nan\n2e-3,3e-3\n",
        "inf": b"1e-3,inf\n2e-3,3e-3\n",
        "huge-number": b"1e-3,1e999\n2e-3,3e-3\n",
        "negative": b"1e-3,-2e-3\n2e-3,3e-3\n",
        "hole": b"1e-3,,3e-3\n1e-3,2e-3,3e-3\n",
        "ragged-header": b"a\n1e-3,2e-3,3e-3\n",
        "one-pulse": b"1e-3\n2e-3\n",
        "nul-bytes": b"1e-3,2e-3\x00\n2e-3,3e-3\n",
        "quote-unclosed": b'1e-3,"2e-3\n2e-3,3e-3\n',
        "very-wide": (",".join(["1e-3"] * 200_000) + "\n").encode(),
    }
    out: dict[str, tuple[list[str], pathlib.Path]] = {}
    for name, data in texts.items():
        path = folder / f"{name}.csv"
        path.write_bytes(data)
        out[f"csv-{name}"] = (["--layout", "rows", "--quantity", "conductance", "--up", str(path), "--down",
                               str(good)], path)
    long = folder / "long.csv"
    long.write_text("cycle,pulse,value,branch\n1,1,1e-3,up\n1,2,2e-3,up\n1,1,1e-3,sideways\n")
    out["long-bad-branch"] = (["--layout", "long", "--quantity", "conductance", str(long)], long)
    sparse = folder / "sparse.csv"  # two entries that span a trillion pulses: a grid that must not be built
    sparse.write_text("cycle,pulse,value,branch\n1,1,1e-3,up\n1,1000000000000,2e-3,up\n"
                      "1,1,1e-3,down\n1,2,1e-3,down\n")
    out["long-sparse-huge"] = (["--layout", "long", "--quantity", "conductance", str(sparse)], sparse)
    sparse_c = folder / "sparse-cycles.csv"
    sparse_c.write_text("cycle,pulse,value,branch\n1,1,1e-3,up\n1,2,2e-3,up\n"
                        + "".join(f"{10**9 + k},1,1e-3,down\n{10**9 + k},2,1e-3,down\n" for k in range(3)))
    out["long-cycle-gaps"] = (["--layout", "long", "--quantity", "conductance", str(sparse_c)], sparse_c)
    for name, data in (("xlsx-random", bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))),
                       ("xlsx-text", b"Run1\nAV,AI\n1,2\n")):
        path = folder / f"{name}.xlsx"
        path.write_bytes(data)
        out[name] = (["--layout", "keithley-xlsx", str(path)], path)
    zipped = folder / "xlsx-foreign-zip.xlsx"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    out["xlsx-foreign-zip"] = (["--layout", "keithley-xlsx", str(zipped)], zipped)
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Run1"
    ws.append(["AV", "AI"])
    ws.append([0.1, "garbage"])
    strings = folder / "xlsx-strings.xlsx"
    wb.save(strings)
    out["xlsx-strings"] = (["--layout", "keithley-xlsx", str(strings)], strings)
    out["xlsx-bomb"] = (["--layout", "keithley-xlsx", str(xlsx_bomb(folder, strings))], folder / "xlsx-bomb.xlsx")
    return out


def xlsx_bomb(folder: pathlib.Path, workbook: pathlib.Path, inflated_MB: int = 600) -> pathlib.Path:
    """A real decompression bomb: ``workbook`` (a valid XLSX) with its first sheet replaced by
    ``inflated_MB`` MB of valid, repetitive sweep rows that deflate to about a thousandth of that."""
    import zipfile

    bomb = folder / "xlsx-bomb.xlsx"
    rows = b"<row><c><v>0.1</v></c><c><v>1e-06</v></c></row>" * 20_000
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info, src.read(info.filename))
                continue
            with z.open(info.filename, "w", force_zip64=True) as member:
                member.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
                             b'.org/spreadsheetml/2006/main"><sheetData><row><c t="inlineStr"><is><t>AV</t></is></c>'
                             b'<c t="inlineStr"><is><t>AI</t></is></c></row>')
                for _ in range(inflated_MB * 10**6 // len(rows)):
                    member.write(rows)
                member.write(b"</sheetData></worksheet>")
    return bomb


ABSURD_DEVICE_VALUES = {
    # name -> (key path the refusal must name, the absurd value); each one finite and of the right type
    "absurd-g_max": ("g_max_S", 1e6),
    "absurd-states": ("states_per_branch", 10**12),
    "absurd-bins": ("n_bins", 10**9),
    "absurd-k_sigma": ("k_sigma", 1e300),
    "absurd-bin-width": ("branches.potentiation.bin_width_S", 5.0),
    "absurd-state-mean": ("branches.depression.state_mean_S[3]", 1e9),
    "negative-state-sigma": ("branches.potentiation.state_sigma_S[0]", -1e-6),
    "absurd-slope": ("branches.depression.slope_S_per_pulse", -1e4),
    "absurd-window": ("branches.potentiation.window_stop_pulse", 10**18),
    "absurd-pulses-per-state": ("pulses_per_state", 10**9),
    "absurd-energy": ("energy_per_cycle_J.mean", 1e3),
    "negative-energy": ("energy_per_cycle_J.std", -1.0),
    "absurd-drift-t0": ("drift.t0_s", 1e30),
    "absurd-cycles": ("n_cycles", 10**15),
}


def _set_path(tree: dict, dotted: str, value) -> None:
    """``tree[a][b][i] = value`` for ``"a.b[i]"``."""
    import re

    keys = [int(k[1:-1]) if k.startswith("[") else k for k in re.findall(r"[^.\[\]]+|\[\d+\]", dotted)]
    for k in keys[:-1]:
        tree = tree[k]
    tree[keys[-1]] = value


def hostile_device_files(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """Broken device JSON files: missing keys, wrong units, NaN, wrong types (each must be refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = json.loads((ROOT / "sample_data" / "devices" / "virtual-hfs2.json").read_text())
    text = (ROOT / "sample_data" / "devices" / "virtual-hfs2.json").read_text()
    g_min = f'"g_min_S": {json.dumps(good["g_min_S"])}'
    assert g_min in text

    def mutate(change) -> str:
        d = json.loads(json.dumps(good))
        change(d)
        return json.dumps(d)

    variants: dict[str, str | bytes] = {
        "empty": "",
        "binary": b"\xff\xfe\x00\x01",
        "not-json": "{kind: memlab}",
        "a-list": "[1, 2]",
        "nan": text.replace(g_min, '"g_min_S": NaN'),
        "infinity": text.replace(g_min, '"g_min_S": Infinity'),
        "huge-exponent": text.replace(g_min, '"g_min_S": 1e999'),
        "missing-g_min": mutate(lambda d: d.pop("g_min_S")),
        "missing-branch": mutate(lambda d: d["branches"].pop("depression")),
        "wrong-unit-key": mutate(lambda d: d.__setitem__("g_min_uS", d.pop("g_min_S"))),
        "wrong-unit-value": mutate(lambda d: d.__setitem__("g_min_S", "1 mS")),
        "negative-conductance": mutate(lambda d: d.__setitem__("g_min_S", -1e-3)),
        "min-above-max": mutate(lambda d: d.__setitem__("g_min_S", 1.0)),
        "version-future": mutate(lambda d: d.__setitem__("schema_version", 99)),
        "version-string": mutate(lambda d: d.__setitem__("schema_version", "1")),
        "kind-foreign": mutate(lambda d: d.__setitem__("kind", "aihwkit-preset")),
        "states-mismatch": mutate(lambda d: d["branches"]["potentiation"]["state_mean_S"].pop()),
        "state-null": mutate(lambda d: d["branches"]["potentiation"]["state_mean_S"].__setitem__(0, None)),
        "bool-as-int": mutate(lambda d: d.__setitem__("states_per_branch", True)),
        "deep-nesting": "[" * 100_000 + "]" * 100_000,
    }
    for name, (key, value) in ABSURD_DEVICE_VALUES.items():
        variants[name] = mutate(lambda d, key=key, value=value: _set_path(d, key, value))
    out = {}
    for name, data in variants.items():
        path = folder / f"{name}.json"
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        out[name] = path
    return out


# --------------------------------------------------------------------------- hostile cases, judged

HARMLESS_IMPORTS = {"csv-very-wide", "long-cycle-gaps"}
"""Valid if unusual data: accepting it is right, as long as nothing breaks."""


def _sha(path: pathlib.Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _judge_all(cases: dict[str, tuple[pathlib.Path, bool]], commands: list[list[str]],
               label: str) -> list[Outcome]:
    """Run ``commands`` (one per case) capped; a refused command must also leave its file untouched."""
    before = {name: _sha(path) for name, (path, _) in cases.items()}
    outcomes = []
    for (name, (path, harmless)), result in zip(cases.items(), run_capped(commands)):
        o = Outcome(f"{label} {name}")
        judge_refusal(o, result, path.name, allow_ok=harmless)
        if result["rc"] != 0 and _sha(path) != before[name]:
            o.fail("a refused command modified the file")
            o.lost += 1
        outcomes.append(o)
    return outcomes


def hostile_archive_outcomes(folder: pathlib.Path, consumer: str) -> list[Outcome]:
    """Every hostile archive through ``consumer`` (info, analyze or resume)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.h5"
    if not base.exists():
        rc, _, err = cli(*measure_args(protocol_file(folder, 3), base))
        assert rc == 0, err
    cases = hostile_archives(base, folder / f"variants-{consumer}")
    # Broken provenance (not data) is for `info` to refuse; analysis reads only the data.
    tolerated = {"instrument-not-object"} | ({"json_attrs-not-json", "json_attrs-names-plain"}
                                             if consumer == "analyze" else set())
    cases = {name: (path, harmless or name in tolerated) for name, (path, harmless) in cases.items()}
    commands = []
    for name, (path, _) in cases.items():
        if consumer == "info":
            commands.append(["info", str(path)])
        elif consumer == "analyze":
            commands.append(["analyze", str(path), "--out", str(folder / f"{name}.json"), "--bootstrap", "0"])
        else:
            commands.append(measure_args(None, path, resume=True))
    return _judge_all(cases, commands, f"archive/{consumer}")


def hostile_protocol_outcomes(folder: pathlib.Path) -> list[Outcome]:
    """Every malformed protocol through ``memlab measure``; none may leave an archive."""
    cases = {name: (path, False) for name, path in hostile_protocols(folder / "p").items()}
    outs = {name: folder / f"{name}.h5" for name in cases}
    commands = [["measure", "--protocol", str(path), "--backend", "sim", "--out", str(outs[name]), "--quiet"]
                for name, (path, _) in cases.items()]
    outcomes = _judge_all(cases, commands, "protocol")
    for o, out in zip(outcomes, outs.values()):
        o.check(not out.exists(), "a refused protocol left an archive")
    return outcomes


def hostile_import_outcomes(folder: pathlib.Path) -> list[Outcome]:
    """Every garbage CSV/XLSX through ``memlab import``."""
    found = hostile_csvs(folder / "in")
    cases = {name: (path, name in HARMLESS_IMPORTS) for name, (_, path) in found.items()}
    commands = [["import", *args, "--out", str(folder / f"{name}.h5")] for name, (args, _) in found.items()]
    return _judge_all(cases, commands, "import")


def hostile_device_outcomes(folder: pathlib.Path) -> list[Outcome]:
    """Every broken device file through :func:`load_device_file` (what ``simulate`` reads it with)."""
    from memlab.analysis.device_file import load_device_file
    from memlab.errors import MemlabError

    outcomes = []
    for name, path in hostile_device_files(folder).items():
        o = Outcome(f"device file {name}")
        try:
            load_device_file(path)
            o.fail("accepted")
        except MemlabError as exc:
            o.check(str(path) in str(exc), f"message does not name the file: {exc}")
            if name in ABSURD_DEVICE_VALUES:
                key = ABSURD_DEVICE_VALUES[name][0]
                o.check(f"'{key}'" in str(exc), f"message does not name the key {key}: {exc}")
        except BaseException as exc:  # noqa: BLE001 - anything else is the defect under test
            o.fail(f"{type(exc).__name__}: {exc}")
        outcomes.append(o)
    return outcomes
