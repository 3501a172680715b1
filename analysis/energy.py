"""Programming energy from raw waveforms: E = ∫ V·I dt over each pulse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError

SOURCES = ("measured", "applied_waveform")


@dataclass(frozen=True, eq=False)
class Energy:
    """Energy per pulse (cycles, pulses) and per cycle (cycles,) in J.

    ``source`` is ``"measured"`` when V and I were both measured,
    ``"applied_waveform"`` when V is the programmed waveform (I measured).
    Cycles with any non-finite sample in a pulse give NaN for that pulse and
    are left out of the statistics. An analysis that reads the cycles in
    blocks keeps no ``per_pulse_J`` (None) but its merged ``pulse_stats_J``
    (mean, sample σ over every finite pulse energy) and ``by_pulse_stats_J``
    (per pulse of the cycle: mean, sample σ, count of finite values).
    """

    per_pulse_J: np.ndarray | None
    per_cycle_J: np.ndarray
    source: str
    pulse_stats_J: tuple[float, float] | None = None
    by_pulse_stats_J: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def by_pulse_J(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Per pulse of the cycle: mean and sample σ (ddof 1; NaN under 2 values) of its energy over
        the cycles, and the number of cycles with a finite value; None when neither is kept."""
        if self.per_pulse_J is None:
            return self.by_pulse_stats_J
        e = np.asarray(self.per_pulse_J, dtype=float)
        ok = np.isfinite(e)
        n = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, e, 0.0).sum(axis=0) / n
            d = np.where(ok, e - mean, 0.0)
            sigma = np.where(n >= 2, np.sqrt((d * d).sum(axis=0) / np.maximum(n - 1, 1)), np.nan)
        return np.where(n > 0, mean, np.nan), sigma, n

    def _stat(self, a: np.ndarray) -> tuple[float, float]:
        a = a[np.isfinite(a)]
        if a.size == 0:
            return float("nan"), float("nan")
        return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0

    @property
    def cycle_mean_std_J(self) -> tuple[float, float]:
        return self._stat(self.per_cycle_J)

    @property
    def pulse_mean_std_J(self) -> tuple[float, float]:
        if self.per_pulse_J is None:
            return self.pulse_stats_J if self.pulse_stats_J is not None else (float("nan"), float("nan"))
        return self._stat(self.per_pulse_J.ravel())


def _runs(pulse_index: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, first, stop) of each run of equal, non-negative pulse_index."""
    edges = np.flatnonzero(np.diff(pulse_index)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [pulse_index.size]])
    return [(int(pulse_index[a]), int(a), int(b)) for a, b in zip(starts, stops) if pulse_index[a] >= 0]


def pulse_energy(time_s: np.ndarray, voltage_V: np.ndarray, current_A: np.ndarray,
                 pulse_index: np.ndarray, n_pulses: int | None = None, measured: bool = True) -> Energy:
    """Trapezoidal ∫V·I dt over the samples of each programming pulse.

    ``time_s`` and ``pulse_index`` are (samples,) shared by all cycles;
    ``voltage_V`` and ``current_A`` (cycles, samples). Samples with
    ``pulse_index`` -1 (reads, idle) are not programming energy.
    """
    t = np.asarray(time_s, dtype=float)
    idx = np.asarray(pulse_index).astype(np.int64)
    v = np.asarray(voltage_V)
    i = np.asarray(current_A)
    if v.ndim == 1:
        v, i = v[None, :], i[None, :]
    if not (t.ndim == 1 and idx.shape == t.shape and v.shape == i.shape and v.shape[1] == t.size):
        raise ConfigError(f"waveform shapes disagree: time_s {t.shape}, pulse_index {idx.shape}, "
                          f"voltage_V {v.shape}, current_A {i.shape}")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ConfigError("waveform time_s must increase strictly")
    n = int(idx.max()) + 1 if n_pulses is None else int(n_pulses)
    out = np.zeros((v.shape[0], n))
    for label, a, b in _runs(idx):
        if label >= n:
            raise ConfigError(f"waveform pulse_index {label} >= number of pulses {n}")
        if b - a < 2:
            continue  # a single sample spans no time
        tt = t[a:b]
        w = np.empty(b - a)
        w[0] = (tt[1] - tt[0]) / 2
        w[-1] = (tt[-1] - tt[-2]) / 2
        w[1:-1] = (tt[2:] - tt[:-2]) / 2
        # one pass over the pulse's samples, no full-size temporary
        out[:, label] += np.einsum("cs,cs,s->c", v[:, a:b], i[:, a:b], w)
    per_cycle = out.sum(axis=1)
    return Energy(out, per_cycle, "measured" if measured else "applied_waveform")
