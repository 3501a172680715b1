"""Run archives → extraction → device file (+ figures): what ``memlab analyze`` calls.

The only module of analysis that opens files besides the device-file writer
and the importers; it reads runs through ``memlab.protocols.archive.read_run``.
Several runs are pooled cycle by cycle (they must share the pulse schedule).
Runs are grouped into devices by the ``device_id`` attribute (a run without
one is its own device); with two or more devices, each is also extracted in
the pooled windows to give device-to-device statistics (``d2d``).

The first pass over the cycles is :mod:`.pooling`; the printed table, :mod:`.headline`
(``format_table`` is re-exported here).
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import threading
from dataclasses import dataclass, field

import numpy as np

from memlab.analysis import device_file as dfm
from memlab.analysis.blas import one_blas_thread
from memlab.analysis.bootstrap import PrefetchedWeights
from memlab.analysis.conductance import ReadCounts
from memlab.analysis.extraction import Extraction, extract_stats, to_device_file
from memlab.analysis.headline import PAPER_TABLE, format_table, headline_rows  # noqa: F401 - re-exported
from memlab.analysis.pooling import pool_runs, selected_cycles
from memlab.analysis.retention import DriftResult, retention_drift
from memlab.analysis.streaming import Summary, branch_stats_from
from memlab.analysis.window import DEFAULT_K_SIGMA, DEFAULT_R2_MIN
from memlab.errors import ConfigError, SchemaError
from memlab.status import PointStatus

PULSE_KINDS = ("pulse_cycling", "imported_pulse_cycling")


@dataclass(frozen=True)
class AnalyzeOptions:
    """Options of the extraction (see :func:`memlab.analysis.extraction.extract`)."""

    k_sigma: float = DEFAULT_K_SIGMA
    r2_min: float = DEFAULT_R2_MIN
    pulses_per_state: int | None = None
    windows: dict[str, tuple[int, int]] | None = None
    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0
    cycles: tuple[tuple[int, int], ...] | None = None  # (start, stop) cycle ranges of each run; None: all
    chunk_cycles: int = 0  # cycles read per block (0: about protocols.archive_read.CHUNK_BYTES of data)

    def __post_init__(self) -> None:
        if not self.k_sigma > 0:
            raise ConfigError(f"k_sigma = {self.k_sigma} must be > 0")
        if self.chunk_cycles < 0:
            raise ConfigError(f"chunk_cycles = {self.chunk_cycles} must be >= 0")
        if not 0 < self.r2_min <= 1:
            raise ConfigError(f"r2_min = {self.r2_min} must lie in (0, 1]")
        if not 0 < self.level < 1:
            raise ConfigError(f"confidence level = {self.level} must lie in (0, 1)")
        if self.n_boot < 0:
            raise ConfigError(f"n_boot = {self.n_boot} must be >= 0")
        for a, b in self.cycles or ():
            if not 0 <= a < b:
                raise ConfigError(f"cycle range {a}:{b} must have 0 <= start < stop")


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """The pooled extraction, its device file, per-device extractions and notes for the user."""

    extraction: Extraction
    device: dfm.DeviceFile
    per_device: dict[str, Extraction]
    read_quality: ReadCounts
    notes: tuple[str, ...] = field(default=())
    skipped: tuple[str, ...] = field(default=())  # paths of runs reported and left out (a Dask engine only)


def parse_windows(text: str | None) -> dict[str, tuple[int, int]] | None:
    """Parse ``up=A:B,down=C:D`` (pulse indices within each branch, B and D exclusive)."""
    if not text:
        return None
    names = {"up": "potentiation", "potentiation": "potentiation", "down": "depression",
             "depression": "depression"}
    out: dict[str, tuple[int, int]] = {}
    for part in text.split(","):
        key, _, span = part.partition("=")
        a, colon, b = span.partition(":")
        try:
            if key.strip() not in names or not colon:
                raise ValueError
            out[names[key.strip()]] = (int(a), int(b))
        except ValueError:
            raise ConfigError(f"--window: cannot parse {part!r}; expected up=A:B,down=C:D") from None
    return out


def analyze_runs(paths: list[str | pathlib.Path], options: AnalyzeOptions | None = None,
                 map_runs=None) -> AnalysisResult:
    """Read the runs at ``paths`` and extract the device file (nothing is written).

    The cycles are read a block at a time (:mod:`memlab.analysis.streaming`), so
    memory does not grow with the raw waveforms; the results equal
    :func:`~memlab.analysis.extraction.extract` on the whole arrays to rounding.
    ``map_runs`` (a Dask engine, :func:`memlab.cluster.run_mapper`) reads the runs in parallel;
    then an archive that cannot be opened or read is reported in the notes and skipped.
    """
    options = options or AnalyzeOptions()
    with one_blas_thread():  # small products; a spinning BLAS pool would take the hash thread's core
        runs, hashing, skipped = open_runs(paths, skip_unreadable=map_runs is not None)
        result = analyze_loaded(runs, options, map_runs)
        result = with_sources(result, [r for r in runs if str(r.path) not in result.skipped], hashing)
    if not skipped:
        return result
    return dataclasses.replace(result, notes=tuple(n for _, n in skipped) + result.notes,
                               skipped=tuple(p for p, _ in skipped) + result.skipped)


def open_runs(paths: list[str | pathlib.Path], *, skip_unreadable: bool = False) -> tuple[list, threading.Thread,
                                                                                         list[tuple[str, str]]]:
    """The runs at ``paths`` (``read_run``: headers and layouts only), a started thread hashing
    them for provenance (it overlaps with the analysis: hashlib releases the GIL), and with
    ``skip_unreadable`` the (path, note) of each archive that could not be opened (else it raises)."""
    from memlab.protocols.archive import read_run  # the one reader of run archives

    if not paths:
        raise ConfigError("analyze needs at least one run archive")
    runs, skipped = [], []
    for p in paths:
        try:
            runs.append(read_run(p))
        except (ConfigError, SchemaError) as exc:
            if not skip_unreadable:
                raise
            skipped.append((str(pathlib.Path(p)), f"{pathlib.Path(p).name}: skipped, not a readable run archive "
                                                  f"({exc})"))
    if not runs:
        raise ConfigError("no run could be read: " + "; ".join(n for _, n in skipped))
    hashing = threading.Thread(target=lambda: [r.sha256 for r in runs], daemon=True)
    hashing.start()
    return runs, hashing, skipped


def with_sources(result: AnalysisResult, runs: list, hashing: threading.Thread) -> AnalysisResult:
    """``result`` with the source runs (uuid, file, sha256, status) in its device file."""
    hashing.join()
    sources = tuple(dfm.SourceRun(r.uuid, r.path.name, r.sha256, r.status) for r in runs)
    return dataclasses.replace(result, device=to_device_file(result.extraction, sources, result.device.d2d))


def analyze_loaded(runs: list, options: AnalyzeOptions, map_runs=None) -> AnalysisResult:
    """:func:`analyze_runs` of runs already opened with ``read_run`` (the device file names no
    source runs: the caller adds them). The per-window analysis calls it once per window."""
    notes: list[str] = []
    ranges = None if options.cycles is None else list(options.cycles)
    selected = {r.path: selected_cycles(r.n_cycles, ranges) for r in runs}
    pulse_runs = [r for r in runs if r.kind in PULSE_KINDS and r.pulse_counts is not None and selected[r.path] > 0]
    if not pulse_runs:
        what = "" if ranges is None else f" in cycles {_ranges_text(ranges)}"
        hint = ("; I-V sweeps go to memlab characterize" if any(r.kind == "iv_sweep" for r in runs) else "")
        raise ConfigError(f"none of {[str(r.path) for r in runs]} holds pulse-cycling data with at least one "
                          f"cycle{what}{hint}")
    for r in runs:
        if r.status != "complete":
            notes.append(f"{r.path.name}: run status is {r.status!r} ({r.status_reason}); its recorded cycles are used")
    n_up, n_down = pulse_runs[0].pulse_counts
    for r in pulse_runs[1:]:
        if r.pulse_counts != (n_up, n_down):
            raise ConfigError(f"{r.path}: {r.pulse_counts[0]} + {r.pulse_counts[1]} pulses per cycle, but "
                              f"{pulse_runs[0].path} has {n_up} + {n_down}; pooled runs must share the schedule")
    total = sum(selected[r.path] for r in pulse_runs)
    if ranges is not None:
        notes.append(f"cycles {_ranges_text(ranges)} of each run: {total} cycles")
    # the bootstrap's resamples need only sizes and the seed: drawn on the other core while the cycles are read
    prefetched = PrefetchedWeights.start(total, options.n_boot, options.seed)
    pool = pool_runs(pulse_runs, ranges, options.chunk_cycles, n_up, total, notes, map_runs)
    drift = _drift(runs, notes)
    ex = extract_stats(*branch_stats_from(pool.moments, n_up, pool.cycles), pool.usable_cycles, pool.state_reads,
                       traces=pool.traces, energy=pool.energy, drift=drift, k_sigma=options.k_sigma,
                       r2_min=options.r2_min, pulses_per_state=options.pulses_per_state,
                       fixed_windows=options.windows, n_boot=options.n_boot, level=options.level, seed=options.seed,
                       prefetched=prefetched)
    if ex.sigma_source == "within_trace":
        notes.append("a single trace: sigma is the within-trace scatter around a moving average "
                     "(sigma_source = within_trace), not a cycle-to-cycle sigma")
    per_device, d2d = _per_device(pool.devices, n_up, ex, options)
    if d2d is not None:
        notes.append(f"{d2d.n_devices} devices: states are the average device's, sigma the cycle-to-cycle "
                     "sigma within devices; the device-to-device spread is in d2d")
    return AnalysisResult(ex, to_device_file(ex, (), d2d), per_device, pool.counts, tuple(notes), pool.skipped)


def _ranges_text(ranges: list[tuple[int, int]]) -> str:
    text = ", ".join(f"{a}:{b}" for a, b in ranges[:3])
    return text + (f", ... ({len(ranges)} windows)" if len(ranges) > 3 else "")


def _drift(runs, notes: list[str]) -> DriftResult | None:
    rets = [r.retention for r in runs if r.retention is not None and r.retention.time_s.size]
    if not rets:
        return None
    width = max(x.time_s.shape[1] for x in rets)

    def pad(a: np.ndarray, fill) -> np.ndarray:
        return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

    try:
        return retention_drift(np.vstack([pad(x.time_s, np.nan) for x in rets]),
                               np.vstack([pad(x.voltage_V, np.nan) for x in rets]),
                               np.vstack([pad(x.current_A, np.nan) for x in rets]),
                               np.vstack([pad(x.status, int(PointStatus.MISSING)) for x in rets]))
    except ConfigError as exc:
        notes.append(f"retention data present but not usable: {exc}")
        return None


def _per_device(devices: dict[str, Summary], n_up: int, pooled: Extraction,
                options: AnalyzeOptions) -> tuple[dict[str, Extraction], dfm.D2D | None]:
    if len(devices) < 2:
        return {}, None
    fixed = {"potentiation": (pooled.up.window.start, pooled.up.window.stop),
             "depression": (pooled.down.window.start, pooled.down.window.stop)}

    def no_reads(up, down):  # pragma: no cover - n_boot = 0 never asks
        raise AssertionError("per-device extraction has no bootstrap")

    per = {d: extract_stats(*branch_stats_from(s.moments, n_up, s.cycles), s.usable_cycles, no_reads,
                            k_sigma=options.k_sigma, fixed_windows=fixed, pulses_per_state=pooled.up.window.m,
                            n_boot=0) for d, s in devices.items()}
    values: dict[str, list[float]] = {}
    for ex in per.values():
        f = to_device_file(ex)
        row = {"g_min_S": f.g_min_S, "g_max_S": f.g_max_S, "g_range_S": f.g_max_S - f.g_min_S,
               "sigma_mean_S": f.sigma_mean_S, "n_bins": float(f.n_bins)}
        for b in dfm.BRANCH_NAMES:
            br = f.branch(b)
            for key in ("slope_S_per_pulse", "bin_width_S", "r_squared", "nonlinearity"):
                row[f"branches.{b}.{key}"] = getattr(br, key)
        for k, v in row.items():
            values.setdefault(k, []).append(v)
    stats = {k: dfm.Stat(float(np.mean(v)), float(np.std(v, ddof=1))) for k, v in values.items()}
    return per, dfm.D2D(len(devices), stats)


def analyze(paths: list[str | pathlib.Path], out: str | pathlib.Path, figures_dir: str | pathlib.Path | None = None,
            options: AnalyzeOptions | None = None, map_runs=None) -> AnalysisResult:
    """Analyze run archives, write the device file to ``out`` and figures to ``figures_dir``."""
    # Corrupt but readable numbers (a flipped exponent) can overflow; the device-file
    # check below refuses the result, so numpy's warnings would only add noise.
    with naming_inputs(paths), np.errstate(over="ignore", invalid="ignore"):
        result = analyze_runs(paths, options, map_runs)
    return write_outputs(result, [p for p in paths if str(pathlib.Path(p)) not in result.skipped], out, figures_dir)


@contextlib.contextmanager
def naming_inputs(paths: list):
    """Errors about bad numbers say which input held them, if they do not yet."""
    try:
        yield
    except (ConfigError, SchemaError) as exc:
        if any(pathlib.Path(p).name in str(exc) for p in paths):
            raise
        raise type(exc)(f"{', '.join(str(p) for p in paths)}: {exc}") from exc


def write_outputs(result: AnalysisResult, paths: list, out: str | pathlib.Path,
                  figures_dir: str | pathlib.Path | None) -> AnalysisResult:
    """Save the device file (refusing an invalid one, naming the runs) and the figures."""
    try:
        dfm.save_device_file(result.device, out)
    except SchemaError as exc:  # the inputs' fault, not the output's: name them
        raise SchemaError(f"{', '.join(str(p) for p in paths)}: the extracted device file would be invalid "
                          f"({exc}); the runs hold non-physical values") from exc
    if figures_dir is not None:
        from memlab.analysis.figures import write_figures

        write_figures(result.extraction, figures_dir)
    return result
