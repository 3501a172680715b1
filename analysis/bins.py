"""Usable differential bins: distinct G+ - G- levels (one per pulse-count sum) separated by more than k·σ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class BinLadder:
    """The usable levels of G+ - G- (S), their σ (S) and their count."""

    level_S: np.ndarray
    sigma_S: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.level_S.size)


def _same_level_tol(scale_S: float) -> float:
    """Levels closer than this are one level (rounding of G+ - G-, with sigma = 0)."""
    return 1e-9 * scale_S


def lattice_levels(up_mean_S, up_sigma_S, down_mean_S, down_sigma_S) -> tuple[np.ndarray, np.ndarray]:
    """The 2n - 1 candidate levels of G+ - G- and their σ, for (..., n) state arrays.

    With both branches in programming order (G+ rising with i, G- falling with
    j), G+_i - G-_j rises with the pulse-count sum i + j: the pairs with the
    same sum are one weight of a pair programmed by pulse counts. Its level is
    their mean G+_i - G-_j, its σ the RMS over them of √(σ+_i² + σ-_j²) (a
    difference of independent states; pairs whose σ is NaN are left out, and a
    group with none left has σ NaN, so it is never kept). For two exactly linear ladders every
    pair of a group has the same level; for uneven ladders (real devices) the
    groups spread, and grouping keeps a spread group from counting twice.
    """
    um, us = np.asarray(up_mean_S, float), np.asarray(up_sigma_S, float)
    dm, ds = np.asarray(down_mean_S, float), np.asarray(down_sigma_S, float)
    n_up, n_dn = um.shape[-1], dm.shape[-1]
    # group s holds the pairs (i, s - i), i = lo .. hi: contiguous runs of both ladders, so its sums
    # are differences of prefix sums (O(n) a ladder, against O(n^3) for a group-membership product)
    s = np.arange(n_up + n_dn - 1)
    lo, hi = np.maximum(0, s - (n_dn - 1)), np.minimum(s, n_up - 1)
    count = hi - lo + 1

    def pair_sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ca = np.cumsum(a, axis=-1)
        cb = np.cumsum(b, axis=-1)
        pad = np.zeros((*a.shape[:-1], 1))
        ca, cb = np.concatenate([pad, ca], axis=-1), np.concatenate([pad, cb], axis=-1)
        return ca[..., hi + 1] - ca[..., lo] + cb[..., s - lo + 1] - cb[..., s - hi]

    levels = pair_sums(um, -dm) / count
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(pair_sums(us * us, ds * ds) / count)
    finite = np.isfinite(um).all(-1) & np.isfinite(dm).all(-1) & np.isfinite(us).all(-1) & np.isfinite(ds).all(-1)
    if not np.all(finite):  # a missing state or σ: only its own pairs are NaN or left out
        rows = ~finite
        levels[rows], sigma[rows] = _lattice_levels_masked(um[rows], us[rows], dm[rows], ds[rows])
    return levels, sigma


def _lattice_levels_masked(um, us, dm, ds) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lattice_levels` by a group-membership product, leaving out the pairs whose σ is NaN."""
    n_up, n_dn = um.shape[-1], dm.shape[-1]
    group = (np.arange(n_up)[:, None] + np.arange(n_dn)[None, :]).ravel()
    members = np.zeros((n_up * n_dn, n_up + n_dn - 1))
    members[np.arange(group.size), group] = 1.0
    levels = (um[..., :, None] - dm[..., None, :]).reshape(*um.shape[:-1], -1)
    var = (us[..., :, None] ** 2 + ds[..., None, :] ** 2).reshape(*us.shape[:-1], -1)
    finite = np.isfinite(var)
    with np.errstate(invalid="ignore", divide="ignore"):  # a group without a finite σ stays NaN
        sigma = np.sqrt((np.where(finite, var, 0.0) @ members) / (finite @ members))
    return levels @ (members / members.sum(axis=0)), sigma


