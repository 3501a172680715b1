"""The results of one experiment: one frozen type, one JSON writer, one shape for every task.

Every key is present in every results file (``None`` or empty where a stage did not run or
does not apply), so a reader never branches on the task. Accuracies are fractions in [0, 1].
Paths are stored relative (figures to the results file, the device file and loaded weights to
the working folder or the repository) or as names: never a machine's absolute path.
``Results.from_json(r.to_json()) == r`` (tested).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import pathlib
import platform
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

import memlab
from memlab.files import atomic_write_text

RESULTS_KIND = "memlab-simulation-results"
RESULTS_VERSION = 2
"""Version log: 1 = the MNIST and CIFAR-10 pipelines' two shapes; 2 = one shape, every key in every
file (``complete``, ``training``, ``hardware``, ``paper``, ``d2d_sweep_open_loop``, ``energy``,
``budget``, ``lineage`` added where they were missing), seeds derived by name (``seeds.scheme``)."""


@dataclass(frozen=True)
class Results:
    """One experiment's outcome (see the module docstring). ``config`` is the plan's JSON."""

    task: str
    device_file: Optional[str]
    device_file_sha256: Optional[str]
    config: dict[str, Any]
    drift_model: dict[str, Any]
    seeds: dict[str, Any]
    dataset: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)
    paper: Optional[dict[str, Any]] = None
    training: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Any] = field(default_factory=dict)
    digital_accuracy: Optional[float] = None
    analog_accuracy: Optional[dict[str, Any]] = None
    accuracy_vs_time: list[dict[str, Any]] = field(default_factory=list)
    d2d_sweep: dict[str, Any] = field(default_factory=lambda: {"d2d_fraction": [], "accuracy": []})
    d2d_sweep_open_loop: Optional[dict[str, Any]] = None
    energy: Optional[dict[str, Any]] = None
    budget: Optional[dict[str, Any]] = None
    lineage: Optional[dict[str, Any]] = None
    summary: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    wall_time_s: Optional[float] = None
    figures: dict[str, str] = field(default_factory=dict)
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object (plain dicts, lists, numbers, strings)."""
        return {"kind": RESULTS_KIND, "results_version": RESULTS_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Results":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def write_json(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the results file atomically (never half a file); NaN is refused."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(path, json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n")

    def __getitem__(self, key: str) -> Any:  # results["digital_accuracy"], as the dicts of before
        return self.to_json()[key]


def portable_path(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """``path`` as a results file may store it: relative to ``base`` (when under it), else to the working
    folder, else to the repository, else its name alone."""
    p = pathlib.Path(path)
    if not p.is_absolute():
        return p.as_posix()
    roots = [pathlib.Path(base).resolve()] if base is not None else []
    roots += [pathlib.Path.cwd().resolve(), pathlib.Path(memlab.__file__).resolve().parents[1]]
    resolved = p.resolve()
    for root in roots:
        try:
            return resolved.relative_to(root).as_posix()
        except ValueError:
            continue
    return p.name


def accuracy_stats(values: list[float]) -> dict[str, Any]:
    """``{mean, std (sample, ddof 1; 0 for one value), repeats}`` of accuracies."""
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std(unbiased=True)) if len(values) > 1 else 0.0
    return {"mean": float(t.mean()), "std": std, "repeats": [float(v) for v in values]}


def library_versions() -> dict[str, str]:
    """Versions of memlab, Python and the numeric libraries, for the results file."""
    out = {"memlab": memlab.__version__, "python": platform.python_version()}
    for pkg in ("torch", "aihwkit", "numpy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _at(variant: dict, t_s: float) -> Optional[float]:
    for t, acc in zip(variant["times_s"], variant["accuracy"]):
        if math.isclose(t, t_s, rel_tol=1e-9):
            return acc["mean"]
    return None


def monotone_within_spread(variant: dict[str, Any]) -> dict[str, Any]:
    """Whether accuracy never rises with time by more than its repeat spread: for every later time,
    its mean is at most an earlier mean plus the larger of the two sample stds. ``worst_rise`` is
    the largest rise in those units (<= 1 passes)."""
    acc = variant["accuracy"]
    worst = -math.inf
    for i in range(len(acc)):
        for j in range(i + 1, len(acc)):
            spread = max(acc[i]["std"], acc[j]["std"], 1e-12)
            worst = max(worst, (acc[j]["mean"] - acc[i]["mean"]) / spread)
    return {"monotone": worst <= 1.0, "worst_rise_in_std": None if worst == -math.inf else worst}


def _variant_name(v: dict[str, Any]) -> str:
    return f"{'hwat' if v['hwat'] else 'no_hwat'}_{'gdc' if v['drift_compensation'] else 'no_gdc'}"


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers: digital, analog (mean ± std), and 1 day with/without compensation.

    ``<variant>_1day`` keys are for the programming branch (``config.options.branch``); every
    branch's variants also appear as ``<branch>_<variant>_<time>`` at each evaluated time, with
    ``<branch>_<variant>_monotone`` (accuracy against time within its repeat spread). Skipped
    curves (out of time) are left out."""
    from memlab.simulation.plan import DAY_S, time_label

    out = {"digital_accuracy": results["digital_accuracy"],
           "analog_accuracy_mean": results["analog_accuracy"]["mean"],
           "analog_accuracy_std": results["analog_accuracy"]["std"],
           "analog_minus_digital": results["analog_accuracy"]["mean"] - results["digital_accuracy"]}
    if results.get("drift_model"):
        out["drift_model"] = results["drift_model"]["label"]
    main_branch = results.get("config", {}).get("options", {}).get("branch", "potentiation")
    for v in results["accuracy_vs_time"]:
        if not v["accuracy"]:
            continue
        branch = v.get("branch", main_branch)
        name = _variant_name(v)
        if branch == main_branch:
            out[f"{name}_1day"] = _at(v, DAY_S)
        if "branch" in v:
            for t, acc in zip(v["times_s"], v["accuracy"]):
                out[f"{branch}_{name}_{time_label(t)}"] = acc["mean"]
            out[f"{branch}_{name}_monotone"] = monotone_within_spread(v)["monotone"]
    for stage in ("digital", "hwat"):
        record = (results.get("training") or {}).get(stage)
        if record:
            out[f"{stage}_epochs_run"] = record.get("epochs_run")
    paper = results.get("paper")
    if paper:
        out.update(paper_digital_accuracy=paper["digital_accuracy"], paper_analog_accuracy=paper["analog_accuracy"])
    return out
