"""Long-format CSV (one row per read: cycle, pulse, value[, branch]) read as a stream.

Such files run to millions of rows. The file is read a block of text at a time
(lines split exactly as ``str.splitlines`` splits the whole text), each row is
checked as it comes, and the values are kept in compact arrays (8 bytes per
number, not a Python list of strings per row), so memory is ~25 bytes a row
plus the (cycles, pulses) grid the run archive holds anyway.
"""

from __future__ import annotations

import array
import csv
import pathlib
from typing import Iterator

import numpy as np

from memlab.errors import DataNotFoundError, ImportDataError

_TEXT_BLOCK = 1 << 20  # characters read at a time
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
BRANCHES = {"up": "potentiation", "potentiation": "potentiation", "down": "depression", "depression": "depression"}


def text_lines(path: pathlib.Path) -> Iterator[str]:
    """The lines of the file without their endings, as ``read_text().splitlines()`` gives them."""
    carry = ""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            while block := f.read(_TEXT_BLOCK):
                parts = (carry + block).splitlines(keepends=True)
                carry = parts.pop() if parts and (parts[-1][-1] not in _BREAKS or parts[-1][-1] == "\r") else ""
                for line in parts:
                    yield line.rstrip(_BREAKS)
    except UnicodeDecodeError as exc:
        raise ImportDataError(f"{path}: not a text CSV file ({exc.reason} at byte {exc.start})") from None
    if carry:
        yield from carry.splitlines()


def iter_rows(path: pathlib.Path) -> Iterator[tuple[int, list[str]]]:
    """(row number from 1, cells) of each CSV row, trailing blank rows dropped; an empty file is refused."""
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    blank: list[tuple[int, list[str]]] = []  # blank rows are data rows only if something follows them
    seen = False
    for i, row in enumerate(csv.reader(text_lines(path)), start=1):
        if not any(c.strip() for c in row):
            blank.append((i, row))
            continue
        yield from blank
        blank.clear()
        seen = True
        yield i, row
    if not seen:
        raise ImportDataError(f"{path}: file is empty")


def parse_long(path: pathlib.Path) -> dict[str, tuple]:
    """Per branch ("all" without a branch column): (grid, locate), as the grid layouts give."""
    from memlab.analysis.importers import _is_header, _number

    rows = iter_rows(path)
    _, first = next(rows)
    if not _is_header(first, path):
        raise ImportDataError(f"{path}: row 1: a long-format CSV needs a header naming cycle, pulse, value")
    head = [h.strip().lower() for h in first]
    cols = {}
    for key in ("cycle", "pulse", "value", "branch"):
        if key in head:
            cols[key] = head.index(key)
        elif key != "branch":
            raise ImportDataError(f"{path}: row 1: header has no {key!r} column (found {first})")
    names = sorted(set(BRANCHES.values())) if "branch" in cols else ["all"]
    cyc, pul, val, br = array.array("q"), array.array("q"), array.array("d"), array.array("b")
    for i, r in rows:
        if len(r) < len(head):
            raise ImportDataError(f"{path}: row {i}: {len(r)} cells, the header has {len(head)}")
        for key, out in (("cycle", cyc), ("pulse", pul)):
            v = _number(r[cols[key]], path, i, cols[key] + 1, f" ({key})")
            if v != int(v):
                raise ImportDataError(f"{path}: row {i}, column {cols[key] + 1} ({key}): {v} is not an integer")
            if abs(v) >= 2**53:  # beyond what a float counts exactly: no cycle or pulse number
                raise ImportDataError(f"{path}: row {i}, column {cols[key] + 1} ({key}): {v:g} is out of range "
                                      f"(|{key}| < 2**53)")
            out.append(int(v))
        val.append(_number(r[cols["value"]], path, i, cols["value"] + 1, " (value)"))
        if "branch" in cols:
            b = r[cols["branch"]].strip().lower()
            if b not in BRANCHES:
                raise ImportDataError(f"{path}: row {i}, column {cols['branch'] + 1} (branch): {b!r} is not one of "
                                      "up, down, potentiation, depression")
            br.append(names.index(BRANCHES[b]))
        else:
            br.append(0)
    if not val:
        raise ImportDataError(f"{path}: no data rows below the header")
    c, p, v, b = (np.frombuffer(a, dtype=t) for a, t in ((cyc, np.int64), (pul, np.int64), (val, float),
                                                          (br, np.int8)))
    out = {}
    for code in np.unique(b):
        out[names[code]] = _grid(path, c, p, v, b == code, "" if names[code] == "all" else names[code])
    return out


def _grid(path: pathlib.Path, c: np.ndarray, p: np.ndarray, v: np.ndarray, mask: np.ndarray, branch: str) -> tuple:
    """One branch's (cycles, pulses) grid and ``locate``; refuses repeats and absurd pulse numbers."""
    rows = np.flatnonzero(mask)  # file row = index + 2 (the header is row 1; no blank rows inside)
    c, p, v = c[rows], p[rows], v[rows]
    keys = np.stack([c, p], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    if first.size < rows.size:
        repeat = np.setdiff1d(np.arange(rows.size), first)[0]
        raise ImportDataError(f"{path}: row {rows[repeat] + 2}: cycle {c[repeat]}, pulse {p[repeat]} appears twice")
    cyc = np.unique(c)
    p0, p1 = int(p.min()), int(p.max())
    # Cycles are labels (gaps are dropped), but pulses index a dense grid: a few
    # entries with absurd pulse numbers must not allocate terabytes.
    if cyc.size * (p1 - p0 + 1) > max(16 * rows.size, 1_000_000):
        raise ImportDataError(f"{path}: pulses numbered {p0} .. {p1} for only {rows.size} values"
                              f"{' (' + branch + ')' if branch else ''}: pulse numbers must count "
                              "the pulses of a cycle (1, 2, 3, ...)")
    grid = np.full((cyc.size, p1 - p0 + 1), np.nan)
    grid[np.searchsorted(cyc, c), p - p0] = v
    labels = cyc.tolist()
    return grid, lambda i, j: f"cycle {labels[i]}, pulse {j + p0}"
