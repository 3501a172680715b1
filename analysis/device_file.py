"""The device file: the JSON hand-off from analysis to simulation.

:func:`save_device_file` writes a :class:`DeviceFile`; :func:`load_device_file`
reads one back and validates it strictly (every key present, of the right
type, finite, conductances non-negative, a known ``schema_version``), raising
:class:`~memlab.errors.SchemaError` that names the file and the offending key
path. Every key is documented in ``docs/DEVICE_FILE.md``; the dataclasses
below mirror the JSON one-to-one (field name == JSON key, lists become tuples).

Version log:

* 1: first version. (Since issue #15 the validator also refuses a measured energy without
  ``source_runs``; no key changed.)
* 2: ``sigma_source`` (how σ was estimated), optional ``iv`` and ``endurance``
  sections; a version-1 file reads as ``sigma_source = "cycle_to_cycle"`` with
  neither section.
* 3: the drift block follows memlab's one drift law (:mod:`memlab.drift_law`,
  ``G(t) = G(0) (1 + t/t0)^-nu``, ``t0_s`` now the law's fitted reference time)
  and gains ``law``, ``nu_mean_ci``, ``first_read_s``, ``read_noise_S``, the
  ``nu(G)`` line (``nu_g_ref_S``, ``nu_slope_per_S``, ``nu_spread``) and
  ``states`` (one fit per programmed state). A version-1/2 drift block (a plain
  power law from the first read, which equals the new law with the same
  ``t0_s`` for t >> t0) reads with ``law`` set, no states and the new numbers null.
"""

from __future__ import annotations

# size: the device file's schema in one module (STYLE.md names it a model file): each dataclass mirrors one
# JSON block and carries its limits in field metadata, which from_dict checks field by field; splitting the
# classes from their reader would put the checks away from the fields they check

import dataclasses
import datetime as _dt
import json
import math
import pathlib
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from memlab.drift_law import LAW as DRIFT_LAW
from memlab.errors import DataNotFoundError, SchemaError
from memlab.files import atomic_write_text

SCHEMA_VERSION = 3
KNOWN_VERSIONS = (1, 2, 3)
SIGMA_SOURCES = ("cycle_to_cycle", "within_trace")
KIND = "memlab-device-file"
BRANCH_NAMES = ("potentiation", "depression")

# Field metadata understood by the validator: "nonneg" (>= 0), "choices" (allowed strings),
# "max" (|value| at most this: beyond it a value is absurd for a memristor, not a measurement).
_NONNEG = {"nonneg": True}


def _lim(max_abs: float, nonneg: bool = True) -> dict:
    return {"nonneg": nonneg, "max": max_abs}


_SIEMENS = _lim(1.0)  # 1 S is a 1-ohm device: no memristor state conducts more
_COUNT = _lim(10**12)  # pulses, cycles: a trillion is years of pulsing
_STATES = _lim(2**16)  # aihwkit's piecewise device and the bins need arrays this long
_JOULES = _lim(1.0)
_SECONDS = _lim(1e10)  # ~300 years
_RATIO = _lim(1e15)
_VOLTS = _lim(200.0, nonneg=False)  # the B1500A's HPSMU limit


@dataclass(frozen=True)
class SourceRun:
    """One run archive the device file was extracted from."""

    uuid: str
    file: str  # file name as given to the analysis (no directory guarantees)
    sha256: str  # of the whole archive file
    status: str  # the run's completion state: complete | interrupted | failed


@dataclass(frozen=True)
class Branch:
    """One programming branch (potentiation or depression) within its linear window.

    Pulse indices count programming pulses inside the branch from 0; the read
    after pulse ``p`` is state candidate ``p``. The states are the reads at
    ``window_start_pulse, window_start_pulse + m, ...`` below
    ``window_stop_pulse`` (exclusive), with ``m = pulses_per_state``.
    The linear model is ``G(n) = intercept_S + slope_S_per_pulse * n`` for
    ``n`` pulses applied after the window's first state.
    """

    window_start_pulse: int = field(metadata=_COUNT)
    window_stop_pulse: int = field(metadata=_COUNT)
    window_reason: str
    slope_S_per_pulse: float = field(metadata=_lim(1.0, nonneg=False))  # negative for depression
    intercept_S: float = field(metadata=_SIEMENS)  # fitted G at the window's first state
    r_squared: float = field(metadata=_lim(1e6, nonneg=False))
    bin_width_S: float = field(metadata=_SIEMENS)  # mean |step| between neighbouring state means
    nonlinearity: float = field(metadata=_lim(1e6, nonneg=False))  # NeuroSim-style exponential factor (0 = linear), see DEVICE_FILE.md
    state_mean_S: tuple[float, ...] = field(metadata=_SIEMENS)  # programming order
    state_sigma_S: tuple[float, ...] = field(metadata=_SIEMENS)  # cycle-to-cycle σ per state


