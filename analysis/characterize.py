"""I-V archives and endurance summaries → the ``iv`` / ``endurance`` keys (+ figures).

What ``memlab characterize`` calls; like :mod:`.pipeline`, one of the few modules
of analysis that open files (runs through the one reader). The keys are those
of the device file (``docs/DEVICE_FILE.md``): with ``device`` they are added to
an existing device file (rewritten, validated); otherwise they go to a
characterization file ``{"kind": "memlab-characterization", "schema_version": 1,
"iv": ..., "endurance": ...}`` validated with the same classes.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from dataclasses import dataclass

import numpy as np

from memlab.analysis import device_file as dfm
from memlab.analysis.endurance import DEFAULT_MIN_RATIO, EnduranceResult, endurance_analysis
from memlab.analysis.iv import DEFAULT_READ_V, IVResult, iv_analysis, mean_std
from memlab.errors import ConfigError, SchemaError
from memlab.files import atomic_write_text, sha256_file

KIND = "memlab-characterization"
SCHEMA_VERSION = 1


@dataclass(frozen=True, eq=False)
class Characterization:
    """The analyses, their device-file sections and the figures written."""

    iv: IVResult | None
    endurance: EnduranceResult | None
    iv_summary: dfm.IVSummary | None
    endurance_summary: dfm.EnduranceSummary | None
    figures: tuple[pathlib.Path, ...] = ()


def _stat(values) -> dfm.Stat | None:
    ms = mean_std(values)
    return None if ms is None else dfm.Stat(*ms)


def iv_summary(result: IVResult, run_uuids: tuple[str, ...]) -> dfm.IVSummary:
    """The device file's ``iv`` section of an :class:`IVResult`."""
    return dfm.IVSummary(result.read_voltage_V, result.n_sweeps, _stat(result.cycling(result.v_set_V)),
                         _stat(result.cycling(result.v_reset_V)), _stat(result.g_lrs_S), _stat(result.g_hrs_S),
                         _stat(result.on_off_ratio), result.forming_V, tuple(run_uuids))


def endurance_summary(result: EnduranceResult, read_voltage_V: float, name: str, sha256: str) -> dfm.EnduranceSummary:
    """The device file's ``endurance`` section of an :class:`EnduranceResult`."""
    s = result.summary()
    bad = [k for k, v in s.items() if not np.isfinite(v)]
    if bad:
        raise ConfigError(f"{name}: no finite {bad[0]} (too few usable cycles)")
    ratio = result.ratio
    below = int(np.count_nonzero(np.isfinite(ratio) & (ratio < result.min_ratio)))
    return dfm.EnduranceSummary(int(result.cycle.size), float(read_voltage_V), result.min_ratio, s["g_lrs_S_first"],
                                s["g_lrs_S_last"], s["g_hrs_S_first"], s["g_hrs_S_last"], s["on_off_ratio_first"],
                                s["on_off_ratio_last"], result.closing_decades_per_decade, result.cycles_to_min_ratio,
                                result.projected_cycles_to_min_ratio, below, name, sha256)


