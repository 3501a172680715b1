"""Benchmark: CIFAR-10 images per second, digital vs analog, training and evaluation.

On whatever hardware runs it (``--device cuda`` on a GPU machine), with the
data on that device as in a real run (uint8, augmented there):

* training: ``--steps`` batches (the same images, augmentation and batch size
  on every side, each after warm-up batches) of digital training (bf16 autocast
  on CUDA, float32 on CPU), of hardware-aware training through
  :mod:`memlab.simulation.hwat_fast` (what the experiments use: aihwkit's tile
  arithmetic with native conv2d/linear, float32) and through aihwkit's own
  layers with ``AnalogSGD`` (float32); the epoch times are the measured rate
  scaled to 50,000 images (a fixed number of batches is timed, not an epoch);
* evaluation of the test images: digital, analog through the programmed,
  frozen crossbars (``analog.freeze``, built before the timing, as the
  digital network is), and analog through aihwkit's own layers; best of
  ``--rounds``, interleaved so a busy machine hurts all alike.

    .venv/bin/python benchmarks/cifar10.py [--device cuda] [--per-class 100] [--out timing.json]

Prints a table, then a ``RESULT`` line with absolute rates and ratios
(``*_over_*``: how many times slower the first is than the second; targets of
issue 26: ``eval_digital_over_analog`` and ``hwat_epoch_over_digital`` <= 2).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(model, optimizer, images, labels, *, mean, std, settings, steps: int, warmup: int,
               amp: bool, device: torch.device) -> float:
    """Training images per second over ``steps`` batches after ``warmup`` batches."""
    from memlab.simulation.cifar10 import train_epoch

    gen = torch.Generator(device=device).manual_seed(0)
    n_warm, n = warmup * settings.batch_size, steps * settings.batch_size
    train_epoch(model, images[:n_warm], labels[:n_warm], optimizer, None, mean=mean, std=std,
                settings=settings, generator=gen, amp=amp)
    row = train_epoch(model, images[:n], labels[:n], optimizer, None, mean=mean, std=std,
                      settings=settings, generator=gen, amp=amp)
    return row["images"] / row["seconds"]


def eval_seconds(model, images, labels, *, mean, std, batch_size: int, amp: bool, device) -> float:
    from memlab.simulation.cifar10 import evaluate

    _sync(device)
    t = time.perf_counter()
    evaluate(model, images, labels, mean=mean, std=std, batch_size=batch_size, amp=amp)
    _sync(device)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--device-file", default=str(ROOT / "sample_data" / "devices" / "virtual-hfs2.json"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None, help="where decoded images are cached")
    parser.add_argument("--per-class", type=int, default=None,
                        help="images per class and split [all on cuda, 100 on cpu]")
    parser.add_argument("--steps", type=int, default=None, help="timed training batches [100 cuda, 4 cpu]")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="evaluation timing rounds")
    parser.add_argument("--out", default=None, help="also write the numbers as JSON here")
    args = parser.parse_args()

    from memlab.analysis.device_file import load_device_file
    from memlab.simulation import analog as dm
    from memlab.simulation import hwat_fast
    from memlab.simulation.cifar10 import TrainSettings, build_network, digital_optimizer
    from memlab.simulation.cifar10_data import load_cifar10, to_tensor

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    per_class = args.per_class if args.per_class is not None else (None if cuda else 100)
    steps = args.steps or (100 if cuda else 4)
    warmup = 10 if cuda else 1
    settings = TrainSettings(batch_size=args.batch_size)

    t = time.perf_counter()
    data = load_cifar10(args.data_dir, per_class=per_class, cache_dir=args.cache_dir, progress=False)
    load_s = time.perf_counter() - t
    (xi, yi), (xt, yt) = to_tensor(data.train, device), to_tensor(data.test, device)
    need = (steps + warmup) * settings.batch_size
    if len(yi) < need:  # small CPU subsets: repeat the images to fill the timed batches
        reps = -(-need // len(yi))
        xi, yi = xi.repeat(reps, 1, 1, 1), yi.repeat(reps)
    mean, std = data.mean, data.std
    device_file = load_device_file(args.device_file)

    net = build_network(0).to(device)
    digital_train = train_rate(net, digital_optimizer(net, settings), xi, yi, mean=mean, std=std,
                               settings=settings, steps=steps, warmup=warmup, amp=True, device=device)
    analog = dm.to_analog(net.cpu(), device_file, dm.AnalogOptions(), hwat=True).to(device)
    net = net.to(device)
    fast = hwat_fast.trainable(analog)
    fast_train = train_rate(fast, hwat_fast.optimizer(fast, settings.hwat_lr), xi, yi, mean=mean,
                            std=std, settings=settings, steps=steps, warmup=warmup, amp=False, device=device)
    analog_train = train_rate(analog, dm.analog_optimizer(analog, settings.hwat_lr), xi, yi, mean=mean,
                              std=std, settings=settings, steps=steps, warmup=warmup, amp=False,
                              device=device)

    dm.program(analog, seed=1)
    dm.drift_to(analog, 0.0, seed=1)
    frozen = dm.freeze(analog, seed=1).to(device)
    ev = {"digital": [], "analog_frozen": [], "analog_aihwkit": []}
    kw = dict(mean=mean, std=std, batch_size=settings.eval_batch_size, device=device)
    for _ in range(args.rounds):
        ev["digital"].append(eval_seconds(net, xt, yt, amp=True, **kw))
        ev["analog_frozen"].append(eval_seconds(frozen, xt, yt, amp=False, **kw))
        ev["analog_aihwkit"].append(eval_seconds(analog, xt, yt, amp=False, **kw))
    n_test = len(yt)
    rates = {
        "train_digital_img_s": digital_train, "train_hwat_img_s": fast_train,
        "train_hwat_aihwkit_img_s": analog_train,
        "hwat_epoch_over_digital": digital_train / fast_train,
        "hwat_aihwkit_epoch_over_digital": digital_train / analog_train,
        "eval_digital_img_s": n_test / min(ev["digital"]),
        "eval_analog_img_s": n_test / min(ev["analog_frozen"]),
        "eval_aihwkit_img_s": n_test / min(ev["analog_aihwkit"]),
    }
    rates["eval_analog_digital_ratio"] = rates["eval_analog_img_s"] / rates["eval_digital_img_s"]
    rates["eval_digital_over_analog"] = rates["eval_digital_img_s"] / rates["eval_analog_img_s"]
    rates["eval_digital_over_aihwkit"] = rates["eval_digital_img_s"] / rates["eval_aihwkit_img_s"]
    rates["digital_epoch_s"] = 50_000 / digital_train
    rates["hwat_epoch_s"] = 50_000 / fast_train
    rates["hwat_aihwkit_epoch_s"] = 50_000 / analog_train
    card = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    info = {"card": card, "torch": torch.__version__, "batch_size": settings.batch_size,
            "timed_steps": steps, "n_test": n_test, "data_load_s": load_s, **rates}
    for k, v in info.items():
        print(f"{k:>28}: {v:.4g}" if isinstance(v, float) else f"{k:>28}: {v}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(info, indent=2) + "\n")
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in rates.items())
          + f" device={args.device} card={card.replace(' ', '_')}")


if __name__ == "__main__":
    main()
