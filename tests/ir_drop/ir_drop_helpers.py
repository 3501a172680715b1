"""Conductance patterns and error measures shared by the IR-drop tests."""

from __future__ import annotations

import numpy as np

# The paper's device as the virtual device models it (instruments/virtual_device.py):
# an idle device conducts ~1.93 mS, 15 steps of 81.077 uS above it per branch.
PAPER_G_IDLE_S = 1.928e-3
PAPER_STEP_S = 81.077e-6
PAPER_STATES = 16
# A low-conductance inference RRAM (NeuRRAM-like, ~1-40 uS) for comparison.
RRAM_G_MIN_S, RRAM_G_MAX_S = 1e-6, 40e-6


def random_pattern(n: int, m: int, g_min_S: float, g_max_S: float, seed: int) -> np.ndarray:
    """Independent uniform conductances in [g_min_S, g_max_S]."""
    return np.random.default_rng(seed).uniform(g_min_S, g_max_S, (n, m))


def trained_like_pair(n: int, m: int, g_idle_S: float, step_S: float, states: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A differential pair holding weights shaped like a trained layer's.

    Trained dense layers have heavy-tailed weights with a few dominant
    directions (low rank plus noise), many near zero: rank-8 structure plus
    Laplace noise, clipped at the 99.5th percentile and quantised to the
    device's states. One device of a pair holds |w|, the other idles.
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, 8)) @ rng.normal(size=(8, m)) / np.sqrt(8) + rng.laplace(scale=0.7, size=(n, m))
    w = np.clip(w / np.quantile(np.abs(w), 0.995), -1, 1)
    q = np.round(w * (states - 1))
    g_pos = g_idle_S + np.clip(q, 0, None) * step_S
    g_neg = g_idle_S + np.clip(-q, 0, None) * step_S
    return g_pos, g_neg


def rel_rms(approx: np.ndarray, exact: np.ndarray) -> float:
    """Relative RMS error: ||approx − exact||₂ / ||exact||₂ over all entries."""
    return float(np.sqrt(np.mean((approx - exact) ** 2) / np.mean(exact**2)))
