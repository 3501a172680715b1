"""A run archive as an :class:`xarray.Dataset`: named dimensions, coordinates and units.

:func:`run_dataset` turns a :class:`~memlab.protocols.archive.Run` (read through
the one reader) into a Dataset; what a notebook gets from ``memlab.open_run``
and what ``memlab export`` writes. One data group per Dataset, because their
axes differ and ``Dataset.to_dataframe()`` would otherwise broadcast them
against each other:

* ``pulses`` (pulse cycling, imports): dims ``cycle`` × ``pulse``; coordinates
  ``cycle``, ``pulse``, and per pulse ``branch`` (potentiation/depression),
  ``branch_pulse`` (index inside the branch), ``pulse_amplitude_V``,
  ``pulse_width_s``; variables ``read_time_s``, ``read_voltage_V``,
  ``read_current_A``, ``read_status`` and ``conductance_S`` (the imported
  conductance where the file gave one, else I / V; NaN where V = 0).
* ``retention``: dims ``state`` × ``point``; coordinate ``target_pulses``.
* ``iv``: dims ``sweep`` × ``point``.

Every variable carries ``units`` (and status variables the CF ``flag_masks`` /
``flag_meanings``); the Dataset's attributes hold the run's header (uuid,
kind, status, start/end, memlab version, schema version, protocol as JSON) and
its provenance, non-scalar values as JSON text so netCDF can store them.
Raw waveforms are not included (a different, much larger axis).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from memlab.errors import ConfigError
from memlab.instruments.status import PointStatus

GROUPS = ("pulses", "retention", "iv")
FLAG_ATTRS = {"flag_masks": np.array([int(f) for f in PointStatus if f], dtype=np.uint16),
              "flag_meanings": " ".join(f.name for f in PointStatus if f)}


def default_group(run) -> str:
    """The data group a run is about: ``pulses``, ``retention`` or ``iv`` (first present)."""
    for name in GROUPS:
        if getattr(run, name) is not None:
            return name
    raise ConfigError(f"{run.path}: the archive holds no data group ({', '.join(GROUPS)})")


def _header_attrs(run) -> dict[str, Any]:
    attrs: dict[str, Any] = {"memlab_run_uuid": run.uuid, "memlab_run_kind": run.kind,
                             "memlab_run_status": run.status, "memlab_run_status_reason": run.status_reason,
                             "memlab_schema_version": int(run.schema_version),
                             "protocol_json": json.dumps(run.protocol, sort_keys=True),
                             "source_archive": run.path.name}
    for key, value in run.attrs.items():
        if isinstance(value, (bool, np.bool_)):
            value = int(value)  # netCDF has no boolean attribute
        elif not isinstance(value, (str, int, float, np.integer, np.floating)):
            value = json.dumps(value, sort_keys=True)
        attrs[key] = value
    return attrs


def _var(dims: tuple[str, ...], data: np.ndarray, units: str, **extra: Any):
    return dims, data, {"units": units, **extra}


def _pulses_vars(run) -> tuple[dict, dict]:
    p = run.pulses
    n_pulses = p.pulses_per_cycle
    branch = np.array(["potentiation"] * p.n_up + ["depression"] * p.n_down)
    coords = {
        "cycle": _var(("cycle",), np.arange(p.n_cycles, dtype=np.int64), "1", long_name="cycle index (from 0)"),
        "pulse": _var(("pulse",), np.arange(n_pulses, dtype=np.int64), "1",
                      long_name="programming pulse within the cycle (potentiation first)"),
        "branch": (("pulse",), branch, {"long_name": "programming branch of the pulse"}),
        "branch_pulse": _var(("pulse",), np.concatenate([np.arange(p.n_up), np.arange(p.n_down)]).astype(np.int64),
                             "1", long_name="pulse index inside its branch"),
        "pulse_amplitude_V": _var(("pulse",), p.pulse_amplitude_V, "V", long_name="signed programming amplitude"),
        "pulse_width_s": _var(("pulse",), p.pulse_width_s, "s", long_name="programming pulse width"),
    }
    if p.read_conductance_S is not None:
        g, how = p.read_conductance_S, "as imported"
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(p.read_voltage_V != 0, p.read_current_A / p.read_voltage_V, np.nan)
        how = "read_current_A / read_voltage_V"
    dims = ("cycle", "pulse")
    data = {
        "read_time_s": _var(dims, p.read_time_s, "s", long_name="time of the read since the run started"),
        "read_voltage_V": _var(dims, p.read_voltage_V, "V", long_name="read voltage"),
        "read_current_A": _var(dims, p.read_current_A, "A", long_name="read current"),
        "read_status": _var(dims, p.read_status, "1", long_name="PointStatus flags (0 = normal)", **FLAG_ATTRS),
        "conductance_S": _var(dims, g, "S", long_name=f"conductance after the pulse ({how})"),
    }
    return coords, data


def _retention_vars(run) -> tuple[dict, dict]:
    r = run.retention
    dims = ("state", "point")
    coords = {"state": _var(("state",), np.arange(r.time_s.shape[0], dtype=np.int64), "1"),
              "point": _var(("point",), np.arange(r.time_s.shape[1], dtype=np.int64), "1"),
              "target_pulses": _var(("state",), r.target_pulses[:r.time_s.shape[0]], "1",
                                    long_name="potentiation pulses applied after a full reset")}
    data = {"time_s": _var(dims, r.time_s, "s", long_name="time since the end of programming"),
            "voltage_V": _var(dims, r.voltage_V, "V"), "current_A": _var(dims, r.current_A, "A"),
            "status": _var(dims, r.status, "1", long_name="PointStatus flags (0 = normal)", **FLAG_ATTRS)}
    return coords, data


def _iv_vars(run) -> tuple[dict, dict]:
    iv = run.iv
    dims = ("sweep", "point")
    coords = {"sweep": _var(("sweep",), np.arange(iv.voltage_V.shape[0], dtype=np.int64), "1"),
              "point": _var(("point",), np.arange(iv.voltage_V.shape[1], dtype=np.int64), "1")}
    data = {"voltage_V": _var(dims, iv.voltage_V, "V", long_name="forced voltage"),
            "current_A": _var(dims, iv.current_A, "A", long_name="measured current"),
            "status": _var(dims, iv.status, "1", long_name="PointStatus flags (0 = normal)", **FLAG_ATTRS)}
    return coords, data


def run_dataset(run, group: str | None = None):
    """The ``group`` (default: the run's own) of ``run`` as an :class:`xarray.Dataset`.

    >>> from memlab.protocols.archive import read_run
    >>> ds = run_dataset(read_run("sample_data/runs/paper-tailored-sim.h5"))
    >>> ds.sizes["pulse"], ds["read_current_A"].attrs["units"]
    (40, 'A')
    """
    import xarray as xr

    group = group or default_group(run)
    if group not in GROUPS:
        raise ConfigError(f"group = {group!r}; allowed: {', '.join(GROUPS)}")
    if getattr(run, group) is None:
        raise ConfigError(f"{run.path}: the archive has no /{group} group")
    coords, data = {"pulses": _pulses_vars, "retention": _retention_vars, "iv": _iv_vars}[group](run)
    attrs = _header_attrs(run) | {"memlab_group": group}
    return xr.Dataset(data_vars=data, coords=coords, attrs=attrs)
