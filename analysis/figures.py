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
    x = np.arange(1, ex.up.stats.n_pulses + ex.down.stats.n_pulses + 1)
    if ex.trace_g_S is not None:  # every trace_step-th cycle: at most ~200 traces keep the vector file small
        ax.plot(x, ex.trace_g_S.T * uS, color="0.6", lw=0.4, alpha=0.35)
    for b, xs in ((ex.up, x[:n_up]), (ex.down, x[n_up:])):
        ax.plot(xs, b.stats.mean_S * uS, "--", color=COLORS[b.stats.name], lw=1.5, label=f"mean, {b.stats.name}")
    ax.axvline(n_up + 0.5, color="k", lw=0.5)
    shown = "" if ex.trace_step == 1 else f", every {ex.trace_step}th shown"
    ax.set(xlabel="pulse number", ylabel="conductance (µS)", title=f"{ex.n_cycles} cycles{shown}")
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
    lines = [(b.bin_width_S * uS / ex.k_sigma, b.stats.name) for b in (ex.up, ex.down)]
    if abs(lines[0][0] - lines[1][0]) < 0.02 * max(lines[0][0], lines[1][0]):
        # the two limits would draw on top of each other: one line naming both values
        ax.axhline(np.mean([v for v, _ in lines]), color="0.35", ls=":", lw=1.2,
                   label=f"BW/{ex.k_sigma:g}: up {lines[0][0]:.2f}, down {lines[1][0]:.2f} µS")
    else:
        for (v, name), ls in zip(lines, (":", "-.")):
            ax.axhline(v, color=COLORS[name], ls=ls, lw=1.2, label=f"BW/{ex.k_sigma:g}, {name}: {v:.2f} µS")
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
    ax.axvline(m * 1e9, color="k", ls="--", lw=1)
    # the numbers go in the title: a legend box would sit on the histogram's peak, over the mean
    ax.set(xlabel="energy per cycle (nJ)", ylabel="cycles",
           title=f"mean (dashed) {m * 1e9:.2f} ± {s * 1e9:.2f} nJ, {ex.energy.source.replace('_', ' ')}")
    return fig


def fig_retention(ex: Extraction):
    """Retention curves G(t) of the programmed states, log time axis."""
    fig, ax = plt.subplots(figsize=(6, 4))
    d = ex.drift
    from memlab.drift_law import drift_factor

    order = np.argsort([np.nanmedian(d.g_S[k]) for k in d.state_index])[::-1]  # legend from the highest down
    for j in order:
        k = d.state_index[j]
        t, g = d.t_s[k], d.g_S[k]
        ok = np.isfinite(t) & np.isfinite(g) & (t > 0)
        if ok.any():
            line, = ax.plot(t[ok], g[ok] * uS, "o", ms=2,
                            label=f"state {k + 1}: G₀ = {d.g0_S[j] * uS:.0f} µS, ν = {d.nu[j]:.4f} "
                                  f"[{d.nu_ci_low[j]:.4f}, {d.nu_ci_high[j]:.4f}]")
            tt = np.geomspace(t[ok].min(), t[ok].max(), 100)
            ax.plot(tt, d.g0_S[j] * drift_factor(tt, d.nu[j], d.t0_s) * uS, "-", lw=1, color=line.get_color())
    ax.set(xscale="log", xlabel="time after programming (s)", ylabel="conductance (µS)",
           title=f"ν = {d.nu_mean:.4f} ± {d.nu_std:.4f}, G(0)(1 + t/t0)^-ν, t0 = {d.t0_s:.3g} s")
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
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
    from memlab.analysis.paper_figures import write_extraction_figures  # state CDFs, energy per pulse

    return paths + write_extraction_figures(ex, out)


def _wear_axis(ax, points, value, ci, scale: float, label: str, color: str) -> None:
    ok = [p for p in points if not p.error and value(p) is not None]
    step = max(1, len(ok) // 500)  # a readable (and small) figure however many windows
    shown = len(ok)
    ok = ok[::step]
    x = np.array([(p.start_cycle + p.stop_cycle - 1) / 2 for p in ok])
    y = np.array([value(p) * scale for p in ok])
    lo = np.array([y_ - ci(p)[0] * scale if ci(p) else 0.0 for p, y_ in zip(ok, y)])
    hi = np.array([ci(p)[1] * scale - y_ if ci(p) else 0.0 for p, y_ in zip(ok, y)])
    ax.errorbar(x, y, yerr=np.clip(np.vstack([lo, hi]), 0, None) if ok else None, fmt="o-", ms=3, capsize=2,
                lw=1, color=color)
    width = points[0].stop_cycle - points[0].start_cycle
    ax.set(xlabel=f"cycle (middle of each {width}-cycle window)", ylabel=label)
    if x.size and x.max() > 100 * max(1.0, x.min()):
        ax.set_xscale("symlog", linthresh=max(1.0, width))
    missing = len(points) - shown
    ax.set_title(f"{shown} windows" + (f", every {step}th shown" if step > 1 else "")
                 + (f" ({missing} without a result)" if missing else "")
                 + "; bars: bootstrap 95% CI")


def write_wear_figures(points, out_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """Bins, mean σ and energy per cycle against cycle number, one point per window."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panels = [
        ("wear_bins", lambda p: p.n_bins, lambda p: p.n_bins_ci, 1.0, "usable differential bins", "tab:purple"),
        ("wear_sigma", lambda p: p.sigma_mean_S, lambda p: p.sigma_mean_S_ci, uS, "mean σ (µS)", "tab:orange"),
        ("wear_energy", lambda p: p.energy_per_cycle_J, lambda p: p.energy_per_cycle_J_ci, 1e9,
         "energy per cycle (nJ)", "tab:green"),
    ]
    paths: list[pathlib.Path] = []
    for name, value, ci, scale, label, color in panels:
        if name == "wear_energy" and all(p.energy_per_cycle_J is None for p in points):
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        _wear_axis(ax, points, value, ci, scale, label, color)
        paths += _save(fig, out, name)
    return paths
