"""The HDF5 run archive: the one writer (here, its layout in :mod:`.archive_layout`) and the one reader
(:mod:`.archive_read`, re-exported here).

Everything downstream (analysis, importers, ``memlab info``) reads runs through
:func:`read_run`; everything that records a run writes through
:class:`ArchiveWriter` (or the one-call :func:`write_archive` /
:func:`write_pulse_archive`). The files are plain HDF5: no pickles, no Python
class needed, so h5py or HDFView open them without memlab.

The schema and its version log are documented in ``docs/SCHEMA.md``; the layout, in short, in
:mod:`.archive_layout`.

Crash safety: rows are appended and the file flushed after every cycle (or
block of cycles), and the root ``status`` reads ``interrupted`` from the moment
the file is created until :meth:`ArchiveWriter.close` sets the final one, so a
killed writer leaves a valid file that says so, holding every completed cycle.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import Any

import h5py
import numpy as np

from memlab import __version__
from memlab.errors import ArchiveFullError, ConfigError, DataNotFoundError
from memlab.files import atomic_output

from . import archive_layout as layout
from . import scales
from .archive_lock import Lock as _Lock
from .archive_read import LazyDataset, Run, check_units, decode_attrs, read_run
from .rundata import (FORMAT, IN_PROGRESS_REASON, KINDS, ROW_KEYS, SCHEMA_VERSION, STATUSES, IVData, PulseData,
                      RetentionData, WaveformData, utc_now)

__all__ = [
    "ArchiveWriter", "write_archive", "write_pulse_archive", "read_run", "check_units", "Run", "LazyDataset",
    "PulseData", "WaveformData", "RetentionData", "IVData", "FORMAT", "SCHEMA_VERSION", "KINDS", "STATUSES",
    "IN_PROGRESS_REASON", "utc_now", "ArchiveFullError",
]

_ROOM_SLACK_B = 256 * 1024
"""Room kept free beyond an append's data and chunks: B-tree nodes, the closing attributes."""


def _room_B(path: pathlib.Path, size_B: int) -> int:
    """Bytes the archive may still grow by: free disk space, and the file-size limit (``ulimit -f``)."""
    room = shutil.disk_usage(path.parent).free
    try:
        import resource
    except ImportError:  # Windows: no file-size limit
        return room
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return room if soft == resource.RLIM_INFINITY else min(room, soft - size_B)


def _append(ds: h5py.Dataset, rows: np.ndarray) -> None:
    n = ds.shape[0]
    ds.resize(n + rows.shape[0], axis=0)
    ds[n:] = rows


def _new_archive(path, kind: str, protocol: dict, overwrite: bool) -> tuple[pathlib.Path, str, "_Lock"]:
    """Checks before a new archive is written: its kind, no file in the way; its protocol as JSON and
    the archive's lock (held by the caller from here on)."""
    path = pathlib.Path(path)
    if kind not in KINDS:
        raise ConfigError(f"archive kind: {kind!r} is not one of {', '.join(KINDS)}")
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: file exists (use --resume to continue it or choose another --out)")
    return path, json.dumps(protocol, sort_keys=True, allow_nan=False), _Lock(path)


