"""Run archives → extraction → device file (+ figures): what ``memlab analyze`` calls.

The only module of analysis that opens files besides the device-file writer
and the importers; it reads runs through ``memlab.protocols.archive.read_run``.
Several runs are pooled cycle by cycle (they must share the pulse schedule).
Runs are grouped into devices by the ``device_id`` attribute (a run without
one is its own device); with two or more devices, each is also extracted in
the pooled windows to give device-to-device statistics (``d2d``).
"""

from __future__ import annotations

import pathlib
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np

from memlab.analysis import device_file as dfm
from memlab.analysis.conductance import Conductance, conductance
from memlab.analysis.energy import Energy, pulse_energy
from memlab.analysis.extraction import Extraction, extract, to_device_file
from memlab.analysis.retention import DriftResult, retention_drift
from memlab.analysis.window import DEFAULT_K_SIGMA, DEFAULT_R2_MIN
from memlab.errors import ConfigError, SchemaError
from memlab.instruments.status import PointStatus

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

    def __post_init__(self) -> None:
        if not self.k_sigma > 0:
            raise ConfigError(f"k_sigma = {self.k_sigma} must be > 0")
        if not 0 < self.r2_min <= 1:
            raise ConfigError(f"r2_min = {self.r2_min} must lie in (0, 1]")
        if not 0 < self.level < 1:
            raise ConfigError(f"confidence level = {self.level} must lie in (0, 1)")
        if self.n_boot < 0:
            raise ConfigError(f"n_boot = {self.n_boot} must be >= 0")


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """The pooled extraction, its device file, per-device extractions and notes for the user."""

    extraction: Extraction
    device: dfm.DeviceFile
    per_device: dict[str, Extraction]
    read_quality: Conductance
    notes: tuple[str, ...] = field(default=())


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


def _device_id(run) -> str:
    for key in ("device_id", "device"):
        value = run.attrs.get(key)
        if value not in (None, ""):
            return str(value)
    return run.uuid


def analyze_runs(paths: list[str | pathlib.Path], options: AnalyzeOptions | None = None) -> AnalysisResult:
    """Read the runs at ``paths`` and extract the device file (nothing is written)."""
    from memlab.protocols.archive import read_run  # the one reader of run archives

    options = options or AnalyzeOptions()
    if not paths:
        raise ConfigError("analyze needs at least one run archive")
    runs = [read_run(p) for p in paths]
    # hashing the archives for provenance overlaps with the analysis (hashlib releases the GIL)
    hashing = threading.Thread(target=lambda: [r.sha256 for r in runs], daemon=True)
    hashing.start()
    notes: list[str] = []
    pulse_runs = [r for r in runs if r.kind in PULSE_KINDS and r.pulses is not None and r.pulses.n_cycles > 0]
    if not pulse_runs:
        raise ConfigError(f"none of {[str(p) for p in paths]} holds pulse-cycling data with at least one cycle")
    for r in runs:
        if r.status != "complete":
            notes.append(f"{r.path.name}: run status is {r.status!r} ({r.status_reason}); its recorded cycles are used")
    first = pulse_runs[0].pulses
    for r in pulse_runs[1:]:
        if (r.pulses.n_up, r.pulses.n_down) != (first.n_up, first.n_down):
            raise ConfigError(f"{r.path}: {r.pulses.n_up} + {r.pulses.n_down} pulses per cycle, but "
                              f"{pulse_runs[0].path} has {first.n_up} + {first.n_down}; pooled runs must share the schedule")

    g_S, devices, quality, energy = _pool(pulse_runs, notes)

    drift = _drift(runs, notes)
    ids = list(dict.fromkeys(devices.tolist()))
    g_typical = _typical_device(g_S, devices, ids) if len(ids) > 1 else g_S
    ex = extract(g_typical, first.n_up, first.n_down, energy=energy, drift=drift, k_sigma=options.k_sigma,
                 r2_min=options.r2_min, pulses_per_state=options.pulses_per_state, fixed_windows=options.windows,
                 n_boot=options.n_boot, level=options.level, seed=options.seed)

    per_device, d2d = _per_device(g_S, devices, first.n_up, first.n_down, ex, options)
    if d2d is not None:
        notes.append(f"{d2d.n_devices} devices: states are the average device's, sigma the cycle-to-cycle "
                     "sigma within devices; the device-to-device spread is in d2d")
    hashing.join()
    sources = tuple(dfm.SourceRun(r.uuid, r.path.name, r.sha256, r.status) for r in runs)
    return AnalysisResult(ex, to_device_file(ex, sources, d2d), per_device, quality, tuple(notes))


