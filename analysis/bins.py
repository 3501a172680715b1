"""Usable differential bins: distinct G+ - G- levels separated by more than k·σ."""

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


def differential_bins(up_mean_S, up_sigma_S, down_mean_S, down_sigma_S, k_sigma: float = 2.0) -> BinLadder:
    """Walk the sorted G+_i - G-_j levels and keep each one lying more than
    ``k_sigma`` × (the larger σ of the two) above the last kept level.

    A level's σ is that of a difference of independent states,
    √(σ+_i² + σ-_j²). Two identical linear ladders of n states give 2n - 1
    levels (16 → 31); near-coincident levels (from slightly different bin
    widths) collapse into one, and states closer than k·σ merge.
    """
    up_m, up_s = np.asarray(up_mean_S, float), np.asarray(up_sigma_S, float)
    dn_m, dn_s = np.asarray(down_mean_S, float), np.asarray(down_sigma_S, float)
    levels = (up_m[:, None] - dn_m[None, :]).ravel()
    sigmas = np.sqrt(up_s[:, None] ** 2 + dn_s[None, :] ** 2).ravel()
    order = np.argsort(levels, kind="stable")
    levels, sigmas = levels[order].tolist(), sigmas[order].tolist()
    kept_l, kept_s = [levels[0]], [sigmas[0]]
    tol = _same_level_tol(np.abs(up_m).max(initial=0.0) + np.abs(dn_m).max(initial=0.0))
    for lv, sg in zip(levels[1:], sigmas[1:]):
        if lv - kept_l[-1] > max(k_sigma * max(sg, kept_s[-1]), tol):
            kept_l.append(lv)
            kept_s.append(sg)
    return BinLadder(np.array(kept_l), np.array(kept_s))


def count_bins_batch(up_mean_S: np.ndarray, up_sigma_S: np.ndarray, down_mean_S: np.ndarray,
                     down_sigma_S: np.ndarray, k_sigma: float = 2.0) -> np.ndarray:
    """:func:`differential_bins`' count for many ladders at once: (B, states) inputs → (B,) counts.

    The walk over sorted levels is sequential, so it runs column by column,
    vectorised over the B ladders (what the bootstrap needs).
    """
    levels = (up_mean_S[:, :, None] - down_mean_S[:, None, :]).reshape(up_mean_S.shape[0], -1)
    sigmas = np.sqrt(up_sigma_S[:, :, None] ** 2 + down_sigma_S[:, None, :] ** 2).reshape(levels.shape)
    order = np.argsort(levels, axis=1, kind="stable")
    levels = np.take_along_axis(levels, order, axis=1)
    sigmas = np.take_along_axis(sigmas, order, axis=1)
    last_l, last_s = levels[:, 0].copy(), sigmas[:, 0].copy()
    count = np.ones(levels.shape[0], dtype=int)
    tol = _same_level_tol(np.abs(up_mean_S).max(initial=0.0) + np.abs(down_mean_S).max(initial=0.0))
    for j in range(1, levels.shape[1]):
        lv, sg = levels[:, j], sigmas[:, j]
        new = lv - last_l > np.maximum(k_sigma * np.maximum(sg, last_s), tol)
        count += new
        last_l = np.where(new, lv, last_l)
        last_s = np.where(new, sg, last_s)
    return count
