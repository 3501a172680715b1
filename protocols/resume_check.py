"""What ``measure --resume`` must find unchanged before it appends to an archive.

A resumed run continues one measurement of one device: the backend, the
device's identity (sample and device ids when given; for the simulated
backend the virtual device's ``device_seed``; the noise ``seed`` may change,
as a real device's noise does, and is logged), the
protocol (its SHA-256 as stored at creation) and the channel settings the
runner applies, and for SMU runs the mainframe's ``*IDN?`` model and serial.
Each difference is named with the flag that set it; ``--force-resume``
continues anyway and the differences are logged in ``resume_log``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

from memlab.errors import ConfigError

from .loader import protocol_to_dict
from .protocol import Protocol


def protocol_hash(protocol: dict) -> str:
    """SHA-256 of the protocol's canonical JSON (sorted keys, no NaN)."""
    return hashlib.sha256(json.dumps(protocol, sort_keys=True, allow_nan=False).encode()).hexdigest()


def resume_mismatches(stored: dict[str, Any], protocol: Protocol, *, backend: str, device_seed: int, seed: int,
                      sample: str | None, device: str | None) -> list[str]:
    """Differences between this session and the archive's attributes ``stored``, one phrase each."""
    out = []
    if stored.get("backend", backend) != backend:
        out.append(f"--backend {backend} (archive: {stored['backend']})")
    if backend == "sim":
        # The noise seed may change (a real device's noise does too); the device may not.
        if "device_seed" in stored and int(stored["device_seed"]) != int(device_seed):
            out.append(f"--device-seed {device_seed} (archive: {stored['device_seed']})")
    for flag, key, value in (("--sample", "sample_id", sample), ("--device", "device_id", device)):
        if value and stored.get(key) and stored[key] != value:
            out.append(f"{flag} {value} (archive: {stored[key]})")
    want = stored.get("protocol_sha256")
    if want and protocol_hash(protocol_to_dict(protocol)) != want:
        out.append(f"the stored protocol (SHA-256 {protocol_hash(protocol_to_dict(protocol))[:12]}..., "
                   f"created as {str(want)[:12]}...)")
    return out


def instrument_mismatches(stored: dict[str, Any], snapshot: dict[str, Any]) -> list[str]:
    """Differences in channel settings and mainframe identity between the archive and this session."""
    before = stored.get("instrument")
    if not isinstance(before, dict):
        return []
    out = []
    if "channels" in before and before["channels"] != snapshot.get("channels"):
        changed = sorted(ch for ch in set(before["channels"]) | set(snapshot.get("channels") or {})
                         if before["channels"].get(ch) != (snapshot.get("channels") or {}).get(ch))
        out.append(f"channel settings of {', '.join(changed)} (archive: {json.dumps(before['channels'], sort_keys=True)})")
    old, new = before.get("idn"), snapshot.get("idn")
    if isinstance(old, dict) and isinstance(new, dict):
        for key in ("model", "serial"):
            if old.get(key) != new.get(key):
                out.append(f"instrument {key} {new.get(key)} (archive: {old.get(key)})")
    return out


def check_mismatches(out: pathlib.Path, mismatches: list[str], force: bool) -> None:
    """Refuse a resume with differences unless ``force``."""
    if mismatches and not force:
        raise ConfigError(f"--resume {out}: this session differs from the archive: {'; '.join(mismatches)}. "
                          "A resumed run must continue the same device and setup; "
                          "--force-resume continues anyway and logs the differences")