@dataclass(frozen=True)
class Branches:
    potentiation: Branch
    depression: Branch


@dataclass(frozen=True)
class Symmetry:
    slope_ratio: float  # |slope_depression| / slope_potentiation (1 = symmetric)
    nonlinearity_asymmetry: float  # nonlinearity_potentiation - nonlinearity_depression


@dataclass(frozen=True)
class EnergyPerCycle:
    mean: float = field(metadata=_JOULES)  # J per complete potentiation + depression cycle
    std: float = field(metadata=_JOULES)  # J, over cycles
    source: str = field(metadata={"choices": ("measured", "applied_waveform")})


@dataclass(frozen=True)
class EnergyPerPulse:
    mean: float = field(metadata=_JOULES)  # J per programming pulse
    std: float = field(metadata=_JOULES)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float  # e.g. 0.95


@dataclass(frozen=True)
class DriftState:
    """The drift law fitted to one programmed state's retention trace."""

    g0_S: float = field(metadata=_SIEMENS)  # G(0) of the fit
    nu: float = field(metadata=_lim(100.0, nonneg=False))
    nu_se: float = field(metadata=_lim(100.0))  # standard error of nu (least squares)
    nu_ci_low: float = field(metadata=_lim(100.0, nonneg=False))  # interval of nu (drift.nu_mean_ci's level)
    nu_ci_high: float = field(metadata=_lim(100.0, nonneg=False))
    read_noise_S: float = field(metadata=_SIEMENS)  # residual RMS of the trace about the law
    n_reads: int = field(metadata=_COUNT)
    relative_change: float = field(metadata=_lim(1e6, nonneg=False))  # (G(last read) - G(first)) / G(first)


@dataclass(frozen=True)
class Drift:
    """Retention: memlab's drift law G(t) = G(0) * (1 + t / t0_s) ** -nu (memlab/drift_law.py)."""

    nu_mean: float = field(metadata=_lim(100.0, nonneg=False))  # mean of nu over states
    nu_std: float = field(metadata=_lim(100.0))  # spread (sample std) of nu over states
    t0_s: float = field(metadata=_SECONDS)  # the law's reference time (version <= 2: first read)
    relative_change: float = field(metadata=_lim(1e6, nonneg=False))  # mean (G(end) - G(first)) / G(first)
    span_s: float = field(metadata=_SECONDS)
    law: str = field(default=DRIFT_LAW, metadata={"choices": (DRIFT_LAW,)})
    nu_mean_ci: Interval | None = None  # interval of nu_mean
    first_read_s: float | None = field(default=None, metadata=_SECONDS)
    read_noise_S: float | None = field(default=None, metadata=_SIEMENS)  # mean over states
    nu_g_ref_S: float | None = field(default=None, metadata=_SIEMENS)  # nu(G) = nu_mean + slope (G - ref)
    nu_slope_per_S: float | None = field(default=None, metadata=_lim(1e6, nonneg=False))
    nu_spread: float | None = field(default=None, metadata=_lim(100.0))  # residual spread about nu(G)
    states: tuple[DriftState, ...] = ()


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float = field(metadata=_NONNEG)


@dataclass(frozen=True)
class D2D:
    """Device-to-device statistics over several devices analysed together."""

    n_devices: int = field(metadata=_lim(10**6))
    quantities: dict[str, Stat]  # e.g. "branches.potentiation.bin_width_S" -> mean, std


@dataclass(frozen=True)
class IVSummary:
    """DC I-V sweeps (analysis/iv.py): switching voltages and states at the read voltage."""

    read_voltage_V: float = field(metadata=_lim(200.0))  # magnitude, taken with each excursion's polarity
    n_sweeps: int = field(metadata=_COUNT)
    v_set_V: Stat | None  # signed; over sweeps with a set, the forming sweep left out
    v_reset_V: Stat | None
    g_lrs_S: Stat | None
    g_hrs_S: Stat | None
    on_off_ratio: Stat | None  # g_lrs_S / g_hrs_S per sweep
    forming_V: float | None = field(metadata=_VOLTS)  # set voltage of the forming (first) sweep; null when none was detected
    source_runs: tuple[str, ...]  # UUIDs of the I-V archives


