"""Bootstrap over cycles: confidence intervals of the headline numbers.

The window is held fixed (chosen once on all cycles); each resample draws
cycles with replacement — the same cycles for both branches and the energy,
since one cycle holds both — and recomputes bin widths, σ, R², the bin count
and the mean energy. Resamples are vectorised as cycle-count weights: a block
of resamples is a (block, cycles) count matrix C, and every per-state sum the
statistics need is one product C @ [x, x², ...] of it with the centred reads.
"""

from __future__ import annotations

import concurrent.futures
import threading

import numpy as np

from memlab.analysis.bins import count_bins_batch
from memlab.analysis.blas import one_blas_thread
from memlab.analysis.device_file import Interval


_RESAMPLES_PER_BLOCK = 128  # count matrices of ~1 MB: they stay in cache and their memory is
# recycled between blocks (freshly faulted pages cost more than the arithmetic on them)
_BLOCK_ELEMENTS = 1 << 22  # fewer resamples a block for long runs: a block's draws and counts stay
# at 32 MB each, whatever the number of cycles (the draws are the same: see _weight_blocks)


def _columns(g: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, bool]:
    """Columns [x, x²] (and [count] when some reads are missing) of g (cycles, k), centred per
    column, the centres, and whether the count columns are there. Centring keeps s2 - s1²/n accurate."""
    g = np.asarray(g, dtype=float)
    finite = np.isfinite(g)
    if finite.all():
        centre = g.mean(axis=0)
        x = g - centre
        return [x, x * x], centre, False
    centre = np.nanmean(np.where(finite, g, np.nan), axis=0)
    x = np.where(finite, g - centre, 0.0)
    return [x, x * x, finite.astype(float)], centre, True


def _stats_from_sums(s1: np.ndarray, s2: np.ndarray, n: np.ndarray | float,
                     centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per resample and column: mean and sample σ from the weighted sums of x and x² over n reads."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
    return mean + centre, np.sqrt(np.clip(var, 0, None))


def resample_weights(n_cycles: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_cycles) multiplicities of each cycle in each resample (rows sum to n_cycles).

    The straightforward form of the resampling; :func:`bootstrap_headline` draws the
    same rows block by block (:func:`_weight_blocks`)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_cycles, (n_boot, n_cycles), dtype=np.int64)
    flat = (draws + (np.arange(n_boot, dtype=np.int64) * n_cycles)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_cycles).reshape(n_boot, n_cycles).astype(float)


