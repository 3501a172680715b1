"""What an instrument's outputs were left at, across processes, and the record of making them safe.

A real instrument keeps its outputs when the process that drove it dies: a
connected channel stays connected, a forced voltage stays forced, a started
sequence runs on. The simulated twins do the same through a small JSON file
per instrument and address (:class:`OutputState`), written whenever their
outputs change, so that a killed run really leaves a live bench behind and the
next connection really has to make it safe.

The next connection to any backend drives the outputs to 0 V before anything
else (``WGFMU.safe_open``, ``B1500.safe_start``) and returns a
:func:`safe_record`: what it found (None where the backend cannot read its
outputs back), whether that was live, and what it did. The runner stores the
records in the archive (``safe_starts``) and ``memlab zero`` prints them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pathlib
import re
from typing import Any

from memlab.files import atomic_write_text

STATE_DIR_ENV = "MEMLAB_SIM_STATE_DIR"
"""Folder of the simulated instruments' state files (default: the user's state folder)."""


class InstrumentLeftLiveWarning(UserWarning):
    """A connection found outputs left live by an earlier session (and drove them to 0 V)."""


def default_dir() -> pathlib.Path:
    """``$MEMLAB_SIM_STATE_DIR``, else ``$XDG_STATE_HOME/memlab/sim-instruments`` (``~/.local/state``)."""
    if os.environ.get(STATE_DIR_ENV):
        return pathlib.Path(os.environ[STATE_DIR_ENV])
    base = os.environ.get("XDG_STATE_HOME") or pathlib.Path.home() / ".local" / "state"
    return pathlib.Path(base) / "memlab" / "sim-instruments"


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` still exists (False for anything not a positive int)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class OutputState:
    """The state file of one simulated instrument (``kind`` wgfmu or b1500) at ``address``."""

    def __init__(self, folder: str | os.PathLike, kind: str, address: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(address)).strip("_") or "default"
        self.path = pathlib.Path(folder) / f"{kind}-{safe}.json"
        self.kind, self.address = kind, str(address)

    def load(self) -> dict[str, Any] | None:
        """The state a previous process left (None: none recorded). A file that cannot be read
        counts as outputs in an unknown state: ``{"unreadable": reason}``."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            return {"unreadable": f"{type(exc).__name__}: {exc}"}
        try:
            state = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return {"unreadable": f"not JSON ({exc})"}
        return state if isinstance(state, dict) else {"unreadable": "not a JSON object"}

    def save(self, **state: Any) -> None:
        """Record the outputs now (atomically: a kill leaves the previous state or this one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"instrument": self.kind, "address": self.address, "pid": os.getpid(), "updated_utc": utc_now(),
               **state}
        atomic_write_text(self.path, json.dumps(doc, sort_keys=True, allow_nan=False) + "\n")


def describe_found(state: dict[str, Any] | None) -> dict[str, Any]:
    """What a connection found, from a state file's content: channels, a running sequence, who left it."""
    if state is None:
        return {"live": False, "note": "no earlier state recorded"}
    if "unreadable" in state:
        return {"live": True, "note": f"state unknown ({state['unreadable']})"}
    channels = state.get("channels") if isinstance(state.get("channels"), dict) else {}
    live_channels = {ch: c for ch, c in channels.items() if isinstance(c, dict)
                     and (c.get("connected") or c.get("output_V", 0.0) != 0.0)}
    running = bool(state.get("sequence_running"))
    pid = state.get("pid")
    found = {"live": bool(live_channels) or running,
             "channels": live_channels, "sequence_running": running, "session_open": bool(state.get("session_open")),
             "left_by_pid": pid, "left_by_live_process": pid_alive(pid) and pid != os.getpid(),
             "left_utc": state.get("updated_utc")}
    return found


def safe_record(instrument: str, address: str, found: dict[str, Any] | None, action: str) -> dict[str, Any]:
    """What one safe start found and did (stored in the archive's ``safe_starts``)."""
    return {"utc": utc_now(), "instrument": instrument, "address": address,
            "found": found, "live": None if found is None else bool(found.get("live")), "action": action}


def format_record(record: dict[str, Any]) -> str:
    """One line for people: where, what was found, what was done."""
    found = record.get("found")
    where = f"{record['instrument']} at {record['address']}"
    if found is None:
        what = "outputs cannot be read back through this backend (state unknown)"
    elif not found.get("live"):
        what = "outputs already safe" + (f" ({found['note']})" if found.get("note") else "")
    else:
        parts = []
        for ch, c in sorted((found.get("channels") or {}).items()):
            parts.append(f"channel {ch} {'connected' if c.get('connected') else 'disconnected'}"
                         + (f" at {c['output_V']:g} V" if isinstance(c.get("output_V"), (int, float)) else ""))
        if found.get("sequence_running"):
            parts.append("a sequence running")
        if found.get("note"):
            parts.append(found["note"])
        who = found.get("left_by_pid")
        if who:
            parts.append(f"left by process {who}" + (" (still alive)" if found.get("left_by_live_process")
                                                     else " (gone)"))
        what = "outputs found LIVE: " + ", ".join(parts)
    return f"{where}: {what}; {record['action']}"
