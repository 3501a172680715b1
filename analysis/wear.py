"""Per-window analysis of long runs: bins, σ and energy against cycle number.

``memlab analyze --cycles A:B`` analyses cycles A..B-1 of each run (0-based, end
exclusive, as ``--window``); ``--every N`` repeats that window every N cycles
(``--cycles 0:100 --every 10000``: cycles 0-99, 10,000-10,099, ...) or, without
``--cycles``, tiles the runs with windows of N cycles. Each window is extracted
on its own (window search, bins, σ, energy, bootstrap intervals), so the series
shows how the device wears; the device file is that of all the windows' cycles.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from dataclasses import dataclass

from memlab.analysis.pipeline import AnalysisResult, AnalyzeOptions, analyze_loaded
from memlab.errors import ConfigError
from memlab.files import atomic_write_text


@dataclass(frozen=True)
class WearPoint:
    """One window's headline numbers (SI units); ``error`` says why a window gave none."""

    start_cycle: int
    stop_cycle: int
    n_cycles: int = 0
    states_per_branch: int = 0
    n_bins: int = 0
    n_bins_ci: tuple[float, float] | None = None
    sigma_mean_S: float = math.nan
    sigma_mean_S_ci: tuple[float, float] | None = None
    bin_width_up_S: float = math.nan
    bin_width_down_S: float = math.nan
    energy_per_cycle_J: float | None = None
    energy_per_cycle_J_std: float | None = None
    energy_per_cycle_J_ci: tuple[float, float] | None = None
    error: str = ""


def parse_cycles(text: str | None) -> tuple[int, int | None] | None:
    """``A:B`` (B exclusive) or ``A:`` (to the end) as (A, B or None)."""
    if not text:
        return None
    a, colon, b = text.partition(":")
    try:
        if not colon:
            raise ValueError
        start, stop = int(a or 0), (int(b) if b.strip() else None)
    except ValueError:
        raise ConfigError(f"--cycles: cannot parse {text!r}; expected A:B (cycle indices, B exclusive) or A:") from None
    if start < 0 or (stop is not None and stop <= start):
        raise ConfigError(f"--cycles {text}: need 0 <= A < B")
    return start, stop


def cycle_windows(n_cycles: int, cycles: tuple[int, int | None] | None, every: int | None) -> list[tuple[int, int]]:
    """The (start, stop) windows of runs of ``n_cycles`` cycles (the longest run) for ``--cycles`` /
    ``--every``; with ``every``, only windows that lie wholly inside the runs."""
    start, stop = cycles if cycles is not None else (0, None)
    if every is None:
        return [(start, n_cycles if stop is None else stop)]
    if every < 1:
        raise ConfigError(f"--every {every}: must be >= 1 cycle")
    length = every if stop is None else stop - start
    if length < 2:
        raise ConfigError(f"--every {every}: windows of {length} cycle(s); a sigma needs at least 2")
    windows = [(a, a + length) for a in range(start, n_cycles, every) if a + length <= n_cycles]
    if not windows:
        raise ConfigError(f"--cycles/--every: no window of {length} cycles fits in the {n_cycles} cycles recorded")
    return windows


def _interval(d, key: str) -> tuple[float, float] | None:
    ci = d.confidence_intervals.get(key)
    return None if ci is None else (ci.low, ci.high)


def wear_point(start: int, stop: int, result: AnalysisResult) -> WearPoint:
    d = result.device
    e = d.energy_per_cycle_J
    return WearPoint(start, stop, d.n_cycles, d.states_per_branch, d.n_bins, _interval(d, "n_bins"), d.sigma_mean_S,
                     _interval(d, "sigma_mean_S"), d.branch("potentiation").bin_width_S,
                     d.branch("depression").bin_width_S, None if e is None else e.mean, None if e is None else e.std,
                     _interval(d, "energy_per_cycle_J.mean"))


def analyze_windows(runs: list, windows: list[tuple[int, int]], options: AnalyzeOptions) -> list[WearPoint]:
    """Extract each window of ``runs`` (opened with ``read_run``) on its own; a window without a
    usable linear window (too worn, too few cycles) gives a point with its ``error``."""
    from tqdm import tqdm

    points = []
    for a, b in tqdm(windows, desc="windows", unit="window", disable=None, leave=False):
        try:
            points.append(wear_point(a, b, analyze_loaded(runs, dataclasses.replace(options, cycles=((a, b),)))))
        except ConfigError as exc:
            points.append(WearPoint(a, b, error=str(exc)))
    return points


def save_wear(points: list[WearPoint], sources: list[dict], path: str | pathlib.Path) -> pathlib.Path:
    """Write the series as JSON: ``{"kind": "memlab-wear", "source_runs": [...], "windows": [...]}``."""
    path = pathlib.Path(path)
    doc = {"kind": "memlab-wear", "source_runs": sources,
           "windows": [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                        for k, v in dataclasses.asdict(p).items()} for p in points]}
    return atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def format_wear(points: list[WearPoint]) -> str:
    """One line per window: cycles, states, bins, σ, energy (or why it has none)."""
    lines = [f"{'cycles':>17}  {'states':>6}  {'bins':>4}  {'sigma (uS)':>10}  {'energy (nJ)':>11}"]
    for p in points:
        span = f"{p.start_cycle}:{p.stop_cycle}"
        if p.error:
            lines.append(f"{span:>17}  no result: {p.error}")
            continue
        energy = "n/a" if p.energy_per_cycle_J is None else f"{p.energy_per_cycle_J * 1e9:.2f}"
        lines.append(f"{span:>17}  {p.states_per_branch:>6}  {p.n_bins:>4}  {p.sigma_mean_S * 1e6:>10.3f}  {energy:>11}")
    return "\n".join(lines)


def analyze_selection(paths: list, out: str | pathlib.Path, figures_dir: str | pathlib.Path | None,
                      options: AnalyzeOptions, cycles: tuple[int, int | None] | None, every: int | None,
                      wear_out: str | pathlib.Path | None = None) -> tuple[AnalysisResult, list[WearPoint]]:
    """``memlab analyze --cycles/--every``: the device file of the selected cycles at ``out``, and
    with ``every`` the per-window series (JSON at ``wear_out``, figures in ``figures_dir``)."""
    import numpy as np

    from memlab.analysis.pipeline import naming_inputs, open_runs, with_sources, write_outputs

    runs, hashing, _ = open_runs(paths)
    windows = cycle_windows(max(r.n_cycles for r in runs), cycles, every)
    with naming_inputs(paths), np.errstate(over="ignore", invalid="ignore"):
        result = analyze_loaded(runs, dataclasses.replace(options, cycles=tuple(windows)))
        points = analyze_windows(runs, windows, options) if every is not None else []
    result = write_outputs(with_sources(result, runs, hashing), paths, out, figures_dir)
    if every is not None:
        sources = [dataclasses.asdict(s) for s in result.device.source_runs]
        save_wear(points, sources, wear_out or pathlib.Path(out).with_suffix(".wear.json"))
        if figures_dir is not None:
            from memlab.analysis.figures import write_wear_figures

            write_wear_figures(points, figures_dir)
    return result, points
