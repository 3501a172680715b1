"""Proof of integrity for a run archive: every chunk's checksum and the archive's own consistency.

:func:`verify_archive` reads every chunk of every dataset (HDF5 checks each
chunk's Fletcher-32 checksum as it decodes it, schema 2 on) and checks what
the bytes must agree on: the root attributes, row counts within each data
group, the reads per cycle against ``n_up + n_down``, status flags against the
flags :class:`PointStatus` defines, ``units`` on numeric datasets, a complete
run holding the rows it planned, no links or data outside the file. Damage is
reported by dataset and row range (cycles, states, sweeps), never as numbers.

Memory stays bounded: datasets are read in blocks of whole chunks
(:data:`BLOCK_B`), chunk by chunk only inside a block that fails, and the
reader's own checks read the cycles in blocks (:meth:`Run.pulse_chunks`).
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from memlab.errors import DataNotFoundError, MemlabError
from memlab.files import explain_partial
from memlab.status import PointStatus

from .archive_read import _DAMAGE, _SIZE_SLACK_B, _read_header, check_units, max_dataset_B, open_read, read_run
from .rundata import CHECKSUMS_SINCE, IN_PROGRESS_REASON

BLOCK_B = 16 << 20
"""Bytes read at once while verifying (whole chunks)."""
ROW_NAMES = {"pulses": "cycles", "waveform": "cycles", "retention": "states", "iv": "sweeps"}
PLANNED = {"pulses": "cycles_planned", "retention": "states_planned", "iv": "sweeps_planned"}
_KNOWN_FLAGS = int(sum(int(f) for f in PointStatus))


@dataclass(frozen=True)
class Damage:
    """One problem: where (a dataset or attribute path) and what, with the rows hit."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class VerifyReport:
    """What :func:`verify_archive` found. ``intact`` only when nothing is damaged."""

    path: pathlib.Path
    schema_version: int | None = None
    datasets: int = 0
    chunks: int = 0
    checked_B: int = 0
    checksummed: bool = False
    state: str = ""
    damage: list[Damage] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.damage

    def summary(self) -> str:
        """One line: intact (with what was checked) or damaged (with how many problems)."""
        sums = "Fletcher-32 checksums" if self.checksummed else "no checksums (schema 1: structure only)"
        what = f"{self.datasets} datasets, {self.chunks} chunks, {self.checked_B / 1e6:.2f} MB read, {sums}"
        state = f", {self.state}" if self.state else ""
        if self.intact:
            return f"{self.path}: intact ({what}{state})"
        return f"{self.path}: DAMAGED, {len(self.damage)} problem(s) ({what}{state})"

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "intact": self.intact, "schema_version": self.schema_version,
                "datasets": self.datasets, "chunks": self.chunks, "checked_B": self.checked_B,
                "checksummed": self.checksummed, "state": self.state,
                "damage": [{"where": d.where, "what": d.what} for d in self.damage]}


