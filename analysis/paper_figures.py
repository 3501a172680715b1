"""Figures as papers show them, beside :mod:`memlab.analysis.figures` (matplotlib, PNG + SVG).

* ``states_cdf``: the per-state conductance distributions over cycles as
  cumulative distributions, one curve per state (the usual way to show that
  neighbouring states do not overlap);
* ``energy_per_pulse``: energy of each programming pulse against its pulse
  number (mean ± σ over cycles);
* ``iv_loops``: I-V loops, |I| on a log axis, set / reset points marked;
* ``iv_states``: HRS / LRS at the read voltage and the switching voltages per sweep;
* ``endurance``: HRS / LRS against cycle (log-log) and the on/off ratio with the
  fitted window closing.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from memlab.analysis.figures import COLORS, _save  # noqa: E402

uS = 1e6


def fig_states_cdf(ex):
    """Cumulative distribution of each state's conductance over cycles, per branch.

    From the extraction's traces: every cycle up to 200 cycles, every ``trace_step``-th beyond
    (the title says which)."""
    g_all = ex.trace_g_S if ex.trace_g_S is not None else np.hstack([ex.up.stats.g_S, ex.down.stats.g_S])
    n_up = ex.up.stats.n_pulses
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, b, offset in zip(axes, (ex.up, ex.down), (0, n_up)):
        g = g_all[:, offset + b.window.pulses] * uS
        cmap = plt.get_cmap("Reds" if b.stats.name == "potentiation" else "Blues")
        for k in range(g.shape[1]):
            x = np.sort(g[:, k][np.isfinite(g[:, k])])
            if x.size:
                ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", lw=1,
                        color=cmap(0.35 + 0.6 * k / max(1, g.shape[1] - 1)))
        ax.set(xlabel="conductance (µS)", title=f"{b.stats.name}: {g.shape[1]} states")
    axes[0].set_ylabel("cumulative fraction of cycles")
    every = "" if ex.trace_step == 1 else f", every {ex.trace_step}th shown"
    fig.suptitle(f"per-state distributions over {ex.n_cycles} cycles{every} "
                 f"(σ: {ex.sigma_source.replace('_', '-')})", fontsize=10)
    return fig


def fig_energy_per_pulse(energy, n_up: int):
    """Energy of every programming pulse against pulse number: mean ± σ over cycles.

    ``energy``: an :class:`memlab.analysis.energy.Energy` (its per-pulse matrix, or the
    per-pulse moments an analysis in blocks keeps: the same figure in bounded memory)."""
    mean, sigma, n = energy.by_pulse_J
    mean, sigma = mean * 1e12, np.nan_to_num(sigma) * 1e12
    x = np.arange(1, mean.size + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, sl in (("potentiation", slice(0, n_up)), ("depression", slice(n_up, None))):
        ax.errorbar(x[sl], mean[sl], yerr=sigma[sl], fmt="o", ms=3, capsize=2, color=COLORS[name], label=name)
    ax.set(xlabel="pulse number in the cycle", ylabel="energy per pulse (pJ)", ylim=(0, None),
           title=f"mean ± σ over {int(n.max()) if n.size else 0} cycles ({energy.source.replace('_', ' ')})")
    ax.legend(frameon=False, loc="best")  # the least overlap with the points, wherever they lie
    return fig


def write_energy_per_pulse(pulses, out_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """``energy_per_pulse`` of a run's PulseData (its raw waveforms); nothing without waveforms."""
    from memlab.analysis.energy import pulse_energy

    wf = pulses.waveform
    if wf is None:
        return []
    e = pulse_energy(wf.time_s, wf.voltage_V, wf.current_A, wf.pulse_index, pulses.pulses_per_cycle, wf.measured)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _save(fig_energy_per_pulse(e, pulses.n_up), out, "energy_per_pulse")


