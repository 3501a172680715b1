"""How a run archive lies in HDF5: the datasets, their chunks, checksums and units, the attributes.

The layout half of the writer: :class:`~.archive.ArchiveWriter` decides when rows
go in and flushes; this module decides what a group holds. The schema and its version
log are documented in ``docs/SCHEMA.md``. In short::

    /                        attrs: format, schema_version, kind, uuid, status,
                             status_reason, protocol_json, start_utc, end_utc,
                             memlab_version, json_attrs + provenance attrs
    /pulses                  attrs: n_up, n_down, cycles_planned
        pulse_amplitude_V    (pulses,)            signed, depression negative
        pulse_width_s        (pulses,)
        read_time_s          (cycles, pulses)     appended one row per cycle
        read_voltage_V       (cycles, pulses)
        read_current_A       (cycles, pulses)
        read_status          (cycles, pulses)     uint16 PointStatus flags
        read_conductance_S   (cycles, pulses)     optional (imports)
        waveform/            attrs: measured
            time_s           (samples,)           relative to cycle start
            pulse_index      (samples,)           -1 between pulses
            voltage_V        (cycles, samples)
            current_A        (cycles, samples)
    /retention               target_pulses (states,); time_s, voltage_V,
                             current_A, status (states, points)
    /iv                      voltage_V, current_A, status (sweeps, points)

Row datasets grow by whole rows and are chunked for ~64 KiB. Integrity (schema 2): every
dataset is chunked and carries HDF5's Fletcher-32 checksum per chunk, so HDF5 refuses a
chunk whose bytes changed on disk and ``memlab verify`` (:mod:`.verify`) can say which
dataset and cycles are hit.

Float datasets are filled with NaN and statuses with ``MISSING`` so that a row
torn by a kill in the middle of a flush is recognisable; the reader drops such
trailing rows.
"""

from __future__ import annotations

import json
import pathlib
import uuid as _uuid
from typing import Any

import h5py
import numpy as np

from memlab import __version__
from memlab.errors import ArchiveLockedError, ConfigError
from memlab.status import PointStatus

from . import scales
from .rundata import FORMAT, IN_PROGRESS_REASON, RESERVED_ATTRS, ROW_KEYS, SCHEMA_VERSION, complete_rows, utc_now

_FLAG_ATTRS = {
    "flag_masks": np.array([int(f) for f in PointStatus if f], dtype=np.uint16),
    "flag_meanings": " ".join(f.name for f in PointStatus if f),
}

# Target chunk size: big enough for fast whole-array reads, small enough that
# rewriting the partly filled chunk at every per-cycle flush stays cheap.
_CHUNK_BYTES = 64 * 1024


def open_h5(path: pathlib.Path, mode: str) -> h5py.File:
    """The archive opened with h5py (ArchiveLockedError when HDF5 reports a lock)."""
    # HDF5's own file lock is off: the lock file guards against a second writer,
    # and readers (analysis, `memlab info`) must be able to look at a running
    # archive from another process.
    try:
        return h5py.File(path, mode, locking=False)
    except OSError as exc:
        if "lock" in str(exc).lower():
            raise ArchiveLockedError(f"{path}: another process holds the run archive ({exc})") from exc
        raise


# --------------------------------------------------------------------------- attributes


def write_root(f: h5py.File, kind: str, protocol_json: str, run_uuid: str | None,
                attrs: dict[str, Any] | None) -> None:
    """The root attributes of a new archive, status ``interrupted`` until :meth:`.archive.ArchiveWriter.close`."""
    root = f.attrs
    root["format"] = FORMAT
    root["schema_version"] = np.int64(SCHEMA_VERSION)
    root["kind"] = kind
    root["uuid"] = run_uuid or str(_uuid.uuid4())
    root["status"] = "interrupted"
    root["status_reason"] = IN_PROGRESS_REASON
    root["protocol_json"] = protocol_json
    root["start_utc"] = utc_now()
    root["end_utc"] = ""
    root["memlab_version"] = __version__
    encode_attrs(f, dict(attrs or {}))
    f.flush()


