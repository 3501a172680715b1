"""The paper's figures from an extraction (matplotlib, PNG and SVG).

Fig. 2d (all cycles with the mean), 2e (window, fits, ±σ), 2f (σ per state
against the bin width), the differential-bin ladder, the energy-per-cycle
histogram and the retention curves.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from memlab.analysis.extraction import Extraction  # noqa: E402

COLORS = {"potentiation": "tab:red", "depression": "tab:blue"}
uS = 1e6


def _save(fig, out: pathlib.Path, name: str) -> list[pathlib.Path]:
    paths = []
    for ext in ("png", "svg"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=200 if ext == "png" else None, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    return paths


def fig_cycles(ex: Extraction):
    """All cycles overlaid on one programming cycle, with the mean (Fig. 2d)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    n_up = ex.up.stats.n_pulses
    g = np.hstack([ex.up.stats.g_S, ex.down.stats.g_S]) * uS
    x = np.arange(1, g.shape[1] + 1)
    step = max(1, g.shape[0] // 200)  # at most ~200 traces keep the vector file small
    ax.plot(x, g[::step].T, color="0.6", lw=0.4, alpha=0.35)
    for b, xs in ((ex.up, x[:n_up]), (ex.down, x[n_up:])):
        ax.plot(xs, b.stats.mean_S * uS, "--", color=COLORS[b.stats.name], lw=1.5, label=f"mean, {b.stats.name}")
    ax.axvline(n_up + 0.5, color="k", lw=0.5)
    ax.set(xlabel="pulse number", ylabel="conductance (µS)", title=f"{ex.n_cycles} cycles")
    ax.legend(frameon=False)
    return fig


def fig_window(ex: Extraction):
    """The linear window: state means ±σ and the linear fits (Fig. 2e)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for b in (ex.up, ex.down):
        n = b.state_pulses - b.state_pulses[0]
        c = COLORS[b.stats.name]
        ax.errorbar(n, b.state_mean_S * uS, yerr=b.state_sigma_S * uS, fmt="o", ms=3, capsize=2, color=c,
                    label=f"{b.stats.name}: R² = {b.fit.r_squared:.5f}, BW = {b.bin_width_S * uS:.2f} µS")
        ax.plot(n, (b.fit.intercept + b.fit.slope * n) * uS, "-", color=c, lw=1)
    ax.set(xlabel=f"pulses into the window (m = {ex.up.window.m} per state)", ylabel="conductance (µS)",
           title=f"{ex.states_per_branch} states per branch")
    ax.legend(frameon=False, fontsize=8)
    return fig


def fig_sigma(ex: Extraction):
    """σ of each state against the mean bin width (Fig. 2f)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for b in (ex.up, ex.down):
        c = COLORS[b.stats.name]
        ax.plot(b.state_mean_S * uS, b.state_sigma_S * uS, "o", ms=4, color=c, label=f"σ, {b.stats.name}")
        ax.axhline(b.bin_width_S * uS / ex.k_sigma, color=c, ls=":", lw=1,
                   label=f"BW/{ex.k_sigma:g}, {b.stats.name}")
    ax.axhline(ex.sigma_mean_S * uS, color="k", ls="--", lw=1, label=f"mean σ = {ex.sigma_mean_S * uS:.2f} µS")
    ax.set(xlabel="state conductance (µS)", ylabel="cycle-to-cycle σ (µS)", ylim=(0, None))
    ax.legend(frameon=False, fontsize=8)
    return fig


def fig_ladder(ex: Extraction):
    """The usable differential levels G+ - G- with their ±σ."""
    fig, ax = plt.subplots(figsize=(6, 4))
    lv = ex.ladder.level_S * uS
    ax.errorbar(np.arange(lv.size), lv, yerr=ex.ladder.sigma_S * uS, fmt="s", ms=3, capsize=2, color="tab:purple")
    ax.set(xlabel="bin", ylabel="G⁺ − G⁻ (µS)", title=f"{ex.ladder.n_bins} usable bins (k = {ex.k_sigma:g})")
    return fig


def fig_energy(ex: Extraction):
    """Histogram of the programming energy per cycle."""
    fig, ax = plt.subplots(figsize=(6, 4))
    e = ex.energy.per_cycle_J[np.isfinite(ex.energy.per_cycle_J)] * 1e9
    ax.hist(e, bins=min(40, max(5, e.size // 5)), color="tab:green", alpha=0.8)
    m, s = ex.energy.cycle_mean_std_J
    ax.axvline(m * 1e9, color="k", ls="--", label=f"{m * 1e9:.2f} ± {s * 1e9:.2f} nJ ({ex.energy.source})")
    ax.set(xlabel="energy per cycle (nJ)", ylabel="cycles")
    ax.legend(frameon=False)
    return fig


def fig_retention(ex: Extraction):
    """Retention curves G(t) of the programmed states, log time axis."""
    fig, ax = plt.subplots(figsize=(6, 4))
    d = ex.drift
    for t, g in zip(d.t_s, d.g_S):
        ok = np.isfinite(t) & np.isfinite(g) & (t > 0)
        ax.plot(t[ok], g[ok] * uS, lw=1)
    ax.set(xscale="log", xlabel="time after programming (s)", ylabel="conductance (µS)",
           title=f"ν = {d.nu_mean:.4f} ± {d.nu_std:.4f}")
    return fig


def write_figures(ex: Extraction, out_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """Write every figure the extraction supports to ``out_dir``; returns the files."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = [("cycles", fig_cycles), ("window", fig_window), ("sigma", fig_sigma), ("bins", fig_ladder)]
    if ex.energy is not None and np.any(np.isfinite(ex.energy.per_cycle_J)):
        figs.append(("energy", fig_energy))
    if ex.drift is not None:
        figs.append(("retention", fig_retention))
    paths: list[pathlib.Path] = []
    for name, make in figs:
        paths += _save(make(ex), out, name)
    return paths