def _weight_blocks(n_cycles: int, n_boot: int, seed: int):
    """Yield (first row, rows of :func:`resample_weights`) block by block.

    The generator fills a (rows, cycles) draw row by row, so drawing the blocks
    in turn from one generator gives exactly the rows of the one big draw.
    """
    rng = np.random.default_rng(seed)
    rows = max(1, min(_RESAMPLES_PER_BLOCK, _BLOCK_ELEMENTS // max(1, n_cycles)))
    offsets = np.arange(rows, dtype=np.int64)[:, None] * n_cycles
    for a in range(0, n_boot, rows):
        b = min(rows, n_boot - a)
        draws = rng.integers(0, n_cycles, (b, n_cycles), dtype=np.int64)
        draws += offsets[:b]
        yield a, np.bincount(draws.ravel(), minlength=b * n_cycles).reshape(b, n_cycles).astype(float)


class PrefetchedWeights:
    """The blocks of :func:`_weight_blocks` drawn ahead in a thread, while the archive is read.

    The draws and counts need only the number of cycles, resamples and the seed,
    and numpy releases the GIL while drawing, so on a second core they overlap
    with the reading (a 1,000-cycle analysis: ~2 ms of its ~5 ms saved; the
    counting holds the GIL). Kept to runs whose count matrices are small (at most
    ``_BLOCK_ELEMENTS`` counts, 32 MB); :meth:`blocks` gives the same rows as a
    fresh draw, and draws afresh when asked for another size or seed.
    """

    def __init__(self, n_cycles: int, n_boot: int, seed: int):
        self.key = (n_cycles, n_boot, seed)
        self._blocks: list | None = None
        self._thread = threading.Thread(target=self._draw, daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, n_cycles: int, n_boot: int, seed: int) -> "PrefetchedWeights | None":
        """The draws started in a thread, or None where they are not worth it (no bootstrap, or
        count matrices too big to hold at once: those are drawn block by block as they are used)."""
        worthwhile = n_boot >= 1 and n_cycles >= 2 and n_cycles * n_boot <= _BLOCK_ELEMENTS
        return cls(n_cycles, n_boot, seed) if worthwhile else None

    def _draw(self) -> None:
        try:
            self._blocks = list(_weight_blocks(*self.key))
        except MemoryError:  # pragma: no cover - blocks() draws them again
            self._blocks = None

    def blocks(self, n_cycles: int, n_boot: int, seed: int):
        """The (first row, counts) blocks for this size and seed."""
        self._thread.join()
        if self._blocks is None or (n_cycles, n_boot, seed) != self.key:
            return _weight_blocks(n_cycles, n_boot, seed)
        return self._blocks


def _products(blocks, x: np.ndarray, sums: np.ndarray) -> None:
    """Every resample's sums in one product a block: ``sums[a:a + rows] = w @ x``. Blocks drawn
    ahead (a list) are shared with a second thread, every other one: each block's product is
    the same call either way, so the sums are too."""
    def run(part) -> None:
        for a, w in part:
            np.matmul(w, x, out=sums[a:a + w.shape[0]])

    if not isinstance(blocks, list) or len(blocks) < 2:
        return run(blocks)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        other = pool.submit(run, blocks[1::2])
        run(blocks[0::2])
        other.result()  # its error, if any, is raised here


def _r2_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0 = x - x.mean()
    y0 = y - y.mean(axis=1, keepdims=True)
    sxy = y0 @ x0
    syy = np.sum(y0 * y0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(syy > 0, sxy * sxy / (np.sum(x0 * x0) * syy), 1.0)


def bootstrap_headline(up_g_S: np.ndarray, down_g_S: np.ndarray, k_sigma: float = 2.0,
                       energy_per_cycle_J: np.ndarray | None = None, *, n_boot: int = 1000,
                       level: float = 0.95, seed: int = 0,
                       prefetched: PrefetchedWeights | None = None) -> dict[str, Interval]:
    """Confidence intervals keyed by device-file key path.

    ``up_g_S``/``down_g_S`` are the (cycles, states) reads of the chosen
    states, in programming order; ``energy_per_cycle_J`` (cycles,) if known.
    Percentile intervals over ``n_boot`` resamples of the cycles (seeded);
    ``prefetched``: the same resamples, drawn ahead (:class:`PrefetchedWeights`).
    """
    n_cycles = up_g_S.shape[0]
    if n_cycles < 2 or n_boot < 1:
        return {}
    # one column block per quantity; a count block only where some values are missing
    blocks: dict[str, np.ndarray] = {}
    centres = {}
    for name, g in (("potentiation", up_g_S), ("depression", down_g_S)):
        cols, centres[name], counted = _columns(g)
        for tag, c in zip(("x", "x2", "n"), cols):
            blocks[f"{name}.{tag}"] = c
    e = None
    if energy_per_cycle_J is not None:
        e = np.asarray(energy_per_cycle_J, dtype=float)
        if e.shape[0] == n_cycles and np.any(np.isfinite(e)):
            ok = np.isfinite(e)
            blocks["energy.x"] = np.where(ok, e, 0.0)[:, None]
            if not ok.all():
                blocks["energy.n"] = ok.astype(float)[:, None]
        else:
            e = None
    x = np.hstack(list(blocks.values()))
    edges = np.cumsum([0] + [c.shape[1] for c in blocks.values()])
    sums = np.empty((n_boot, x.shape[1]))
    with one_blas_thread():
        _products((prefetched.blocks if prefetched else _weight_blocks)(n_cycles, n_boot, seed), x, sums)
    part = {key: sums[:, lo:hi] for key, lo, hi in zip(blocks, edges[:-1], edges[1:])}

    def count(name: str) -> np.ndarray | float:
        return part[f"{name}.n"] if f"{name}.n" in part else float(n_cycles)

    samples: dict[str, np.ndarray] = {}
    stats = {}
    for name in ("potentiation", "depression"):
        mean, sigma = _stats_from_sums(part[f"{name}.x"], part[f"{name}.x2"], count(name), centres[name])
        stats[name] = (mean, sigma)
        samples[f"branches.{name}.bin_width_S"] = np.mean(np.abs(np.diff(mean, axis=1)), axis=1)
        samples[f"branches.{name}.r_squared"] = _r2_rows(np.arange(mean.shape[1], dtype=float), mean)
    samples["sigma_mean_S"] = np.nanmean(np.hstack([stats["potentiation"][1], stats["depression"][1]]), axis=1)
    (um, us), (dm, ds) = stats["potentiation"], stats["depression"]
    samples["n_bins"] = count_bins_batch(um, us, dm, ds, k_sigma).astype(float)
    if e is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            samples["energy_per_cycle_J.mean"] = part["energy.x"][:, 0] / (
                part["energy.n"][:, 0] if "energy.n" in part else float(n_cycles))
    return _percentile_intervals(samples, level)


def _percentile_intervals(samples: dict[str, np.ndarray], level: float) -> dict[str, Interval]:
    """The central ``level`` interval of each quantity's finite resampled values (none if all are NaN).
    The quantities without a NaN go through one ``np.percentile`` call (row by row the same numbers)."""
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    whole = [k for k, s in samples.items() if np.isfinite(s).all()]
    bounds = dict(zip(whole, np.percentile(np.vstack([samples[k] for k in whole]), q, axis=1).T)) if whole else {}
    out = {}
    for key, s in samples.items():
        if key not in bounds:
            s = s[np.isfinite(s)]
            if not s.size:
                continue
            bounds[key] = np.percentile(s, q)
        lo, hi = bounds[key]
        out[key] = Interval(float(lo), float(hi), level)
    return out
