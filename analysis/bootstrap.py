"""Bootstrap over cycles: confidence intervals of the headline numbers.

The window is held fixed (chosen once on all cycles); each resample draws
cycles with replacement — the same cycles for both branches and the energy,
since one cycle holds both — and recomputes bin widths, σ, R², the bin count
and the mean energy. Resamples are vectorised as cycle-count weights.
"""

from __future__ import annotations

import contextlib

import numpy as np

from memlab.analysis.bins import count_bins_batch
from memlab.analysis.device_file import Interval


_CONTROLLER: list = []  # lazily created threadpoolctl controller (its creation costs ~5 ms)


def _one_blas_thread():
    """Context limiting BLAS to one thread: the small products here run faster on one
    thread than on a pool oversubscribed by the rest of the machine."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _moments(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns [count, x, x²] of g (cycles, k) centred per column, and the centres."""
    finite = np.isfinite(g)
    centre = np.nanmean(np.where(finite, g, np.nan), axis=0)  # centring keeps s2 - s1²/n accurate
    x = np.where(finite, g - centre, 0.0)
    return np.hstack([finite.astype(float), x, x * x]), centre


def _stats_from_sums(sums: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per resample and column: mean and sample σ from the weighted [count, x, x²] sums."""
    n, s1, s2 = np.split(sums, 3, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        var = (s2 - s1 * s1 / n) / (n - 1)
    return mean + centre, np.sqrt(np.clip(var, 0, None))


def resample_weights(n_cycles: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_cycles) multiplicities of each cycle in each resample (rows sum to n_cycles)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_cycles, (n_boot, n_cycles), dtype=np.int64)
    flat = (draws + (np.arange(n_boot, dtype=np.int64) * n_cycles)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_cycles).reshape(n_boot, n_cycles).astype(float)


def _r2_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0 = x - x.mean()
    y0 = y - y.mean(axis=1, keepdims=True)
    sxy = y0 @ x0
    syy = np.sum(y0 * y0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(syy > 0, sxy * sxy / (np.sum(x0 * x0) * syy), 1.0)


def bootstrap_headline(up_g_S: np.ndarray, down_g_S: np.ndarray, k_sigma: float = 2.0,
                       energy_per_cycle_J: np.ndarray | None = None, *, n_boot: int = 1000,
                       level: float = 0.95, seed: int = 0) -> dict[str, Interval]:
    """Confidence intervals keyed by device-file key path.

    ``up_g_S``/``down_g_S`` are the (cycles, states) reads of the chosen
    states, in programming order; ``energy_per_cycle_J`` (cycles,) if known.
    """
    n_cycles = up_g_S.shape[0]
    if n_cycles < 2 or n_boot < 1:
        return {}
    w = resample_weights(n_cycles, n_boot, seed)
    (mu, cu), (md, cd) = _moments(up_g_S), _moments(down_g_S)
    cols = [mu, md]
    e = None
    if energy_per_cycle_J is not None:
        e = np.asarray(energy_per_cycle_J, dtype=float)
        if e.shape[0] == n_cycles and np.any(np.isfinite(e)):
            ok = np.isfinite(e)
            cols.append(np.column_stack([ok.astype(float), np.where(ok, e, 0.0)]))
        else:
            e = None
    x = np.hstack(cols)
    with _one_blas_thread():
        sums = w @ x  # every resample's sums in one product
    samples: dict[str, np.ndarray] = {}
    stats = {}
    splits = [mu.shape[1], mu.shape[1] + md.shape[1]]
    for name, part, centre in zip(("potentiation", "depression"), np.split(sums, splits, axis=1)[:2], (cu, cd)):
        mean, sigma = _stats_from_sums(part, centre)
        stats[name] = (mean, sigma)
        samples[f"branches.{name}.bin_width_S"] = np.mean(np.abs(np.diff(mean, axis=1)), axis=1)
        samples[f"branches.{name}.r_squared"] = _r2_rows(np.arange(mean.shape[1], dtype=float), mean)
    samples["sigma_mean_S"] = np.nanmean(np.hstack([stats["potentiation"][1], stats["depression"][1]]), axis=1)
    (um, us), (dm, ds) = stats["potentiation"], stats["depression"]
    samples["n_bins"] = count_bins_batch(um, us, dm, ds, k_sigma).astype(float)
    if e is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            samples["energy_per_cycle_J.mean"] = sums[:, -1] / sums[:, -2]
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    out = {}
    for key, s in samples.items():
        s = s[np.isfinite(s)]
        if s.size:
            out[key] = Interval(float(np.percentile(s, lo_q)), float(np.percentile(s, hi_q)), level)
    return out
