"""Your own network on a measured device: a small CNN on scikit-learn's 8x8 digits.

Defines a torchvision-free CNN (a depthwise-separable block with batch norm
and a residual sum), trains it digitally, puts it on the crossbars of the
sample device file with memlab's aihwkit bridge and prints its accuracy at
programming time and one day later (the device file's measured drift)::

    python examples/own_network.py                  # ~1 min on 2 CPU cores
    python examples/own_network.py --device-file my-device.json --out results.json
"""

from __future__ import annotations

import argparse
import pathlib

import torch
from sklearn.datasets import load_digits

import memlab

SAMPLE = pathlib.Path(__file__).resolve().parents[1] / "sample_data" / "devices" / "virtual-hfs2.json"
DAY_S = 86400.0


class SeparableBlock(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = torch.nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.norm = torch.nn.BatchNorm2d(channels)
        self.pointwise = torch.nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(torch.relu(self.norm(self.depthwise(x))))


def lenet() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), SeparableBlock(16), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 2 * 2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def digits(seed: int):
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    test, train = perm[:360], perm[360:]
    return x[train], y[train], x[test], y[test]


def train(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=gen).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device-file", default=str(SAMPLE))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the results JSON (memlab simulate's shape) here")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = digits(args.seed)
    net = lenet()
    train(net, x_train, y_train, args.epochs, args.seed)

    config = memlab.analog_config(args.device_file, drift="measured", d2d_fraction=0.3)
    analog = memlab.convert_to_analog(net, config)             # every Conv2d/Linear on the crossbars
    memlab.calibrate_input_ranges(analog, x_train[:512].split(128))
    result = memlab.evaluate_analog(analog, x_test, y_test, config, times_s=(1.0, DAY_S),
                                    repeats=args.repeats, seed=args.seed, digital=net, task="digits-8x8-cnn")
    res = result.to_json()
    at_day = res["accuracy_vs_time"][0]["accuracy"][1]
    print(f"digital                 {100 * res['digital_accuracy']:.2f} %")
    print(f"analog, programmed      {100 * res['analog_accuracy']['mean']:.2f} +- "
          f"{100 * res['analog_accuracy']['std']:.2f} % ({args.repeats} programmings)")
    print(f"analog, after 1 day     {100 * at_day['mean']:.2f} +- {100 * at_day['std']:.2f} % "
          f"(drift: {config.options.drift}, compensation: {config.options.drift_compensation})")
    if args.out:
        print(f"results: {result.write_json(args.out)}")


if __name__ == "__main__":
    main()
