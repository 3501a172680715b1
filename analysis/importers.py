"""Import foreign measurement files into memlab run archives.

Formats (``layout``):

* ``columns``: CSV, one column per cycle, one row per pulse; one file per
  branch (potentiation, depression). Columns may be ragged: only trailing
  cells of a column may be empty (CrossSim's ``set.csv``/``reset.csv``).
* ``rows``: CSV, one row per cycle, one column per pulse; one file per branch;
  rows may end early.
* ``long``: CSV with a header naming ``cycle``, ``pulse``, ``value`` and
  optionally ``branch`` (up/down, potentiation/depression); without a branch
  column, one file per branch.
* ``branch-columns``: CSV with exactly two columns, potentiation then
  depression, one cycle (aihwkit's pulse-response files, e.g. Gong 2018).
* Keithley 4200 (Clarius) XLSX: :func:`import_keithley_xlsx`, I-V sweeps, one
  sheet per sweep, into an ``iv_sweep`` archive (:mod:`.keithley_xlsx`, re-exported here).

Values are ``current`` (needs the read voltage), ``conductance``,
``resistance`` or ``unitless``. A unitless (normalised) trace carries no
physical scale, so it is refused unless ``scale_S`` (and usually
``offset_S``) map it to conductance: G = offset_S + scale_S × value. The
numbers then describe the *shape* of the device's response only.

Every refusal is an :class:`ImportDataError` naming the file, row and column
(1-based, as a spreadsheet shows them).
"""

from __future__ import annotations

import itertools
import math
import pathlib
from dataclasses import dataclass

import numpy as np

from memlab.analysis.csv_long import iter_rows, parse_long
from memlab.analysis.keithley_xlsx import (  # noqa: F401 - the XLSX importer, re-exported
    DEFAULT_MAX_XLSX_B, MAX_XLSX_ENV, MAX_XLSX_MEMBERS, check_xlsx_size, import_keithley_xlsx, read_keithley_xlsx)
from memlab.errors import ConfigError, ImportDataError
from memlab.files import sha256_file
from memlab.status import PointStatus

LAYOUTS = ("columns", "rows", "long", "branch-columns")
UNITS = {
    "current": {"A": 1.0, "mA": 1e-3, "uA": 1e-6, "µA": 1e-6, "nA": 1e-9, "pA": 1e-12},
    "conductance": {"S": 1.0, "mS": 1e-3, "uS": 1e-6, "µS": 1e-6, "nS": 1e-9},
    "resistance": {"ohm": 1.0, "kohm": 1e3, "Mohm": 1e6, "Gohm": 1e9},
    "unitless": {"1": 1.0},
}
MISSING = np.uint16(PointStatus.MISSING)


@dataclass(frozen=True)
class ImportSpec:
    """How to read the values of a foreign file (SI after ``unit`` scaling)."""

    layout: str = "columns"
    quantity: str = "current"
    unit: str | None = None  # default: the SI unit of the quantity
    read_voltage_V: float | None = None
    scale_S: float | None = None  # unitless only
    offset_S: float = 0.0  # unitless only

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigError(f"layout = {self.layout!r}; allowed: {', '.join(LAYOUTS)}")
        if self.quantity not in UNITS:
            raise ConfigError(f"quantity = {self.quantity!r}; allowed: {', '.join(UNITS)}")
        if self.unit is not None and self.unit not in UNITS[self.quantity]:
            raise ConfigError(f"unit = {self.unit!r} does not fit quantity {self.quantity!r}; "
                              f"allowed: {', '.join(UNITS[self.quantity])}")
        if self.quantity == "current" and (self.read_voltage_V is None or self.read_voltage_V == 0
                                           or not math.isfinite(self.read_voltage_V)):
            raise ConfigError(f"read_voltage_V = {self.read_voltage_V}: values given as current need the "
                              "(non-zero) read voltage, e.g. --read-voltage 0.1")
        if self.quantity == "unitless" and (self.scale_S is None or not self.scale_S > 0):
            raise ConfigError("values are unitless (normalised): memlab cannot guess a conductance scale; "
                              "give --scale-S (> 0) and --offset-S so that G = offset + scale * value")

    @property
    def factor(self) -> float:
        return UNITS[self.quantity][self.unit] if self.unit else 1.0


# --------------------------------------------------------------------------- CSV parsing