@dataclass(frozen=True)
class EnduranceSummary:
    """Endurance cycling (analysis/endurance.py): HRS/LRS against cycle and the window's closing."""

    n_cycles: int = field(metadata=_COUNT)
    read_voltage_V: float = field(metadata=_lim(200.0))
    min_ratio: float = field(metadata=_RATIO)
    g_lrs_S_first: float = field(metadata=_SIEMENS)  # medians over the first / last 10 % of cycles
    g_lrs_S_last: float = field(metadata=_SIEMENS)
    g_hrs_S_first: float = field(metadata=_SIEMENS)
    g_hrs_S_last: float = field(metadata=_SIEMENS)
    on_off_ratio_first: float = field(metadata=_RATIO)
    on_off_ratio_last: float = field(metadata=_RATIO)
    closing_decades_per_decade: float  # slope of log10(ratio) against log10(cycle)
    cycles_to_min_ratio: int | None  # first cycle whose running median ratio < min_ratio
    projected_cycles_to_min_ratio: float | None  # the fit extrapolated (an extrapolation)
    n_cycles_below_min_ratio: int = field(metadata=_COUNT)
    source_file: str
    source_sha256: str


@dataclass(frozen=True)
class DeviceFile:
    """What simulation needs to know about a device, in SI units."""

    schema_version: int
    kind: str
    memlab_version: str
    created_utc: str
    source_runs: tuple[SourceRun, ...]
    n_cycles: int = field(metadata=_COUNT)
    k_sigma: float = field(metadata=_lim(100.0))
    pulses_per_state: int = field(metadata=_lim(10**6))
    g_min_S: float = field(metadata=_SIEMENS)
    g_max_S: float = field(metadata=_SIEMENS)
    dynamic_range: float = field(metadata=_RATIO)
    states_per_branch: int = field(metadata=_STATES)
    n_bins: int = field(metadata=_lim(2**17))
    sigma_mean_S: float = field(metadata=_SIEMENS)
    branches: Branches
    symmetry: Symmetry
    energy_per_cycle_J: EnergyPerCycle | None
    energy_per_pulse_J: EnergyPerPulse | None
    drift: Drift | None
    confidence_intervals: dict[str, Interval]
    d2d: D2D | None
    sigma_source: str = field(default="cycle_to_cycle", metadata={"choices": SIGMA_SOURCES})
    iv: IVSummary | None = None
    endurance: EnduranceSummary | None = None

    def branch(self, name: str) -> Branch:
        """The branch called ``name`` ('potentiation' or 'depression')."""
        if name not in BRANCH_NAMES:
            raise KeyError(f"branch must be one of {BRANCH_NAMES}, got {name!r}")
        return getattr(self.branches, name)


# --------------------------------------------------------------------------- conversion