class ArchiveWriter:
    """Writes one run archive, appending and flushing as data arrives.

    Create with :meth:`create` (new file) or :meth:`resume` (continue an
    interrupted run). Use as a context manager: leaving the block normally
    closes the run as ``complete``, a ``KeyboardInterrupt`` as ``interrupted``
    and any other exception as ``failed`` with the exception as reason (the
    exception still propagates). Only one writer may hold an archive; a second
    one gets :class:`ArchiveLockedError`.
    """

    def __init__(self, path: pathlib.Path, file: h5py.File, lock: _Lock) -> None:
        self.path = path
        self._f = file
        self._lock = lock
        self.closed = False
        self._chunk_B: dict[str, int] = {}

    # ---- opening
    @classmethod
    def create(cls, path: str | os.PathLike, *, kind: str, protocol: dict,
               attrs: dict[str, Any] | None = None, overwrite: bool = False,
               run_uuid: str | None = None) -> "ArchiveWriter":
        """Start a new archive at ``path`` (refuses an existing file unless ``overwrite``).

        The file is born complete: its root attributes are written and flushed
        under ``NAME.partial``, which is then renamed to ``path``, so a kill
        while creating leaves either no archive or one that says ``interrupted``
        (``running`` while this writer lives). A ``NAME.partial`` left by a
        killed creation is replaced (this writer holds the archive's lock).
        """
        path, protocol_json, lock = _new_archive(path, kind, protocol, overwrite)
        try:
            with atomic_output(path) as tmp:
                with layout.open_h5(tmp, "w") as f:
                    layout.write_root(f, kind, protocol_json, run_uuid, attrs)
            f = layout.open_h5(path, "r+")
        except BaseException:
            lock.release()
            raise
        return cls(path, f, lock)

    @classmethod
    def resume(cls, path: str | os.PathLike) -> "ArchiveWriter":
        """Reopen an ``interrupted`` (or ``failed``) archive to append the missing cycles.

        Rows torn by a kill are dropped first, so appending continues right
        after the last complete cycle.
        """
        path = pathlib.Path(path)
        if not path.exists():
            raise DataNotFoundError(f"{path}: no archive to resume")
        read_run(path)  # validates the schema before anything is modified
        lock = _Lock(path)
        try:
            f = layout.open_h5(path, "r+")
        except BaseException:
            lock.release()
            raise
        self = cls(path, f, lock)
        if f.attrs["status"] == "complete":
            self._abandon()
            raise ConfigError(f"{path}: status is already 'complete'; nothing to resume")
        log = list(json.loads(f.attrs.get("resume_log", "[]")))
        log.append({"resumed_utc": utc_now(), "previous_status": str(f.attrs["status"]),
                    "previous_reason": str(f.attrs.get("status_reason", "")),
                    "memlab_version": __version__})
        layout.encode_attrs(f, {"resume_log": log})
        if f.attrs.get("status_reason") == IN_PROGRESS_REASON:
            self._trim_torn()  # torn rows exist only where the writer never closed the file
        f.attrs["status"] = "interrupted"
        f.attrs["status_reason"] = IN_PROGRESS_REASON
        f.flush()
        return self

    def _check_room(self, group: h5py.Group, rows: dict[str, np.ndarray]) -> None:
        """Refuse an append the disk or the file-size limit could not take, before HDF5 starts it.

        HDF5 does not survive a failed write: the file is left with a superblock
        pointing past its end, which no reader opens again, and every cycle in it
        is lost. Stopping first keeps the archive closable, as ``failed``.
        """
        need = _ROOM_SLACK_B
        for name, arr in rows.items():
            key = f"{group.name}/{name}"
            if key not in self._chunk_B:  # looked up once: h5py object access costs more than the check
                self._chunk_B[key] = int(np.prod(group[name].chunks or ())) * arr.itemsize
            need += arr.nbytes + self._chunk_B[key]  # the data and a new chunk at most
        size = self._f.id.get_filesize()
        room = _room_B(self.path, size)
        if room < need:
            raise ArchiveFullError(f"{self.path}: no room for the next {next(iter(rows.values())).shape[0]} "
                                   f"row(s): {max(room, 0)} bytes left (disk or file-size limit), "
                                   f"{need} needed; free space, then --resume")

    def _abandon(self) -> None:
        self._f.close()
        self._lock.release()
        self.closed = True

    def _trim_torn(self) -> None:
        """Cut every row dataset back to the rows complete in all of them."""
        layout.trim_torn(self._f)

    # ---- provenance
    @property
    def uuid(self) -> str:
        return str(self._f.attrs["uuid"])

    @property
    def protocol(self) -> dict:
        return json.loads(self._f.attrs["protocol_json"])

    def attr(self, key: str) -> Any:
        """One provenance attribute, decoded as :func:`read_run` would."""
        return decode_attrs(self._f)[key]

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        """Add or replace provenance attributes (e.g. the instrument snapshot)."""
        layout.encode_attrs(self._f, attrs)
        self._f.flush()

    # ---- pulse cycling
    def begin_pulses(self, *, n_up: int, n_down: int, pulse_amplitude_V: Any, pulse_width_s: Any,
                     cycles_planned: int, waveform_time_s: Any = None, waveform_pulse_index: Any = None,
                     waveform_measured: bool = True, with_conductance: bool = False) -> None:
        """Create the ``/pulses`` group; cycles are then added with :meth:`append_cycles`."""
        layout.create_pulses(self._f, n_up=n_up, n_down=n_down, pulse_amplitude_V=pulse_amplitude_V,
                             pulse_width_s=pulse_width_s, cycles_planned=cycles_planned,
                             waveform_time_s=waveform_time_s, waveform_pulse_index=waveform_pulse_index,
                             waveform_measured=waveform_measured, with_conductance=with_conductance)
        self._f.flush()

    def has_group(self, name: str) -> bool:
        """Whether the data group ``name`` (pulses, retention, iv) exists yet."""
        return name in self._f

    def rows(self, name: str) -> int:
        """Rows (cycles, states, sweeps) already in data group ``name``."""
        return int(self._f[name][ROW_KEYS[name]].shape[0]) if name in self._f else 0

    @property
    def cycles_completed(self) -> int:
        """Cycles already in the archive (resume continues from here)."""
        return self.rows("pulses")

    def append_cycles(self, read_time_s: Any, read_voltage_V: Any, read_current_A: Any,
                      read_status: Any, *, read_conductance_S: Any = None,
                      waveform_voltage_V: Any = None, waveform_current_A: Any = None) -> None:
        """Append one cycle (1-D rows) or a block of cycles (2-D) and flush.

        Statuses go in before the reads they qualify and the read times last, so a
        row torn by a kill never looks complete (the reader keys on read times).
        """
        g = self._f["pulses"]
        n = g["read_time_s"].shape[1]
        rows = {
            "read_status": layout.as_rows("read_status", read_status, n, np.uint16),
            "read_voltage_V": layout.as_rows("read_voltage_V", read_voltage_V, n, np.float64),
            "read_current_A": layout.as_rows("read_current_A", read_current_A, n, np.float64),
        }
        if "read_conductance_S" in g:
            if read_conductance_S is None:
                raise ConfigError("archive: this run records read_conductance_S; pass it for every cycle")
            rows["read_conductance_S"] = layout.as_rows("read_conductance_S", read_conductance_S, n, np.float64)
        if "waveform" in g:
            if waveform_voltage_V is None or waveform_current_A is None:
                raise ConfigError("archive: this run records waveforms; pass voltage and current for every cycle")
            m = g["waveform/time_s"].shape[0]
            rows["waveform/voltage_V"] = layout.as_rows("waveform voltage_V", waveform_voltage_V, m, np.float64)
            rows["waveform/current_A"] = layout.as_rows("waveform current_A", waveform_current_A, m, np.float64)
        rows["read_time_s"] = layout.as_rows("read_time_s", read_time_s, n, np.float64)
        k = {a.shape[0] for a in rows.values()}
        if len(k) != 1:
            raise ConfigError(f"archive: cycle blocks disagree in length ({sorted(k)})")
        self._check_room(g, rows)
        scales.append_rows(g, k.pop())
        for name, arr in rows.items():
            _append(g[name], arr)
        self._f.flush()

    # ---- retention and I-V
    def begin_retention(self, *, target_pulses: Any, points: int) -> None:
        """Create ``/retention``; states are then added with :meth:`append_retention`."""
        layout.create_retention(self._f, target_pulses=target_pulses, points=points)
        self._f.flush()

    def append_retention(self, time_s: Any, voltage_V: Any, current_A: Any, status: Any) -> None:
        """Append one programmed state's reads (or a block of states) and flush."""
        self._append_group("retention", {"status": (status, np.uint16), "voltage_V": (voltage_V, np.float64),
                                         "current_A": (current_A, np.float64), "time_s": (time_s, np.float64)})

    def begin_iv(self, *, points: int, sweeps_planned: int = 16) -> None:
        """Create ``/iv``; sweeps are then added with :meth:`append_iv`."""
        layout.create_iv(self._f, points=points, sweeps_planned=sweeps_planned)
        self._f.flush()

    def append_iv(self, voltage_V: Any, current_A: Any, status: Any) -> None:
        """Append one sweep (or a block of sweeps) and flush."""
        self._append_group("iv", {"status": (status, np.uint16), "current_A": (current_A, np.float64),
                                  "voltage_V": (voltage_V, np.float64)})

    def _append_group(self, name: str, values: dict[str, tuple[Any, Any]]) -> None:
        g = self._f[name]
        rows = {key: layout.as_rows(f"{name} {key}", v, g[key].shape[1], dt) for key, (v, dt) in values.items()}
        if len({a.shape[0] for a in rows.values()}) != 1:
            raise ConfigError(f"archive: {name} rows disagree in length")
        self._check_room(g, rows)
        scales.append_rows(g, next(iter(rows.values())).shape[0])
        for key, arr in rows.items():  # dict order: status first, the key column last
            _append(g[key], arr)
        self._f.flush()

    # ---- closing
    def close(self, status: str = "complete", reason: str = "") -> None:
        """Record the final status (and reason) and the end time, then release the archive."""
        if self.closed:
            return
        if status not in STATUSES:
            raise ConfigError(f"archive status: {status!r} is not one of {', '.join(STATUSES)}")
        try:
            self._final_attrs(status, reason)
            self._f.close()
        finally:
            self._lock.release()
            self.closed = True

    def _final_attrs(self, status: str, reason: str) -> None:
        # The status goes last: it is what says the other two are final.
        self._f.attrs["end_utc"] = utc_now()
        self._f.attrs["status_reason"] = reason.replace("\x00", "\\x00")  # HDF5 strings end at NUL
        self._f.attrs["status"] = status

    def __enter__(self) -> "ArchiveWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close("complete")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted", "stopped by the user (Ctrl-C)")
        else:
            self.close("failed", f"{exc_type.__name__}: {exc}")


