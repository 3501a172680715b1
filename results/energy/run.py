"""What MNIST 784-500-10 and the CIFAR-10 network cost on the sample device file (issue #18).

    .venv/bin/python results/energy/run.py --task mnist     # trains (30 + 5 epochs), ~5 min on 2 cores
    .venv/bin/python results/energy/run.py --task cifar10   # the committed networks, ~1 min

Writes results/energy/{task}[-read{T}s]/results.json (the results 'energy' block), figures/{task}_network_energy.png/svg
and command.txt.
MNIST goes through ``run_simulation(..., energy=EnergySettings())`` (the HWAT network that is
programmed, 1 programming repeat for the accuracy stages, which are not the point here); CIFAR-10
loads the committed HWAT weights (results/cifar10/networks/cifar10_hwat.pt) into the analog network.
"""

from __future__ import annotations

import argparse
import os
import json
import pathlib

import torch

from memlab.analysis.device_file import load_device_file
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation.energy import EnergySettings, energy_block, summary_lines
from memlab.simulation.figures import energy_figure

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"


def mnist(settings: EnergySettings) -> dict:
    from memlab.simulation.experiment import SimulationConfig, run_simulation

    cfg = SimulationConfig(repeats=1, d2d_sweep=(), times_s=(1.0,))
    res = run_simulation(DEVICE.relative_to(ROOT), "mnist", config=cfg, energy=settings,
                         checkpoint_dir=HERE / ".checkpoints")
    return res["energy"]


CIFAR10_ARCH = "v1-2026-11"  # the widths of the committed networks (memlab.simulation.cifar10.ARCHITECTURES)


def cifar10(settings: EnergySettings) -> dict:
    from memlab.simulation.cifar10 import build_network
    from memlab.simulation.tasks.cifar10 import load_task_data

    device = load_device_file(DEVICE)
    net = build_network(arch=CIFAR10_ARCH)
    networks = ROOT / "results" / "cifar10" / "networks"
    net.load_state_dict(torch.load(networks / "cifar10_digital.pt", map_location="cpu", weights_only=True))
    state = torch.load(networks / "cifar10_hwat.pt", map_location="cpu", weights_only=True)
    net.load_state_dict({k[len("digital."):]: v for k, v in state.items() if k.startswith("digital.")})
    options = dm.AnalogOptions()
    analog = dm.to_analog(net.eval(), device, options, hwat=False)
    dm.load_analog_state(analog, {k: v for k, v in state.items() if not k.startswith("digital.")})
    data = load_task_data(per_class=10)  # 100 test images are all the inference energy needs
    # the energy stage's seed of memlab simulate for root 0 (the committed cifar10/results.json was drawn with 40,
    # the offset of that time)
    return energy_block(analog.eval(), data.x_test, DEVICE.relative_to(ROOT), device, options, settings,
                        seed=derive(0, "energy"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=["mnist", "cifar10"], required=True)
    p.add_argument("--read-time-s", type=float, default=None, help="inference read time [the protocol's]")
    args = p.parse_args()
    os.chdir(ROOT)  # the results name the device file relative to the repository
    settings = EnergySettings(read_time_s=args.read_time_s)
    cost = mnist(settings) if args.task == "mnist" else cifar10(settings)
    suffix = "" if args.read_time_s is None else f"-read{args.read_time_s:g}s"
    folder = HERE / f"{args.task}{suffix}"
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    out = folder / "results.json"
    doc = {"task": args.task, "device_file": str(DEVICE.relative_to(ROOT)), "energy": cost}
    if args.task == "cifar10":
        from memlab.simulation.cifar10 import get_architecture

        doc["network"] = {"weights": "results/cifar10/networks/cifar10_hwat.pt",
                          "architecture": get_architecture(CIFAR10_ARCH).to_json()}
    out.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    energy_figure(cost, folder / "figures" / f"{args.task}_network_energy.png", args.task)
    read = "" if args.read_time_s is None else f" --read-time-s {args.read_time_s:g}"
    (folder / "command.txt").write_text(f".venv/bin/python results/energy/run.py --task {args.task}{read}\n")
    print("\n".join(summary_lines(cost)))
    print(f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
