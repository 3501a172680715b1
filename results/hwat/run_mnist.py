"""The HWAT gain on MNIST from the sample device file: HWAT minus no-HWAT, with its 95 % CI.

Two recipes, each a full ``run_simulation`` (one digital network, reused from the checkpoint
folder; its own HWAT network and no-HWAT baseline; 5 programming repeats per point):

* ``device``: the default recipe of ``AnalogOptions`` (device-derived training noise, a D2D
  instance held per epoch, measured drift at 1 day, clipping at 2.5 σ, ranges calibrated by
  'max' on the first batches and held; the baseline calibrated by the same 'max' rule);
* ``aihwkit``: the recipe before issue 16 item 2 (aihwkit's modifier with mean σ and a fresh
  D2D draw every step, learned ranges from aihwkit's 3·std start, no clipping; the baseline
  calibrated by the 3·std rule).

The gain at each time is the paired difference (same programming seeds) of HWAT + GDC and
no-HWAT + GDC over the repeats; the CI is Student's t over those 5 differences.

    .venv/bin/python results/hwat/run_mnist.py --data-dir ../shared/data --out results/hwat
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import statistics

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}
RECIPES = {
    "device": {},
    "aihwkit": {"hwat_noise": "aihwkit", "hwat_input_ranges": "learned", "hwat_clip_sigma": None,
                "input_range_calibration": "std3", "hwat_d2d_hold": "step", "hwat_drift_horizon_s": 0.0},
}


def paired_gain(hwat: list[float], base: list[float]) -> dict:
    """Mean of the paired differences (points) and its 95 % Student-t half width."""
    diff = [100 * (a - b) for a, b in zip(hwat, base)]
    n = len(diff)
    half = T95.get(n, 1.96) * statistics.stdev(diff) / math.sqrt(n) if n > 1 else math.nan
    return {"gain_points": statistics.fmean(diff), "ci95_points": half, "differences_points": diff}


def gains(results: dict) -> list[dict]:
    """HWAT minus no-HWAT (both with GDC) on the configured branch, at every time."""
    rows = [v for v in results["accuracy_vs_time"] if v["drift_compensation"]
            and v["branch"] == results["config"]["options"]["branch"]]
    hwat = next(v for v in rows if v["hwat"])
    base = next(v for v in rows if not v["hwat"])
    out = []
    for t, a, b in zip(hwat["times_s"], hwat["accuracy"], base["accuracy"]):
        out.append({"time_s": t, "hwat_pct": 100 * a["mean"], "no_hwat_pct": 100 * b["mean"],
                    **paired_gain(a["repeats"], b["repeats"])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "hwat"))
    parser.add_argument("--checkpoints", default=None, help="checkpoint folder [OUT/checkpoints]")
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES))
    args = parser.parse_args()

    from memlab.simulation import analog as dm
    from memlab.simulation.experiment import SimulationConfig, run_simulation

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = pathlib.Path(args.checkpoints) if args.checkpoints else out / "checkpoints"
    summary = {}
    for name in args.recipes:
        options = dataclasses.replace(dm.AnalogOptions(drift="measured"), **RECIPES[name])
        cfg = SimulationConfig(options=options, drift_branches=("potentiation",), d2d_sweep=(0.3,),
                               times_s=(1.0, 86400.0, 31557600.0))
        res = run_simulation(DEVICE, "mnist", data_dir=args.data_dir, config=cfg, checkpoint_dir=ckpt,
                             out=out / f"mnist-{name}.json", progress=False)
        summary[name] = {"options": res["config"]["options"], "digital_pct": 100 * res["digital_accuracy"],
                         "hwat_programming_pct": 100 * res["analog_accuracy"]["mean"],
                         "gain_vs_time": gains(res), "timings_s": res["timings_s"]}
        print(name, json.dumps(summary[name]["gain_vs_time"], indent=None))
    (out / "mnist_hwat_gain.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