def differential_bins(up_mean_S, up_sigma_S, down_mean_S, down_sigma_S, k_sigma: float = 2.0) -> BinLadder:
    """Walk the sorted candidate levels (:func:`lattice_levels`) and keep each one lying more
    than ``k_sigma`` × (the larger σ of the two) above the last kept level.

    Two separable ladders of n states give 2n - 1 levels (16 → 31) however
    uneven their steps; states closer than k·σ merge.
    """
    up_m, dn_m = np.asarray(up_mean_S, float), np.asarray(down_mean_S, float)
    levels, sigmas = lattice_levels(up_m, up_sigma_S, dn_m, down_sigma_S)
    order = np.argsort(levels, kind="stable")
    levels, sigmas = levels[order].tolist(), sigmas[order].tolist()
    kept_l, kept_s = [levels[0]], [sigmas[0]]
    tol = _same_level_tol(np.abs(up_m).max(initial=0.0) + np.abs(dn_m).max(initial=0.0))
    for lv, sg in zip(levels[1:], sigmas[1:]):
        if lv - kept_l[-1] > max(k_sigma * max(sg, kept_s[-1]), tol):
            kept_l.append(lv)
            kept_s.append(sg)
    return BinLadder(np.array(kept_l), np.array(kept_s))


_ROWS_PER_BLOCK = 1024  # ladders walked together: a 1,000-resample bootstrap in one block (the walk's
# per-level numpy calls are its cost; a block of 31 levels x 1,024 ladders is 250 kB, in cache)


def _sorted_level_major(levels: np.ndarray, thresh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``levels`` and ``thresh`` (B, L) in the order of a stable row-wise argsort of ``levels``,
    transposed to (L, B) so that each step of the walk reads contiguous memory.

    The default (SIMD) argsort is several times faster than the stable one but
    orders exact ties arbitrarily; the rows that hold an exact tie (rare
    outside quantised data) are re-sorted stably, so the walk sees the same sequence.
    """
    n, n_levels = levels.shape
    order = np.argsort(levels, axis=1)
    base = np.arange(n)[None, :] * n_levels
    lv = levels.ravel()[order.T + base]
    tied = np.flatnonzero((lv[1:] == lv[:-1]).any(axis=0))
    if tied.size:
        order[tied] = np.argsort(levels[tied], axis=1, kind="stable")
        lv = levels.ravel()[order.T + base]
    return lv, thresh.ravel()[order.T + base]


def _walk_block(um: np.ndarray, us: np.ndarray, dm: np.ndarray, ds: np.ndarray, k_sigma: float,
                tol: float) -> np.ndarray:
    n = um.shape[0]
    levels, thresh = lattice_levels(um, us, dm, ds)
    thresh *= k_sigma
    np.maximum(thresh, tol, out=thresh)  # a NaN σ (state with < 2 reads) stays NaN: never kept
    lv, th = _sorted_level_major(levels, thresh)
    last_l, last_t = lv[0].copy(), th[0].copy()
    gap, need = np.empty(n), np.empty(n)
    new = np.zeros(lv.shape, dtype=bool)
    sub, top, gt, put = np.subtract, np.maximum, np.greater, np.copyto
    for l_j, t_j, new_j in zip(lv[1:], th[1:], new[1:]):
        sub(l_j, last_l, out=gap)
        top(t_j, last_t, out=need)
        gt(gap, need, out=new_j)
        put(last_l, l_j, where=new_j)
        put(last_t, t_j, where=new_j)
    return 1 + np.count_nonzero(new, axis=0)


def count_bins_batch(up_mean_S: np.ndarray, up_sigma_S: np.ndarray, down_mean_S: np.ndarray,
                     down_sigma_S: np.ndarray, k_sigma: float = 2.0) -> np.ndarray:
    """:func:`differential_bins`' count for many ladders at once: (B, states) inputs → (B,) counts.

    The walk over sorted levels is sequential, so it runs level by level,
    vectorised over blocks of ladders (what the bootstrap needs). It keeps a
    level when it lies above the last kept one by more than
    max(k·σ, k·σ_last, tol) — the same test as :func:`differential_bins`, with
    each level's max(k·σ, tol) computed once.
    """
    um, dm = np.asarray(up_mean_S, dtype=float), np.asarray(down_mean_S, dtype=float)
    us, ds = np.asarray(up_sigma_S, dtype=float), np.asarray(down_sigma_S, dtype=float)
    tol = _same_level_tol(np.abs(um).max(initial=0.0) + np.abs(dm).max(initial=0.0))
    count = np.empty(um.shape[0], dtype=int)
    for a in range(0, um.shape[0], _ROWS_PER_BLOCK):
        b = slice(a, a + _ROWS_PER_BLOCK)
        count[b] = _walk_block(um[b], us[b], dm[b], ds[b], k_sigma, tol)
    return count
