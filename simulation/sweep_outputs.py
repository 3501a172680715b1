"""What a person reads from a sweep: the table, the heat maps, the HTML report.

:func:`write_outputs` is called once a sweep has run (:func:`.sweep.run_sweep`):
``results.csv`` (and ``.parquet`` where pandas can write it), one heat map per
pair of varying axes, ``failed.json`` and ``report.html``.
"""

from __future__ import annotations

import itertools
import json
import pathlib
from typing import TYPE_CHECKING, Optional

import numpy as np

from memlab.simulation.sweep_plan import AXES, SweepPlan

if TYPE_CHECKING:
    from memlab.simulation.sweep import SweepOutcome

def table(results: list[dict]):
    """One row per point and time: axes, accuracy (mean, std), lineage columns."""
    import pandas as pd

    rows = []
    for r in results:
        p = r["point"]
        lineage = r.get("lineage") or {}
        for t, acc in zip(r["accuracy_vs_time"]["times_s"], r["accuracy_vs_time"]["accuracy"]):
            rows.append({"key": r["key"], **{a: p[a] for a in AXES}, "device": p["device"], "time_s": t,
                         "accuracy_mean": acc["mean"], "accuracy_std": acc["std"], "repeats": len(acc["repeats"]),
                         "analog_at_programming": r["analog_accuracy"]["mean"],
                         "digital_accuracy": r["digital_accuracy"],
                         "analog_minus_digital": r["analog_accuracy"]["mean"] - r["digital_accuracy"],
                         "device_file_sha256": r["device_file_sha256"],
                         "derived_from": lineage.get("derived_from"),
                         "derived_from_sha256": lineage.get("derived_from_sha256"),
                         **_energy_columns(r.get("energy")),
                         "memlab": r["versions"].get("memlab"), "torch": r["versions"].get("torch"),
                         "aihwkit": r["versions"].get("aihwkit")})
    return pd.DataFrame(rows)


def _energy_columns(cost: Optional[dict]) -> dict:
    if not cost:
        return {}
    return {"programming_energy_J": cost["programming"]["energy_J_mean"],
            "programming_time_s": cost["programming"]["time_s_mean"],
            "inference_energy_J_per_image": cost["inference_per_image"]["total_J"]}


def write_outputs(plan: SweepPlan, outcome: SweepOutcome, out: str | pathlib.Path) -> dict[str, str]:
    """results.csv (+ .parquet), heat maps over every pair of varying axes, failed.json, report.html."""
    out = pathlib.Path(out)
    df = table(outcome.results)
    paths = {"csv": str(out / "results.csv")}
    df.to_csv(out / "results.csv", index=False)
    try:
        df.to_parquet(out / "results.parquet", index=False)
        paths["parquet"] = str(out / "results.parquet")
    except ImportError:
        pass
    from memlab.files import atomic_write_text

    atomic_write_text(out / "failed.json", json.dumps(outcome.failed, indent=2) + "\n")
    varying = [a for a in AXES if len(plan.axis(a)) > 1]
    figures = []
    for a, b in itertools.combinations(varying, 2):
        figures.append(heatmap(df, plan, a, b, out / "figures" / f"heatmap_{a}_{b}.png"))
    paths["figures"] = [str(f) for f in figures]
    (out / "report.html").write_text(report(plan, df, outcome, figures, out), encoding="utf-8")
    paths["report"] = str(out / "report.html")
    return paths


def heatmap(df, plan: SweepPlan, a: str, b: str, path: pathlib.Path) -> pathlib.Path:
    """Analog accuracy at programming time minus digital over axes ``a`` x ``b`` (the other axes at their
    first value)."""
    from memlab.simulation.figures import save_figure  # first: it selects the Agg backend

    import matplotlib.pyplot as plt

    sel = df[df["time_s"] == plan.times_s[0]]
    for other in AXES:
        if other not in (a, b) and len(plan.axis(other)) > 1:
            sel = sel[sel[other] == plan.axis(other)[0]]
    grid = sel.pivot_table(index=b, columns=a, values="analog_at_programming", aggfunc="mean")
    digital = float(sel["digital_accuracy"].mean())
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    im = ax.imshow(100 * grid.values, origin="lower", cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns])
    ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index])
    middle = (np.nanmin(grid.values) + np.nanmax(grid.values)) / 2
    for (i, j), v in np.ndenumerate(grid.values):  # light text on the dark half of the colour map
        ax.text(j, i, f"{100 * v:.2f}", ha="center", va="center", color="w" if v < middle else "k", fontsize=8)
    ax.set_xlabel(a.replace("_", " "))
    ax.set_ylabel(b.replace("_", " "))
    ax.set_title(f"{plan.task}: analog accuracy at programming (%), digital {100 * digital:.2f} %", fontsize=9)
    fig.colorbar(im, ax=ax, label="%")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    return path


def report(plan: SweepPlan, df, outcome: SweepOutcome, figures: list[pathlib.Path], out: pathlib.Path) -> str:
    from memlab.report import CSS, esc

    axes = "".join(f"<tr><th>{esc(a)}</th><td>{esc(', '.join(map(str, plan.axis(a))))}</td></tr>" for a in AXES)
    figs = "".join(f'<figure><img src="{esc(f.relative_to(out).as_posix())}" alt="{esc(f.stem)}">'
                   f"<figcaption>{esc(f.stem.replace('_', ' '))}: analog accuracy at programming time over two "
                   "axes, the others at their first value.</figcaption></figure>" for f in figures)
    failed = "".join(f"<li>{esc(f['point'])}: {esc(f['reason'])}</li>" for f in outcome.failed) or "<li>none</li>"
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>sweep: {esc(plan.task)}</title>"
            f"<style>{CSS}</style></head><body><h1>Sweep: {esc(plan.task)}, {len(outcome.results)} points</h1>"
            f"<p>Table: <a href='results.csv'>results.csv</a>. Derived devices (what-ifs, not measurements) are "
            f"in <code>devices/</code> with their lineage.</p><table>{axes}</table>{figs}"
            f"<h2>Failed points</h2><ul>{failed}</ul></body></html>\n")
