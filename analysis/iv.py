"""DC I-V sweeps: V_set / V_reset, HRS / LRS at the read voltage, on/off ratio, forming.

Pure: (sweeps, points) arrays in, a frozen :class:`IVResult` out. Works on sweeps
measured here (``memlab measure`` with an I-V protocol: 0 → +stop → 0 → −stop → 0)
and on imported ones (Keithley 4200 XLSX: 0 → −2.5 V → 0 per sheet).

Each sweep is cut into *excursions*: runs of one voltage polarity, each going
out from 0 V to its turning point and back. At the read voltage (same polarity
as the excursion) the conductance is taken on the way out and on the way back
(linear interpolation of I in V, G = I / V). An excursion **sets** the device
when the conductance on the way back exceeds the one on the way out by more
than ``min_change`` (× 1.2 by default), and **resets** it when it falls below
it by as much. The switching voltage is where the current steps most on the
way out (up for a set, down for a reset), the convention of Keithley's Clarius
formulas (``VSET = AT(AV, MAXPOS(DELTA(ABS(AI))))``). Per sweep, the LRS is the
highest and the HRS the lowest read conductance of its legs, and the on/off
ratio is LRS / HRS.

**Forming**: the first sweep is a forming sweep when its set voltage lies
above the later sweeps' median by more than 3 robust σ (1.4826 × MAD) and
0.1 V, or when its pristine read conductance is below a tenth of the later
sweeps' median HRS. A forming sweep is left out of the V_set statistics.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError

DEFAULT_READ_V = 0.1
DEFAULT_MIN_CHANGE = 1.2


@dataclass(frozen=True)
class Excursion:
    """One polarity's excursion of a sweep: out from 0 V to ``stop_V`` and back."""

    polarity: int
    stop_V: float
    g_out_S: float  # read conductance on the way out (NaN: read voltage not reached)
    g_back_S: float
    switch: str  # "set", "reset" or "" (no switching beyond min_change)
    v_switch_V: float  # where the current steps most on the way out (NaN when no switch)


@dataclass(frozen=True, eq=False)
class IVResult:
    """Per sweep (arrays of length ``n_sweeps``, NaN where not found) and the forming sweep."""

    read_voltage_V: float
    excursions: tuple[tuple[Excursion, ...], ...]
    v_set_V: np.ndarray
    v_reset_V: np.ndarray
    g_lrs_S: np.ndarray
    g_hrs_S: np.ndarray
    forming_sweep: int | None
    forming_V: float | None

    @property
    def n_sweeps(self) -> int:
        return len(self.excursions)

    @property
    def on_off_ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.g_lrs_S / self.g_hrs_S

    def cycling(self, values: np.ndarray) -> np.ndarray:
        """``values`` without the forming sweep (what the statistics use)."""
        keep = np.ones(self.n_sweeps, bool)
        if self.forming_sweep is not None:
            keep[self.forming_sweep] = False
        return values[keep]