def _number(cell: str, path: pathlib.Path, row: int, col: int, name: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ImportDataError(f"{path}: row {row}, column {col}{name}: {cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ImportDataError(f"{path}: row {row}, column {col}{name}: {cell.strip()!r} is not a finite number")
    return value


def _is_header(row: list[str], path: pathlib.Path) -> bool:
    """Whether the first row names columns: every filled cell text, none a number.

    A row mixing numbers and text is refused: taking it for a header would
    silently drop a row of data that merely holds a typo.
    """
    text, numbers = [], 0
    for j, c in enumerate(row):
        c = c.strip()
        if c:
            try:
                float(c)
                numbers += 1
            except ValueError:
                text.append((j, c))
    if text and numbers:
        j, c = text[0]
        raise ImportDataError(f"{path}: row 1, column {j + 1}: {c!r} is not a number, yet other cells of the "
                              "row are (a header row must be all names, a data row all numbers)")
    return bool(text)


_ROWS_PER_BLOCK = 4096  # CSV rows parsed before they are packed into one float block


def _grid(path: pathlib.Path, ragged: str):
    """(cycles, pulses) grid (NaN where empty) of a CSV and ``locate(c, p)``, the cell's "row R, column C".

    ``ragged`` = "columns": one column per cycle, only trailing cells of each
    column may be empty; "rows": one row per cycle, likewise per row.

    The file is read as a stream (:func:`memlab.analysis.csv_long.iter_rows`)
    and each row's numbers packed into blocks of floats as they come, so memory
    is the 8 bytes a cell of the grid itself, not the text of millions of rows.
    """
    rows = iter_rows(path)
    i0, first_row = next(rows)
    header = first_row if _is_header(first_row, path) else []
    names = [f" ({h.strip()})" if h.strip() else "" for h in header]
    first = 2 if header else 1
    blocks: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    width = len(header)

    def parse(i: int, r: list[str]) -> np.ndarray:
        if header and len(r) > len(header):
            raise ImportDataError(f"{path}: row {i} has {len(r)} cells, the header only {len(header)}")
        out = np.full(len(r), np.nan)
        for j, cell in enumerate(r):
            if cell.strip():
                out[j] = _number(cell, path, i, j + 1, names[j] if header else "")
        return out

    def pack() -> None:
        w = max(a.size for a in pending)
        block = np.full((len(pending), w), np.nan)
        for k, a in enumerate(pending):
            block[k, :a.size] = a
        blocks.append(block)
        pending.clear()

    body = rows if header else itertools.chain([(i0, first_row)], rows)
    for i, r in body:
        pending.append(parse(i, r))
        width = max(width, pending[-1].size)
        if len(pending) == _ROWS_PER_BLOCK:
            pack()
    if pending:
        pack()
    if not blocks:
        raise ImportDataError(f"{path}: no data rows below the header")
    grid = np.full((sum(b.shape[0] for b in blocks), width), np.nan)
    at = 0
    for b in blocks:
        grid[at:at + b.shape[0], :b.shape[1]] = b
        at += b.shape[0]
    del blocks
    axis = 0 if ragged == "columns" else 1
    filled = _filled_without_holes(grid, axis, path, first)
    if not filled.any():
        raise ImportDataError(f"{path}: holds no numbers")
    cycle_at = np.flatnonzero(filled.any(axis=axis))  # cycles with no value at all are dropped
    if axis == 0:
        return grid[:, cycle_at].T, lambda c, p: f"row {first + p}, column {cycle_at[c] + 1}"
    return grid[cycle_at, :], lambda c, p: f"row {first + cycle_at[c]}, column {p + 1}"


def _filled_without_holes(grid: np.ndarray, axis: int, path: pathlib.Path, first: int) -> np.ndarray:
    """Where ``grid`` holds a number; ImportDataError at the first hole, an empty cell with a value
    after it along the cycle's ``axis`` (0: one column per cycle), named by its row and column."""
    filled = np.isfinite(grid)
    later = np.flip(np.logical_or.accumulate(np.flip(filled, axis=axis), axis=axis), axis=axis)
    holes = np.argwhere(~filled & later)
    if holes.size:
        i, j = holes[0]
        raise ImportDataError(f"{path}: row {first + i}, column {j + 1}: empty cell inside a "
                              f"{'column' if axis == 0 else 'row'} (only trailing cells may be empty)")
    return filled


# --------------------------------------------------------------------------- to PulseData


def _to_si(parsed: tuple, spec: ImportSpec, path: pathlib.Path) -> np.ndarray:
    """Values → A (current) or S; refuses non-physical values naming where they are."""
    grid, locate = parsed
    v = grid * spec.factor
    if spec.quantity == "current":
        bad = np.isfinite(v) & (v / spec.read_voltage_V < 0)
        what = "current of the opposite sign to the read voltage (negative conductance)"
    elif spec.quantity == "resistance":
        bad = np.isfinite(v) & (v <= 0)
        what = "resistance <= 0"
        with np.errstate(divide="ignore"):
            v = 1.0 / v
    else:
        if spec.quantity == "unitless":
            v = spec.offset_S + spec.scale_S * grid
        bad = np.isfinite(v) & (v < 0)
        what = "negative conductance"
    if bad.any():
        c, p = np.argwhere(bad)[0]
        raise ImportDataError(f"{path}: {locate(c, p)}: {grid[c, p]:g} gives {what}")
    return v


def _pad(a: np.ndarray, cycles: int, pulses: int) -> np.ndarray:
    return np.pad(a, ((0, cycles - a.shape[0]), (0, pulses - a.shape[1])), constant_values=np.nan)


def pulse_data_from_branches(up: np.ndarray, down: np.ndarray, spec: ImportSpec, source: str = ""):
    """PulseData from (cycles, pulses) branch values already in SI (A or S); NaN = missing.

    ``source`` (the file names) prefixes refusals.
    """
    from memlab.protocols.archive import PulseData

    for name, a in (("potentiation", up), ("depression", down)):
        if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] < 1:
            raise ImportDataError(f"{source + ': ' if source else ''}{name}: need at least one cycle of at least "
                                  f"2 pulses, got {a.shape[0]} cycle(s) of {a.shape[1] if a.ndim == 2 else 0}")
    cycles = max(up.shape[0], down.shape[0])
    vals = np.hstack([_pad(up, cycles, up.shape[1]), _pad(down, cycles, down.shape[1])])
    n_up, n_down = up.shape[1], down.shape[1]
    status = np.where(np.isfinite(vals), 0, MISSING).astype(np.uint16)
    v_read = spec.read_voltage_V if spec.read_voltage_V is not None else np.nan
    volt = np.where(np.isfinite(vals), v_read, np.nan)
    if spec.quantity == "current":
        current, g = vals, None
    else:
        g = vals
        current = vals * v_read  # NaN when the read voltage is unknown
    nan = np.full(n_up + n_down, np.nan)  # pulse amplitudes and widths are not in the files
    return PulseData(n_up=n_up, n_down=n_down, pulse_amplitude_V=nan, pulse_width_s=nan.copy(),
                     read_time_s=np.full(vals.shape, np.nan), read_voltage_V=volt, read_current_A=current,
                     read_status=status, read_conductance_S=g, waveform=None)


def read_pulse_files(spec: ImportSpec, up: str | pathlib.Path | None = None, down: str | pathlib.Path | None = None,
                     file: str | pathlib.Path | None = None) -> tuple:
    """Parse the files into a PulseData; returns (pulses, [(role, path), ...])."""
    sources: list[tuple[str, pathlib.Path]] = []
    if spec.layout in ("columns", "rows") or (spec.layout == "long" and file is None):
        if file is not None:
            raise ConfigError(f"layout {spec.layout!r} reads one file per branch (--up, --down), not FILE")
        if up is None or down is None:
            raise ConfigError(f"layout {spec.layout!r} needs one file per branch: --up FILE and --down FILE")
        branches = {}
        for role, p in (("potentiation", up), ("depression", down)):
            p = pathlib.Path(p)
            sources.append((role, p))
            if spec.layout == "long":
                got = parse_long(p)
                if set(got) != {"all"}:
                    raise ImportDataError(f"{p}: has a branch column; pass it alone as the file")
                parsed = got["all"]
            else:
                parsed = _grid(p, spec.layout)
            branches[role] = _to_si(parsed, spec, p)
        pulses = pulse_data_from_branches(branches["potentiation"], branches["depression"], spec,
                                          f"{sources[0][1]} / {sources[1][1]}")
    else:
        if file is None:
            raise ConfigError(f"layout {spec.layout!r} reads one file: pass it as FILE")
        p = pathlib.Path(file)
        sources.append(("both", p))
        if spec.layout == "long":
            got = parse_long(p)
            if set(got) != {"potentiation", "depression"}:
                raise ImportDataError(f"{p}: a single long-format file needs a branch column with both up and "
                                      f"down rows (found {sorted(got)})")
            up_g, down_g = (_to_si(got[b], spec, p) for b in ("potentiation", "depression"))
        else:
            parsed = _grid(p, "columns")  # the 2 columns parse as 2 "cycles"
            if parsed[0].shape[0] != 2:
                raise ImportDataError(f"{p}: branch-columns layout needs exactly 2 columns (up, down), "
                                      f"found {parsed[0].shape[0]}")
            si = _to_si(parsed, spec, p)
            up_g, down_g = si[:1], si[1:]
        pulses = pulse_data_from_branches(up_g, down_g, spec, str(p))
    return pulses, sources


def import_pulses(spec: ImportSpec, out: str | pathlib.Path, *, up=None, down=None, file=None,
                  device_id: str | None = None, overwrite: bool = False) -> str:
    """Parse foreign pulse data and write an ``imported_pulse_cycling`` archive; returns its UUID."""
    from memlab.protocols.archive import write_pulse_archive

    pulses, sources = read_pulse_files(spec, up, down, file)
    protocol = {"imported": True, "format": f"csv-{spec.layout}", "quantity": spec.quantity,
                "unit": spec.unit or next(iter(UNITS[spec.quantity])), "read_voltage_V": spec.read_voltage_V,
                "files": {role: p.name for role, p in sources}}
    if spec.quantity == "unitless":
        protocol |= {"scale_S": spec.scale_S, "offset_S": spec.offset_S,
                     "note": "normalised data mapped to conductance with a user-given scale and offset"}
    attrs = {"source_files": [{"role": role, "name": p.name, "sha256": sha256_file(p)} for role, p in sources],
             "source_file": sources[0][1].name, "source_sha256": sha256_file(sources[0][1])}
    if device_id:
        attrs["device_id"] = device_id
    return write_pulse_archive(out, pulses, protocol, attrs, overwrite=overwrite)
