"""Validated low-level reading of run archives, for :mod:`.archive_read` (the one reader) and
:mod:`.verify`: every group, dataset and attribute is checked before a byte of it is read
(no links, no virtual or external storage, dtypes, ranks, shapes no bigger than the file),
and a chunk failing its checksum becomes a :class:`DamagedDataError`, never numbers.

Split from :mod:`.archive_read` (2026-12-03): that module keeps the objects a caller holds
(:class:`~.archive_read.Run`, :class:`~.archive_read.LazyDataset`, :func:`~.archive_read.read_run`).
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import h5py
import numpy as np

from memlab.errors import ConfigError, DamagedDataError, SchemaError

from .rundata import FORMAT, KINDS, RESERVED_ATTRS, SCHEMA_VERSION, STATUSES, WaveformData, complete_rows


_DAMAGE = (OSError, RuntimeError, KeyError, ValueError, TypeError, SystemError)
"""What h5py raises on a damaged file (a bit flip in a B-tree, a truncated object header ...; SystemError
when an HDF5 error surfaces inside h5py's own lock while visiting links)."""
_SIZE_SLACK_B = 64 << 20
"""How far a dataset may declare more bytes than its file holds: rows a killed writer had
grown but not yet filled (they read as fill values). Beyond that, a shape is a lie that
would allocate unbounded memory."""
MAX_DATASET_ENV = "MEMLAB_MAX_DATASET_GB"
DEFAULT_MAX_DATASET_B = 8 * 10**9
_KINDS = {"f": "floating point", "u": "unsigned integer", "iu": "integer"}


def decode_attrs(group: h5py.Group) -> dict[str, Any]:
    json_keys = set(json.loads(group.attrs.get("json_attrs", "[]")))
    out: dict[str, Any] = {}
    for key, value in group.attrs.items():
        if key in RESERVED_ATTRS:
            continue
        if key in json_keys:
            value = json.loads(value)
        elif isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _attr(obj: h5py.HLObject, name: str) -> Any:
    """One scalar attribute as a Python value (KeyError if absent).

    h5py's low-level read: about twice as fast as ``obj.attrs[name]``, which
    matters because every :func:`read_run` reads a dozen of them.
    """
    key = name.encode()
    if not h5py.h5a.exists(obj.id, key):
        raise KeyError(name)
    attr = h5py.h5a.open(obj.id, key)
    value = np.empty(attr.shape, dtype=attr.dtype)
    attr.read(value)
    value = value.item() if value.ndim == 0 else value
    return value.decode("utf-8") if isinstance(value, bytes) else value


def max_dataset_B() -> int:
    """The most bytes one dataset may declare: ``MEMLAB_MAX_DATASET_GB`` (default 8 GB).

    A limit on top of the file-size check, so that a user with a truly large
    archive raises it knowingly instead of a hostile file choosing it.
    """
    raw = os.environ.get(MAX_DATASET_ENV, "")
    if not raw:
        return DEFAULT_MAX_DATASET_B
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{MAX_DATASET_ENV}={raw!r}: must be a positive number of GB")
    return int(value * 1e9)


def _member(path: pathlib.Path, parent: h5py.Group, name: str) -> h5py.HLObject:
    """``parent[name]``, refusing links: the writer makes none, and an external link
    would make the reader open another file."""
    where = f"{parent.name.rstrip('/')}/{name}"
    link = parent.get(name, getlink=True)
    if link is None:
        raise KeyError(name)
    if not isinstance(link, h5py.HardLink):
        target = f" -> {link.filename}:{link.path}" if isinstance(link, h5py.ExternalLink) else \
            f" -> {getattr(link, 'path', '?')}"
        raise SchemaError(f"{path}: {where} is a {type(link).__name__}{target}; "
                          "run archives hold no links (refused)")
    return parent[name]


def _need(path: pathlib.Path, group: h5py.Group, name: str, kinds: str | None = None,
          ndim: int | None = None) -> h5py.Dataset:
    """Dataset ``name`` of ``group``, checked before a byte of it is read.

    Present, a plain dataset (no link, no virtual or external storage), of the
    dtype ``kinds`` (numpy kind letters) and rank ``ndim``, and no bigger than
    its file can hold or :func:`max_dataset_B` allows: a hostile shape must be
    refused, not allocated.
    """
    where = f"{group.name.rstrip('/')}/{name}"
    try:
        ds = _member(path, group, name)
    except KeyError:
        raise SchemaError(f"{path}: dataset {where} is missing") from None
    if not isinstance(ds, h5py.Dataset):
        raise SchemaError(f"{path}: {where} is not a dataset")
    if ds.is_virtual:
        raise SchemaError(f"{path}: dataset {where} is virtual (its data lives in other files); refused")
    if ds.external:
        raise SchemaError(f"{path}: dataset {where} keeps its data in external file(s) "
                          f"{[e[0] for e in ds.external]}; refused")
    if kinds is not None and ds.dtype.kind not in kinds:
        raise SchemaError(f"{path}: dataset {where} has dtype {ds.dtype}, expected {_KINDS[kinds]}")
    if ndim is not None and ds.ndim != ndim:
        raise SchemaError(f"{path}: dataset {where} has shape {ds.shape}, expected {ndim} dimension(s)")
    nbytes, file_B = ds.size * ds.dtype.itemsize, h5py.h5i.get_file_id(ds.id).get_filesize()
    if nbytes > file_B + _SIZE_SLACK_B:
        raise SchemaError(f"{path}: dataset {where} declares shape {ds.shape} ({nbytes} bytes), "
                          f"more than the {file_B}-byte file holds")
    limit = max_dataset_B()
    if nbytes > limit:
        raise SchemaError(f"{path}: dataset {where} declares shape {ds.shape} ({nbytes / 1e9:.3g} GB), "
                          f"above the {limit / 1e9:.3g} GB limit per dataset (raise it with "
                          f"{MAX_DATASET_ENV}=<GB> if the file is yours)")
    return ds


def load(path: pathlib.Path, ds: h5py.Dataset, sel: Any = ()) -> np.ndarray:
    """``ds[sel]``; a chunk that fails its Fletcher-32 checksum (or cannot be decoded)
    becomes a :class:`DamagedDataError` naming the dataset, never numbers to compute from."""
    try:
        return ds[sel]
    except OSError as exc:
        raise DamagedDataError(f"{path}: dataset {ds.name} is damaged ({' '.join(str(exc).split())[:160]}); "
                               f"`memlab verify {path}` names the cycles affected") from exc


def _group(path: pathlib.Path, parent: h5py.Group, name: str) -> h5py.Group:
    obj = _member(path, parent, name)
    if not isinstance(obj, h5py.Group):
        raise SchemaError(f"{path}: {parent.name.rstrip('/')}/{name} is not a group")
    return obj


def _count_attr(path: pathlib.Path, obj: h5py.HLObject, name: str) -> int:
    """A non-negative integer attribute (pulse and cycle counts)."""
    where = f"{obj.name.rstrip('/')}/@{name}"
    try:
        value = _attr(obj, name)
    except KeyError:
        raise SchemaError(f"{path}: attribute {where} is missing") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SchemaError(f"{path}: attribute {where} is {value!r}, expected a whole number >= 0")
    return value


def check_units(path: str | os.PathLike) -> list[str]:
    """Names of the numeric datasets of an archive that lack a ``units`` attribute (empty: all fine).

    Kept out of :func:`read_run` because reading an attribute of every dataset
    costs more than reading the reads themselves; ``memlab info`` and the tests run it.
    """
    missing: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iufb" and "units" not in obj.attrs:
            missing.append(obj.name)

    try:
        with open_read(pathlib.Path(path)) as f:
            f.visititems(visit)
    except _DAMAGE as exc:
        raise SchemaError(f"{path}: damaged archive ({type(exc).__name__}: {exc})") from exc
    return missing


def _row_sets(path: pathlib.Path, group: h5py.Group, names: tuple[str, ...], trim: bool,
              extra_rows: int | None = None) -> tuple[dict[str, h5py.Dataset], int]:
    """Check row datasets without reading them; returns them and the number of rows to use.

    The first name is the key column written last in every append. Every one is
    2-D, floating point (status: unsigned flags) and of one width. ``trim``
    (only for a file its writer never closed) drops trailing rows torn by a
    kill: rows missing from some dataset or never filled in the key column
    (found by reading the key column backwards, a block at a time).
    """
    sets = {name: _need(path, group, name, "u" if name.endswith("status") else "f", 2) for name in names}
    widths = {ds.shape[1] for ds in sets.values()}
    if len(widths) != 1:
        raise SchemaError(f"{path}: datasets of {group.name} disagree in width ({sorted(widths)})")
    lengths = {ds.shape[0] for ds in sets.values()}
    if extra_rows is not None:
        lengths.add(extra_rows)
    if not trim:
        if len(lengths) != 1:
            raise SchemaError(f"{path}: datasets of {group.name} disagree in length ({sorted(lengths)})")
        return sets, lengths.pop()
    return sets, _complete_rows(path, sets[names[0]], min(lengths))


def _complete_rows(path: pathlib.Path, key: h5py.Dataset, n: int, block: int = 4096) -> int:
    """:func:`complete_rows` of the first ``n`` rows of ``key``, reading from the end (torn rows trail)."""
    stop = n
    while stop > 0:
        start = max(0, stop - block)
        found = complete_rows(load(path, key, slice(start, stop)))
        if found:
            return start + found
        stop = start
    return 0


def _load(path: pathlib.Path, sets: dict[str, h5py.Dataset], n: int, start: int = 0) -> dict[str, np.ndarray]:
    """Rows ``start .. n`` of each dataset (``ds[()]``, the fast path, when that is all of it),
    through :func:`load` (a chunk failing its checksum is a :class:`DamagedDataError`)."""
    return {name: load(path, ds, () if start == 0 and ds.shape[0] == n else slice(start, n))
            for name, ds in sets.items()}


def _read_rows(path: pathlib.Path, group: h5py.Group, names: tuple[str, ...], trim: bool,
               extra_rows: int | None = None) -> dict[str, np.ndarray]:
    """Check and read row datasets (see :func:`_row_sets`)."""
    sets, n = _row_sets(path, group, names, trim, extra_rows)
    return _load(path, sets, n)


def _pulse_layout(path: pathlib.Path, g: h5py.Group, trim: bool) -> dict[str, Any]:
    """Check ``/pulses`` without reading its row data: names of the row datasets, the cycles
    to use, n_up, n_down, the per-pulse arrays (small, read) and whether a waveform exists."""
    names = ["read_time_s", "read_voltage_V", "read_current_A", "read_status"]
    members = set(g)
    if "read_conductance_S" in members:
        names.append("read_conductance_S")
    has_waveform = "waveform" in members
    wf_rows = None
    if has_waveform:  # the layout now, the data when loaded (only the row count matters when trimming)
        rows = _waveform_rows(path, _group(path, g, "waveform"))
        wf_rows = rows if trim else None
    n_up, n_down = _count_attr(path, g, "n_up"), _count_attr(path, g, "n_down")
    sets, n = _row_sets(path, g, tuple(names), trim, wf_rows)
    width = sets["read_time_s"].shape[1]
    if width != n_up + n_down:
        raise SchemaError(f"{path}: /pulses has {width} reads per cycle, but n_up + n_down = {n_up + n_down}")
    per_pulse = {}
    for key in ("pulse_amplitude_V", "pulse_width_s"):
        per_pulse[key] = load(path, _need(path, g, key, "f", 1))
        if per_pulse[key].shape != (n_up + n_down,):
            raise SchemaError(f"{path}: /pulses/{key} has shape {per_pulse[key].shape}, "
                              f"expected ({n_up + n_down},)")
    if "pulse" in members:  # schema 3's column scale: read (small) and checked like the data
        index = load(path, _need(path, g, "pulse", "i", 1))
        if not np.array_equal(index, np.arange(n_up + n_down)):
            raise SchemaError(f"{path}: /pulses/pulse is not the indices 0 .. {n_up + n_down - 1}")
    return {"names": tuple(names), "n_cycles": n, "n_up": n_up, "n_down": n_down,
            "has_waveform": has_waveform, **per_pulse}


def _waveform_rows(path: pathlib.Path, w: h5py.Group) -> int:
    """Check the waveform group's layout (no data read); returns the fewest rows of V and I."""
    time_s = _need(path, w, "time_s", "f", 1)
    index = _need(path, w, "pulse_index", "iu", 1)
    rows = []
    for key in ("voltage_V", "current_A"):
        ds = _need(path, w, key, "f", 2)
        if ds.shape[1] != time_s.shape[0]:
            raise SchemaError(f"{path}: /pulses/waveform/{key} has {ds.shape[1]} samples per cycle, "
                              f"time_s {time_s.shape[0]}")
        rows.append(ds.shape[0])
    if index.shape != time_s.shape:
        raise SchemaError(f"{path}: /pulses/waveform/pulse_index has shape {index.shape}, time_s {time_s.shape}")
    if not isinstance(w.attrs.get("measured", True), (bool, np.bool_)):
        raise SchemaError(f"{path}: attribute /pulses/waveform/@measured is {w.attrs['measured']!r}, "
                          "expected true or false")
    return min(rows)


def _waveform_meta(path: pathlib.Path, w: h5py.Group, n: int, trim: bool, pulses: int) -> WaveformData:
    """Check the waveform of the first ``n`` cycles (``n`` = cycles of the reads; more rows only if
    ``trim``); returns its sample grid (time_s, pulse_index, measured) with empty V and I.
    Its layout was checked by :func:`_waveform_rows` when the run was opened, like the reads'."""
    rows = (w["voltage_V"].shape[0], w["current_A"].shape[0])
    if min(rows) < n or (not trim and max(rows) != n):
        raise SchemaError(f"{path}: /pulses/waveform holds {rows} cycles, "
                          f"the reads {n}")
    index = load(path, w["pulse_index"])
    if index.size and (index.min() < -1 or index.max() >= pulses):
        raise SchemaError(f"{path}: /pulses/waveform/pulse_index holds {index.min()} .. {index.max()}, "
                          f"allowed -1 .. {pulses - 1}")
    empty = np.empty((0, index.size))
    return WaveformData(time_s=load(path, w["time_s"]), voltage_V=empty, current_A=empty,
                        pulse_index=index, measured=bool(w.attrs.get("measured", True)))


def _read_header(path: pathlib.Path, f: h5py.File) -> dict[str, Any]:
    def get(name: str) -> Any:
        try:
            return _attr(f, name)
        except KeyError:
            raise SchemaError(f"{path}: root attribute {name!r} is missing") from None
        except (OSError, TypeError, ValueError) as exc:
            raise SchemaError(f"{path}: root attribute {name!r} cannot be read ({exc})") from exc

    try:
        fmt = _attr(f, "format")
    except (KeyError, OSError, TypeError, ValueError):
        fmt = None
    if fmt != FORMAT:
        raise SchemaError(f"{path}: not a memlab run archive (root attribute 'format' is {fmt!r})")
    version = get("schema_version")
    if not isinstance(version, int):
        raise SchemaError(f"{path}: root attribute 'schema_version' is {version!r}, not an integer")
    if not 1 <= version <= SCHEMA_VERSION:
        raise SchemaError(f"{path}: schema_version {version} is not supported "
                          f"(this memlab reads 1..{SCHEMA_VERSION}; upgrade memlab)")
    header: dict[str, Any] = {"schema_version": version}
    for key in ("kind", "uuid", "status", "status_reason"):
        header[key] = str(get(key))
    if header["kind"] not in KINDS:
        raise SchemaError(f"{path}: unknown kind {header['kind']!r}")
    if header["status"] not in STATUSES:
        raise SchemaError(f"{path}: unknown status {header['status']!r}")
    try:
        header["protocol"] = json.loads(get("protocol_json"), parse_constant=_no_constant)
    except (json.JSONDecodeError, TypeError, RecursionError) as exc:
        raise SchemaError(f"{path}: root attribute 'protocol_json' is not JSON ({exc})") from exc
    except ValueError as exc:  # NaN/Infinity, which the writer never stores
        raise SchemaError(f"{path}: root attribute 'protocol_json' {exc}") from exc
    if not isinstance(header["protocol"], dict):
        raise SchemaError(f"{path}: root attribute 'protocol_json' is not a JSON object")
    return header


def _no_constant(name: str) -> Any:
    raise ValueError(f"holds {name}, which the writer never stores")


def _read_data(path: pathlib.Path, f: h5py.File, trim: bool) -> dict[str, Any]:
    """The layout of ``/pulses`` (its rows are read on demand: they grow with the cycles) and
    the retention and I-V data (a few hundred rows at most)."""
    data: dict[str, Any] = {}
    groups = set(f)
    if "pulses" in groups:
        g = _group(path, f, "pulses")
        data["pulses"] = _pulse_layout(path, g, trim)
        data["has_waveform"] = data["pulses"]["has_waveform"]
        data["cycles_planned"] = _count_attr(path, g, "cycles_planned")
    if "retention" in groups:
        g = _group(path, f, "retention")
        data["retention"] = _read_rows(path, g, ("time_s", "voltage_V", "current_A", "status"), trim)
        data["retention"]["target_pulses"] = load(path, _need(path, g, "target_pulses", "iu", 1))
    if "iv" in groups:
        data["iv"] = _read_rows(path, _group(path, f, "iv"), ("voltage_V", "current_A", "status"), trim)
    return data


def open_read(path: pathlib.Path) -> h5py.File:
    """Open read-only without HDF5's lock: a reader never modifies the file and must be
    able to look at a run another process is writing."""
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        if "locking flag" not in str(exc):
            raise
        # Already open in this process with HDF5's default locking (e.g. by plain h5py).
        return h5py.File(path, "r")
