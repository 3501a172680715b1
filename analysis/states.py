"""Per-pulse statistics over cycles, for each programming branch."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError

BRANCHES = ("potentiation", "depression")


@dataclass(frozen=True, eq=False)
class BranchStats:
    """One branch's conductance over cycles, in programming order.

    ``g_S`` (cycles, pulses) with NaN for unusable reads, or None when the
    statistics were merged from blocks of cycles (:mod:`.streaming`); per
    pulse: ``mean_S``, ``sigma_S`` (cycle-to-cycle sample std, ddof 1) and
    ``n_valid`` (cycles with a usable read); ``cycles`` the cycles they come
    from. Pulse ``p`` is the read after the branch's p-th pulse.
    """

    name: str
    g_S: np.ndarray | None
    mean_S: np.ndarray
    sigma_S: np.ndarray
    n_valid: np.ndarray
    cycles: int = -1  # -1: the rows of g_S

    def __post_init__(self) -> None:
        if self.cycles < 0:
            object.__setattr__(self, "cycles", int(self.g_S.shape[0]))

    @property
    def direction(self) -> int:
        """+1 for potentiation (G rises), -1 for depression."""
        return 1 if self.name == "potentiation" else -1

    @property
    def n_pulses(self) -> int:
        return int(self.mean_S.size)


def column_stats(g_S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample σ (ddof 1) and count of the finite values of each column."""
    g = np.asarray(g_S, dtype=float)
    n = np.count_nonzero(np.isfinite(g), axis=0)
    with warnings.catch_warnings():  # all-NaN columns (ragged imports) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(g, axis=0)
        sigma = np.nanstd(g, axis=0, ddof=1)
    sigma = np.where(n >= 2, sigma, np.nan)
    return mean, sigma, n


def branch_stats(name: str, g_S: np.ndarray) -> BranchStats:
    """Statistics of one branch from its (cycles, pulses) conductance matrix."""
    if name not in BRANCHES:
        raise ConfigError(f"branch must be one of {BRANCHES}, got {name!r}")
    g = np.asarray(g_S, dtype=float)
    if g.ndim != 2 or g.shape[1] < 2:
        raise ConfigError(f"{name}: need a (cycles, pulses) array with >= 2 pulses, got shape {g.shape}")
    mean, sigma, n = column_stats(g)
    return BranchStats(name, g, mean, sigma, n)


def split_branches(g_S: np.ndarray, n_up: int, n_down: int) -> tuple[BranchStats, BranchStats]:
    """Split a (cycles, n_up + n_down) matrix into potentiation and depression stats."""
    g = np.asarray(g_S, dtype=float)
    if g.ndim != 2 or g.shape[1] != n_up + n_down:
        raise ConfigError(f"conductance has shape {g.shape}; expected (cycles, n_up + n_down = {n_up + n_down})")
    return branch_stats("potentiation", g[:, :n_up]), branch_stats("depression", g[:, n_up:])