def fig_iv_loops(voltage_V: np.ndarray, current_A: np.ndarray, result, max_sweeps: int = 20):
    """|I| against V for the sweeps (at most ``max_sweeps``, evenly picked), switching points marked."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    n = voltage_V.shape[0]
    pick = np.unique(np.linspace(0, n - 1, min(n, max_sweeps)).round().astype(int))
    cmap = plt.get_cmap("viridis")
    for j, k in enumerate(pick):
        i = np.abs(current_A[k])
        ok = np.isfinite(i) & (i > 0) & np.isfinite(voltage_V[k])
        ax.plot(voltage_V[k][ok], i[ok], lw=0.8, color=cmap(j / max(1, pick.size - 1)),
                label=f"sweep {k + 1}" if j in (0, pick.size - 1) else None)
    for values, marker, label in ((result.v_set_V, "^", "V_set"), (result.v_reset_V, "v", "V_reset")):
        pts = [(values[k], np.abs(current_A[k][np.nanargmin(np.abs(voltage_V[k] - values[k]))]))
               for k in pick if np.isfinite(values[k])]
        if pts:
            ax.plot(*np.array(pts).T, marker, color="k", ms=5, ls="none", label=label)
    if result.forming_sweep is not None:
        ax.axvline(result.forming_V, color="tab:orange", ls="--", lw=1, label=f"forming, {result.forming_V:.2f} V")
    ax.set(yscale="log", xlabel="voltage (V)", ylabel="|current| (A)",
           title=f"I-V loops: {pick.size} of {n} sweeps")
    ax.legend(frameon=False, fontsize=8)
    return fig


def fig_iv_states(result):
    """HRS / LRS at the read voltage and the switching voltages, per sweep."""
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6, 5.2), sharex=True)
    k = np.arange(1, result.n_sweeps + 1)
    a1.plot(k, result.g_lrs_S, "o", ms=3, color="tab:red", label="LRS")
    a1.plot(k, result.g_hrs_S, "o", ms=3, color="tab:blue", label="HRS")
    a1.set(yscale="log", ylabel=f"G at {result.read_voltage_V:g} V (S)")
    a1.legend(frameon=False, fontsize=8)
    a2.plot(k, result.v_set_V, "^", ms=4, color="tab:red", label="V_set")
    a2.plot(k, result.v_reset_V, "v", ms=4, color="tab:blue", label="V_reset")
    a2.set(xlabel="sweep", ylabel="switching voltage (V)")
    a2.legend(frameon=False, fontsize=8)
    return fig


def fig_endurance(result):
    """HRS / LRS against cycle and the on/off ratio with its fitted closing."""
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6, 5.6), sharex=True)
    c = result.cycle
    a1.plot(c, result.g_lrs_S, ".", ms=2, color="tab:red", label="LRS")
    a1.plot(c, result.g_hrs_S, ".", ms=2, color="tab:blue", label="HRS")
    a1.set(xscale="log", yscale="log", ylabel="read conductance (S)")
    a1.legend(frameon=False, fontsize=8, markerscale=4)
    a2.plot(c, result.ratio, ".", ms=2, color="0.4", label="on/off ratio")
    a2.plot(c, result.fitted_ratio(c), "-", color="k", lw=1.2,
            label=f"fit: {result.closing_decades_per_decade:+.3f} decades per decade")
    a2.axhline(result.min_ratio, color="tab:orange", ls="--", lw=1, label=f"closed below {result.min_ratio:g}")
    a2.set(xscale="log", yscale="log", xlabel="cycle", ylabel="LRS / HRS")
    a2.legend(frameon=False, fontsize=8, markerscale=4)
    return fig


def write_extraction_figures(ex, out_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """The extraction figures of this module (state CDFs; energy per pulse when the run
    recorded waveforms) into ``out_dir``."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = _save(fig_states_cdf(ex), out, "states_cdf")
    by_pulse = None if ex.energy is None else ex.energy.by_pulse_J
    if by_pulse is not None and np.any(np.isfinite(by_pulse[0])):
        paths += _save(fig_energy_per_pulse(ex.energy, ex.up.stats.n_pulses), out, "energy_per_pulse")
    return paths
