"""Driver of the CIFAR-10 runs recorded in this folder (see README.md beside it).

    python results/cifar10/run.py --out DIR [--device cuda] [--data-dir .gpu-data]
        [--deadline-s 480] [--digital-budget-s 270] [--hwat-budget-s 75] [--smoke]

A full run trains up to 200 digital and 20 HWAT epochs, or as many as fit
the budgets, then runs the paper's Fig. 5 evaluations within the deadline: the
one experiment, ``memlab.simulation.experiment.run_experiment`` with the CIFAR-10
task's recipe (``memlab.simulation.tasks.cifar10``), writing ``OUT/results.json``,
``OUT/figures/`` and ``OUT/checkpoints/``. ``--smoke`` runs every stage on 50
images per class in a minute or two.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--device-file", default=str(ROOT / "sample_data" / "devices" / "virtual-hfs2.json"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--hwat-epochs", type=int, default=20)
    p.add_argument("--digital-budget-s", type=float, default=None)
    p.add_argument("--hwat-budget-s", type=float, default=None)
    p.add_argument("--deadline-s", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--digital-weights", default=None,
                   help="start from this cifar10_digital.pt instead of training digitally")
    p.add_argument("--hwat-weights", default=None,
                   help="evaluate this cifar10_hwat.pt (with --digital-weights) instead of HWAT training")
    p.add_argument("--drift", default=None, choices=["measured", "wan2022", "none"],
                   help="drift model [the device file's own: measured when it has a drift block]")
    p.add_argument("--times-s", default=None,
                   help="comma-separated times after programming [the drift model's default times]")
    p.add_argument("--hwat-clip-sigma", default=None,
                   help="HWAT weight clipping at this many sigma, or 'none' [AnalogOptions' default, 2.5]")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()

    import torch

    from memlab import reference as ref
    from memlab.analysis.device_file import load_device_file
    from memlab.simulation import analog as dm
    from memlab.simulation.cifar10 import TrainSettings
    from memlab.simulation.experiment import run_experiment
    from memlab.simulation.plan import ExperimentPlan, default_drift, default_plan
    from memlab.simulation.tasks import get_task
    from memlab.simulation.tasks.cifar10 import Cifar10Training

    task = get_task("cifar10")
    weights = {"digital_weights": args.digital_weights, "hwat_weights": args.hwat_weights}
    drift = args.drift or default_drift(load_device_file(args.device_file))
    times = None if args.times_s is None else tuple(float(t) for t in args.times_s.split(","))
    clip = {} if args.hwat_clip_sigma is None else {
        "hwat_clip_sigma": None if args.hwat_clip_sigma == "none" else float(args.hwat_clip_sigma)}
    if args.smoke:
        plan = ExperimentPlan(epochs=2, hwat_epochs=1, repeats=2, sweep_repeats=1, d2d_sweep=(0.0, 0.3),
                              drift_branches=None, seed=args.seed, device=args.device, **weights,
                              training=Cifar10Training(settings=TrainSettings(batch_size=100), per_class=50,
                                                       eval_every=1))
    else:
        plan = default_plan(task, epochs=args.epochs, hwat_epochs=args.hwat_epochs, seed=args.seed,
                            device=args.device, deadline_s=args.deadline_s, **weights,
                            options=dm.AnalogOptions(drift=drift, **clip), times_s=times,
                            training=Cifar10Training(digital_budget_s=args.digital_budget_s,
                                                     hwat_budget_s=args.hwat_budget_s))
    t = time.perf_counter()
    out = pathlib.Path(args.out)
    results = run_experiment(args.device_file, plan, task, out=out / "results.json", figures=out / "figures",
                             data_dir=args.data_dir, progress=False, log=print)
    s = results.summary
    print(json.dumps(s, indent=1))
    print(f"card: {results.hardware['card']}; torch {torch.__version__}; "
          f"wall {time.perf_counter() - t:.0f} s")
    print(f"RESULT digital_acc={s['digital_accuracy']:.4f} analog_acc={s['analog_accuracy_mean']:.4f} "
          f"analog_std={s['analog_accuracy_std']:.4f} paper_digital={ref.CIFAR10_DIGITAL_ACCURACY.si:.4f} "
          f"paper_analog={ref.CIFAR10_ANALOG_ACCURACY.si:.4f} "
          f"digital_epochs={s['digital_epochs_run']} hwat_epochs={s['hwat_epochs_run']}")


if __name__ == "__main__":
    main()