def _ranges(rows: list[tuple[int, int]]) -> str:
    """``[(0, 4), (4, 8), (12, 13)]`` -> ``"0..7, 12"`` (inclusive, merged)."""
    merged: list[list[int]] = []
    for start, stop in sorted(rows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return ", ".join(f"{a}" if b - a == 1 else f"{a}..{b - 1}" for a, b in merged)


def _row_word(ds: h5py.Dataset) -> str:
    if ds.ndim < 2:
        return "elements"
    return ROW_NAMES.get(ds.parent.name.rsplit("/", 1)[-1], "rows")


def _read_blocks(ds: h5py.Dataset, report: VerifyReport) -> tuple[list[tuple[int, int]], np.ndarray | None]:
    """Read all of ``ds`` along axis 0 in blocks of whole chunks; returns the failed row ranges
    and, for status datasets, the OR of the flags seen per row (None otherwise)."""
    n = ds.shape[0] if ds.ndim else 1
    if ds.ndim == 0:
        try:
            ds[()]
        except OSError:
            return [(0, 1)], None
        return [], None
    rows_per_chunk = ds.chunks[0] if ds.chunks else n
    row_B = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64)))
    block = max(rows_per_chunk, (BLOCK_B // (row_B * rows_per_chunk)) * rows_per_chunk)
    bad: list[tuple[int, int]] = []
    flags = np.zeros(n, dtype=np.uint64) if ds.name.endswith("status") and ds.ndim == 2 else None
    for start in range(0, n, block):
        stop = min(n, start + block)
        try:
            parts = [(start, stop, ds[start:stop])]
        except OSError:  # find the chunks that fail within the block
            parts = []
            for a in range(start, stop, rows_per_chunk):
                b = min(stop, a + rows_per_chunk)
                try:
                    parts.append((a, b, ds[a:b]))
                except OSError:
                    bad.append((a, b))
        for a, b, arr in parts:
            report.checked_B += arr.nbytes
            if flags is not None:
                flags[a:b] = np.bitwise_or.reduce(arr.astype(np.uint64), axis=1) if arr.shape[1] else 0
    return bad, flags


def _check_dataset(ds: h5py.Dataset, report: VerifyReport, file_B: int) -> None:
    report.datasets += 1
    if ds.is_virtual or ds.external:
        report.damage.append(Damage(ds.name, "data lives outside the file (virtual or external storage); not read"))
        return
    nbytes = ds.size * ds.dtype.itemsize
    if nbytes > file_B + _SIZE_SLACK_B or nbytes > max_dataset_B():
        report.damage.append(Damage(ds.name, f"declares shape {ds.shape} ({nbytes} bytes), more than the "
                                             f"{file_B}-byte file or the per-dataset limit holds; not read"))
        return
    if report.checksummed and not ds.fletcher32:
        report.damage.append(Damage(ds.name, "has no Fletcher-32 checksum (schema 2 stores one on every dataset)"))
    try:
        report.chunks += ds.id.get_num_chunks() if ds.chunks else 1
    except _DAMAGE:
        pass
    bad, flags = _read_blocks(ds, report)
    if bad:
        why = "checksum mismatch" if ds.fletcher32 else "unreadable data"
        report.damage.append(Damage(ds.name, f"{why} in {_row_word(ds)} {_ranges(bad)}"))
    if flags is not None:
        unknown = np.flatnonzero(flags & ~np.uint64(_KNOWN_FLAGS))
        if unknown.size:
            report.damage.append(Damage(ds.name, f"status flags outside PointStatus in {_row_word(ds)} "
                                                 f"{_ranges([(int(i), int(i) + 1) for i in unknown])}"))


def _walk(f: h5py.File, report: VerifyReport) -> None:
    """Every link (no soft or external ones allowed) and every dataset, data read."""
    file_B = f.id.get_filesize()
    links: list[tuple[str, Any]] = []
    f.visititems_links(lambda name, link: links.append((name, link)))  # the callback must not raise
    for name, link in links:
        if not isinstance(link, h5py.HardLink):
            target = f" -> {link.filename}:{link.path}" if isinstance(link, h5py.ExternalLink) else ""
            report.damage.append(Damage(f"/{name}", f"is a {type(link).__name__}{target}; archives hold no links"))
            continue
        obj = f.get(name)
        if isinstance(obj, h5py.Dataset):
            _check_dataset(obj, report, file_B)


def _check_rows(f: h5py.File, report: VerifyReport, status: str, in_progress: bool) -> None:
    """Row counts agree within each data group; a complete run holds the rows it planned."""
    for group, planned_attr in PLANNED.items():
        if group not in f or not isinstance(f[group], h5py.Group):
            continue
        g = f[group]
        rows = {ds.name: ds.shape[0] for ds in _row_sets(g)}
        if len(set(rows.values())) > 1 and not in_progress:
            report.damage.append(Damage(g.name, "row datasets disagree in length: "
                                                + ", ".join(f"{k.rsplit('/', 1)[-1]} {v}" for k, v in rows.items())))
        planned = g.attrs.get(planned_attr)
        if status == "complete" and rows and isinstance(planned, (int, np.integer)):
            have = min(rows.values())
            if have != int(planned):
                report.damage.append(Damage(f"{g.name}/@{planned_attr}",
                                            f"the run is complete but holds {have} {ROW_NAMES[group]} of {planned}"))


def _row_sets(g: h5py.Group):
    for obj in g.values():
        if isinstance(obj, h5py.Dataset) and obj.ndim == 2 and obj.maxshape[0] is None:
            yield obj
        elif isinstance(obj, h5py.Group):
            yield from _row_sets(obj)


def verify_archive(path: str | os.PathLike) -> VerifyReport:
    """Check one archive completely; never raises for damage (it is in the report)."""
    path = pathlib.Path(path)
    unfinished = explain_partial(path)
    if not path.is_file():
        raise DataNotFoundError(unfinished or f"{path}: run archive not found")
    report = VerifyReport(path)
    if unfinished:
        report.damage.append(Damage("/", unfinished.removeprefix(f"{path}: ")))
        return report
    try:
        f = open_read(path)
    except OSError as exc:
        report.damage.append(Damage("/", f"not a readable HDF5 file ({' '.join(str(exc).split())[:120]})"))
        return report
    with f:
        try:
            header = _read_header(path, f)
        except MemlabError as exc:
            report.damage.append(Damage("/", str(exc).removeprefix(f"{path}: ")))
            return report
        report.schema_version = header["schema_version"]
        report.checksummed = header["schema_version"] >= CHECKSUMS_SINCE
        in_progress = header["status"] == "interrupted" and header["status_reason"] == IN_PROGRESS_REASON
        report.state = header["status"] + (" (writer never closed it)" if in_progress else "")
        try:
            _walk(f, report)
            _check_rows(f, report, header["status"], in_progress)
            if header["status"] == "complete" and not _text_attr(f, "end_utc"):
                report.damage.append(Damage("/@end_utc", "empty, but the run is complete"))
        except _DAMAGE as exc:
            report.damage.append(Damage("/", f"structure cannot be walked ({type(exc).__name__}: {exc})"))
    if report.intact:  # the reader's own checks: shapes, widths, counts, provenance JSON
        try:
            run = read_run(path)
            for _block in run.pulse_chunks():  # the waveforms too, a block of cycles at a time
                pass
            run.attrs  # noqa: B018
            for name in check_units(path):
                report.damage.append(Damage(name, "numeric dataset without a 'units' attribute"))
        except MemlabError as exc:
            report.damage.append(Damage("/", str(exc).removeprefix(f"{path}: ")))
    return report


def _text_attr(f: h5py.File, name: str) -> str:
    value = f.attrs.get(name, "")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