def _pool(pulse_runs, notes: list[str]) -> tuple[np.ndarray, np.ndarray, Conductance, Energy | None]:
    """Conductance (cycles, pulses), device id per cycle, read quality and energy of all runs, stacked."""
    g_parts, energies, devices = [], [], []
    for r in pulse_runs:
        p = r.pulses
        g_parts.append(conductance(p.read_current_A, p.read_voltage_V, p.read_status, p.read_conductance_S))
        # one run is one device: its provenance attributes (a file open and JSON parse) are not needed
        devices += [_device_id(r) if len(pulse_runs) > 1 else r.uuid] * p.n_cycles
        if p.waveform is not None:
            wf = p.waveform
            energies.append(pulse_energy(wf.time_s, wf.voltage_V, wf.current_A, wf.pulse_index,
                                         p.pulses_per_cycle, wf.measured))
    g_S = np.vstack([c.g_S for c in g_parts])
    quality = Conductance(g_S, np.vstack([c.usable for c in g_parts]), sum(c.n_flagged for c in g_parts),
                          sum(c.n_zero_bias for c in g_parts), sum(c.n_negative for c in g_parts),
                          sum(c.n_missing for c in g_parts))
    if quality.n_missing:
        notes.append(f"{quality.n_missing} of {g_S.size} reads are missing (ragged data or lost points)")
    if quality.n_flagged > quality.n_missing:
        notes.append(f"{quality.n_flagged - quality.n_missing} of {g_S.size} reads carry an instrument status "
                     "flag (compliance, overflow, ...) and were excluded")
    if quality.n_zero_bias:
        notes.append(f"{quality.n_zero_bias} reads had a zero or unknown read voltage and were excluded")
    if quality.n_negative:
        notes.append(f"{quality.n_negative} reads gave a negative conductance (kept; check wiring if many)")
    energy = None
    if energies:
        energy = Energy(np.vstack([e.per_pulse_J for e in energies]),
                        np.concatenate([e.per_cycle_J for e in energies]), energies[0].source)
        if any(e.source == "applied_waveform" for e in energies):
            energy = Energy(energy.per_pulse_J, energy.per_cycle_J, "applied_waveform")
            notes.append("energy uses the programmed voltage waveform (V not measured) with the measured current")
        if len(energies) < len(pulse_runs):
            notes.append(f"energy from the {len(energies)} of {len(pulse_runs)} runs that hold raw waveforms")
    else:
        notes.append("no raw waveforms recorded: energy per cycle is not available")
    return g_S, np.array(devices), quality, energy


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


def _typical_device(g_S: np.ndarray, devices: np.ndarray, ids: list[str]) -> np.ndarray:
    """Cycles of every device moved onto the average device: each device's per-pulse mean is
    replaced by the mean over devices, so the spread left is cycle-to-cycle only (the
    device-to-device spread goes to ``d2d`` instead of inflating sigma)."""
    with warnings.catch_warnings():  # a pulse with no read in some device
        warnings.simplefilter("ignore", RuntimeWarning)
        means = {d: np.nanmean(g_S[devices == d], axis=0) for d in ids}
        grand = np.nanmean(np.vstack(list(means.values())), axis=0)
    out = g_S.copy()
    for d in ids:
        out[devices == d] += grand - means[d]
    return out


def _per_device(g_S: np.ndarray, devices: np.ndarray, n_up: int, n_down: int, pooled: Extraction,
                options: AnalyzeOptions) -> tuple[dict[str, Extraction], dfm.D2D | None]:
    ids = list(dict.fromkeys(devices.tolist()))
    if len(ids) < 2:
        return {}, None
    fixed = {"potentiation": (pooled.up.window.start, pooled.up.window.stop),
             "depression": (pooled.down.window.start, pooled.down.window.stop)}
    per = {d: extract(g_S[devices == d], n_up, n_down, k_sigma=options.k_sigma, fixed_windows=fixed,
                      pulses_per_state=pooled.up.window.m, n_boot=0) for d in ids}
    values: dict[str, list[float]] = {}
    for ex in per.values():
        f = to_device_file(ex)
        row = {"g_min_S": f.g_min_S, "g_max_S": f.g_max_S, "sigma_mean_S": f.sigma_mean_S,
               "n_bins": float(f.n_bins)}
        for b in dfm.BRANCH_NAMES:
            br = f.branch(b)
            for key in ("slope_S_per_pulse", "bin_width_S", "r_squared", "nonlinearity"):
                row[f"branches.{b}.{key}"] = getattr(br, key)
        for k, v in row.items():
            values.setdefault(k, []).append(v)
    stats = {k: dfm.Stat(float(np.mean(v)), float(np.std(v, ddof=1))) for k, v in values.items()}
    return per, dfm.D2D(len(ids), stats)


def analyze(paths: list[str | pathlib.Path], out: str | pathlib.Path, figures_dir: str | pathlib.Path | None = None,
            options: AnalyzeOptions | None = None) -> AnalysisResult:
    """Analyze run archives, write the device file to ``out`` and figures to ``figures_dir``."""
    # Corrupt but readable numbers (a flipped exponent) can overflow; the device-file
    # check below refuses the result, so numpy's warnings would only add noise.
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            result = analyze_runs(paths, options)
    except (ConfigError, SchemaError) as exc:  # say which input held the bad numbers, if not said yet
        if any(pathlib.Path(p).name in str(exc) for p in paths):
            raise
        raise type(exc)(f"{', '.join(str(p) for p in paths)}: {exc}") from exc
    try:
        dfm.save_device_file(result.device, out)
    except SchemaError as exc:  # the inputs' fault, not the output's: name them
        raise SchemaError(f"{', '.join(str(p) for p in paths)}: the extracted device file would be invalid "
                          f"({exc}); the runs hold non-physical values") from exc
    if figures_dir is not None:
        from memlab.analysis.figures import write_figures

        write_figures(result.extraction, figures_dir)
    return result