def _runs(sign: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of one non-zero sign (zeros belong to no run)."""
    out, start = [], None
    for k, s in enumerate(sign):
        if start is not None and s != sign[start]:
            out.append((start, k))
            start = None
        if start is None and s != 0:
            start = k
    if start is not None:
        out.append((start, len(sign)))
    return out


def _read_g(v: np.ndarray, i: np.ndarray, v_read: float) -> float:
    """I / V at the read voltage on one leg (|V| monotonic); NaN when the leg does not reach it."""
    a = np.abs(v)
    if a.size < 2 or not a.min() <= v_read <= a.max():
        return np.nan
    order = np.argsort(a, kind="stable")
    return float(np.interp(v_read, a[order], np.abs(i[order])) / v_read)


def _excursion(v: np.ndarray, i: np.ndarray, polarity: int, v_read: float, min_change: float) -> Excursion:
    turn = int(np.argmax(np.abs(v)))
    # the legs share the 0 V neighbours: a sweep point at 0 V belongs to both legs
    out_v, out_i = v[:turn + 1], i[:turn + 1]
    back_v, back_i = v[turn:], i[turn:]
    g_out, g_back = _read_g(out_v, out_i, v_read), _read_g(back_v, back_i, v_read)
    switch, v_sw = "", np.nan
    if np.isfinite(g_out) and np.isfinite(g_back) and g_out > 0 and g_back > 0:
        if g_back > g_out * min_change:
            switch = "set"
        elif g_back * min_change < g_out:
            switch = "reset"
    if switch and out_i.size >= 2:
        step = np.diff(np.abs(out_i))
        k = int(np.argmax(step) if switch == "set" else np.argmin(step)) + 1
        v_sw = float(out_v[k])
    return Excursion(polarity, float(v[turn]), g_out, g_back, switch, v_sw)


def _robust_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else np.nan


def _forming(v_set: np.ndarray, g_pristine: float, g_hrs: np.ndarray) -> int | None:
    later = np.abs(v_set[1:][np.isfinite(v_set[1:])])
    if v_set.size < 3 or later.size < 2:
        return None
    first = abs(v_set[0])
    median = float(np.median(later))
    if np.isfinite(first) and first > median + max(3 * _robust_sigma(later), 0.1):
        return 0
    hrs = g_hrs[1:][np.isfinite(g_hrs[1:])]
    if np.isfinite(g_pristine) and hrs.size and g_pristine < 0.1 * float(np.median(hrs)):
        return 0
    return None


def iv_analysis(voltage_V: np.ndarray, current_A: np.ndarray, status: np.ndarray | None = None, *,
                read_voltage_V: float = DEFAULT_READ_V, min_change: float = DEFAULT_MIN_CHANGE) -> IVResult:
    """Analyse (sweeps, points) I-V data; points that are NaN or flagged MISSING/OVERFLOW are skipped.

    ``read_voltage_V`` (> 0, a magnitude) is taken with each excursion's polarity.
    """
    v_all, i_all = np.atleast_2d(np.asarray(voltage_V, float)), np.atleast_2d(np.asarray(current_A, float))
    if v_all.shape != i_all.shape:
        raise ConfigError(f"I-V: voltage {v_all.shape} and current {i_all.shape} differ in shape")
    if not (np.isfinite(read_voltage_V) and read_voltage_V > 0):
        raise ConfigError(f"read_voltage_V = {read_voltage_V}: must be > 0 (a magnitude)")
    if not min_change > 1:
        raise ConfigError(f"min_change = {min_change}: must be > 1")
    bad = ~(np.isfinite(v_all) & np.isfinite(i_all))
    if status is not None:
        from memlab.status import PointStatus

        bad |= (np.asarray(status).astype(np.int64) & int(PointStatus.MISSING | PointStatus.OVERFLOW)) != 0
    sweeps, v_set, v_reset, lrs, hrs = [], [], [], [], []
    for v_row, i_row, bad_row in zip(v_all, i_all, bad):
        v, i = v_row[~bad_row], i_row[~bad_row]
        exc = tuple(_excursion(v[a:b], i[a:b], int(np.sign(v[a])), read_voltage_V, min_change)
                    for a, b in _runs(np.sign(np.where(np.abs(v) < 1e-12, 0.0, v))) if b - a >= 2)
        sweeps.append(exc)
        sets = [e.v_switch_V for e in exc if e.switch == "set"]
        resets = [e.v_switch_V for e in exc if e.switch == "reset"]
        v_set.append(sets[0] if sets else np.nan)
        v_reset.append(resets[0] if resets else np.nan)
        reads = np.array([g for e in exc for g in (e.g_out_S, e.g_back_S) if np.isfinite(g)])
        lrs.append(reads.max() if reads.size else np.nan)
        hrs.append(reads.min() if reads.size else np.nan)
    if not sweeps or not any(sweeps):
        raise ConfigError(f"I-V: no sweep holds an excursion of >= 2 points (shape {v_all.shape})")
    v_set_a, hrs_a = np.array(v_set), np.array(hrs)
    pristine = sweeps[0][0].g_out_S if sweeps[0] else np.nan
    forming = _forming(v_set_a, pristine, hrs_a)
    return IVResult(float(read_voltage_V), tuple(sweeps), v_set_a, np.array(v_reset), np.array(lrs), hrs_a,
                    forming, None if forming is None else float(v_set_a[forming]))


def mean_std(values: np.ndarray) -> tuple[float, float] | None:
    """(mean, sample std) of the finite values; None when there are none (std 0 for one value)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if not x.size:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0