def encode_attrs(group: h5py.Group, attrs: dict[str, Any]) -> None:
    """Store provenance attributes: scalars as they are, dicts/lists/None as JSON.

    The names of JSON-encoded attributes are listed in ``json_attrs`` so that a
    reader decodes exactly those and nothing else.
    """
    json_keys = set(json.loads(group.attrs.get("json_attrs", "[]")))
    for key, value in attrs.items():
        if key in RESERVED_ATTRS:
            raise ConfigError(f"archive attrs: {key!r} is reserved for the archive itself")
        if isinstance(value, (dict, list, tuple)) or value is None:
            group.attrs[key] = json.dumps(value, sort_keys=True, allow_nan=False)
            json_keys.add(key)
        elif isinstance(value, str) and "\x00" in value:
            raise ConfigError(f"archive attrs: {key!r} contains a NUL character (HDF5 strings cannot hold it)")
        elif isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
            group.attrs[key] = value
            json_keys.discard(key)
        else:
            raise ConfigError(f"archive attrs: {key!r} has unsupported type {type(value).__name__}")
    group.attrs["json_attrs"] = json.dumps(sorted(json_keys))


def _create_rows(group: h5py.Group, name: str, width: int, dtype: Any, units: str,
                 extra: dict[str, Any] | None = None, expected_rows: int = 1024) -> h5py.Dataset:
    """An empty (0, width) dataset that grows by whole rows (chunks: at most the expected rows)."""
    itemsize = np.dtype(dtype).itemsize
    rows = max(1, min(expected_rows, 1024, _CHUNK_BYTES // max(1, width * itemsize)))
    fill = int(PointStatus.MISSING) if np.dtype(dtype).kind == "u" else np.nan
    ds = group.create_dataset(name, shape=(0, width), maxshape=(None, width), dtype=dtype,
                              chunks=(rows, max(1, width)), fillvalue=fill, fletcher32=True)
    ds.attrs["units"] = units
    for key, value in (extra or {}).items():
        ds.attrs[key] = value
    return ds


def _create_fixed(group: h5py.Group, name: str, data: Any, dtype: Any, units: str) -> h5py.Dataset:
    # Fletcher-32 needs a chunked layout: one chunk for these small per-pulse arrays.
    arr = np.asarray(data, dtype=dtype)
    # (An empty one gets h5py's guess: a chunk may not exceed a non-empty shape.)
    ds = group.create_dataset(name, data=arr, chunks=(arr.shape[0],) if arr.ndim == 1 and arr.size else None,
                              fletcher32=True)
    ds.attrs["units"] = units
    return ds


def as_rows(name: str, value: Any, width: int, dtype: Any) -> np.ndarray:
    """One row (1-D) or a block of rows (2-D) as a (rows, width) array; ConfigError naming ``name`` otherwise."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ConfigError(f"archive: {name} has shape {np.shape(value)}, expected (cycles, {width})")
    return arr


def trim_torn(f: h5py.File) -> None:
    """Cut every row dataset back to the rows complete in all of them (a kill tears the last rows)."""
    for name, key in ROW_KEYS.items():
        if name not in f:
            continue
        group = f[name]
        datasets = list(row_datasets(group))
        n = min(complete_rows(group[key][()]), *(ds.shape[0] for ds in datasets))
        for ds in datasets:
            if ds.shape[0] > n:
                ds.resize(n, axis=0)


def row_datasets(group: h5py.Group):
    """Every dataset under ``group`` that grows by rows."""
    for obj in list(group.values()):
        if isinstance(obj, h5py.Dataset) and obj.maxshape[0] is None:
            yield obj
        elif isinstance(obj, h5py.Group):
            yield from row_datasets(obj)


# --------------------------------------------------------------------------- groups


def create_pulses(f: h5py.File, *, n_up: int, n_down: int, pulse_amplitude_V: Any, pulse_width_s: Any,
                  cycles_planned: int, waveform_time_s: Any = None, waveform_pulse_index: Any = None,
                  waveform_measured: bool = True, with_conductance: bool = False) -> None:
    """The empty ``/pulses`` group (and ``/pulses/waveform``): its per-pulse arrays, row datasets and scales."""
    amp = np.asarray(pulse_amplitude_V, dtype=np.float64)
    width = np.asarray(pulse_width_s, dtype=np.float64)
    n = int(n_up) + int(n_down)
    if amp.shape != (n,) or width.shape != (n,):
        raise ConfigError(f"archive: pulse_amplitude_V and pulse_width_s need shape ({n},), "
                          f"got {amp.shape} and {width.shape}")
    g = f.create_group("pulses")
    g.attrs["n_up"] = np.int64(n_up)
    g.attrs["n_down"] = np.int64(n_down)
    g.attrs["cycles_planned"] = np.int64(cycles_planned)
    _create_fixed(g, "pulse_amplitude_V", amp, np.float64, "V")
    _create_fixed(g, "pulse_width_s", width, np.float64, "s")
    rows = max(1, int(cycles_planned))
    _create_rows(g, "read_time_s", n, np.float64, "s", {"reference": "run start"}, rows)
    _create_rows(g, "read_voltage_V", n, np.float64, "V", None, rows)
    _create_rows(g, "read_current_A", n, np.float64, "A", None, rows)
    _create_rows(g, "read_status", n, np.uint16, "1", _FLAG_ATTRS, rows)
    if with_conductance:
        _create_rows(g, "read_conductance_S", n, np.float64, "S", None, rows)
    scales.create_scales(g, n, rows)
    scales.attach_group(g, tuple(k for k in g if k.startswith("read_")))
    scales.attach(g["pulse_amplitude_V"], g["pulse"])
    scales.attach(g["pulse_width_s"], g["pulse"])
    if waveform_time_s is not None:
        t = np.asarray(waveform_time_s, dtype=np.float64)
        idx = np.asarray(waveform_pulse_index, dtype=np.int32)
        if t.ndim != 1 or idx.shape != t.shape:
            raise ConfigError(f"archive: waveform time_s {t.shape} and pulse_index {idx.shape} "
                              "must be 1-D and of equal length")
        w = g.create_group("waveform")
        w.attrs["measured"] = bool(waveform_measured)
        _create_fixed(w, "time_s", t, np.float64, "s").attrs["reference"] = "cycle start"
        _create_fixed(w, "pulse_index", idx, np.int32, "1")
        _create_rows(w, "voltage_V", t.size, np.float64, "V", None, rows)
        _create_rows(w, "current_A", t.size, np.float64, "A", None, rows)
        w["time_s"].make_scale("time_s")
        scales.attach(w["pulse_index"], w["time_s"])
        for key in ("voltage_V", "current_A"):
            scales.attach(w[key], g["cycle"], w["time_s"])


def create_retention(f: h5py.File, *, target_pulses: Any, points: int) -> None:
    """The empty ``/retention`` group: target pulses, row datasets (one row a state) and scales."""
    g = f.create_group("retention")
    states = int(np.size(target_pulses))
    g.attrs["states_planned"] = np.int64(states)
    _create_fixed(g, "target_pulses", np.atleast_1d(target_pulses), np.int64, "1")
    rows = max(1, states)
    _create_rows(g, "status", points, np.uint16, "1", _FLAG_ATTRS, rows)
    _create_rows(g, "voltage_V", points, np.float64, "V", None, rows)
    _create_rows(g, "current_A", points, np.float64, "A", None, rows)
    _create_rows(g, "time_s", points, np.float64, "s", {"reference": "end of programming"}, rows)
    scales.create_scales(g, points, rows)
    scales.attach_group(g, ("status", "voltage_V", "current_A", "time_s"))


def create_iv(f: h5py.File, *, points: int, sweeps_planned: int) -> None:
    """The empty ``/iv`` group: row datasets (one row a sweep) and scales."""
    g = f.create_group("iv")
    g.attrs["sweeps_planned"] = np.int64(sweeps_planned)
    rows = max(1, int(sweeps_planned))
    _create_rows(g, "status", points, np.uint16, "1", _FLAG_ATTRS, rows)
    _create_rows(g, "current_A", points, np.float64, "A", None, rows)
    _create_rows(g, "voltage_V", points, np.float64, "V", None, rows)
    scales.create_scales(g, points, rows)
    scales.attach_group(g, ("status", "current_A", "voltage_V"))