def write_archive(path: str | os.PathLike, *, kind: str, protocol: dict, attrs: dict[str, Any] | None = None,
                  pulses: PulseData | None = None, retention: RetentionData | None = None,
                  iv: IVData | None = None, status: str = "complete", reason: str = "",
                  overwrite: bool = False, cycles_planned: int | None = None) -> str:
    """Write a whole archive from arrays in one call; returns the run UUID.

    All or nothing: the archive is written as ``NAME.partial`` and renamed to
    ``path`` once closed, so a failure leaves no file at ``path`` (an existing
    one, with ``overwrite``, stays as it was) and a kill leaves only the
    partial file. The lock on ``path`` is held throughout: a live writer of
    ``path`` refuses it.
    """
    path, protocol_json, lock = _new_archive(path, kind, protocol, overwrite)
    try:
        with atomic_output(path) as tmp:
            w = ArchiveWriter(path, layout.open_h5(tmp, "w"), _NoLock())
            with w:
                layout.write_root(w._f, kind, protocol_json, None, attrs)
                _write_data(w, pulses, retention, iv, cycles_planned)
                uid = w.uuid
                w.close(status, reason)
    finally:
        lock.release()
    return uid


class _NoLock:
    """The lock of a writer whose file is not yet under its real name (the caller holds that one)."""

    def release(self) -> None:
        pass


