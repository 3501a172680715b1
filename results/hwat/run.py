"""The HWAT gain from the sample device file: HWAT minus no-HWAT, paired, with its 95 % CI (issue #16 item 2).

Each recipe is one ``run_experiment`` (5 programming repeats at every point, the potentiation branch,
measured drift); HWAT and the no-HWAT baseline are programmed and drifted with the same seeds
(``derive(seed, "repeat", r)``), so their difference is paired; the CI is Student's t over the
repeats' differences, both with global drift compensation.

* ``device``: the default recipe of ``AnalogOptions`` (device-derived training noise, a D2D
  instance held per epoch, measured drift at 1 day, clipping at 2.5 sigma, input ranges calibrated
  by 'max' on the first batches and held; the baseline calibrated by the same 'max' rule);
* ``aihwkit``: the recipe before issue 16 item 2 (aihwkit's modifier with the mean sigma and a
  fresh D2D draw every step, learned ranges from aihwkit's 3 std start, no clipping, no drift;
  the baseline calibrated by the 3 std rule);
* ``device-*``: ``device`` with one choice undone (``--recipes device-noclip ...``: which costs what);
* ``committed`` (CIFAR-10 only): the committed HWAT network (20 epochs of the earlier recipe on
  an H200), its baseline calibrated by 'max'.

MNIST trains its digital network (30 epochs, shared by the recipes through the checkpoint folder)
and each recipe's HWAT network (5 epochs). CIFAR-10 starts every recipe from the committed digital
network (200 epochs on an H200) and fine-tunes HWAT for ``--hwat-epochs`` on this CPU: a short
schedule, stated as such (the paper's is 20 epochs).

    .venv/bin/python results/hwat/run.py --task mnist --data-dir ../shared/data
    .venv/bin/python results/hwat/run.py --task cifar10 --data-dir ../shared/data --hwat-epochs 1

Writes results/hwat/<task>/<recipe>/results.json, figures/, and results/hwat/<task>/gain.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEVICE = pathlib.Path("sample_data") / "devices" / "virtual-hfs2.json"
NETWORKS = pathlib.Path("results") / "cifar10" / "networks"
EARLIER = {"hwat_noise": "aihwkit", "hwat_input_ranges": "learned", "hwat_clip_sigma": None,
           "input_range_calibration": "std3", "hwat_d2d_hold": "step", "hwat_drift_horizon_s": 0.0}
RECIPES = {"device": {}, "aihwkit": EARLIER, "committed": {},
           # one change from ``device`` each (an ablation: which choice costs what)
           "device-noclip": {"hwat_clip_sigma": None}, "device-d2d-step": {"hwat_d2d_hold": "step"},
           "device-no-drift": {"hwat_drift_horizon_s": 0.0}, "device-learned-ranges": {"hwat_input_ranges": "learned"},
           "device-aihwkit-noise": {"hwat_noise": "aihwkit"}}
TIMES_S = {"mnist": (1.0, 86400.0, 31557600.0), "cifar10": (1.0, 86400.0)}


def paired_gain(hwat: list[float], base: list[float]) -> dict:
    """Mean of the paired differences (points) and its 95 % Student-t half width (the budget's
    :func:`~memlab.simulation.budget.paired_cost` of going from no HWAT to HWAT, sign turned)."""
    from memlab.simulation.budget import paired_cost

    gain = paired_cost(hwat, base)  # hwat - base per repeat
    ci = gain["ci95"]
    return {"gain_points": 100 * gain["mean"], "ci95_points": math.nan if ci is None else 50 * (ci[1] - ci[0]),
            "differences_points": [100 * d for d in gain["repeats"]]}


def gains(results: dict) -> list[dict]:
    """HWAT minus no-HWAT (both with GDC) on the programming branch, at every time."""
    rows = [v for v in results["accuracy_vs_time"] if v["drift_compensation"]
            and v["branch"] == results["config"]["options"]["branch"]]
    hwat = next(v for v in rows if v["hwat"])
    base = next(v for v in rows if not v["hwat"])
    return [{"time_s": t, "hwat_pct": 100 * a["mean"], "no_hwat_pct": 100 * b["mean"],
             **paired_gain(a["repeats"], b["repeats"])}
            for t, a, b in zip(hwat["times_s"], hwat["accuracy"], base["accuracy"])]


def plan_for(task: str, recipe: str, hwat_epochs: int | None, seed: int):
    from memlab.simulation import analog as dm
    from memlab.simulation.plan import ExperimentPlan

    options = dataclasses.replace(dm.AnalogOptions(drift="measured"), **RECIPES[recipe])
    weights = {}
    if task == "cifar10":
        weights["digital_weights"] = str(NETWORKS / "cifar10_digital.pt")
        if recipe == "committed":
            weights["hwat_weights"] = str(NETWORKS / "cifar10_hwat.pt")
    return ExperimentPlan(task=task, options=options, hwat_epochs=hwat_epochs, repeats=5, seed=seed,
                          drift_branches=("potentiation",), d2d_sweep=(0.3,), times_s=TIMES_S[task], **weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TIMES_S), default="mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--recipes", nargs="*", default=None,
                        help="[device aihwkit, and committed for cifar10]")
    parser.add_argument("--hwat-epochs", type=int, default=None, help="[the task's default: MNIST 5, CIFAR-10 20]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    recipes = args.recipes or (["device", "aihwkit"] + (["committed"] if args.task == "cifar10" else []))
    if "committed" in recipes and args.task != "cifar10":
        parser.error("the committed HWAT network is CIFAR-10's")

    from memlab.simulation.experiment import run_experiment

    os.chdir(ROOT)  # the results name the device file and the weights relative to the repository
    out = HERE.relative_to(ROOT) / args.task
    gain_file = out / "gain.json"  # recipes run before stay (a run of other recipes adds to them)
    summary = json.loads(gain_file.read_text()) if gain_file.is_file() else {"task": args.task, "recipes": {}}
    summary.update(device_file=str(DEVICE), hwat_epochs=args.hwat_epochs)
    for name in recipes:
        t = time.perf_counter()
        res = run_experiment(DEVICE, plan_for(args.task, name, args.hwat_epochs, args.seed), args.task,
                             out=out / name / "results.json", figures=out / name / "figures",
                             checkpoint_dir=out / "checkpoints", data_dir=args.data_dir, progress=False,
                             log=print).to_json()
        summary["recipes"][name] = {
            "options": res["config"]["options"], "digital_pct": 100 * res["digital_accuracy"],
            "hwat_programming_pct": 100 * res["analog_accuracy"]["mean"],
            "hwat_epochs_run": res["training"]["hwat"]["epochs_run"], "gain_vs_time": gains(res),
            "wall_s": time.perf_counter() - t}
        for g in summary["recipes"][name]["gain_vs_time"]:
            print(f"{name}: t = {g['time_s']:g} s: HWAT {g['hwat_pct']:.2f} %, no HWAT {g['no_hwat_pct']:.2f} %, "
                  f"gain {g['gain_points']:+.2f} ± {g['ci95_points']:.2f} points", flush=True)
        gain_file.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
