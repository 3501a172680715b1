"""Keithley 4200 (Clarius) endurance summary CSV → per-cycle arrays.

The export holds two header rows (test name per column group, e.g.
``SET_negative#1``, then the formula names ``ILRS``, ``IHRS``, ``VSET`` ...),
one row per cycle and a few trailing rows of run information. Column groups
with no values are ignored. Clarius computes ``ILRS``/``IHRS`` as |I| at the
read voltage on the way back / out of each sweep (its formulas, kept in the
XLSX's Settings sheet, read at -0.2 V for ``../shared/data/external/keithley4200-endurance``),
so the read voltage is not in the CSV and must be given to get conductances.
"""

from __future__ import annotations

import array
import csv
import math
import pathlib
from dataclasses import dataclass

import numpy as np

from memlab.analysis.csv_long import text_lines
from memlab.errors import DataNotFoundError, ImportDataError


@dataclass(frozen=True, eq=False)
class EnduranceData:
    """Per cycle (NaN where a value is missing): currents in A at the read voltage, voltages in V."""

    cycle: np.ndarray
    set_i_lrs_A: np.ndarray
    set_i_hrs_A: np.ndarray
    v_set_V: np.ndarray
    reset_i_lrs_A: np.ndarray | None
    reset_i_hrs_A: np.ndarray | None
    v_reset_V: np.ndarray | None
    groups: tuple[str, ...]

    @property
    def i_lrs_A(self) -> np.ndarray:
        """The LRS of each cycle: read after its set."""
        return self.set_i_lrs_A

    @property
    def i_hrs_A(self) -> np.ndarray:
        """The HRS of each cycle: read after its reset (the set sweep's read before it when no reset group)."""
        return self.reset_i_hrs_A if self.reset_i_hrs_A is not None else self.set_i_hrs_A


def read_keithley_endurance_csv(path: str | pathlib.Path) -> EnduranceData:
    """Parse a Clarius endurance summary CSV; refusals name the file, row and column."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    rows = enumerate(csv.reader(text_lines(path)), start=1)  # a stream: 10^6 cycles are 10^6 rows
    head = [next(rows, (0, []))[1], next(rows, (0, []))[1]]
    if not head[0] or head[0][0].strip().lower() != "cycle" or not head[1]:
        raise ImportDataError(f"{path}: row 1 must start with 'Cycle' (a Clarius endurance summary export)")
    width = len(head[0])
    names = [(g.split("#")[0].strip(), n.strip()) for g, n in zip(head[0], head[1])]
    body = array.array("d")  # 8 bytes a value, row after row
    for r, row in rows:
        if not row or not row[0].strip().isdigit():
            break  # the trailing run information ("Subsite Name", "Total Cycles" ...)
        if len(row) > width:
            raise ImportDataError(f"{path}: row {r} has {len(row)} cells, the header {width}")
        for col, cell in enumerate(row + [""] * (width - len(row)), start=1):
            try:
                x = float(cell) if cell.strip() else math.nan
            except ValueError:
                raise ImportDataError(f"{path}: row {r}, column {col} ({names[col - 1][1]}): "
                                      f"{cell.strip()!r} is not a number") from None
            body.append(x)
    if not body:
        raise ImportDataError(f"{path}: no cycle rows below the two header rows")
    data = np.frombuffer(body, dtype=float).reshape(-1, width)
    columns: dict[str, dict[str, np.ndarray]] = {}
    for k, (group, name) in enumerate(names[1:], start=1):
        if np.isfinite(data[:, k]).any():
            columns.setdefault(group.upper().split("_")[0], {})[name.upper()] = data[:, k]
    if "SET" not in columns or not {"ILRS", "IHRS"} <= set(columns["SET"]):
        raise ImportDataError(f"{path}: no SET column group with ILRS and IHRS values (found {sorted(columns)})")
    s, rs = columns["SET"], columns.get("RESET", {})
    nan = np.full(data.shape[0], np.nan)
    return EnduranceData(cycle=data[:, 0], set_i_lrs_A=s["ILRS"], set_i_hrs_A=s["IHRS"], v_set_V=s.get("VSET", nan),
                         reset_i_lrs_A=rs.get("ILRS"), reset_i_hrs_A=rs.get("IHRS"), v_reset_V=rs.get("VRESET"),
                         groups=tuple(sorted(columns)))
