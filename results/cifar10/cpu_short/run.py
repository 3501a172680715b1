"""A short CPU retrain of the CIFAR-10 network, digital only, labelled as such (see README.md here).

    python results/cifar10/cpu_short/run.py --out DIR [--arch paper-balanced] [--budget-s 1200]
        [--max-epochs 200] [--data-dir ../shared/data] [--threads 2] [--seed 0]

Trains :func:`memlab.simulation.cifar10.build_network` on the full CIFAR-10 (JPEG
copy) with the task's recipe (:class:`memlab.simulation.cifar10.TrainSettings`: SGD
with Nesterov momentum, lr 0.05, batch 256, weight decay 5e-4 on weights, gradient
clipping 2.0, the augmentation of :mod:`memlab.simulation.cifar10_augment`), a
one-epoch linear warm-up and a cosine decay to zero at the last epoch. With
``--budget-s`` the number of epochs is fixed after the first epoch's timing, so the
schedule anneals fully within the budget (never more than ``--max-epochs``). Test
accuracy after every epoch (normalisation only). Writes into DIR, after every epoch:
``results.json``; at the end ``cifar10_digital.pt`` (tensors only) and its record
``cifar10_digital.json`` (:mod:`memlab.simulation.weights_record`). This is not the
paper's 200-epoch schedule: that one needs the GPU (README.md says the command).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
KIND = "memlab-cifar10-digital-training"


def _args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default="paper-balanced")
    p.add_argument("--budget-s", type=float, default=None, help="wall-clock budget of the training")
    p.add_argument("--max-epochs", type=int, default=200)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-class", type=int, default=None, help=argparse.SUPPRESS)  # smoke runs only
    a = p.parse_args(argv)
    if a.max_epochs < 1 or (a.budget_s is not None and not a.budget_s > 0) or a.threads < 1:
        p.error(f"--max-epochs {a.max_epochs} must be >= 1, --budget-s {a.budget_s} > 0, --threads >= 1")
    return a


def _write(path: pathlib.Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def _header(args, net, data, settings) -> dict:
    import torch

    from memlab import __version__
    from memlab import reference as ref
    from memlab.simulation.cifar10 import count_weights

    counts = count_weights(net)
    return {
        "kind": KIND, "label": "short CPU retrain, digital only (not the paper's 200 epochs)",
        "task": "cifar10", "complete": False, "architecture": net.architecture.to_json(),
        "network": {"weights": counts.weights, "memristors": counts.memristors,
                    "convolution_weights": counts.convolution_weights,
                    "digital_biases": counts.digital_biases, "tiles": [list(t) for t in counts.tiles]},
        "dataset": data.provenance(), "settings": dataclasses.asdict(settings),
        "schedule": {"warmup_epochs": 1, "decay": "cosine to 0 at the last planned epoch",
                     "budget_s": args.budget_s, "max_epochs": args.max_epochs},
        "seed": args.seed, "threads": args.threads,
        "command": "python results/cifar10/cpu_short/run.py " + " ".join(sys.argv[1:]),
        "versions": {"memlab": __version__, "python": platform.python_version(), "torch": torch.__version__},
        "hardware": {"device": "cpu", "cpu": platform.processor() or platform.machine(),
                     "threads": torch.get_num_threads()},
        "paper": {"digital_accuracy": ref.CIFAR10_DIGITAL_ACCURACY.si, "digital_epochs": ref.CIFAR10_EPOCHS.value,
                  "source": f"{ref.PAPER}, {ref.CIFAR10_DIGITAL_ACCURACY.source}"},
        "epochs_run": 0, "epochs_planned": None, "stopped": None, "history": [],
    }


def _save(net, out: pathlib.Path, doc: dict, epoch: int, args) -> None:
    """Weights, their record and the results after every epoch: a run cut short leaves a consistent set."""
    import torch

    from memlab.simulation import weights_record

    torch.save(net.state_dict(), out / "cifar10_digital.pt")
    doc["weights"] = weights_record.write_record(
        out / "cifar10_digital.pt", stage="digital", task="cifar10", architecture=net.architecture.to_json(),
        epochs=epoch, hwat_epochs=0, trained_on=f"CPU, {args.threads} threads", trained_at=time.strftime("%Y-%m-%d"),
        source="results/cifar10/cpu_short/results.json",
        note=f"short CPU schedule: {epoch} of {doc['epochs_planned']} planned epochs (1 warm-up, cosine), "
             "not the paper's 200")
    _write(out / "results.json", doc)


def main(argv=None) -> int:
    args = _args(argv)
    import torch

    from memlab.seeds import derive
    from memlab.simulation.cifar10 import (TrainSettings, WarmupCosine, build_network, digital_optimizer,
                                           evaluate, train_epoch)
    from memlab.simulation.cifar10_data import load_cifar10, to_tensor

    torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = load_cifar10(args.data_dir, per_class=args.per_class, progress=False)
    (xi, yi), (xt, yt) = to_tensor(data.train), to_tensor(data.test)
    print(f"data: {len(yi)} train / {len(yt)} test ({data.label}) in {time.perf_counter() - t0:.0f} s", flush=True)
    settings = TrainSettings()
    net = build_network(derive(args.seed, "network"), args.arch)
    doc = _header(args, net, data, settings)
    print(f"network {net.architecture.name} {net.architecture.channels}/{net.architecture.hidden}: "
          f"{doc['network']['weights']} weights", flush=True)
    opt = digital_optimizer(net, settings)
    steps = math.ceil(len(yi) / settings.batch_size)
    fixed = None if args.budget_s is not None else args.max_epochs * steps
    sched = WarmupCosine(opt, settings.lr, steps, fixed)
    gen = torch.Generator().manual_seed(derive(args.seed, "augmentation"))
    planned, start, epoch = args.max_epochs, time.perf_counter(), 0
    while epoch < planned:
        epoch += 1
        row = train_epoch(net, xi, yi, opt, sched, mean=data.mean, std=data.std, settings=settings, generator=gen)
        elapsed = time.perf_counter() - start
        if args.budget_s is not None and epoch <= 2:  # planned after epoch 1, re-planned after epoch 2
            planned = max(epoch, min(args.max_epochs, epoch + math.floor((args.budget_s - elapsed) / row["seconds"])))
            sched.set_total(planned * steps)
        row.update(epoch=epoch, lr_end=sched.lr(), elapsed_s=elapsed,
                   test_accuracy=evaluate(net, xt, yt, mean=data.mean, std=data.std))
        doc["history"].append(row)
        doc.update(epochs_run=epoch, epochs_planned=planned)
        _save(net, out, doc, epoch, args)
        print(f"epoch {epoch}/{planned}: loss {row['loss']:.4f} train acc {row['accuracy']:.4f} "
              f"test acc {row['test_accuracy']:.4f} ({row['seconds']:.0f} s)", flush=True)
        if args.budget_s is not None and elapsed > 1.15 * args.budget_s and epoch < planned:
            doc["stopped"] = f"over budget after epoch {epoch}: the schedule did not anneal fully"
            break
    doc["digital_accuracy"] = doc["history"][-1]["test_accuracy"]  # eval mode, after the last epoch
    doc["training_s"] = time.perf_counter() - start
    doc["complete"] = True
    _save(net, out, doc, epoch, args)
    print(f"RESULT cifar10_cpu_short_digital_acc={doc['digital_accuracy']:.4f} epochs={epoch} "
          f"paper_digital={doc['paper']['digital_accuracy']:.4f} training_s={doc['training_s']:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
