"""The HWAT gain on the committed CIFAR-10 networks, on CPU, from the sample device file.

No 200-epoch retraining: the committed digital network (``results/cifar10/networks/cifar10_digital.pt``,
200 epochs on an H200) is the start of every analog network here:

* ``no_hwat_max``: the digital weights, input ranges calibrated by 'max' on the first batches
  (the baseline of issue 16 item 2);
* ``no_hwat_std3``: the same with aihwkit's 3·std rule (the earlier baseline);
* ``hwat_committed``: ``results/cifar10/networks/cifar10_hwat.pt`` (20 epochs of the earlier recipe on the
  H200: aihwkit's modifier, learned ranges, no clipping, no drift, a fresh D2D draw every step);
* ``hwat_device_finetune``: ``--epochs`` epochs (default 1) of the default device-derived recipe
  on CPU from the digital weights (a short fine-tune, stated as such: the paper's is 20 epochs).

Each is programmed ``--repeats`` times (the same programming seeds for every network, so gains
are paired) and read at programming time and after 1 day of the device file's measured drift,
with global drift compensation, on the full test set.

    .venv/bin/python results/hwat/run_cifar10.py --out results/hwat
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import pathlib
import statistics
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
DIGITAL = ROOT / "results" / "cifar10" / "networks" / "cifar10_digital.pt"
HWAT = ROOT / "results" / "cifar10" / "networks" / "cifar10_hwat.pt"
T95 = {3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 8: 2.365, 10: 2.262}
TIMES_S = (0.0, 86400.0)


def finetune(digital, device_file, options, images, labels, mean, std, epochs: int) -> tuple[dict, float]:
    """``epochs`` of the default HWAT recipe from ``digital``; returns (analog state, seconds)."""
    from memlab.simulation import analog as dm
    from memlab.simulation import hwat_fast
    from memlab.simulation.cifar10 import TrainSettings, WarmupCosine, train_epoch

    settings = TrainSettings()
    analog = dm.to_analog(copy.deepcopy(digital), device_file, options, hwat=True)
    fast = hwat_fast.trainable(analog)
    opt = hwat_fast.optimizer(fast, settings.hwat_lr)
    steps = epochs * math.ceil(len(labels) / settings.batch_size)
    sched = WarmupCosine(opt, settings.hwat_lr, warmup_steps=0, total_steps=steps)
    gen = torch.Generator().manual_seed(1616)
    t = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1617)
        for _ in range(epochs):
            row = train_epoch(fast, images, labels, opt, sched, mean=mean, std=std, settings=settings,
                              generator=gen)
            print(f"HWAT fine-tune epoch: loss {row['loss']:.4f}, train acc {row['accuracy']:.4f}, "
                  f"{row['seconds']:.1f} s", flush=True)
    hwat_fast.write_back(fast, analog)
    state = dm.analog_state(analog)
    return {"analog": state, "digital": analog_digital_state(analog, digital)}, time.perf_counter() - t


def analog_digital_state(analog, digital):
    """The digital modules' state (batch norm) of the trained analog network, in ``digital``'s keys."""
    net = copy.deepcopy(digital)
    own = {k: v for k, v in analog.state_dict().items() if k in net.state_dict()
           and v.shape == net.state_dict()[k].shape}
    net.load_state_dict(own, strict=False)
    return net


def evaluate(model, xt, yt, mean, std, repeats: int) -> dict[float, list[float]]:
    from memlab.simulation import analog as dm
    from memlab.simulation.cifar10 import evaluate as accuracy

    out = {t: [] for t in TIMES_S}
    for r in range(repeats):
        for t in TIMES_S:
            dm.program(model, 1000 + r)
            dm.drift_to(model, t, 2000 + r)
            out[t].append(accuracy(dm.freeze(model, seed=r), xt, yt, mean=mean, std=std))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "hwat"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from memlab.analysis.device_file import load_device_file
    from memlab.simulation import analog as dm
    from memlab.simulation import hwat_fast
    from memlab.simulation.cifar10 import build_network
    from memlab.simulation.cifar10_data import load_cifar10, normalise, to_tensor
    from memlab.simulation.training import first_batches

    t0 = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = load_cifar10(args.data_dir, progress=False)
    (xi, yi), (xt, yt) = to_tensor(data.train), to_tensor(data.test)
    mean, std = data.mean, data.std
    device_file = load_device_file(DEVICE)
    options = dm.AnalogOptions(drift="measured")
    digital = build_network(0)
    digital.load_state_dict(torch.load(DIGITAL, map_location="cpu", weights_only=True))
    digital.eval()
    calib = [normalise(b, mean, std) for b in first_batches(xi, 256, 0, "cpu")]
    nets = {}
    for rule in ("max", "std3"):
        m = dm.to_analog(copy.deepcopy(digital), device_file, options, hwat=False)
        hwat_fast.calibrate_input_ranges(m, calib, rule=rule)
        nets[f"no_hwat_{rule}"] = m
    committed = torch.load(HWAT, map_location="cpu", weights_only=True)
    hw_digital = copy.deepcopy(digital)
    hw_digital.load_state_dict({k[len("digital."):]: v for k, v in committed.items() if k.startswith("digital.")})
    m = dm.to_analog(hw_digital, device_file, options, hwat=False)
    dm.load_analog_state(m, {k: v for k, v in committed.items() if not k.startswith("digital.")})
    nets["hwat_committed"] = m
    trained, train_s = finetune(digital, device_file, options, xi, yi, mean, std, args.epochs)
    m = dm.to_analog(trained["digital"], device_file, options, hwat=False)
    dm.load_analog_state(m, trained["analog"])
    nets["hwat_device_finetune"] = m
    acc = {}
    for name, model in nets.items():
        acc[name] = evaluate(model.eval(), xt, yt, mean, std, args.repeats)
        print(name, {t: round(100 * statistics.fmean(v), 2) for t, v in acc[name].items()}, flush=True)
    report = {"task": "cifar10 (JPEG copy)", "device_file": str(DEVICE.relative_to(ROOT)),
              "options": dataclasses.asdict(options), "finetune_epochs": args.epochs, "finetune_s": train_s,
              "repeats": args.repeats, "times_s": list(TIMES_S),
              "accuracy_pct": {n: {str(t): [100 * a for a in v] for t, v in a_.items()} for n, a_ in acc.items()},
              "gains_points": gains_table(acc), "wall_s": time.perf_counter() - t0,
              "threads": torch.get_num_threads()}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cifar10_hwat_gain.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["gains_points"], indent=1))


def gains_table(acc) -> dict:
    """Paired gains (points, 95 % t CI) of each HWAT network over each baseline, per time."""
    out = {}
    for h in ("hwat_committed", "hwat_device_finetune"):
        for b in ("no_hwat_max", "no_hwat_std3"):
            for t in TIMES_S:
                diff = [100 * (x - y) for x, y in zip(acc[h][t], acc[b][t])]
                n = len(diff)
                half = T95.get(n, 1.96) * statistics.stdev(diff) / math.sqrt(n) if n > 1 else math.nan
                out[f"{h} - {b} @ {t:g} s"] = {"gain": statistics.fmean(diff), "ci95": half}
    return out


if __name__ == "__main__":
    main()
