"""TOML protocol files -> validated protocol dataclasses, and protocols <-> JSON dicts.

A file names its ``kind`` (``pulse_cycling``, ``retention``, ``iv_sweep``).
Per-pulse schedules are given as an explicit list, a single value (every pulse
the same) or a ramp ``{ from = 0.7, to = 0.995 }`` over ``count`` pulses.
Unknown keys are refused (a typo must not silently fall back to a default).
Off-grid times are rounded to the nearest 10 ns and a warning is recorded in
the protocol's ``warnings`` (and so in the archive); see ``protocol.py``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import tomllib
from typing import Any

from memlab.errors import ConfigError, DataNotFoundError, LimitError
from memlab.instruments.wgfmu import grid
from memlab.instruments.wgfmu.limits import MAX_POINTS_PER_CHANNEL, TIME_GRID_S

from .protocol import (
    IVSweepProtocol,
    Protocol,
    PulseCyclingProtocol,
    PulseTrain,
    ReadPulse,
    RetentionProtocol,
)

_KINDS = {cls.kind: cls for cls in (PulseCyclingProtocol, RetentionProtocol, IVSweepProtocol)}
_TRAIN_KEYS = {"count", "amplitude_V", "width_s", "polarity"}
_READ_KEYS = {f.name for f in dataclasses.fields(ReadPulse)}


class _Rounding:
    """Rounds times to the 10 ns grid and remembers what it changed."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def time(self, field_name: str, value: Any) -> Any:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return value  # the dataclass refuses it with the field's name
        snapped = grid.snap(value)
        if abs(snapped - value) > 1e-6 * TIME_GRID_S:
            self.warnings.append(f"{field_name}={value!r} s rounded to {snapped:.10g} s (10 ns grid)")
            return snapped
        return snapped if value else value


def _unknown(section: str, table: dict, allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"{section}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def _schedule(field_name: str, spec: Any, count: int | None) -> list[float]:
    """An explicit list, a scalar repeated ``count`` times, or a linear ramp {from, to}."""
    if isinstance(spec, list):
        if count is not None and len(spec) != count:
            raise LimitError(f"{field_name} has {len(spec)} values: count={count}")
        return list(spec)
    if count is None:
        raise ConfigError(f"{field_name}: a single value or a ramp needs 'count' in the same table")
    if isinstance(spec, dict):
        _unknown(field_name, spec, {"from", "to"})
        if "from" not in spec or "to" not in spec:
            raise ConfigError(f"{field_name}: a ramp needs both 'from' and 'to'")
        a, b = spec["from"], spec["to"]
        for end, value in (("from", a), ("to", b)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise LimitError(f"{field_name}.{end}={value!r}: a ramp runs between finite numbers")
        if count == 1:
            return [a]
        # Computed as a + (b - a) * i / (n - 1) so that both end points are exact.
        return [a + (b - a) * i / (count - 1) for i in range(count)]
    return [spec] * count


def _train(name: str, table: Any, rounding: _Rounding, default_polarity: str) -> PulseTrain:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}]: missing table (needs amplitude_V and width_s)")
    _unknown(f"[{name}]", table, _TRAIN_KEYS)
    for key in ("amplitude_V", "width_s"):
        if key not in table:
            raise ConfigError(f"[{name}]: missing key {key}")
    count = table.get("count")
    # The upper bound before a schedule is built: a hostile count must not allocate
    # gigabytes (a cycle must fit one channel's point memory anyway).
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                              or not 1 <= count <= MAX_POINTS_PER_CHANNEL):
        raise LimitError(f"{name}.count={count!r}: allowed whole numbers 1 .. {MAX_POINTS_PER_CHANNEL}")
    amps = _schedule(f"{name}.amplitude_V", table["amplitude_V"], count)
    widths = _schedule(f"{name}.width_s", table["width_s"], count if count is not None else len(amps))
    widths = [rounding.time(f"{name}.width_s[{i}]", w) for i, w in enumerate(widths)]
    return PulseTrain(amplitude_V=tuple(amps), width_s=tuple(widths),
                      polarity=table.get("polarity", default_polarity), name=name)


def _read(table: Any, rounding: _Rounding, defaults: ReadPulse) -> ReadPulse:
    if table is None:
        return defaults
    if not isinstance(table, dict):
        raise ConfigError("[read]: must be a table")
    _unknown("[read]", table, _READ_KEYS)
    values = {**dataclasses.asdict(defaults), **table}
    for key in ("width_s", "delay_s", "gap_s"):
        values[key] = rounding.time(f"read.{key}", values[key])
    if "gap_s" not in table and "delay_s" in table:
        values["gap_s"] = values["delay_s"]  # a symmetric read slot unless told otherwise
    return ReadPulse(**values)


def protocol_from_dict(data: dict[str, Any]) -> Protocol:
    """Build and validate a protocol from a TOML/JSON table (see the module docstring)."""
    data = dict(data)
    kind = data.pop("kind", None)
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ConfigError(f"kind={kind!r}: allowed {', '.join(_KINDS)}")
    cls = _KINDS[kind]
    rounding = _Rounding()
    earlier = list(data.pop("warnings", []))
    allowed = {f.name for f in dataclasses.fields(cls)} - {"warnings"}
    _unknown(f"{kind} protocol", data, allowed)
    if "name" not in data:
        raise ConfigError(f"{kind} protocol: missing key name")
    for key in ("rise_s", "fall_s", "first_read_s", "duration_s"):
        if key in data:
            data[key] = rounding.time(key, data[key])
    if cls is PulseCyclingProtocol:
        data["potentiation"] = _train("potentiation", data.get("potentiation"), rounding, "positive")
        data["depression"] = _train("depression", data.get("depression"), rounding, "negative")
        data["read"] = _read(data.get("read"), rounding, ReadPulse())
    elif cls is RetentionProtocol:
        data["program"] = _train("program", data.get("program"), rounding, "positive")
        data["reset"] = _train("reset", data.get("reset"), rounding, "negative")
        data["read"] = _read(data.get("read"), rounding, ReadPulse(delay_s=10e-6, gap_s=10e-6))
        targets = data.get("target_pulses", [])
        data["target_pulses"] = tuple(targets) if isinstance(targets, list) else (targets,)
    else:
        stops = data.get("stops_V", [1.2, -1.2])
        data["stops_V"] = tuple(stops) if isinstance(stops, list) else (stops,)
    try:
        return cls(**data, warnings=tuple(earlier + rounding.warnings))
    except TypeError as exc:  # a wrong type the dataclass could not even take
        raise ConfigError(f"{kind} protocol: {exc}") from exc


def load_protocol(path: str | os.PathLike) -> Protocol:
    """Read and validate a TOML protocol file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: protocol file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except RecursionError:  # tomllib recurses once per nesting level
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from None
    try:
        return protocol_from_dict(data)
    except ConfigError as exc:
        raise type(exc)(f"{path.name}: {exc}") from exc


def protocol_to_dict(protocol: Protocol) -> dict[str, Any]:
    """The protocol as a JSON-ready dict (what the archive stores); inverse of :func:`protocol_from_dict`."""
    out: dict[str, Any] = {"kind": protocol.kind}
    for f in dataclasses.fields(protocol):
        value = getattr(protocol, f.name)
        if isinstance(value, PulseTrain):
            value = {"amplitude_V": list(value.amplitude_V), "width_s": list(value.width_s),
                     "polarity": value.polarity}
        elif isinstance(value, ReadPulse):
            value = dataclasses.asdict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
