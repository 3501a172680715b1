"""The committed CIFAR-10 networks re-evaluated on the sample device file with the corrected drift (issue #16).

    .venv/bin/python results/cifar10_reeval/run.py --drift measured
    .venv/bin/python results/cifar10_reeval/run.py --drift wan2022 --wan2022-scaling absolute
    .venv/bin/python results/cifar10_reeval/run.py --drift wan2022 --wan2022-scaling relative

No training: the digital and HWAT weights of the 2026-11-27 GPU run (results/cifar10/networks/cifar10_digital.pt,
cifar10_hwat.pt; 200 + 20 epochs, trained against the hand-typed device file of that time) are programmed
onto sample_data/devices/virtual-hfs2.json through ``run_experiment`` (its evaluation stages only), on a
schedule trimmed to fit 2 CPU cores: analog at programming (5 repeats), the D2D sweep at 0 % and 30 %
(3 repeats), accuracy at 1 day for {HWAT, no HWAT} x {GDC, none} (3 repeats), no open-loop sweep.
Writes results/cifar10_reeval/{drift}[-{scaling}]/results.json, figures/ and run.log (the runs committed
before the one experiment wrote cifar10_results.json and the figures beside it).
"""

from __future__ import annotations

import argparse
import os
import pathlib

from memlab.simulation import analog as dm
from memlab.simulation.experiment import run_experiment
from memlab.simulation.plan import ExperimentPlan
from memlab.simulation.tasks.cifar10 import Cifar10Training

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEVICE = pathlib.Path("sample_data") / "devices" / "virtual-hfs2.json"
WEIGHTS = pathlib.Path("results") / "cifar10" / "networks"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drift", choices=["measured", "wan2022"], default="measured")
    p.add_argument("--wan2022-scaling", choices=["absolute", "relative"], default="absolute")
    p.add_argument("--per-class", type=int, default=None, help="images per class (a smoke test; default all)")
    p.add_argument("--data-dir", default=None, help="where the CIFAR-10 JPEG copy lies [memlab's search]")
    args = p.parse_args()
    os.chdir(ROOT)  # the results name the device file and the weights relative to the repository
    name = args.drift + (f"-{args.wan2022_scaling}" if args.drift == "wan2022" else "")
    name += "" if args.per_class is None else "-smoke"
    out = HERE / name
    out.mkdir(parents=True, exist_ok=True)
    plan = ExperimentPlan(task="cifar10", options=dm.AnalogOptions(drift=args.drift,
                                                                   wan2022_scaling=args.wan2022_scaling),
                          digital_weights=str(WEIGHTS / "cifar10_digital.pt"),
                          hwat_weights=str(WEIGHTS / "cifar10_hwat.pt"), times_s=(86400.0,),
                          d2d_sweep=(0.0, 0.3), compare_open_loop=False, repeats=5, sweep_repeats=3,
                          drift_branches=None, training=Cifar10Training(per_class=args.per_class))
    with open(out / "run.log", "w", encoding="utf-8") as log:
        def say(line: str) -> None:
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()

        say(f"command: .venv/bin/python results/cifar10_reeval/run.py --drift {args.drift}"
            + (f" --wan2022-scaling {args.wan2022_scaling}" if args.drift == "wan2022" else ""))
        rel = out.relative_to(ROOT)
        results = run_experiment(DEVICE, plan, "cifar10", out=rel / "results.json", figures=rel / "figures",
                                 data_dir=args.data_dir, progress=False, log=say).to_json()
        s = results["summary"]
        say(f"digital {100 * results['digital_accuracy']:.2f} %, analog {100 * s['analog_accuracy_mean']:.2f} ± "
            f"{100 * s['analog_accuracy_std']:.2f} %, HWAT + GDC at 1 day {100 * s['hwat_gdc_1day']:.2f} %")


if __name__ == "__main__":
    main()