PAPER_TABLE = {  # the reference paper's headline numbers (shared/reference/paper.txt, section 2)
    "states per branch": "16",
    "differential bins": "31",
    "bin width up / down (uS)": "81.077 / 80.520",
    "sigma mean (uS)": "23.700",
    "R^2 up / down": "0.99898 / 0.99925",
    "energy per cycle (nJ)": "23.74 +- 1.26",
}


def _ci(d: dfm.DeviceFile, key: str, scale: float = 1.0, fmt: str = "{:.3f}") -> str:
    ci = d.confidence_intervals.get(key)
    return "" if ci is None else f"[{fmt.format(ci.low * scale)}, {fmt.format(ci.high * scale)}]"


def headline_rows(d: dfm.DeviceFile) -> list[tuple[str, str, str]]:
    """(quantity, value, confidence interval) rows of the short table."""
    up, dn = d.branch("potentiation"), d.branch("depression")
    rows = [
        ("states per branch", f"{d.states_per_branch} (m = {d.pulses_per_state})", ""),
        ("differential bins", f"{d.n_bins}", _ci(d, "n_bins", fmt="{:.0f}")),
        ("bin width up / down (uS)", f"{up.bin_width_S * 1e6:.3f} / {dn.bin_width_S * 1e6:.3f}",
         f"{_ci(d, 'branches.potentiation.bin_width_S', 1e6)} / {_ci(d, 'branches.depression.bin_width_S', 1e6)}"),
        ("sigma mean (uS)", f"{d.sigma_mean_S * 1e6:.3f}", _ci(d, "sigma_mean_S", 1e6)),
        ("R^2 up / down", f"{up.r_squared:.5f} / {dn.r_squared:.5f}",
         f"{_ci(d, 'branches.potentiation.r_squared', fmt='{:.5f}')} / "
         f"{_ci(d, 'branches.depression.r_squared', fmt='{:.5f}')}"),
    ]
    if d.energy_per_cycle_J is not None:
        e = d.energy_per_cycle_J
        rows.append(("energy per cycle (nJ)", f"{e.mean * 1e9:.2f} +- {e.std * 1e9:.2f}",
                     _ci(d, "energy_per_cycle_J.mean", 1e9, "{:.2f}")))
    else:
        rows.append(("energy per cycle (nJ)", "n/a (no waveforms)", ""))
    rows += [
        ("G min / max (mS)", f"{d.g_min_S * 1e3:.4f} / {d.g_max_S * 1e3:.4f}", ""),
        ("windows up / down (pulses)", f"{up.window_start_pulse}:{up.window_stop_pulse} / "
                                        f"{dn.window_start_pulse}:{dn.window_stop_pulse}", ""),
        ("slope ratio, nonlinearity up / down", f"{d.symmetry.slope_ratio:.4f}, "
                                                 f"{up.nonlinearity:.3f} / {dn.nonlinearity:.3f}", ""),
    ]
    if d.d2d is not None:
        q = d.d2d.quantities

        def cv(key: str) -> str:
            return f"{100 * q[key].std / abs(q[key].mean):.1f} %" if key in q and q[key].mean else "n/a"

        rows.append((f"d2d spread over {d.d2d.n_devices} devices",
                     f"slope up {cv('branches.potentiation.slope_S_per_pulse')}, "
                     f"down {cv('branches.depression.slope_S_per_pulse')}, G min {cv('g_min_S')}",
                     "(std / mean)"))
    if d.drift is not None:
        rows.append(("drift nu (mean +- std)", f"{d.drift.nu_mean:.4f} +- {d.drift.nu_std:.4f}",
                     f"change {d.drift.relative_change * 100:.2f} % over {d.drift.span_s:.3g} s"))
    return rows


def format_table(d: dfm.DeviceFile, compare_paper: bool = False) -> str:
    """The headline numbers as a plain-text table (optionally beside the paper's)."""
    # A pair of absent intervals leaves only its " / ": no interval (e.g. --bootstrap 0) shows nothing.
    rows = [(name, value, ci if ci.strip(" /") else "") for name, value, ci in headline_rows(d)]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    has_ci = any(ci and not ci.startswith(("(", "change")) for _, _, ci in rows)
    head = f"{'quantity':<{w0}}  {'value':<{w1}}  " + ("paper" if compare_paper else "95% CI" if has_ci else "")
    head = head.rstrip()
    lines = [head, "-" * len(head)]
    for name, value, ci in rows:
        extra = PAPER_TABLE.get(name, "") if compare_paper else ci
        lines.append(f"{name:<{w0}}  {value:<{w1}}  {extra}".rstrip())
    return "\n".join(lines)
