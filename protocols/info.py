"""``memlab info``: a summary of a run archive, for people (text) and scripts (JSON)."""

from __future__ import annotations

import os
from typing import Any

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
    if run.pulses is not None:
        p = run.pulses
        out.update(cycles_planned=run.cycles_planned, cycles_completed=p.n_cycles, reads_per_cycle=p.pulses_per_cycle,
                   n_up=p.n_up, n_down=p.n_down)
        if p.n_cycles:
            out["time_span_s"] = [float(p.read_time_s[0, 0]), float(p.read_time_s[-1, -1])]
        out["waveforms"] = bool(run._data.get("has_waveform"))
    if run.retention is not None:
        r = run.retention
        out.update(states_planned=int(r.target_pulses.size), states_completed=int(r.time_s.shape[0]),
                   reads_per_state=int(r.time_s.shape[1]))
        if r.time_s.size:
            out["time_span_s"] = [float(r.time_s[0, 0]), float(r.time_s[-1, -1])]
    if run.iv is not None:
        out.update(sweeps_planned=run.protocol.get("sweeps"), sweeps_completed=int(run.iv.voltage_V.shape[0]),
                   points_per_sweep=int(run.iv.voltage_V.shape[1]))
    out["integrity"] = _integrity(run, verify)
    if isinstance(attrs.get("instrument"), dict):  # provenance only: a foreign value is not shown
        inst = attrs["instrument"]
        out["instrument"] = {k: inst.get(k) for k in ("backend", "backend_class", "address", "idn")}
    return out


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
        lines.append(("cycles", f"{s['cycles_completed']} of {s['cycles_planned']}, {s['reads_per_cycle']} reads "
                                f"each ({s['n_up']} up + {s['n_down']} down)"
                                + (", raw waveforms" if s["waveforms"] else "")))
    if s.get("states_completed") is not None:
        lines.append(("states", f"{s['states_completed']} of {s['states_planned']}, "
                                f"{s['reads_per_state']} reads each"))
    if s.get("sweeps_completed") is not None:
        lines.append(("sweeps", f"{s['sweeps_completed']} of {s['sweeps_planned']}, "
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