def to_dict(device: DeviceFile) -> dict[str, Any]:
    """The JSON-ready dict of ``device`` (tuples become lists)."""

    def conv(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {f.name: conv(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, (tuple, list)):
            return [conv(x) for x in obj]
        if isinstance(obj, dict):
            return {k: conv(v) for k, v in obj.items()}
        if hasattr(obj, "item") and callable(obj.item):  # numpy scalar -> Python number
            return obj.item()
        return obj

    return conv(device)


def from_dict(data: Any, source: str = "<dict>") -> DeviceFile:
    """Validate ``data`` (parsed JSON) and build a :class:`DeviceFile`.

    Raises :class:`SchemaError` naming ``source`` and the key path at fault.
    """
    if not isinstance(data, dict):
        raise SchemaError(f"{source}: a device file must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind != KIND:
        raise SchemaError(f"{source}: key 'kind' must be {KIND!r}, got {kind!r} (not a memlab device file)")
    version = data.get("schema_version")
    if type(version) is not int or version not in KNOWN_VERSIONS:
        raise SchemaError(f"{source}: key 'schema_version' is {version!r}; this memlab reads "
                          f"versions {list(KNOWN_VERSIONS)}")
    if version == 1:  # upgrade in memory: version 2 added these keys
        data = {"sigma_source": "cycle_to_cycle", "iv": None, "endurance": None, **data}
    if version in (1, 2) and isinstance(data.get("drift"), dict):  # version 3 added these drift keys
        data = {**data, "drift": {"law": DRIFT_LAW, "nu_mean_ci": None, "first_read_s": None,
                                  "read_noise_S": None, "nu_g_ref_S": None, "nu_slope_per_S": None,
                                  "nu_spread": None, "states": [], **data["drift"]}}
    device = _build(DeviceFile, data, "", source)
    _check_consistency(device, source)
    return device


def _fail(source: str, path: str, why: str) -> SchemaError:
    return SchemaError(f"{source}: key '{path or '<root>'}' {why}")


def _build(cls: type, data: Any, path: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(source, path, f"must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise _fail(source, _join(path, unknown[0]), "is not a known key of this schema version")
    kwargs = {}
    for f in dataclasses.fields(cls):
        sub = _join(path, f.name)
        if f.name not in data:
            raise _fail(source, sub, "is missing")
        kwargs[f.name] = _value(hints[f.name], data[f.name], sub, source, f.metadata)
    return cls(**kwargs)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _value(tp: Any, value: Any, path: str, source: str, meta: typing.Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        return _value(inner[0], value, path, source, meta)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path, source)
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(source, path, f"must be a list, got {type(value).__name__}")
        return tuple(_value(args[0], v, f"{path}[{i}]", source, meta) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(source, path, f"must be an object, got {type(value).__name__}")
        return {k: _value(args[1], v, _join(path, k), source, meta) for k, v in value.items()}
    if tp is str:
        if not isinstance(value, str):
            raise _fail(source, path, f"must be a string, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise _fail(source, path, f"is {value!r}; allowed: {list(choices)}")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(source, path, f"must be an integer, got {value!r}")
    elif tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _fail(source, path, f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise _fail(source, path, f"must be finite, got {value!r}")
    else:  # pragma: no cover - a schema type this validator does not know
        raise TypeError(f"unsupported schema type {tp!r} at {path}")
    if meta.get("nonneg") and value < 0:
        raise _fail(source, path, f"must be >= 0, got {value!r}")
    if "max" in meta and abs(value) > meta["max"]:
        raise _fail(source, path, f"is {value!r}, beyond the plausible {'' if meta.get('nonneg') else '+-'}"
                                  f"{meta['max']:g}: an absurd value for a memristor device file")
    return value


def _check_consistency(d: DeviceFile, source: str) -> None:
    if d.energy_per_cycle_J is not None and not d.source_runs:
        raise _fail(source, "energy_per_cycle_J.source",
                    f"is {d.energy_per_cycle_J.source!r} but source_runs is empty: a measured value needs the "
                    "runs it was measured in (a file of published numbers is not a device file)")
    if d.pulses_per_state < 1:
        raise _fail(source, "pulses_per_state", f"must be >= 1, got {d.pulses_per_state}")
    if d.g_min_S > d.g_max_S:
        raise _fail(source, "g_min_S", f"({d.g_min_S}) exceeds g_max_S ({d.g_max_S})")
    if d.states_per_branch < 2:
        raise _fail(source, "states_per_branch", f"must be >= 2, got {d.states_per_branch}")
    if d.n_bins > 2 * d.states_per_branch - 1:
        raise _fail(source, "n_bins", f"({d.n_bins}) exceeds 2 * states_per_branch - 1 "
                                      f"({2 * d.states_per_branch - 1})")
    for name in BRANCH_NAMES:
        b = d.branch(name)
        p = f"branches.{name}"
        for key in ("state_mean_S", "state_sigma_S"):
            n = len(getattr(b, key))
            if n != d.states_per_branch:
                raise _fail(source, f"{p}.{key}", f"has {n} states, states_per_branch is "
                                                   f"{d.states_per_branch}")
        if b.window_stop_pulse <= b.window_start_pulse:
            raise _fail(source, f"{p}.window_stop_pulse",
                        f"({b.window_stop_pulse}) must exceed window_start_pulse ({b.window_start_pulse})")
    for key, ci in d.confidence_intervals.items():
        if ci.low > ci.high or not 0 < ci.level < 1:
            raise _fail(source, f"confidence_intervals.{key}",
                        f"needs low <= high and 0 < level < 1, got {ci}")


# --------------------------------------------------------------------------- files

def save_device_file(device: DeviceFile, path: str | pathlib.Path) -> pathlib.Path:
    """Validate ``device`` and write it as indented JSON to ``path``; returns the path."""
    path = pathlib.Path(path)
    data = to_dict(device)
    from_dict(data, source=str(path))  # never write what we would refuse to read
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # atomic: a reader never sees half a file, a failure or a kill leaves no partial file at path
    return atomic_write_text(path, text)


def load_device_file(path: str | pathlib.Path) -> DeviceFile:
    """Read and strictly validate the device file at ``path``."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataNotFoundError(f"device file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read device file ({exc})") from None

    def refuse_constant(name: str) -> float:
        raise SchemaError(f"{path}: contains {name}; device files hold finite numbers only")

    try:
        data = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # hostile nesting: json recurses once per level
        raise SchemaError(f"{path}: JSON nested too deeply to be a device file") from None
    return from_dict(data, source=str(path))


def utc_now() -> str:
    """ISO 8601 UTC timestamp with a trailing Z, as stored in ``created_utc``."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
