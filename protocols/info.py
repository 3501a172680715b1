"""``memlab info``: a summary of a run archive, for people (text) and scripts (JSON)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .archive import check_units, read_run
from .verify import verify_archive


def run_summary(path: str | os.PathLike, verify: bool = True) -> dict[str, Any]:
    """One JSON-ready dict: identity, status, progress, time span, provenance and integrity of a run.

    ``integrity`` says whether the archive was verified (:func:`.verify.verify_archive`:
    every chunk read, checksums and consistency checked) and what that found;
    an archive still being written is not verified (its last chunk may be mid-write).
    """
    run = read_run(path, waveforms=False)
    attrs = run.attrs
    out: dict[str, Any] = {
        "file": str(run.path),
        "uuid": run.uuid,
        "schema_version": run.schema_version,
        "kind": run.kind,
        "status": run.status,
        "status_reason": run.status_reason,
        "protocol_name": run.protocol.get("name", ""),
        "start_utc": attrs.get("start_utc", ""),
        "end_utc": attrs.get("end_utc", ""),
        "memlab_version": attrs.get("memlab_version", ""),
        "sample_id": attrs.get("sample_id", ""),
        "device_id": attrs.get("device_id", ""),
        "operator": attrs.get("operator", ""),
        "backend": attrs.get("backend", ""),
        "resumed": len(attrs.get("resume_log", [])),
        "cycles_planned": None,
        "cycles_completed": None,
        "reads_per_cycle": None,
        "time_span_s": None,
        "waveforms": False,
        "file_size_B": os.path.getsize(run.path),
        "datasets_without_units": check_units(path),
    }
    if run.pulse_counts is not None:  # nothing of the (possibly huge) data is loaded: see _pulse_span
        n_up, n_down = run.pulse_counts
        out.update(cycles_planned=run.cycles_planned, cycles_completed=run.n_cycles, reads_per_cycle=n_up + n_down,
                   n_up=n_up, n_down=n_down)
        if run.n_cycles:
            out["time_span_s"] = _pulse_span(run)
        out["waveforms"] = run.has_waveform
    if run.retention is not None:
        r = run.retention
        out.update(states_planned=int(r.target_pulses.size), states_completed=int(r.time_s.shape[0]),
                   reads_per_state=int(r.time_s.shape[1]))
        if r.time_s.size:
            out["time_span_s"] = _span(r.time_s)
    if run.iv is not None:
        planned = run.protocol.get("sweeps")
        out.update(sweeps_planned=planned if isinstance(planned, int) else None, sweeps_completed=int(run.iv.voltage_V.shape[0]),
                   points_per_sweep=int(run.iv.voltage_V.shape[1]))
    out["integrity"] = _integrity(run, verify)
    if isinstance(attrs.get("instrument"), dict):  # provenance only: a foreign value is not shown
        inst = attrs["instrument"]
        out["instrument"] = {k: inst.get(k) for k in ("backend", "backend_class", "address", "idn")}
    return json_safe(out)


def _pulse_span(run, block: int = 4096) -> list[float] | None:
    """:func:`_span` of the read times, reading blocks of cycles from each end only until a
    finite time is found (bounded memory and time, however long the run)."""
    n = run.n_cycles
    starts = list(range(0, n, block))
    first = last = None
    for a in starts:
        for chunk in run.pulse_chunks([(a, a + block)], chunk_cycles=None, waveforms=False):
            first = _span(chunk.read_time_s)
        if first is not None:
            break
    for a in reversed(starts):
        for chunk in run.pulse_chunks([(a, a + block)], chunk_cycles=None, waveforms=False):
            last = _span(chunk.read_time_s)
        if last is not None:
            break
    return None if first is None else [first[0], last[1]]


def _span(times: np.ndarray) -> list[float] | None:
    """First and last finite time (s); None when no time is finite (an imported run may have none)."""
    finite = np.asarray(times, dtype=np.float64).ravel()
    finite = finite[np.isfinite(finite)]
    return [float(finite[0]), float(finite[-1])] if finite.size else None


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, so ``json.dumps(allow_nan=False)`` holds."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _of(done: Any, planned: Any) -> str:
    return f"{done}" if planned is None else f"{done} of {planned}"


def _integrity(run, verify: bool) -> dict[str, Any]:
    if not verify:
        return {"verified": False, "intact": None, "note": "not verified (--no-verify); run memlab verify"}
    if run.status == "running":
        return {"verified": False, "intact": None, "note": "not verified: its writer is still running"}
    report = verify_archive(run.path)
    note = ("checksums and consistency verified" if report.checksummed
            else "consistency verified; schema 1 stores no checksums") if report.intact else \
        "DAMAGED: " + "; ".join(str(d) for d in report.damage[:3]) + (" ..." if len(report.damage) > 3 else "")
    return {"verified": True, "intact": report.intact, "checksummed": report.checksummed,
            "datasets": report.datasets, "chunks": report.chunks, "note": note,
            "damage": [str(d) for d in report.damage]}


def format_summary(s: dict[str, Any]) -> str:
    """The summary as a few aligned lines of text."""
    status = s["status"] + (f" ({s['status_reason']})" if s["status_reason"] else "")
    lines = [
        ("file", s["file"]),
        ("run", f"{s['uuid']}  ({s['kind']}, schema {s['schema_version']})"),
        ("protocol", s["protocol_name"] or "-"),
        ("status", status),
    ]
    if s.get("cycles_completed") is not None:
        lines.append(("cycles", f"{_of(s['cycles_completed'], s['cycles_planned'])}, {s['reads_per_cycle']} reads "
                                f"each ({s['n_up']} up + {s['n_down']} down)"
                                + (", raw waveforms" if s["waveforms"] else "")))
    if s.get("states_completed") is not None:
        lines.append(("states", f"{_of(s['states_completed'], s['states_planned'])}, "
                                f"{s['reads_per_state']} reads each"))
    if s.get("sweeps_completed") is not None:
        lines.append(("sweeps", f"{_of(s['sweeps_completed'], s['sweeps_planned'])}, "
                                f"{s['points_per_sweep']} points each"))
    if s["time_span_s"]:
        lines.append(("time span", f"{s['time_span_s'][0]:.6g} .. {s['time_span_s'][1]:.6g} s (instrument time)"))
    lines.append(("recorded", f"{s['start_utc']} .. {s['end_utc'] or '(not closed)'}"
                              + (f", resumed {s['resumed']}x" if s["resumed"] else "")))
    who = ", ".join(f"{k} {s[k]}" for k in ("sample_id", "device_id", "operator") if s[k])
    lines.append(("provenance", f"memlab {s['memlab_version']}, backend {s['backend'] or '-'}"
                                + (f"; {who}" if who else "")))
    if "integrity" in s:
        lines.append(("integrity", s["integrity"]["note"]))
    if s["datasets_without_units"]:
        lines.append(("warning", "no units on " + ", ".join(s["datasets_without_units"])))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)
