"""The one reader of run archives: :func:`read_run` -> :class:`Run`.

Re-exported by :mod:`memlab.protocols.archive`, where the interface names it.
Layout and version log: ``docs/SCHEMA.md``.
"""

from __future__ import annotations

import functools
import os
import pathlib
from typing import Any, Iterator

import h5py
import numpy as np

from memlab.errors import ConfigError, DamagedDataError, DataNotFoundError, SchemaError
from memlab.files import explain_partial, sha256_file

from .archive_checks import (  # noqa: F401  (check_units, decode_attrs, max_dataset_B ...: re-exported)
    _DAMAGE,
    _SIZE_SLACK_B,
    DEFAULT_MAX_DATASET_B,
    MAX_DATASET_ENV,
    _attr,
    _load,
    _need,
    _read_data,
    _read_header,
    _waveform_meta,
    check_units,
    decode_attrs,
    load,
    max_dataset_B,
    open_read,
)
from .archive_lock import writer_alive
from .rundata import IN_PROGRESS_REASON, IVData, PulseData, RetentionData, WaveformData

CHUNK_BYTES = 32 << 20
"""Bytes of data per block of :meth:`Run.pulse_chunks` by default: big enough that HDF5's
per-call cost is amortised, small enough that analysis memory stays far below a gigabyte."""


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

