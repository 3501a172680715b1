"""What one experiment does: :class:`ExperimentPlan`, a frozen dataclass stored in every results file.

A plan holds only task-independent options; a task's own training settings (the CIFAR-10
recipe's batch size, budgets, mixed precision ...) travel in ``plan.training`` as that task's
frozen dataclass. :func:`default_plan` is what ``memlab simulate``, the Python API and a
notebook start from: the generic defaults, then the task's (``Task.plan_defaults``), then
with ``quick`` the smoke-test sizes (generic, then ``Task.quick_plan_defaults``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from memlab.errors import ConfigError
from memlab.simulation import analog as dm
from memlab.simulation.crossbar import Mvm, ProgrammedTile, ideal_mvm

HOUR_S = 3600.0
DAY_S = 86400.0
MONTH_S = 30.0 * DAY_S
YEAR_S = 365.25 * DAY_S
MEASURED_TIMES_S = (1.0, HOUR_S, DAY_S, 2 * DAY_S, MONTH_S, YEAR_S, 10 * YEAR_S)
"""Accuracy-vs-time points of the measured law: 1 s, 1 h, 1 day, 2 days, 1 month, 1 year, 10 years."""
TIME_LABELS = {1.0: "1s", HOUR_S: "1h", DAY_S: "1day", 2 * DAY_S: "2days", MONTH_S: "1month", YEAR_S: "1year",
               10 * YEAR_S: "10years"}
DEFAULT_D2D_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)

# quick without an explicit plan: fewer repeats and sweep points, accuracy against time on the
# potentiation branch only (a smoke test, ~2 min for MNIST); a task may shrink it further.
QUICK_CONFIG = {"repeats": 3, "d2d_sweep": (0.0, 0.3, 0.5), "drift_branches": ("potentiation",)}


@dataclass(frozen=True)
class ExperimentPlan:
    """Everything that defines a run (stored in the results file as ``config``).

    epochs/hwat_epochs: None = the task's default (or its quick default with quick=True).
    repeats: programming repeats at t = 0; sweep_repeats: per point of the D2D sweep and of the
        accuracy-versus-time curves (None = ``repeats``). times_s: None = the drift mode's default.
    drift_branches: the branches whose accuracy against time is evaluated (each with its own
        HWAT network); None = the programming branch (``options.branch``) only. The programming
        repeats and the D2D sweep use ``options.branch``.
    compare_open_loop: after the D2D sweep, the same sweep with open-loop programming.
    energy: an :class:`~memlab.simulation.energy.EnergySettings` adds the network's cost.
    budget: a :class:`~memlab.simulation.budget.BudgetSettings` adds the accuracy budget.
    deadline_s: the whole run, from its start: evaluation repeats shrink (to 1) or stages are
        skipped (recorded as such) to meet it. None: no limit.
    digital_weights/hwat_weights: trained networks to start from instead of training (a
        ``*-digital-*.pt`` / ``*-hwat-*.pt`` of an earlier run); their names and SHA-256 go into
        the results.
    training: the task's own recipe settings (a frozen dataclass of the task module; None = its default).
    """

    task: str = "mnist"
    epochs: Optional[int] = None
    hwat_epochs: Optional[int] = None
    repeats: int = 5
    sweep_repeats: Optional[int] = None
    seed: int = 0
    device: str = "cpu"
    quick: bool = False
    options: dm.AnalogOptions = field(default_factory=dm.AnalogOptions)
    times_s: Optional[tuple[float, ...]] = None
    d2d_sweep: tuple[float, ...] = DEFAULT_D2D_SWEEP
    drift_branches: Optional[tuple[str, ...]] = dm.BRANCHES
    compare_open_loop: bool = False
    energy: Any = None
    budget: Any = None
    deadline_s: Optional[float] = None
    digital_weights: Optional[str] = None
    hwat_weights: Optional[str] = None
    training: Any = None
    mvm: Mvm = ideal_mvm  # the per-batch crossbar product every evaluation uses
    # Applied once to every programmed tile before evaluation (IR drop plugs in here).
    tile_transform: Optional[Callable[[ProgrammedTile], ProgrammedTile]] = None

    def __post_init__(self) -> None:
        for name in ("epochs", "hwat_epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= 10000):
                raise ConfigError(f"{name} is {value!r}; allowed 0 to 10000")
        for name in ("repeats", "sweep_repeats"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 1 <= value <= 1000):
                raise ConfigError(f"{name} is {value!r}; allowed 1 to 1000")
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"device is {self.device!r}; allowed: cpu, cuda")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device is 'cuda' but torch sees no CUDA device")
        for d in self.d2d_sweep:
            if not 0 <= d <= 2:
                raise ConfigError(f"d2d_sweep value {d!r} outside 0 to 2")
        for t in self.times_s or ():
            dm.check_drift_time(self.options.drift, t)
        branches = self.drift_branches
        if branches is not None and (not branches or any(b not in dm.BRANCHES for b in branches)):
            raise ConfigError(f"drift_branches is {branches!r}; allowed: None or a non-empty selection of "
                              f"{', '.join(dm.BRANCHES)}")
        if self.deadline_s is not None and not self.deadline_s > 0:
            raise ConfigError(f"deadline_s is {self.deadline_s!r}; must be > 0 s (or None for no limit)")

    def resolved(self, task: Any) -> "ExperimentPlan":
        """A copy with the task's defaults filled in (epochs, times, branches, sweep repeats)."""
        epochs = self.epochs if self.epochs is not None else (task.quick_epochs if self.quick else task.epochs)
        hwat = self.hwat_epochs if self.hwat_epochs is not None else (
            task.quick_hwat_epochs if self.quick else task.hwat_epochs)
        return dataclasses.replace(self, task=task.name, epochs=epochs, hwat_epochs=hwat,
                                   times_s=self.times_s or default_times(self.options.drift),
                                   drift_branches=self.drift_branches or (self.options.branch,),
                                   sweep_repeats=self.sweep_repeats or self.repeats)

    def to_json(self) -> dict[str, Any]:
        skip = ("options", "mvm", "tile_transform", "energy", "budget", "training")
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        d["options"] = dataclasses.asdict(self.options)
        for name in ("energy", "budget", "training"):
            value = getattr(self, name)
            d[name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        for name in ("digital_weights", "hwat_weights"):  # names, not the machine's paths
            d[name] = None if d[name] is None else _name(d[name])
        d["mvm"] = _callable_name(self.mvm)
        transform = self.tile_transform
        d["tile_transform"] = (None if transform is None else transform.as_dict() if hasattr(transform, "as_dict")
                               else _callable_name(transform))
        return d


SimulationConfig = ExperimentPlan  # the name of the MNIST era, kept for callers written against it


def default_plan(task: Any, *, quick: bool = False, options: Optional[dm.AnalogOptions] = None,
                 **overrides: Any) -> ExperimentPlan:
    """The plan a run of ``task`` starts from: generic defaults, the task's, then ``overrides``."""
    fields = dict(task.plan_defaults)
    if quick:
        fields.update(QUICK_CONFIG)
        fields.update(task.quick_plan_defaults)
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if options is not None:
        fields["options"] = options
    return ExperimentPlan(task=task.name, quick=quick, **fields)


def default_drift(device_file: Any) -> str:
    """The drift a simulation of ``device_file`` uses unless told otherwise: 'measured' when the device
    file has a drift block (its own retention), else 'wan2022' (aihwkit's ReRAM model)."""
    return "measured" if device_file.drift is not None else "wan2022"


def default_times(drift: str) -> tuple[float, ...]:
    """Evaluation times after programming: the Wan 2022 model's three, else 1 s to 10 years."""
    if drift == "wan2022":
        return dm.WAN2022_TIMES_S
    if drift == "none":
        return (1.0, DAY_S)
    return MEASURED_TIMES_S


def time_label(t: float) -> str:
    return TIME_LABELS.get(t, f"{t:g}s")


def _name(path: Any) -> str:
    from memlab.simulation.results import portable_path

    return portable_path(path)


def _callable_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"
