"""Keithley 4200 (Clarius) XLSX exports: I-V sweeps, one sheet per sweep, into an ``iv_sweep`` archive.

Read with openpyxl in read-only mode (rows stream; a sweep's values are packed
as they come), after :func:`check_xlsx_size` has refused a workbook whose zip
members would decompress beyond the limit. Re-exported by :mod:`.importers`.
"""

from __future__ import annotations

import array
import math
import os
import pathlib
import re

import numpy as np

from memlab.errors import DataNotFoundError, ImportDataError
from memlab.files import sha256_file
from memlab.status import PointStatus

MISSING = np.uint16(PointStatus.MISSING)
_RUN_SHEET = re.compile(r"^\D*(\d+)$")


MAX_XLSX_ENV = "MEMLAB_MAX_XLSX_MB"
DEFAULT_MAX_XLSX_B = 512 * 10**6
"""What an XLSX workbook may decompress to (a Clarius export of thousands of sweeps is tens of MB)."""
MAX_XLSX_MEMBERS = 10_000


def check_xlsx_size(path: pathlib.Path) -> None:
    """Refuse an XLSX (a zip archive) whose members would decompress beyond the limit, before any parsing.

    The sizes come from the zip's central directory; Python's zipfile never
    inflates a member past its declared size (it fails the CRC instead), so the
    declared total bounds what openpyxl can read. The limit is
    ``$MEMLAB_MAX_XLSX_MB`` megabytes (default 512) for a file the user trusts.
    """
    import zipfile

    limit = DEFAULT_MAX_XLSX_B
    if os.environ.get(MAX_XLSX_ENV):
        try:
            limit = int(float(os.environ[MAX_XLSX_ENV]) * 10**6)
        except ValueError:
            raise ImportDataError(f"{MAX_XLSX_ENV}={os.environ[MAX_XLSX_ENV]!r}: must be a number of megabytes") \
                from None
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportDataError(f"{path}: not a readable XLSX workbook (not a zip archive: {exc})") from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise ImportDataError(f"{path}: {len(members)} members in the workbook, more than the "
                              f"{MAX_XLSX_MEMBERS} an export holds (refused before parsing)")
    total = sum(m.file_size for m in members)
    if total > limit:
        biggest = max(members, key=lambda m: m.file_size)
        raise ImportDataError(f"{path}: decompresses to {total / 1e6:,.0f} MB ({biggest.filename}: "
                              f"{biggest.file_size / 1e6:,.0f} MB from {biggest.compress_size / 1e6:,.3f} MB), "
                              f"above the {limit / 1e6:,.0f} MB limit; refused before parsing (raise it with "
                              f"{MAX_XLSX_ENV}=<MB> if the file is yours)")


def read_keithley_xlsx(path: str | pathlib.Path, current_column: str = "AI", voltage_column: str = "AV"):
    """I-V sweeps of a Clarius XLSX export: one sheet per sweep with named columns → IVData.

    Sheets without both columns in their first row (Calc, Settings) are skipped;
    sweeps are ordered by the number in the sheet name (Run1, Run2, ...).
    """
    import openpyxl
    from memlab.protocols.archive import IVData

    path = pathlib.Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    check_xlsx_size(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a non-XLSX file
        raise ImportDataError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    sweeps: list[tuple[int, str, np.ndarray, np.ndarray]] = []
    try:
        for order, name in enumerate(wb.sheetnames):
            rows = wb[name].iter_rows(values_only=True)
            head = next(rows, None)
            if not head or current_column not in head or voltage_column not in head:
                continue
            ci, vi = head.index(current_column), head.index(voltage_column)
            cur, volt = array.array("d"), array.array("d")  # read_only rows: a stream, 8 bytes a value
            for r, row in enumerate(rows, start=2):
                cells = [row[ci] if ci < len(row) else None, row[vi] if vi < len(row) else None]
                if cells[0] is None and cells[1] is None:
                    break  # end of this sweep
                for cell, col, lst in ((cells[0], ci, cur), (cells[1], vi, volt)):
                    if not isinstance(cell, (int, float)) or isinstance(cell, bool) or not math.isfinite(cell):
                        raise ImportDataError(f"{path}: sheet {name!r}, row {r}, column {col + 1} "
                                              f"({head[col]}): {cell!r} is not a number")
                    lst.append(float(cell))
            m = _RUN_SHEET.match(name)
            sweeps.append((int(m.group(1)) if m else 10**9 + order, name, np.frombuffer(volt, dtype=float),
                           np.frombuffer(cur, dtype=float)))
    finally:
        wb.close()
    if not sweeps:
        raise ImportDataError(f"{path}: no sheet has both a {voltage_column!r} and a {current_column!r} "
                              "column in its first row (use --voltage-column/--current-column)")
    sweeps.sort(key=lambda s: s[0])
    width = max(s[2].size for s in sweeps)
    if width < 2:
        raise ImportDataError(f"{path}: sweeps hold fewer than 2 points")
    v = np.full((len(sweeps), width), np.nan)
    i = np.full_like(v, np.nan)
    for k, (_, _, vv, ii) in enumerate(sweeps):
        v[k, :vv.size], i[k, :ii.size] = vv, ii
    status = np.where(np.isfinite(v), 0, MISSING).astype(np.uint16)
    return IVData(voltage_V=v, current_A=i, status=status), [s[1] for s in sweeps]


def import_keithley_xlsx(path: str | pathlib.Path, out: str | pathlib.Path, *, current_column: str = "AI",
                         voltage_column: str = "AV", device_id: str | None = None, overwrite: bool = False) -> str:
    """Write the XLSX's I-V sweeps as an ``iv_sweep`` archive (protocol marked imported); returns the UUID."""
    from memlab.protocols.archive import write_archive

    path = pathlib.Path(path)
    iv, sheets = read_keithley_xlsx(path, current_column, voltage_column)
    protocol = {"imported": True, "format": "keithley4200-xlsx", "current_column": current_column,
                "voltage_column": voltage_column, "sheets": sheets}
    attrs = {"source_files": [{"role": "iv", "name": path.name, "sha256": sha256_file(path)}],
             "source_file": path.name, "source_sha256": sha256_file(path)}
    if device_id:
        attrs["device_id"] = device_id
    return write_archive(out, kind="iv_sweep", protocol=protocol, attrs=attrs, iv=iv, overwrite=overwrite)
