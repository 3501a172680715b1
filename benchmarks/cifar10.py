"""Benchmark: CIFAR-10 images per second, digital vs analog, training and evaluation.

On whatever hardware runs it (``--device cuda`` on a GPU machine), one network (the
paper's 3-block ResNet, :func:`memlab.simulation.cifar10.build_network`), with the data on
that device as in a real run (uint8, normalised and augmented there per batch). Every side
runs in float32, so the ratios compare like with like:

* **digital training**: ``train_epoch`` with SGD (Nesterov momentum), float32. On CUDA
  the experiments train digital networks under bf16 autocast; that rate is reported
  apart (``train_digital_bf16_img_s``) and enters no ratio.
* **HWAT training** through :mod:`memlab.simulation.hwat_fast`, as the experiments run it:
  input ranges calibrated on the first batches and held (``hwat_fast.prepare``; its time
  is ``hwat_calibration_s``, paid once per training, not per epoch), then steps with the
  device-derived training noise, DAC and ADC quantisation, the remap after every step.
* **HWAT through aihwkit's own layers** (``AnalogConv2d``/``AnalogLinear`` torch tiles,
  ``AnalogSGD``) on the same network, with fewer timed steps (it is ~20x slower).
* **evaluation** of the test images: digital (float32), analog through the programmed,
  frozen crossbars (``freeze``, built before the timing, as the digital network is built
  before its timing) and analog through aihwkit's own layers.

Each training side runs ``--warmup`` batches first, then ``--rounds`` timed rounds of
``--steps`` batches (the same images, augmentation and batch size everywhere); sides are
interleaved round by round so a busy machine slows all alike, and the best round counts.
Epoch times are the best rate scaled to 50,000 images. Evaluation: best of ``--rounds``,
interleaved.

    .venv/bin/python benchmarks/cifar10.py [--device cuda] [--per-class 100] [--out timing.json]

Prints a table, then (last line) a ``RESULT`` line with absolute rates and ratios
(``*_over_*``: how many times slower the first is than the second; targets of issue 26:
``eval_digital_over_analog`` and ``hwat_epoch_over_digital`` <= 2).
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


class Trainer:
    """One training side: a model, its optimizer, and its best timed round."""

    def __init__(self, name, model, optimizer, *, amp: bool, steps: int) -> None:
        self.name, self.model, self.optimizer, self.amp, self.steps = name, model, optimizer, amp, steps
        self.best_img_s = 0.0

    def run(self, images, labels, *, mean, std, settings, generator, timed: bool = True) -> None:
        from memlab.simulation.cifar10 import train_epoch

        n = self.steps * settings.batch_size
        row = train_epoch(self.model, images[:n], labels[:n], self.optimizer, None, mean=mean, std=std,
                          settings=settings, generator=generator, amp=self.amp)
        if timed:
            self.best_img_s = max(self.best_img_s, row["images"] / row["seconds"])


def eval_seconds(model, images, labels, *, mean, std, batch_size: int, amp: bool, device) -> float:
    from memlab.simulation.cifar10 import evaluate

    _sync(device)
    t = time.perf_counter()
    evaluate(model, images, labels, mean=mean, std=std, batch_size=batch_size, amp=amp)
    _sync(device)
    return time.perf_counter() - t


def _args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--device-file", default=str(ROOT / "sample_data" / "devices" / "virtual-hfs2.json"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None, help="where decoded images are cached")
    parser.add_argument("--per-class", type=int, default=None,
                        help="images per class and split [all on cuda, 100 on cpu]")
    parser.add_argument("--steps", type=int, default=None, help="timed training batches per round [100 cuda, 4 cpu]")
    parser.add_argument("--aihwkit-steps", type=int, default=None, help="the same for aihwkit's layers [20 cuda, 2 cpu]")
    parser.add_argument("--warmup", type=int, default=None, help="untimed batches first [10 cuda, 1 cpu]")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--arch", default="paper-balanced", help="network widths (memlab.simulation.cifar10.ARCHITECTURES)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (best counts)")
    parser.add_argument("--out", default=None, help="also write the numbers as JSON here")
    return parser.parse_args()


def _train_sides(args, device, xi, yi, mean, std, settings, device_file, steps, warmup):
    """Build and time every training side; returns (sides by name, analog net, digital net, calibration s)."""
    from memlab.simulation import analog as dm
    from memlab.simulation import hwat_fast
    from memlab.simulation.cifar10 import build_network, digital_optimizer
    from memlab.simulation.cifar10_data import normalise

    cuda = device.type == "cuda"
    net = build_network(0, args.arch).to(device)
    options = dm.AnalogOptions()
    analog = dm.to_analog(net.cpu(), device_file, options, hwat=True).to(device)
    net = net.to(device)
    t = time.perf_counter()
    size = 4 * settings.batch_size  # as the experiments calibrate: 10 batches of 4x the batch size
    calib = (normalise(xi[i * size:(i + 1) * size], mean, std) for i in range(10))
    fast = hwat_fast.prepare(analog, calib)
    _sync(device)
    calibration_s = time.perf_counter() - t
    sides = [Trainer("digital", net, digital_optimizer(net, settings), amp=False, steps=steps),
             Trainer("hwat", fast, hwat_fast.optimizer(fast, settings.hwat_lr), amp=False, steps=steps),
             Trainer("hwat_aihwkit", analog, dm.analog_optimizer(analog, settings.hwat_lr), amp=False,
                     steps=args.aihwkit_steps or (20 if cuda else 2))]
    if cuda:
        bf16 = build_network(0, args.arch).to(device)
        sides.append(Trainer("digital_bf16", bf16, digital_optimizer(bf16, settings), amp=True, steps=steps))
    gen = torch.Generator(device=device).manual_seed(0)
    kw = dict(mean=mean, std=std, settings=settings, generator=gen)
    for side in sides:
        warm = Trainer(side.name, side.model, side.optimizer, amp=side.amp, steps=warmup)
        warm.run(xi, yi, timed=False, **kw)
    for _ in range(args.rounds):
        for side in sides:
            side.run(xi, yi, **kw)
    return {s.name: s for s in sides}, analog, net, calibration_s


def main() -> None:
    args = _args()
    from memlab.analysis.device_file import load_device_file
    from memlab.simulation import analog as dm
    from memlab.simulation.cifar10 import TrainSettings
    from memlab.simulation.cifar10_data import load_cifar10, to_tensor

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    per_class = args.per_class if args.per_class is not None else (None if cuda else 100)
    steps = args.steps or (100 if cuda else 4)
    warmup = args.warmup or (10 if cuda else 1)
    settings = TrainSettings(batch_size=args.batch_size)

    t = time.perf_counter()
    data = load_cifar10(args.data_dir, per_class=per_class, cache_dir=args.cache_dir, progress=False)
    load_s = time.perf_counter() - t
    (xi, yi), (xt, yt) = to_tensor(data.train, device), to_tensor(data.test, device)
    need = max(steps + warmup, 40) * settings.batch_size  # 40: the calibration's 10 x 4 batches
    if len(yi) < need:  # small CPU subsets: repeat the images to fill the timed batches
        reps = -(-need // len(yi))
        xi, yi = xi.repeat(reps, 1, 1, 1), yi.repeat(reps)
    mean, std = data.mean, data.std
    device_file = load_device_file(args.device_file)
    sides, analog, net, calibration_s = _train_sides(args, device, xi, yi, mean, std, settings,
                                                     device_file, steps, warmup)

    dm.program(analog, seed=1)
    dm.drift_to(analog, 0.0, seed=1)
    frozen = dm.freeze(analog, seed=1).to(device)
    ev = {"digital": [], "analog_frozen": [], "analog_aihwkit": []}
    kw = dict(mean=mean, std=std, batch_size=settings.eval_batch_size, device=device)
    eval_models = {"digital": net, "analog_frozen": frozen, "analog_aihwkit": analog}
    for model in eval_models.values():  # warm-up
        eval_seconds(model, xt[:settings.eval_batch_size], yt[:settings.eval_batch_size], amp=False, **kw)
    for _ in range(args.rounds):
        for name, model in eval_models.items():
            ev[name].append(eval_seconds(model, xt, yt, amp=False, **kw))
    rates = _rates(sides, ev, len(yt), calibration_s)
    card = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    info = {"card": card, "torch": torch.__version__, "architecture": net.architecture.to_json(), "batch_size": settings.batch_size, "timed_steps": steps,
            "aihwkit_timed_steps": sides["hwat_aihwkit"].steps, "rounds": args.rounds, "n_test": len(yt),
            "data_load_s": load_s, "precision": "float32 on every side of every ratio", **rates}
    for k, v in info.items():
        print(f"{k:>32}: {v:.4g}" if isinstance(v, float) else f"{k:>32}: {v}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(info, indent=2) + "\n")
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in rates.items())
          + f" device={args.device} card={card.replace(' ', '_')} arch={args.arch}")


def _rates(sides, ev, n_test: int, calibration_s: float) -> dict:
    digital = sides["digital"].best_img_s
    hwat, aihw = sides["hwat"].best_img_s, sides["hwat_aihwkit"].best_img_s
    rates = {
        "train_digital_img_s": digital, "train_hwat_img_s": hwat, "train_hwat_aihwkit_img_s": aihw,
        "hwat_epoch_over_digital": digital / hwat, "hwat_aihwkit_epoch_over_digital": digital / aihw,
        "eval_digital_img_s": n_test / min(ev["digital"]),
        "eval_analog_img_s": n_test / min(ev["analog_frozen"]),
        "eval_aihwkit_img_s": n_test / min(ev["analog_aihwkit"]),
    }
    if "digital_bf16" in sides:
        rates["train_digital_bf16_img_s"] = sides["digital_bf16"].best_img_s
    rates["eval_digital_over_analog"] = rates["eval_digital_img_s"] / rates["eval_analog_img_s"]
    rates["eval_digital_over_aihwkit"] = rates["eval_digital_img_s"] / rates["eval_aihwkit_img_s"]
    rates["digital_epoch_s"] = 50_000 / digital
    rates["hwat_epoch_s"] = 50_000 / hwat
    rates["hwat_calibration_s"] = calibration_s
    rates["hwat_aihwkit_epoch_s"] = 50_000 / aihw
    return rates


if __name__ == "__main__":
    main()