def _write_data(w: ArchiveWriter, pulses: PulseData | None, retention: RetentionData | None,
                iv: IVData | None, cycles_planned: int | None) -> None:
    if pulses is not None:
        wf = pulses.waveform
        w.begin_pulses(n_up=pulses.n_up, n_down=pulses.n_down, pulse_amplitude_V=pulses.pulse_amplitude_V,
                       pulse_width_s=pulses.pulse_width_s,
                       cycles_planned=pulses.n_cycles if cycles_planned is None else cycles_planned,
                       waveform_time_s=None if wf is None else wf.time_s,
                       waveform_pulse_index=None if wf is None else wf.pulse_index,
                       waveform_measured=True if wf is None else wf.measured,
                       with_conductance=pulses.read_conductance_S is not None)
        if pulses.n_cycles:
            w.append_cycles(pulses.read_time_s, pulses.read_voltage_V, pulses.read_current_A,
                            pulses.read_status, read_conductance_S=pulses.read_conductance_S,
                            waveform_voltage_V=None if wf is None else wf.voltage_V,
                            waveform_current_A=None if wf is None else wf.current_A)
    if retention is not None:
        w.begin_retention(target_pulses=retention.target_pulses, points=retention.time_s.shape[1])
        if retention.time_s.shape[0]:
            w.append_retention(retention.time_s, retention.voltage_V, retention.current_A, retention.status)
    if iv is not None:
        w.begin_iv(points=iv.voltage_V.shape[1], sweeps_planned=iv.voltage_V.shape[0])
        if iv.voltage_V.shape[0]:
            w.append_iv(iv.voltage_V, iv.current_A, iv.status)


def write_pulse_archive(path: str | os.PathLike, pulses: PulseData, protocol: dict,
                        attrs: dict[str, Any] | None = None, status: str = "complete", *,
                        kind: str = "imported_pulse_cycling", reason: str = "",
                        overwrite: bool = False) -> str:
    """Write a pulse-cycling archive from arrays in one call (what importers use); returns the UUID."""
    return write_archive(path, kind=kind, protocol=protocol, attrs=attrs, pulses=pulses,
                         status=status, reason=reason, overwrite=overwrite)
