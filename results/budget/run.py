"""Where the accuracy goes, on the sample device file (issue #16 item 3): the accuracy budget.

    .venv/bin/python results/budget/run.py --task mnist      # trains 30 + 5 epochs (checkpointed), then the budget
    .venv/bin/python results/budget/run.py --task cifar10    # the committed networks (results/cifar10/networks/*.pt)

Options: --drift measured|wan2022 (default measured: the device file's retention), --wan2022-scaling,
--t-s (default 86400: one day), --repeats (default 5), --network hwat|baseline, --tag (output name);
for CIFAR-10 --digital-weights/--hwat-weights (another run's checkpoints, e.g. the CPU-trained
paper-balanced network) go through ``run_experiment`` instead of the committed networks' loader.
Writes results/budget/{task}[-TAG].json (the results 'budget' block with its run's options) and
{task}[-TAG]_budget.png/svg. MNIST goes through ``run_simulation(..., budget=BudgetSettings(...))``
(its accuracy stages trimmed to one repeat at one time: they are not the point here); CIFAR-10 loads
the committed digital and HWAT weights into the network of the code's present version.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib

import torch

from memlab.analysis.device_file import load_device_file
from memlab.simulation import analog as dm
from memlab.simulation.budget import BudgetSettings, accuracy_budget, budget_table
from memlab.simulation.figures import budget_figure

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"


def mnist(options: dm.AnalogOptions, settings: BudgetSettings) -> dict:
    from memlab.simulation.experiment import SimulationConfig, run_simulation

    cfg = SimulationConfig(repeats=1, d2d_sweep=(), times_s=(settings.t_s or 1.0,), drift_branches=(options.branch,),
                           options=options)
    res = run_simulation(DEVICE.relative_to(ROOT), "mnist", config=cfg, budget=settings,
                         checkpoint_dir=HERE / ".checkpoints")
    return res["budget"]


def cifar10(options: dm.AnalogOptions, settings: BudgetSettings, per_class: int | None = None) -> dict:
    from memlab.simulation import hwat_fast, training
    from memlab.simulation.cifar10 import build_network, load_task_data

    device = load_device_file(DEVICE)
    net = build_network(arch="v1-2026-11")  # the widths of the committed networks
    net.load_state_dict(torch.load(ROOT / "results" / "cifar10" / "networks" / "cifar10_digital.pt", map_location="cpu",
                                   weights_only=True))
    data = load_task_data(per_class=per_class)

    def evaluate(model: torch.nn.Module) -> float:
        return training.accuracy(model, data.x_test, data.y_test, batch_size=500)

    digital_accuracy = evaluate(net.eval())  # before the HWAT file's batch-norm statistics replace its own
    if settings.network == "hwat":
        saved = torch.load(ROOT / "results" / "cifar10" / "networks" / "cifar10_hwat.pt", map_location="cpu", weights_only=True)
        net.load_state_dict({k[len("digital."):]: v for k, v in saved.items() if k.startswith("digital.")})
        state = {k: v for k, v in saved.items() if not k.startswith("digital.")}
    else:  # the no-HWAT baseline: the digital weights, input ranges calibrated on 10 training batches of 512
        analog = dm.to_analog(net.eval(), device, options, hwat=False)
        gen = torch.Generator().manual_seed(7)
        idx = torch.randperm(len(data.y_train), generator=gen)[:10 * 512]
        hwat_fast.calibrate_input_ranges(analog, (data.x_train[idx[i:i + 512]] for i in range(0, len(idx), 512)))
        state = dm.analog_state(analog)
    out = accuracy_budget(net.eval(), state, device, options, evaluate, settings, seed=50,
                          digital_accuracy=digital_accuracy)
    out["drift_model"] = dm.drift_label({**dm.drift_description(dm.branch_model(device, options.branch), options)})
    out["networks"] = {"digital": "results/cifar10/networks/cifar10_digital.pt",
                       "hwat": "results/cifar10/networks/cifar10_hwat.pt" if settings.network == "hwat" else None,
                       "architecture": net.architecture.to_json()}
    return out


def cifar10_weights(options: dm.AnalogOptions, settings: BudgetSettings, digital: str, hwat: str,
                    data_dir: str | None, per_class: int | None = None) -> dict:
    """The budget of other CIFAR-10 networks (the ``*-digital-*.pt`` and ``*-hwat-*.pt`` of an earlier
    run's checkpoints; both, so nothing is trained, whichever ``settings.network`` is budgeted) through
    the one experiment, its accuracy stages trimmed to one repeat at ``t``."""
    from memlab.simulation.experiment import run_experiment
    from memlab.simulation.plan import default_plan
    from memlab.simulation.tasks import get_task
    from memlab.simulation.tasks.cifar10 import Cifar10Training

    task = get_task("cifar10")
    plan = default_plan(task, repeats=1, d2d_sweep=(), times_s=(settings.t_s or 1.0,),
                        drift_branches=(options.branch,), options=options, budget=settings,
                        digital_weights=digital, hwat_weights=hwat,
                        training=Cifar10Training(per_class=per_class) if per_class else None)
    return run_experiment(DEVICE.relative_to(ROOT), plan, task, data_dir=data_dir, progress=False).budget


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=["mnist", "cifar10"], required=True)
    p.add_argument("--drift", choices=["measured", "wan2022"], default="measured")
    p.add_argument("--wan2022-scaling", choices=["absolute", "relative"], default="absolute")
    p.add_argument("--t-s", type=float, default=86400.0, help="evaluation time after programming [1 day]")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--network", choices=["hwat", "baseline"], default="hwat")
    p.add_argument("--tag", default="", help="suffix of the output files")
    p.add_argument("--per-class", type=int, default=None, help="CIFAR-10 images per class (a smoke test; default all)")
    p.add_argument("--digital-weights", default=None,
                   help="CIFAR-10: another run's *-digital-*.pt (with --hwat-weights for --network hwat) instead "
                        "of the committed networks, through run_experiment")
    p.add_argument("--hwat-weights", default=None, help="with --digital-weights: that run's *-hwat-*.pt")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 data folder for --digital-weights")
    p.add_argument("--hwat-clip-sigma", default=None,
                   help="the HWAT recipe's weight clipping recorded with the options (a number or none) "
                        "[AnalogOptions' default]; set it to what the --hwat-weights were trained with")
    args = p.parse_args()
    os.chdir(ROOT)  # the results name the device file relative to the repository
    clip = {} if args.hwat_clip_sigma is None else {
        "hwat_clip_sigma": None if args.hwat_clip_sigma == "none" else float(args.hwat_clip_sigma)}
    options = dm.AnalogOptions(drift=args.drift, wan2022_scaling=args.wan2022_scaling, **clip)
    settings = BudgetSettings(t_s=args.t_s, repeats=args.repeats, network=args.network)
    if args.task == "mnist":
        budget = mnist(options, settings)
    elif args.digital_weights:
        if not args.hwat_weights:
            p.error("--digital-weights needs --hwat-weights (the run's HWAT network: nothing is trained here)")
        budget = cifar10_weights(options, settings, args.digital_weights, args.hwat_weights, args.data_dir,
                                 args.per_class)
    else:
        budget = cifar10(options, settings, args.per_class)
    name = args.task + (f"-{args.tag}" if args.tag else "")
    out = HERE / f"{name}.json"
    out.write_text(json.dumps({"task": args.task, "device_file": str(DEVICE.relative_to(ROOT)), "budget": budget},
                              indent=2, allow_nan=False) + "\n", encoding="utf-8")
    budget_figure(budget, HERE / f"{name}_budget.png", args.task)
    print("\n".join(budget_table(budget)))
    print(f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
