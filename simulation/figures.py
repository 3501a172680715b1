"""Figures of a simulation results dict (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)


def write_figures(results: dict[str, Any], folder: str | pathlib.Path) -> dict[str, str]:
    """Write the three figures into ``folder``; returns name -> file path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task = results["task"]
    paths = {}

    fig, ax = plt.subplots(figsize=(4, 4))
    analog = results["analog_accuracy"]
    means = [100 * results["digital_accuracy"], 100 * analog["mean"]]
    errs = [0.0, 100 * analog["std"]]
    ax.bar(["digital", "analog"], means, yerr=errs, capsize=6, color=["#777777", "#2a6fb0"])
    for i, (m, e) in enumerate(zip(means, errs)):  # above the error bar, not over it
        ax.text(i, m + e + 1.5, f"{m:.2f} %" + (f"\n± {e:.2f}" if e else ""), ha="center", va="bottom",
                fontsize=9)
    ax.set_ylim(0, 115)  # the full axis from 0: a truncated one makes a small gap look large
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{task}: {len(analog['repeats'])} programming repeats")
    paths["accuracy_bars"] = save_figure(fig, folder / f"{task}_accuracy.png")

    variants = results["accuracy_vs_time"]
    branches = list(dict.fromkeys(v.get("branch", "") for v in variants)) or [""]
    fig, axes = plt.subplots(1, len(branches), figsize=(6 * len(branches), 4.4), squeeze=False, sharey=True)
    for ax, branch in zip(axes[0], branches):
        for v in (v for v in variants if v.get("branch", "") == branch):
            mean = [100 * a["mean"] for a in v["accuracy"]]
            std = [100 * a["std"] for a in v["accuracy"]]
            label = (f"{'HWAT' if v['hwat'] else 'no HWAT'}, "
                     f"{'drift compensation' if v['drift_compensation'] else 'no compensation'}")
            ax.errorbar(v["times_s"], mean, yerr=std, marker="o", capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("time after programming (s)")
        ax.set_title(f"{task}: {branch or 'drift'}" if branch else f"{task}: drift", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[0][0].set_ylabel("test accuracy (%)")
    fig.suptitle(f"drift: {_drift_label(results)}", fontsize=9)
    paths["accuracy_vs_time"] = save_figure(fig, folder / f"{task}_accuracy_vs_time.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    sweep = results["d2d_sweep"]
    ax.errorbar([100 * d for d in sweep["d2d_fraction"]], [100 * a["mean"] for a in sweep["accuracy"]],
                yerr=[100 * a["std"] for a in sweep["accuracy"]], marker="o", capsize=3, label="analog (HWAT)")
    blind = results.get("d2d_sweep_open_loop")
    if blind and blind["accuracy"]:
        ax.errorbar([100 * d for d in blind["d2d_fraction"]], [100 * a["mean"] for a in blind["accuracy"]],
                    yerr=[100 * a["std"] for a in blind["accuracy"]], marker="s", capsize=3,
                    label="analog (HWAT), open-loop programming")
    ax.axhline(100 * results["digital_accuracy"], color="#777777", ls="--", label="digital")
    ax.set_xlabel("device-to-device variation (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{task}: D2D sweep at programming time")
    ax.legend(fontsize=8)
    paths["d2d_sweep"] = save_figure(fig, folder / f"{task}_d2d_sweep.png")
    if results.get("energy"):
        paths["network_energy"] = energy_figure(results["energy"], folder / f"{task}_network_energy.png", task)
    if results.get("budget"):
        paths["budget"] = budget_figure(results["budget"], folder / f"{task}_budget.png", task)
    return paths


def budget_figure(budget: dict[str, Any], path: pathlib.Path, task: str) -> str:
    """Waterfall of the accuracy budget: from the weights on ideal hardware down to the full analog
    result, one bar per non-ideality (its cumulative cost, 95 % CI), with its cost alone as a marker."""
    rows = budget["stages"]
    fig, ax = plt.subplots(figsize=(1.1 * len(rows) + 3, 4.2))
    level = level_ideal = 100 * budget["ideal"]["mean"]
    ax.bar(0, level, color="#777777")
    ends = [level]
    for i, row in enumerate(rows, start=1):
        cost = row["cumulative_cost"]
        drop = 100 * cost["mean"]
        ci = cost["ci95"]
        yerr = None if ci is None else [[max(drop - 100 * ci[0], 0)], [max(100 * ci[1] - drop, 0)]]
        ax.bar(i, -drop, bottom=level, color="#b03a2a" if drop >= 0 else "#2a8a3a")
        if yerr is not None:
            ax.errorbar(i, level - drop, yerr=yerr, color="black", capsize=3, lw=1)
            ends += [level - 100 * ci[0], level - 100 * ci[1]]
        ends.append(level_ideal - 100 * row["alone_cost"]["mean"])
        ax.plot(i, level_ideal - 100 * row["alone_cost"]["mean"], "D", color="#e0a800", ms=5,
                label="accuracy with this one alone" if i == 1 else None)
        level -= drop
    full = budget["full"]
    ax.bar(len(rows) + 1, 100 * full["mean"], yerr=100 * full["std"], capsize=4, color="#2a6fb0")
    ax.set_xticks(range(len(rows) + 2), ["ideal hardware"] + [r["label"] for r in rows] + ["full analog"],
                  rotation=40, ha="right", fontsize=8)
    digital = 100 * budget["digital_accuracy"]
    ax.axhline(digital, color="#777777", ls="--", lw=1, label=f"digital network ({digital:.2f} %)")
    ends += [100 * (full["mean"] - full["std"]), 100 * (full["mean"] + full["std"]), digital]
    low, top = min(ends), max(ends)
    pad = max(0.2, 0.1 * (top - low))
    ax.set_ylim(low - pad, top + pad)  # a waterfall shows differences: the axis is cut, and says so
    ax.set_ylabel("test accuracy (%, axis not from 0)")
    ax.set_title(f"{task}: accuracy budget, {budget['network']} network, t = {budget['t_s']:g} s, "
                 f"{budget['repeats']} repeats", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def energy_figure(cost: dict[str, Any], path: pathlib.Path, task: str) -> str:
    """Per-layer bars: programming energy (left) and inference energy per image by part (right)."""
    layers = cost["layers"]
    names = [layer["name"] for layer in layers]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    prog = [layer["programming"] for layer in layers]
    left.bar(names, [1e3 * p["energy_J_mean"] for p in prog], yerr=[1e3 * p["energy_J_std"] for p in prog],
             capsize=4, color="#2a6fb0")
    left.set_ylabel("programming energy (mJ)")
    left.set_title("programming (all devices once)", fontsize=9)
    bottom = [0.0] * len(layers)
    for key, label, colour in (("crossbar_read_J", "crossbar reads", "#2a6fb0"), ("dac_J", "DAC", "#e0a800"),
                               ("adc_J", "ADC", "#b03a2a")):
        values = [1e6 * layer["inference_per_image"][key] for layer in layers]
        right.bar(names, values, bottom=bottom, label=label, color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    right.set_ylabel("inference energy per image (µJ)")
    right.set_title(f"read {cost['parameters']['timing']['read_time_s']:.3g} s at "
                    f"{cost['parameters']['timing']['read_voltage_V']:.3g} V", fontsize=9)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("analog layer")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.suptitle(f"{task}: what the network costs on the device", fontsize=10)
    return save_figure(fig, path)


def _drift_label(results: dict[str, Any]) -> str:
    """The drift model and scaling the numbers carry (results['drift_model']; older files: the option)."""
    model = results.get("drift_model")
    if isinstance(model, dict) and "label" in model:
        return model["label"]
    options = results.get("config", {}).get("options", {})
    drift = options.get("drift", "?")
    return f"{drift}, {options['wan2022_scaling']} scaling" if drift == "wan2022" and "wan2022_scaling" in options \
        else str(drift)


def save_figure(fig, path: pathlib.Path) -> str:
    """Save as PNG (for the report) and SVG (for papers) beside it; returns the PNG path."""
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
    return str(path)
