"""The accuracy budget: where the points between the digital network and the analog one go.

One trained network (its weights and input ranges, as :func:`analog_state` stores
them) is evaluated on ideal hardware, then with the non-idealities switched on
one at a time and cumulatively, in the order of the signal path:

========================  ===============================================================
stage                     switched off by
========================  ===============================================================
``states``                ``ideal`` "states": devices reach their exact target (no
                          rounding to the measured states)
``programming_sigma``     ``ideal`` "programming_sigma": no cycle-to-cycle σ of the state
``d2d``                   ``d2d_fraction = 0``: every device has the nominal step and range
``stuck``                 ``stuck_fraction = 0`` (a stage only when the options have stuck devices)
``read_noise``            ``ideal`` "read_noise": neither the retention read noise nor
                          ``read_noise_fraction``
``drift``                 ``ideal`` "drift": the state at ``t`` is the state at programming
``dac``                   ``ideal`` "dac": inputs neither quantised nor clipped to the input range
``adc``                   ``ideal`` "adc": outputs neither quantised nor clipped
``out_noise``             ``out_noise = 0`` (a stage only when the options have output noise)
``ir_drop``               no ``tile_transform`` (a stage only when one is given)
========================  ===============================================================

Every evaluation programs, drifts to ``t`` and freezes with the same seeds per
repeat, and every random term is drawn whether its effect is on or not, so the
stages of one repeat share their random numbers (common random numbers): a
stage's cost is a paired difference, and its confidence interval is over those
differences. With everything off the result is the network's weights in a
digital network (:func:`digital_twin`); with everything on it is the plain
analog evaluation with the same seeds. The cumulative costs add up to the
total exactly (they telescope); the one-at-a-time costs need not, and their
sum minus the total is reported as the interaction of the non-idealities.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from scipy import stats
from tqdm import tqdm

from memlab.errors import ConfigError
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation.crossbar import ProgrammedTile, ideal_mvm

STAGES: dict[str, str] = {
    "states": "quantisation to the measured states",
    "programming_sigma": "programming σ (cycle to cycle)",
    "d2d": "device-to-device variation",
    "stuck": "stuck devices",
    "read_noise": "read noise",
    "drift": "drift",
    "dac": "DAC (input quantisation and range)",
    "adc": "ADC (output quantisation and range)",
    "out_noise": "output noise",
    "ir_drop": "IR drop",
}
"""Every stage of the budget, in the order of the cumulative build-up, with its label."""


@dataclass(frozen=True)
class BudgetSettings:
    """t_s: the evaluation time after programming (the drift stage's time; 0 = at programming).
    repeats: programming repeats per stage. network: 'hwat' (the hardware-aware trained network)
    or 'baseline' (no HWAT, input ranges calibrated)."""

    t_s: float = 86400.0
    repeats: int = 5
    network: str = "hwat"

    def __post_init__(self) -> None:
        if not isinstance(self.repeats, int) or not 1 <= self.repeats <= 1000:
            raise ConfigError(f"budget repeats is {self.repeats!r}; allowed 1 to 1000")
        if self.network not in ("hwat", "baseline"):
            raise ConfigError(f"budget network is {self.network!r}; allowed: hwat, baseline")
        if not (math.isfinite(self.t_s) and self.t_s >= 0):
            raise ConfigError(f"budget time is {self.t_s!r} s; it must be a finite number >= 0")


def stages_for(options: dm.AnalogOptions, t_s: float, ir_drop: bool) -> tuple[list[str], dict[str, str]]:
    """(stages this configuration has, {stage: why it is absent}) for ``options`` at ``t_s``."""
    absent = {}
    if options.stuck_fraction == 0:
        absent["stuck"] = "stuck_fraction is 0"
    if options.out_noise == 0:
        absent["out_noise"] = "out_noise is 0"
    if not ir_drop:
        absent["ir_drop"] = "no IR-drop model given"
    if options.drift == "none" or t_s == 0:
        absent["drift"] = "no drift model" if options.drift == "none" else "evaluated at programming (t = 0)"
    if options.d2d_fraction == 0 and options.range_fraction == 0:
        absent["d2d"] = "d2d_fraction is 0"
    return [s for s in STAGES if s not in absent], absent


def stage_options(options: dm.AnalogOptions, enabled: set[str]) -> dm.AnalogOptions:
    """``options`` with every stage not in ``enabled`` switched off."""
    ideal = tuple(s for s in dm.IDEAL_SWITCHES if s not in enabled)
    changes: dict[str, Any] = {"ideal": ideal}
    if "d2d" not in enabled:
        changes.update(d2d_fraction=0.0, d2d_range_fraction=None)
    if "stuck" not in enabled:
        changes["stuck_fraction"] = 0.0
    if "out_noise" not in enabled:
        changes["out_noise"] = 0.0
    return dataclasses.replace(options, **changes)


@torch.no_grad()
def digital_twin(digital: torch.nn.Module, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """A copy of the digital network carrying the analog network's weights and biases (``state``
    from :func:`analog_state`): what the analog network computes on ideal hardware."""
    twin = copy.deepcopy(digital).cpu().eval()
    for name, module in twin.named_modules():
        if f"{name}.weight" in state:
            module.weight.copy_(state[f"{name}.weight"].view_as(module.weight))
            if f"{name}.bias" in state and module.bias is not None:
                module.bias.copy_(state[f"{name}.bias"].view_as(module.bias))
    return twin


Evaluate = Callable[[torch.nn.Module], float]


def evaluate_stage(digital: torch.nn.Module, state: dict[str, torch.Tensor], device_file: Any,
                   options: dm.AnalogOptions, evaluate: Evaluate, *, t_s: float, seeds: list[int],
                   tile_transform: Optional[Callable[[ProgrammedTile], ProgrammedTile]] = None,
                   device: str = "cpu") -> list[float]:
    """Accuracy per seed of the network ``state`` under ``options``: program (seed), drift to ``t_s``
    (seed), freeze (output-noise seed) and evaluate, as the plain analog evaluation does."""
    model = dm.to_analog(digital, device_file, options, hwat=False).to(device)
    dm.load_analog_state(model, {k: v.to(device) for k, v in state.items()})
    accs = []
    for seed in seeds:
        dm.program(model, seed)
        dm.drift_to(model, t_s, seed)
        frozen = dm.freeze(model, mvm=ideal_mvm, seed=seed, tile_transform=tile_transform).to(device)
        accs.append(evaluate(frozen))
    return accs


def paired_cost(before: list[float], after: list[float]) -> dict[str, Any]:
    """Accuracy lost from ``before`` to ``after`` (paired by repeat): mean, sample std and the 95 %
    confidence interval of the mean (Student t; None for one repeat)."""
    d = torch.tensor(before, dtype=torch.float64) - torch.tensor(after, dtype=torch.float64)
    n = len(d)
    mean = float(d.mean())
    std = float(d.std(unbiased=True)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else None
    return {"mean": mean, "std": std, "ci95": None if half is None else [mean - half, mean + half],
            "repeats": [float(x) for x in d]}


def _stats(values: list[float]) -> dict[str, Any]:
    t = torch.tensor(values, dtype=torch.float64)
    return {"mean": float(t.mean()), "std": float(t.std(unbiased=True)) if len(values) > 1 else 0.0,
            "repeats": [float(v) for v in values]}


def accuracy_budget(digital: torch.nn.Module, state: dict[str, torch.Tensor], device_file: Any,
                    options: dm.AnalogOptions, evaluate: Evaluate, settings: BudgetSettings = BudgetSettings(), *,
                    seed: int = 0, digital_accuracy: Optional[float] = None, tile_transform: Optional[Callable[[ProgrammedTile], ProgrammedTile]] = None,
                    device: str = "cpu", progress: bool = True) -> dict[str, Any]:
    """The accuracy budget of the network ``state`` (see the module docstring) as a results block.

    ``digital``: the trained digital network (architecture and the parts that stay digital, such as
    batch norm; its accuracy is the table's first line unless ``digital_accuracy`` is given, e.g. when
    ``digital`` carries the HWAT run's batch-norm statistics);
    ``evaluate(model) -> accuracy`` on the test set; ``options``: the full analog configuration;
    repeat ``r`` programs, drifts and draws output noise with ``derive(seed, "repeat", str(r))``
    in every stage (the same draws in every stage: the costs are paired).
    """
    dm.check_drift_time(options.drift, settings.t_s)
    stages, absent = stages_for(options, settings.t_s, tile_transform is not None)
    seeds = [derive(seed, "repeat", str(r)) for r in range(settings.repeats)]
    configs = {"ideal": frozenset()}
    for i, s in enumerate(stages):
        configs[f"upto:{s}"] = frozenset(stages[:i + 1])
        configs[f"alone:{s}"] = frozenset({s})
    measured: dict[frozenset, list[float]] = {}  # each distinct set of stages is evaluated once
    for enabled in tqdm(dict.fromkeys(configs.values()), desc="accuracy budget", unit="stage",
                        disable=not progress, leave=False):
        measured[enabled] = evaluate_stage(
            digital, state, device_file, stage_options(options, enabled), evaluate, t_s=settings.t_s,
            seeds=seeds, tile_transform=tile_transform if "ir_drop" in enabled else None, device=device)
    results = {key: measured[enabled] for key, enabled in configs.items()}
    full = results[f"upto:{stages[-1]}"]
    ideal = results["ideal"]
    rows, previous = [], ideal
    for s in stages:
        rows.append({"stage": s, "label": STAGES[s],
                     "cumulative_accuracy": _stats(results[f"upto:{s}"]),
                     "cumulative_cost": paired_cost(previous, results[f"upto:{s}"]),
                     "alone_accuracy": _stats(results[f"alone:{s}"]),
                     "alone_cost": paired_cost(ideal, results[f"alone:{s}"])})
        previous = results[f"upto:{s}"]
    alone_sum = [sum(ideal[r] - results[f"alone:{s}"][r] for s in stages) for r in range(len(seeds))]
    total = paired_cost(ideal, full)
    twin = digital_twin(digital, state)
    return {
        "network": settings.network, "branch": options.branch, "t_s": settings.t_s,
        "repeats": settings.repeats, "seeds": seeds, "order": stages, "absent": absent,
        "digital_accuracy": float(evaluate(digital.eval()) if digital_accuracy is None else digital_accuracy),
        "weights_on_ideal_hardware": float(evaluate(twin)),
        "ideal": _stats(ideal), "full": _stats(full), "total_cost": total,
        "stages": rows,
        "sum_of_alone_costs": _stats(alone_sum),
        "interaction": paired_cost(alone_sum, total["repeats"]),
        "options": dataclasses.asdict(options),
    }


def budget_table(budget: dict[str, Any]) -> list[str]:
    """The budget as text lines (percentage points, 95 % CI), for the console and notes."""
    def ci(cost: dict) -> str:
        c = cost["ci95"]
        return f"{100 * cost['mean']:+.2f}" + ("" if c is None else f" [{100 * c[0]:+.2f}, {100 * c[1]:+.2f}]")

    lines = [f"accuracy budget ({budget['network']} network, {budget['branch']}, t = {budget['t_s']:g} s, "
             f"{budget['repeats']} repeats; points lost, 95 % CI)",
             f"  digital network                      {100 * budget['digital_accuracy']:.2f} %",
             f"  its weights on ideal hardware        {100 * budget['weights_on_ideal_hardware']:.2f} %",
             f"  {'stage':<36} {'cumulative':>24} {'alone':>24}"]
    for row in budget["stages"]:
        lines.append(f"  {row['label']:<36} {ci(row['cumulative_cost']):>24} {ci(row['alone_cost']):>24}")
    lines.append(f"  {'total (full analog ' + format(100 * budget['full']['mean'], '.2f') + ' %)':<36} "
                 f"{ci(budget['total_cost']):>24} {'sum ' + format(100 * budget['sum_of_alone_costs']['mean'], '+.2f'):>24}")
    lines.append(f"  interaction (sum alone - total): {ci(budget['interaction'])}")
    for s, why in budget["absent"].items():
        lines.append(f"  not in this configuration: {STAGES[s]} ({why})")
    return lines
