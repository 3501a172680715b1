"""The one reader of run archives: :func:`read_run` -> :class:`Run`.

Re-exported by :mod:`memlab.protocols.archive`, where the interface names it.
Layout and version log: ``docs/SCHEMA.md``.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
from typing import Any, Iterator

import h5py
import numpy as np

from memlab.errors import ConfigError, DamagedDataError, DataNotFoundError, SchemaError
from memlab.files import explain_partial, sha256_file

from .archive_lock import writer_alive

from .rundata import (
    FORMAT,
    IN_PROGRESS_REASON,
    KINDS,
    RESERVED_ATTRS,
    SCHEMA_VERSION,
    STATUSES,
    IVData,
    PulseData,
    RetentionData,
    WaveformData,
    complete_rows,
)


_DAMAGE = (OSError, RuntimeError, KeyError, ValueError, TypeError, SystemError)
"""What h5py raises on a damaged file (a bit flip in a B-tree, a truncated object header ...; SystemError
when an HDF5 error surfaces inside h5py's own lock while visiting links)."""
_SIZE_SLACK_B = 64 << 20
"""How far a dataset may declare more bytes than its file holds: rows a killed writer had
grown but not yet filled (they read as fill values). Beyond that, a shape is a lie that
would allocate unbounded memory."""
MAX_DATASET_ENV = "MEMLAB_MAX_DATASET_GB"
DEFAULT_MAX_DATASET_B = 8 * 10**9
CHUNK_BYTES = 32 << 20
"""Bytes of data per block of :meth:`Run.pulse_chunks` by default: big enough that HDF5's
per-call cost is amortised, small enough that analysis memory stays far below a gigabyte."""
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



class LazyDataset:
    """One row dataset of an archive, read only where it is indexed (from :meth:`Run.dataset`).

    Has ``shape``, ``dtype``, ``ndim``, ``nbytes`` and ``units`` without reading
    a byte; ``lazy[a:b]`` (integers and slices, positive steps, per axis) reads
    just those rows through the reader's checks (a chunk failing its checksum is
    a :class:`DamagedDataError`); :meth:`blocks` iterates the rows a block at a
    time; ``numpy.asarray(lazy)`` reads it whole. It holds only the file's path
    and the dataset's name (each read opens the file read-only, without HDF5's
    lock), so it pickles, and ``dask.array.from_array(lazy, chunks=...)`` makes a
    Dask view of it where Dask is installed.
    """

    def __init__(self, path: pathlib.Path, name: str, shape: tuple[int, ...], dtype: np.dtype, units: str,
                 rows_per_block: int) -> None:
        self.path, self.name, self.shape, self.dtype, self.units = path, name, shape, np.dtype(dtype), units
        self.rows_per_block = rows_per_block

    def __repr__(self) -> str:
        return f"LazyDataset({str(self.path)!r}, {self.name!r}, shape={self.shape}, dtype={self.dtype})"

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    nbytes = property(lambda self: self.size * self.dtype.itemsize)

    def __len__(self) -> int:
        return self.shape[0]

    def _key(self, key: Any) -> tuple[tuple, tuple]:
        """(the h5py selection, per axis whether to reverse) of a numpy basic index."""
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            at = key.index(Ellipsis)
            key = key[:at] + (slice(None),) * (self.ndim - len(key) + 1) + key[at + 1:]
        if len(key) > self.ndim:
            raise IndexError(f"{self.name}: {len(key)} indices for {self.ndim} dimension(s)")
        sel, flip = [], []
        for k, n in zip(key + (slice(None),) * (self.ndim - len(key)), self.shape):
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
                i = int(k) + n if k < 0 else int(k)
                if not 0 <= i < n:
                    raise IndexError(f"{self.name}: index {k} is out of range for an axis of {n}")
                sel.append(i)
                flip.append(False)
            elif isinstance(k, slice):
                a, b, step = k.indices(n)
                if step < 0:  # h5py reads forward only: read the same elements forward, then reverse
                    count = len(range(a, b, step))
                    a, b, step = a + step * (count - 1) if count else 0, a + 1 if count else 0, -step
                    flip.append(True)
                else:
                    flip.append(False)
                sel.append(slice(a, max(a, b), step))
            else:
                raise TypeError(f"{self.name}: index {k!r}: a lazy dataset takes integers and slices "
                                "(read it with numpy.asarray for fancy indexing)")
        return tuple(sel), tuple(f for f, k in zip(flip, sel) if not isinstance(k, int))

    def __getitem__(self, key: Any) -> np.ndarray:
        sel, flip = self._key(key)
        if any(isinstance(k, slice) and k.stop <= k.start for k in sel):  # h5py refuses some empty selections
            shape = [len(range(k.start, k.stop, k.step)) for k in sel if isinstance(k, slice)]
            return np.empty(shape, self.dtype)
        try:
            with open_read(self.path) as f:
                out = load(self.path, f[self.name], sel)
        except (SchemaError, DamagedDataError):
            raise
        except _DAMAGE as exc:
            raise SchemaError(f"{self.path}: {self.name} cannot be read ({type(exc).__name__}: {exc})") from exc
        if any(flip):
            out = out[tuple(slice(None, None, -1) if f else slice(None) for f in flip)]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[()]
        return out if dtype is None else out.astype(dtype, copy=False)

    def blocks(self, start: int = 0, stop: int | None = None,
               rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows ``a .. b-1``) of rows ``start .. stop-1``, ``rows`` at a time (default:
        about :data:`CHUNK_BYTES` a block); one open file for the whole iteration."""
        a, b, _ = slice(start, stop).indices(self.shape[0])
        rows = rows or self.rows_per_block
        with open_read(self.path) as f:
            ds = f[self.name]
            for lo in range(a, b, rows):
                yield lo, load(self.path, ds, slice(lo, min(b, lo + rows)))


class Run:
    """One archive, read through :func:`read_run`.

    :func:`read_run` reads the header and checks the layout of every dataset
    without reading bulk data; the reads and raw waveforms (``pulses``), the
    provenance ``attrs`` and ``sha256`` are read on first access,
    :meth:`pulse_chunks` reads the cycles block by block and :meth:`dataset`
    gives one dataset as a lazily read, chunk-iterable :class:`LazyDataset`, so
    an archive of any length can be looked at in bounded memory.
    """

    def __init__(self, path: pathlib.Path, header: dict[str, Any], data: dict[str, Any],
                 load_waveforms: bool = True, writer_was_alive: bool | None = None) -> None:
        self.path = path
        self.uuid: str = header["uuid"]
        self.stored_status: str = header["status"]
        self.status: str = header["status"]
        """``complete``/``interrupted``/``failed`` as stored, or ``running`` while the writer
        of a never-closed archive still holds its lock (``stored_status`` is then ``interrupted``)."""
        self.status_reason: str = header["status_reason"]
        # the writer's lock is probed *before* the header is read (read_run): a writer releases its lock
        # only after the final status is on disk, so "not alive" then means the header read is final,
        # and a writer closing between the two reads is never mistaken for a killed one
        alive = writer_alive(path) if writer_was_alive is None else writer_was_alive
        if self._in_progress and alive:
            self.status = "running"
        self.kind: str = header["kind"]
        self.schema_version: int = header["schema_version"]
        self.protocol: dict = header["protocol"]
        self.cycles_planned: int | None = data.get("cycles_planned")
        self._data = data
        self._load_waveforms = load_waveforms

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, kind={self.kind!r}, status={self.status!r}, uuid={self.uuid!r})"

    @property
    def _in_progress(self) -> bool:
        """The writer never closed the file: running, or killed (torn rows exist only here)."""
        return self.stored_status == "interrupted" and self.status_reason == IN_PROGRESS_REASON

    _trim = _in_progress

    def _open(self) -> h5py.File:
        return open_read(self.path)

    @functools.cached_property
    def attrs(self) -> dict[str, Any]:
        """Provenance: start/end UTC, memlab version, instrument snapshot, ids, source file ..."""
        try:
            with self._open() as f:
                return decode_attrs(f)
        except SchemaError:
            raise
        except _DAMAGE as exc:  # JSONDecodeError is a ValueError
            raise SchemaError(f"{self.path}: provenance attributes cannot be decoded ({exc})") from exc

    @functools.cached_property
    def sha256(self) -> str:
        return sha256_file(self.path)

    @functools.cached_property
    def pulses(self) -> PulseData | None:
        """All pulse-cycling reads (and the raw waveforms unless ``read_run(waveforms=False)``),
        read on first access. Archives of many cycles: :meth:`pulse_chunks` reads them in turn."""
        if self._data.get("pulses") is None:
            return None
        n = self.n_cycles
        # one block of every cycle (an empty one for a run without cycles)
        return next(iter(self.pulse_chunks([(0, max(n, 1))], chunk_cycles=None, waveforms=self._load_waveforms)))

    @property
    def n_cycles(self) -> int:
        """Pulse-cycling cycles recorded (0 without ``/pulses``); nothing is read."""
        layout = self._data.get("pulses")
        return 0 if layout is None else int(layout["n_cycles"])

    @property
    def pulse_counts(self) -> tuple[int, int] | None:
        """(n_up, n_down) pulses per cycle, None without ``/pulses``; nothing is read."""
        layout = self._data.get("pulses")
        return None if layout is None else (int(layout["n_up"]), int(layout["n_down"]))

    @property
    def has_waveform(self) -> bool:
        """Whether the run recorded raw waveforms (they are read with the pulses or a block at a time)."""
        return bool(self._data.get("has_waveform"))

    def pulse_chunks(self, ranges: list[tuple[int, int]] | None = None, *, chunk_cycles: int | None = 0,
                     waveforms: bool = True) -> Iterator[PulseData]:
        """Yield the pulse-cycling data as :class:`PulseData` blocks of consecutive cycles.

        ``ranges`` are (start, stop) cycle indices (stop exclusive, clipped to the
        cycles recorded; default: all cycles); each block lies inside one range and
        holds at most ``chunk_cycles`` cycles (0: about :data:`CHUNK_BYTES` of data a
        block; None: each range whole), with ``first_cycle`` its first cycle's index.
        One open file for the whole iteration, so memory stays that of one block.
        """
        layout = self._data.get("pulses")
        if layout is None:
            return
        n = int(layout["n_cycles"])
        ranges = [(0, n)] if ranges is None else [(max(0, a), min(int(b), n)) for a, b in ranges]
        want_wf = waveforms and bool(layout["has_waveform"])
        try:
            with self._open() as f:
                g = f["pulses"]
                sets = {name: g[name] for name in layout["names"]}
                wf = _waveform_meta(self.path, g["waveform"], n, self._trim, layout["n_up"] + layout["n_down"]) \
                    if want_wf else None
                step = chunk_cycles
                if step == 0:
                    per_cycle = sum(ds.shape[1] * ds.dtype.itemsize for ds in sets.values())
                    per_cycle += 0 if wf is None else 16 * wf.time_s.size
                    step = max(1, CHUNK_BYTES // max(1, per_cycle))
                for a, b in ranges:
                    if b <= a and chunk_cycles is None:  # `pulses` of a run without cycles
                        yield self._block(layout, sets, wf, g, 0, 0)
                    for lo in range(a, b, step or max(1, b - a)):
                        hi = b if step is None else min(b, lo + step)
                        yield self._block(layout, sets, wf, g, lo, hi)
        except SchemaError:
            raise
        except _DAMAGE as exc:
            raise SchemaError(f"{self.path}: pulse data cannot be read ({type(exc).__name__}: {exc})") from exc

    def dataset(self, name: str) -> LazyDataset:
        """A /pulses dataset as a :class:`LazyDataset` (nothing read): ``read_time_s``,
        ``read_voltage_V``, ``read_current_A``, ``read_status``, ``read_conductance_S`` (imports
        that hold one), ``waveform/voltage_V``, ``waveform/current_A``. Its rows are the
        :attr:`n_cycles` cycles the reader uses (rows torn by a killed writer are left out)."""
        names = self.dataset_names()
        if name not in names:
            raise ConfigError(f"{self.path}: no pulse dataset {name!r}; this run has {', '.join(names) or 'none'}")
        try:
            with self._open() as f:
                ds = f["pulses"][name]
                row_B = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64)))
                return LazyDataset(self.path, ds.name, (self.n_cycles, *ds.shape[1:]), ds.dtype,
                                   str(_attr(ds, "units")) if "units" in ds.attrs else "",
                                   max(1, CHUNK_BYTES // row_B))
        except _DAMAGE as exc:
            raise SchemaError(f"{self.path}: /pulses/{name} cannot be opened ({type(exc).__name__}: {exc})") from exc

    @property
    def pulse_schedule(self) -> dict[str, np.ndarray] | None:
        """``pulse_amplitude_V`` and ``pulse_width_s`` of each pulse of a cycle (read with the
        layout); None without ``/pulses``."""
        layout = self._data.get("pulses")
        return None if layout is None else {k: layout[k] for k in ("pulse_amplitude_V", "pulse_width_s")}

    def dataset_names(self) -> tuple[str, ...]:
        """The names :meth:`dataset` takes for this run (empty without ``/pulses``)."""
        layout = self._data.get("pulses")
        if layout is None:
            return ()
        return tuple(layout["names"]) + (("waveform/voltage_V", "waveform/current_A") if self.has_waveform else ())

    def _block(self, layout: dict, sets: dict, wf: WaveformData | None, g: h5py.Group, lo: int,
               hi: int) -> PulseData:
        reads = _load(self.path, sets, hi, lo)
        if "cycle" in g:  # schema 3's row scale, read with its rows so damage to it is never silent
            index = load(self.path, _need(self.path, g, "cycle", "i", 1), slice(lo, hi))
            if not np.array_equal(index, np.arange(lo, hi)):
                raise SchemaError(f"{self.path}: /pulses/cycle does not hold the indices {lo} .. {hi - 1}")
        waveform = None
        if wf is not None:
            w = g["waveform"]
            volts, amps = (w["voltage_V"], w["current_A"])
            volts, amps = _load(self.path, {"v": volts, "i": amps}, hi, lo).values()
            waveform = WaveformData(wf.time_s, volts, amps, wf.pulse_index, wf.measured)
        return PulseData(n_up=layout["n_up"], n_down=layout["n_down"],
                         pulse_amplitude_V=layout["pulse_amplitude_V"], pulse_width_s=layout["pulse_width_s"],
                         read_conductance_S=reads.pop("read_conductance_S", None), waveform=waveform,
                         first_cycle=lo, **reads)

    @property
    def retention(self) -> RetentionData | None:
        d = self._data.get("retention")
        return None if d is None else RetentionData(**d)

    @property
    def iv(self) -> IVData | None:
        d = self._data.get("iv")
        return None if d is None else IVData(**d)


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
    ``trim``); returns its sample grid (time_s, pulse_index, measured) with empty V and I."""
    _waveform_rows(path, w)
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


def read_run(path: str | os.PathLike, *, waveforms: bool = True) -> Run:
    """Open a run archive: validate its header and read its reads.

    Raises :class:`DataNotFoundError` when the file is missing and
    :class:`SchemaError` (naming the file and the problem) when it is not a
    memlab archive, has an unsupported ``schema_version`` or lacks a dataset
    (``units`` are checked by :func:`check_units`). With ``waveforms=False`` the raw waveforms are never
    loaded (``pulses.waveform`` is None).
    """
    path = pathlib.Path(path)
    unfinished = explain_partial(path)
    if not path.is_file():
        raise DataNotFoundError(unfinished or f"{path}: run archive not found")
    if unfinished:
        raise SchemaError(unfinished)
    alive = writer_alive(path)  # before the header: see Run.__init__
    try:
        f = open_read(path)
    except OSError as exc:
        raise SchemaError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with f:
        try:
            header = _read_header(path, f)
            trim = header["status"] == "interrupted" and header["status_reason"] == IN_PROGRESS_REASON
            data = _read_data(path, f, trim)
        except SchemaError:
            raise
        except _DAMAGE as exc:  # h5py's errors for a damaged file, or a malformed group
            raise SchemaError(f"{path}: damaged or malformed archive ({type(exc).__name__}: {exc})") from exc
    return Run(path, header, data, load_waveforms=waveforms, writer_was_alive=alive)

