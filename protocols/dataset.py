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
Raw waveforms are not included (a different, much larger axis). The pulse
variables are lazily indexed views of the archive's datasets (see
:func:`run_dataset`), so opening a run of any length reads nothing of its reads.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from memlab.errors import ConfigError
from memlab.status import PointStatus

GROUPS = ("pulses", "retention", "iv")
FLAG_ATTRS = {"flag_masks": np.array([int(f) for f in PointStatus if f], dtype=np.uint16),
              "flag_meanings": " ".join(f.name for f in PointStatus if f)}


def _has(run, group: str) -> bool:
    """Whether ``run`` holds ``group`` (for ``pulses`` without reading its rows)."""
    return run.pulse_counts is not None if group == "pulses" else getattr(run, group) is not None


def default_group(run) -> str:
    """The data group a run is about: ``pulses``, ``retention`` or ``iv`` (first present)."""
    for name in GROUPS:
        if _has(run, name):
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


@functools.cache
def _backend():
    """An xarray backend array over a ``read(key)`` function: xarray then indexes it lazily
    (``ds.isel(cycle=slice(a, b))`` reads only those rows), as ``xarray.open_dataset`` does."""
    from xarray.backends import BackendArray
    from xarray.core import indexing

    class Lazy(BackendArray):
        def __init__(self, shape: tuple[int, ...], dtype: np.dtype, read) -> None:
            self.shape, self.dtype, self._read = shape, np.dtype(dtype), read

        def __getitem__(self, key):
            return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    return lambda shape, dtype, read: indexing.LazilyIndexedArray(Lazy(shape, dtype, read))


def _conductance(current, voltage, imported):
    """A ``read(key)`` of the conductance: the imported one, else I / V (NaN where V = 0)."""
    if imported is not None:
        return imported.__getitem__

    def read(key):
        i, v = current[key], voltage[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v != 0, i / v, np.nan)
    return read


def _pulses_vars(run, lazy: bool = True) -> tuple[dict, dict]:
    n_up, n_down = run.pulse_counts
    n_pulses, schedule = n_up + n_down, run.pulse_schedule
    branch = np.array(["potentiation"] * n_up + ["depression"] * n_down)
    coords = {
        "cycle": _var(("cycle",), np.arange(run.n_cycles, dtype=np.int64), "1", long_name="cycle index (from 0)"),
        "pulse": _var(("pulse",), np.arange(n_pulses, dtype=np.int64), "1",
                      long_name="programming pulse within the cycle (potentiation first)"),
        "branch": (("pulse",), branch, {"long_name": "programming branch of the pulse"}),
        "branch_pulse": _var(("pulse",), np.concatenate([np.arange(n_up), np.arange(n_down)]).astype(np.int64),
                             "1", long_name="pulse index inside its branch"),
        "pulse_amplitude_V": _var(("pulse",), schedule["pulse_amplitude_V"], "V",
                                  long_name="signed programming amplitude"),
        "pulse_width_s": _var(("pulse",), schedule["pulse_width_s"], "s", long_name="programming pulse width"),
    }
    sets = {name: run.dataset(name) for name in run.dataset_names() if not name.startswith("waveform/")}
    imported = sets.pop("read_conductance_S", None)
    how = "as imported" if imported is not None else "read_current_A / read_voltage_V"
    reads = {name: (ds.shape, ds.dtype, ds.__getitem__) for name, ds in sets.items()}
    reads["conductance_S"] = (sets["read_current_A"].shape, np.dtype(np.float64),
                              _conductance(sets["read_current_A"], sets["read_voltage_V"], imported))
    wrap = _backend() if lazy else (lambda shape, dtype, read: read(()))
    data_of = {name: wrap(*spec) for name, spec in reads.items()}
    dims = ("cycle", "pulse")
    data = {
        "read_time_s": _var(dims, data_of["read_time_s"], "s", long_name="time of the read since the run started"),
        "read_voltage_V": _var(dims, data_of["read_voltage_V"], "V", long_name="read voltage"),
        "read_current_A": _var(dims, data_of["read_current_A"], "A", long_name="read current"),
        "read_status": _var(dims, data_of["read_status"], "1", long_name="PointStatus flags (0 = normal)",
                            **FLAG_ATTRS),
        "conductance_S": _var(dims, data_of["conductance_S"], "S", long_name=f"conductance after the pulse ({how})"),
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


def run_dataset(run, group: str | None = None, lazy: bool = True):
    """The ``group`` (default: the run's own) of ``run`` as an :class:`xarray.Dataset`.

    ``lazy`` (pulse cycling): the variables are read from the archive only where
    they are indexed, as ``xarray.open_dataset`` does (``ds.isel(cycle=slice(0, 100))``
    reads 100 cycles; ``ds.load()`` or ``to_dataframe()`` reads them all); the
    small retention and I-V groups are read at once.

    >>> from memlab.protocols.archive import read_run
    >>> ds = run_dataset(read_run("sample_data/runs/paper-tailored-sim.h5"))
    >>> ds.sizes["pulse"], ds["read_current_A"].attrs["units"]
    (40, 'A')
    """
    import xarray as xr

    group = group or default_group(run)
    if group not in GROUPS:
        raise ConfigError(f"group = {group!r}; allowed: {', '.join(GROUPS)}")
    if not _has(run, group):
        raise ConfigError(f"{run.path}: the archive has no /{group} group")
    if group == "pulses":
        coords, data = _pulses_vars(run, lazy)
    else:
        coords, data = {"retention": _retention_vars, "iv": _iv_vars}[group](run)
    attrs = _header_attrs(run) | {"memlab_group": group}
    return xr.Dataset(data_vars=data, coords=coords, attrs=attrs)
