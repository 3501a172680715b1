"""Choice of the linear operating window and of the pulses per state m.

A window of one branch is the reads at pulses ``start, start + m, ...`` below
``stop``. It is usable when (1) every state has a cycle-to-cycle σ (>= 2 valid
cycles and at least ``min_valid_fraction`` of them), (2) neighbouring state
means move in the programming direction by more than ``k_sigma`` times the
larger of their two σ (k = 2 is the paper's "bin width > 2σ"; the larger σ,
not the mean, so that a quiet saturated end state cannot pass a short step), and (3) the straight line through the state means against
pulse number has R² >= ``r2_min``. The search maximises the number of states
common to both branches (both use the same m, as the simulation programs one
state as m pulses), ties going to the smaller m and then the higher R².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.analysis.fits import linear_fit
from memlab.analysis.states import BranchStats
from memlab.errors import ConfigError

DEFAULT_R2_MIN = 0.99
DEFAULT_K_SIGMA = 2.0


@dataclass(frozen=True)
class Window:
    """Chosen window of one branch (pulse indices within the branch, stop exclusive)."""

    start: int
    stop: int
    m: int
    r_squared: float
    min_separation_ratio: float  # min over neighbours of |Δmean| / (k·larger σ); > 1 means separated
    reason: str

    @property
    def pulses(self) -> np.ndarray:
        return np.arange(self.start, self.stop, self.m)

    @property
    def n_states(self) -> int:
        return len(range(self.start, self.stop, self.m))


def _usable(stats: BranchStats, min_valid_fraction: float) -> np.ndarray:
    n_cycles = stats.cycles
    need = max(2, int(np.ceil(min_valid_fraction * n_cycles)))
    return (stats.n_valid >= need) & np.isfinite(stats.mean_S) & np.isfinite(stats.sigma_S)


def separation_ratio(mean_S: np.ndarray, sigma_S: np.ndarray, direction: int, k_sigma: float) -> np.ndarray:
    """Per neighbour pair: signed step / (k·larger σ of the pair); > 1 means separated."""
    step = direction * np.diff(mean_S)
    scale = k_sigma * np.maximum(sigma_S[:-1], sigma_S[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, step / scale, np.where(step > 0, np.inf, -np.inf))


def _all_windows_r2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R² of the line through points a..b-1 for every (a, b), as an (L, L+1) array (NaN if b-a < 2)."""
    c = lambda v: np.concatenate([[0.0], np.cumsum(v)])  # noqa: E731
    x0, y0 = x - x.mean(), y - y.mean()  # centring keeps the cumulative sums well conditioned
    sx, sy, sxx, syy, sxy = c(x0), c(y0), c(x0 * x0), c(y0 * y0), c(x0 * y0)
    a = np.arange(len(x))[:, None]
    b = np.arange(len(x) + 1)[None, :]
    n = (b - a).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vx = sxx[b] - sxx[a] - (sx[b] - sx[a]) ** 2 / n
        vy = syy[b] - syy[a] - (sy[b] - sy[a]) ** 2 / n
        cxy = sxy[b] - sxy[a] - (sx[b] - sx[a]) * (sy[b] - sy[a]) / n
        r2 = np.where(vy > 0, cxy * cxy / (vx * vy), 1.0)
    return np.where(n >= 2, r2, np.nan)


def best_windows(stats: BranchStats, m: int, k_sigma: float = DEFAULT_K_SIGMA, r2_min: float = DEFAULT_R2_MIN,
                 min_valid_fraction: float = 0.5) -> dict[int, tuple[float, int, int]]:
    """For each feasible state count n: (R², start, stop) of the best window with n states at spacing m."""
    usable = _usable(stats, min_valid_fraction)
    best: dict[int, tuple[float, int, int]] = {}
    P = stats.n_pulses
    for r in range(m):
        chain = np.arange(r, P, m)
        if chain.size < 2:
            continue
        ok_pair = usable[chain[:-1]] & usable[chain[1:]]
        sep = separation_ratio(stats.mean_S[chain], stats.sigma_S[chain], stats.direction, k_sigma)
        ok_pair &= sep > 1.0
        # segments of the chain in which every neighbour pair is usable and separated
        breaks = np.flatnonzero(~ok_pair)
        bounds = np.concatenate([[-1], breaks, [chain.size - 1]])
        for lo, hi in zip(bounds[:-1] + 1, bounds[1:] + 1):
            if hi - lo < 2:
                continue
            seg = chain[lo:hi]
            r2 = _all_windows_r2(seg.astype(float), stats.mean_S[seg])
            size = seg.size
            a = np.arange(size)[:, None]
            stop = a + np.arange(size + 1)[None, :]  # column n: the window of n states from a
            by_n = np.where(stop <= size, r2[a, np.minimum(stop, size)], np.nan)
            by_n = np.where(by_n >= r2_min, by_n, -np.inf)
            first = np.argmax(by_n, axis=0)  # the best start for each state count
            top = by_n[first, np.arange(size + 1)]
            for n in np.flatnonzero(np.isfinite(top)):
                val = float(top[n])
                if n >= 2 and (n not in best or val > best[n][0]):
                    start = int(first[n])
                    best[int(n)] = (val, int(seg[start]), int(seg[start + n - 1]) + 1)
    return best