def characterize(runs: list[str | pathlib.Path] = (), *, endurance: str | pathlib.Path | None = None,
                 endurance_read_voltage_V: float | None = None, read_voltage_V: float = DEFAULT_READ_V,
                 min_ratio: float = DEFAULT_MIN_RATIO, figures: str | pathlib.Path | None = None) -> Characterization:
    """Analyse I-V archives (pooled, in order) and/or an endurance summary CSV; write figures if asked."""
    from memlab.analysis.import_endurance import read_keithley_endurance_csv
    from memlab.protocols.archive import read_run

    if not runs and endurance is None:
        raise ConfigError("characterize needs I-V run archives and/or --endurance FILE")
    iv_res = iv_sum = end_res = end_sum = None
    v_all = i_all = None
    if runs:
        read = [read_run(p, waveforms=False) for p in runs]
        no_iv = [str(r.path) for r in read if r.iv is None or r.iv.voltage_V.shape[0] == 0]
        if no_iv:
            raise ConfigError(f"{no_iv[0]}: holds no I-V sweeps (kind iv_sweep); pulse runs go to memlab analyze")
        width = max(r.iv.voltage_V.shape[1] for r in read)

        def stack(key: str, fill) -> np.ndarray:
            return np.vstack([np.pad(getattr(r.iv, key), ((0, 0), (0, width - getattr(r.iv, key).shape[1])),
                                     constant_values=fill) for r in read])

        v_all, i_all, st = stack("voltage_V", np.nan), stack("current_A", np.nan), stack("status", 32)
        iv_res = iv_analysis(v_all, i_all, st, read_voltage_V=read_voltage_V)
        iv_sum = iv_summary(iv_res, tuple(r.uuid for r in read))
    if endurance is not None:
        if endurance_read_voltage_V is None or not endurance_read_voltage_V > 0:
            raise ConfigError(f"--endurance-read-voltage = {endurance_read_voltage_V}: the per-cycle currents need "
                              "the (positive) read voltage they were taken at, e.g. 0.2")
        data = read_keithley_endurance_csv(endurance)
        path = pathlib.Path(endurance)
        end_res = endurance_analysis(data.cycle, data.i_lrs_A / endurance_read_voltage_V,
                                     data.i_hrs_A / endurance_read_voltage_V, min_ratio=min_ratio)
        end_sum = endurance_summary(end_res, endurance_read_voltage_V, path.name, sha256_file(path))
    written: list[pathlib.Path] = []
    if figures is not None:
        from memlab.analysis import paper_figures as pf

        out = pathlib.Path(figures)
        out.mkdir(parents=True, exist_ok=True)
        if iv_res is not None:
            written += pf._save(pf.fig_iv_loops(v_all, i_all, iv_res), out, "iv_loops")
            written += pf._save(pf.fig_iv_states(iv_res), out, "iv_states")
        if end_res is not None:
            written += pf._save(pf.fig_endurance(end_res), out, "endurance")
    return Characterization(iv_res, end_res, iv_sum, end_sum, tuple(written))


def _section(value) -> dict | None:
    return None if value is None else dfm.to_dict(value)


def write_characterization(result: Characterization, out: str | pathlib.Path) -> pathlib.Path:
    """Write the sections as a characterization file (validated before writing)."""
    data = {"kind": KIND, "schema_version": SCHEMA_VERSION, "memlab_version": _version(),
            "created_utc": dfm.utc_now(), "iv": _section(result.iv_summary),
            "endurance": _section(result.endurance_summary)}
    load_characterization_dict(data, str(out))
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, json.dumps(data, indent=2, allow_nan=False) + "\n")


def load_characterization_dict(data: dict, source: str) -> tuple[dfm.IVSummary | None, dfm.EnduranceSummary | None]:
    """Validate a characterization file's content; SchemaError naming the key at fault."""
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("schema_version") != SCHEMA_VERSION:
        raise SchemaError(f"{source}: not a memlab characterization file (kind {KIND!r}, schema_version 1)")
    for key in ("iv", "endurance"):
        if key not in data:
            raise SchemaError(f"{source}: key {key!r} is missing")
    return (dfm._value(dfm.IVSummary | None, data["iv"], "iv", source, {}),
            dfm._value(dfm.EnduranceSummary | None, data["endurance"], "endurance", source, {}))


def add_to_device_file(result: Characterization, device_path: str | pathlib.Path) -> pathlib.Path:
    """Put the sections into an existing device file (keeping the ones not characterised now)."""
    device = dfm.load_device_file(device_path)
    changes = {}
    if result.iv_summary is not None:
        changes["iv"] = result.iv_summary
    if result.endurance_summary is not None:
        changes["endurance"] = result.endurance_summary
    return dfm.save_device_file(dataclasses.replace(device, schema_version=dfm.SCHEMA_VERSION, **changes),
                                device_path)


def _version() -> str:
    from memlab import __version__

    return __version__