def _window_from(stats: BranchStats, start: int, stop: int, m: int, k_sigma: float, reason: str) -> Window:
    idx = np.arange(start, stop, m)
    mean, sigma = stats.mean_S[idx], stats.sigma_S[idx]
    fit = linear_fit(idx.astype(float), mean)
    sep = separation_ratio(mean, sigma, stats.direction, k_sigma)
    min_sep = float(np.nanmin(sep)) if sep.size and np.any(np.isfinite(sep)) else float("nan")
    return Window(int(start), int(stop), int(m), fit.r_squared, min_sep, reason)


def choose_windows(up: BranchStats, down: BranchStats, *, k_sigma: float = DEFAULT_K_SIGMA,
                   r2_min: float = DEFAULT_R2_MIN, pulses_per_state: int | None = None,
                   fixed: dict[str, tuple[int, int]] | None = None,
                   min_valid_fraction: float = 0.5) -> tuple[Window, Window]:
    """The windows of both branches with the same m and the same number of states.

    ``fixed`` = {"potentiation": (start, stop), "depression": (start, stop)}
    skips the search (with ``pulses_per_state`` or m = 1); the longer branch is
    trimmed from its end to the shorter one's state count.
    """
    if fixed is not None:
        return _fixed_windows(up, down, fixed, pulses_per_state or 1, k_sigma)
    max_m = max(1, min(up.n_pulses, down.n_pulses) // 2)
    if pulses_per_state is not None:
        if not 1 <= pulses_per_state <= max_m:
            raise ConfigError(f"pulses_per_state = {pulses_per_state} is outside 1..{max_m} for "
                              f"branches of {up.n_pulses} and {down.n_pulses} pulses")
        ms = [pulses_per_state]
    else:
        ms = range(1, max_m + 1)
    choice = None  # (n, -m, r2 sum, m, up window, down window)
    for m in ms:
        if choice is not None and -(-min(up.n_pulses, down.n_pulses) // m) < choice[0][0]:
            break  # with m pulses per state no branch can hold as many states as already found
        bu = best_windows(up, m, k_sigma, r2_min, min_valid_fraction)
        bd = best_windows(down, m, k_sigma, r2_min, min_valid_fraction)
        common = sorted(set(bu) & set(bd))
        if not common:
            continue
        n = common[-1]
        key = (n, -m, bu[n][0] + bd[n][0])
        if choice is None or key > choice[0]:
            choice = (key, m, bu[n], bd[n])
    if choice is None:
        raise ConfigError(
            f"no usable window: no run of >= 2 states per branch has neighbours separated by more than "
            f"k_sigma = {k_sigma} sigma and a linear fit with R^2 >= {r2_min} (try a smaller --k-sigma, "
            f"a lower R^2 threshold or a fixed --window)")
    (n, _, _), m, (ru, su, eu), (rd, sd, ed) = choice
    why = (f"search: most states common to both branches ({n}) with m = {m} pulse(s) per state, "
           f"neighbours separated by > {k_sigma:g} sigma, R^2 >= {r2_min:g}")
    return (_window_from(up, su, eu, m, k_sigma, f"{why}; R^2 = {ru:.5f}"),
            _window_from(down, sd, ed, m, k_sigma, f"{why}; R^2 = {rd:.5f}"))


def _fixed_windows(up: BranchStats, down: BranchStats, fixed: dict[str, tuple[int, int]], m: int,
                   k_sigma: float) -> tuple[Window, Window]:
    out = []
    for stats in (up, down):
        if stats.name not in fixed:
            raise ConfigError(f"a fixed window needs both branches; {stats.name!r} is missing "
                              f"(e.g. --window up=2:18,down=2:18)")
        start, stop = fixed[stats.name]
        if not 0 <= start < stop <= stats.n_pulses or len(range(start, stop, m)) < 2:
            raise ConfigError(f"window {stats.name} = {start}:{stop} (m = {m}) must hold >= 2 states "
                              f"within 0:{stats.n_pulses}")
        idx = np.arange(start, stop, m)
        bad = idx[~(np.isfinite(stats.mean_S[idx]) & np.isfinite(stats.sigma_S[idx]))]
        if bad.size:
            raise ConfigError(f"window {stats.name} = {start}:{stop}: pulse {int(bad[0])} has fewer than 2 "
                              "usable reads, so no mean and sigma")
        out.append([start, stop])
    n = min(len(range(a, b, m)) for a, b in out)
    windows = []
    for stats, (start, stop) in zip((up, down), out):
        trimmed = start + (n - 1) * m + 1
        reason = f"fixed by the user: {start}:{stop}"
        if trimmed < stop:
            reason += f", trimmed to {start}:{trimmed} to match the other branch's {n} states"
        w = _window_from(stats, start, min(stop, trimmed), m, k_sigma, reason)
        if not w.min_separation_ratio > 1:
            w = Window(w.start, w.stop, w.m, w.r_squared, w.min_separation_ratio,
                       w.reason + f"; warning: some neighbours are not separated by > {k_sigma:g} sigma")
        windows.append(w)
    return windows[0], windows[1]
