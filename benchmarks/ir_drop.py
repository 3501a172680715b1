"""Benchmark: MNIST inference with IR drop (issues 8, 24, 26), speed and accuracy in one run.

A 784-500-10 MLP is trained digitally (seeded, ``--epochs``), mapped on the
virtual device (``sample_data/devices/virtual-hfs2.json``, derived from the sample runs; potentiation
branch, 30 % D2D, tiles of ``--array-size``), programmed and drifted to one
day (Wan 2022, global drift compensation) exactly as ``memlab simulate``
does, and frozen for evaluation. Two devices are timed, in one run:

* ``paper``: the virtual device as measured (1.6-2.9 mS per cell: a strong
  drop, so ``method='auto'`` runs the exact solve);
* ``scaled``: the same device at ``--what-if-scale`` times its conductance
  (default 1/100: 16-29 µS, a typical RRAM read current), where the drop is
  weaker; ``auto`` takes the closed form only when its drop strength ρ ≤ 0.3,
  and its accuracy is also computed with the exact solve.

Every ratio below is one pair doing the same work on both sides, on
``--device``, in float32 for the network and float64 for the solves, each side
run once untimed (warm-up) and then best of ``--rounds``, the two sides
interleaved round by round so a busy machine hurts both alike:

* ``cold``: ideal side = freeze the programmed network + evaluate the test
  set; IR side = freeze with ``IRDropTransform`` at ``--timing-ohm``
  (``method='auto'``: the crossbar solves) + evaluate the test set.
* ``warm``: both sides evaluate the test set through an already frozen
  network (the ideal one; the one with the IR-drop effective weights): what
  every further batch costs.
* ``solve``: the crossbar solves of all the network's tiles alone (no ratio),
  per tile.
* ``strong tile``: the exact effective matrices of one full 256 x 256 tile
  of the paper's device (a G+/G- pair, conductances uniform over 1.9-3.3 mS,
  ``method='solve'``): ``ir_fast`` (nested dissection) on ``--device``
  (``strong_tile256_solve_s``, target <= 0.3 s on 2 CPU cores), and the
  same-model pair on the CPU: ``ir_fast`` against the sparse LU reference
  ``ir_reference.effective_conductance`` (SuperLU, one solve per input line)
  on the same two arrays (both warmed up on a 16 x 16 corner: the reference
  takes ~10 s an array), with the largest relative difference of the results.

Not a pair: aihwkit's ``TorchInferenceRPUConfigIRDropT`` (same weights, same
``max_input_size``, ``ir_drop_rs`` = the wire resistance) on one batch of
``--aihwkit-batch`` test images is timed (warm-up, best of ``--rounds``, on
``--device``) beside memlab's freeze-with-solves + the same batch, but no
ratio is printed: aihwkit models a different circuit (PWM time slices, a
Thevenin equivalent per column over 8 synthetic segments, its own conductance
scale from the weights), not the DC solution of this device's conductances,
so there is no like-for-like pair (``aihwkit_pair=none``). ``--aihwkit-batch
0`` skips it (minutes on 2 cores).

Then the test accuracy of the paper's device without and with IR drop at each
of ``--ohms``, with the drop strength ρ (``ir_fast.line_drops``) of the worst array.

    .venv/bin/python benchmarks/ir_drop.py [--device cuda] [--array-size 64]

Prints a table, then a last line ``RESULT ...``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import pathlib
import time

import torch
from tqdm import tqdm

ROOT = pathlib.Path(__file__).resolve().parents[1]
DAY_S = 86400.0


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: str):
    _sync(device)
    t = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - t


def best_of(fn, rounds: int, device: str) -> float:
    """Best of ``rounds`` timed calls of ``fn`` after one untimed warm-up call."""
    fn()
    return min(_timed(fn, device)[1] for _ in range(rounds))


def aihwkit_irdrop_batch_s(digital: torch.nn.Module, x: torch.Tensor, array_size: int, ohm: float,
                           rounds: int, device: str) -> float:
    """Seconds for aihwkit's time-dependent IR-drop tiles on one batch (warm-up, best of ``rounds``)."""
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.simulator.configs import TorchInferenceRPUConfigIRDropT

    cfg = TorchInferenceRPUConfigIRDropT()
    cfg.mapping.max_input_size = array_size
    cfg.mapping.max_output_size = array_size
    cfg.forward.ir_drop_rs = ohm
    model = convert_to_analog(copy.deepcopy(digital).cpu(), cfg).eval().to(device)
    xb = x.to(device)

    def batch():
        with torch.no_grad():
            return model(xb)

    return best_of(batch, rounds, device)


def manual_freeze(digital: torch.nn.Sequential, calib: torch.Tensor, array_size: int, g_idle_S: float,
                  span_S: float):
    """A frozen network without aihwkit (``--mapping manual``): ideal programming, 8-bit DAC/ADC.

    Each tile's weights are normalised to its max |w| and mapped on the
    potentiation branch (one device of a pair idles at ``g_idle_S``, the other
    holds ``|w| · span_S`` above it); input ranges are the calibration
    batch's max |x| per layer. Returns ``freeze(transform)`` building the network.
    """
    from memlab.simulation.crossbar import ProgrammedLayer, ProgrammedTile
    from memlab.simulation.ir_fast import split_sizes

    dac_step, adc_step, levels = 2 / 254, 2 * 12 / 254, 127.0
    specs, x = [], calib
    with torch.no_grad():
        for module in digital:
            if isinstance(module, torch.nn.Linear):
                specs.append((module, float(x.flatten(1).abs().max())))
            x = module(x)

    def freeze(transform=None):
        layers = []
        for module in digital:
            if not isinstance(module, torch.nn.Linear):
                layers.append(module)
                continue
            lin, rng = next((l, r) for l, r in specs if l is module)
            w_all = lin.weight.detach()
            tiles, i0 = [], 0
            for n_in in split_sizes(w_all.shape[1], array_size):
                o0 = 0
                for n_out in split_sizes(w_all.shape[0], array_size):
                    w = w_all[o0:o0 + n_out, i0:i0 + n_in]
                    absmax = float(w.abs().max())
                    wn = w / absmax
                    tile = ProgrammedTile(
                        in_start=i0, in_stop=i0 + n_in, out_start=o0, out_stop=o0 + n_out, weight=wn,
                        weight_codes_T=(wn * (dac_step / adc_step)).T.contiguous(), input_range=rng,
                        dac_step=dac_step, dac_levels=levels, adc_step=adc_step, adc_levels=levels,
                        out_noise_codes=0.0, out_scale=torch.full((n_out,), adc_step * rng * absmax),
                        g_per_weight_S=span_S, g_idle_S=g_idle_S, g_direction=1.0)
                    tiles.append(tile)
                    o0 += n_out
                i0 += n_in
            if transform is not None:
                tiles = transform.transform_tiles(tiles)
            layers.append(ProgrammedLayer(tiles, w_all.shape[1], w_all.shape[0], lin.bias))
        return torch.nn.Sequential(*layers)

    return freeze


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device-file", default=str(ROOT / "sample_data/devices/virtual-hfs2.json"))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--array-size", type=int, default=256)
    ap.add_argument("--timing-ohm", type=float, default=1.0)
    ap.add_argument("--ohms", default="0.1,0.3,1,3", help="wire resistances (ohm per segment) for accuracy")
    ap.add_argument("--what-if-scale", type=float, default=0.01,
                    help="conductance scale of the second, weak-drop device")
    ap.add_argument("--rounds", type=int, default=3, help="best of N timed calls per side, after a warm-up call")
    ap.add_argument("--aihwkit-batch", type=int, default=20)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mapping", choices=["aihwkit", "manual"], default="aihwkit",
                    help="aihwkit: memlab simulate's path (D2D, drift, GDC); manual: no aihwkit needed")
    return ap.parse_args()


def programmed_network(args, digital, data):
    """``freeze(transform=None)`` building the programmed, drifted network as ``memlab simulate`` does."""
    if args.mapping == "aihwkit":
        from memlab.analysis.device_file import load_device_file
        from memlab.simulation import analog as dm

        device_file = load_device_file(args.device_file)
        options = dm.AnalogOptions(tile_size=args.array_size, seed=args.seed)
        analog = dm.to_analog(digital, device_file, options, hwat=False).to(args.device)
        dm.calibrate_input_ranges(analog, [data.x_train[i:i + 1000].to(args.device) for i in range(0, 10000, 1000)])
        dm.program(analog, args.seed)
        dm.drift_to(analog, DAY_S, args.seed)
        return lambda transform=None: dm.freeze(analog, tile_transform=transform)
    import json

    dev_json = json.loads(pathlib.Path(args.device_file).read_text())
    means = dev_json["branches"]["potentiation"]["state_mean_S"]
    return manual_freeze(digital.cpu(), data.x_train[:10000], args.array_size, means[0], means[-1] - means[0])


def paired_best(sides: dict, rounds: int, device: str, warm_up: dict | None = None) -> dict[str, float]:
    """Best of ``rounds`` for each side after one untimed warm-up call each (``warm_up[name]`` if given,
    else the side itself), sides interleaved per round."""
    for name, fn in sides.items():
        (warm_up or {}).get(name, fn)()
    best = {name: float("inf") for name in sides}
    for _ in tqdm(range(rounds), desc="timing", unit="round", leave=False):
        for name, fn in sides.items():
            best[name] = min(best[name], _timed(fn, device)[1])
    return best


def scenario_timings(transform, freeze, evaluate, accuracy_of, args, data) -> dict[str, float]:
    """The cold pair, the warm pair, the solves alone and one batch with solves, for one tile transform."""
    dev = args.device
    ideal, with_ir = freeze().to(dev), freeze(transform).to(dev)  # the warm pair's frozen networks
    layers = [m.tiles for m in ideal.modules() if hasattr(m, "tiles") and isinstance(m.tiles, list)]
    best = paired_best({
        "ideal": lambda: evaluate(),  # freeze + test set
        "ir_cold": lambda: evaluate(transform),  # freeze with the crossbar solves + test set
        "ideal_warm": lambda: accuracy_of(ideal),  # the test set through a frozen network
        "ir_warm": lambda: accuracy_of(with_ir),
        "solve": lambda: [transform.transform_tiles(t) for t in layers],  # the crossbar solves alone
    }, args.rounds, dev)
    best["n_tiles"] = sum(len(t) for t in layers)
    best["accuracy"] = accuracy_of(with_ir)
    if args.aihwkit_batch > 0:
        xb = data.x_test[: args.aihwkit_batch].to(dev)

        def fast_batch():
            with torch.no_grad():
                return freeze(transform).to(dev)(xb)

        best["batch"] = best_of(fast_batch, args.rounds, dev)
    return best


def main() -> None:
    from memlab.simulation import training
    from memlab.simulation.ir_fast import IRDropConfig, line_drops
    from memlab.simulation.ir_mvm import IRDropTransform
    from memlab.simulation.tasks import get_task

    args = parse_args()
    dev = args.device
    torch.manual_seed(args.seed)
    task = get_task("mnist")
    data = task.load(args.data_dir)
    digital = task.build()
    t_train = time.perf_counter()
    training.train(digital, data.x_train, data.y_train, epochs=args.epochs, lr=task.lr,
                   batch_size=task.batch_size, seed=args.seed, device=dev)
    t_train = time.perf_counter() - t_train
    digital = digital.eval()
    freeze = programmed_network(args, digital, data)

    def accuracy_of(frozen):
        return training.accuracy(frozen, data.x_test, data.y_test, batch_size=task.eval_batch_size, device=dev)

    def evaluate(transform=None):
        return accuracy_of(freeze(transform).to(dev))

    def worst_rho(transform) -> float:
        rho = 0.0
        for module in freeze().modules():  # ideal tiles: the programmed conductances
            for tile in getattr(module, "tiles", []):
                g_pos, _ = (transform.scaled(tile) if hasattr(transform, "scaled") else tile).conductances_S()
                a, b = line_drops(g_pos.T.double(), transform.config.wires)
                rho = max(rho, float((a + b).max()))
        return rho

    acc_ideal = evaluate()
    tile = strong_tile(args.timing_ohm, args.rounds, dev)
    timing_cfg = IRDropConfig(args.timing_ohm, array_size=args.array_size)
    scenarios = {"paper": IRDropTransform(timing_cfg),
                 "scaled": ScaledDevice(IRDropTransform(timing_cfg), args.what_if_scale)}
    found = {}
    for name, transform in tqdm(scenarios.items(), desc="devices", unit="device"):
        found[name] = scenario_timings(transform, freeze, evaluate, accuracy_of, args, data)
        found[name]["rho"] = worst_rho(transform)
    exact_cfg = IRDropConfig(args.timing_ohm, array_size=args.array_size, method="solve")
    found["scaled"]["accuracy_exact"] = evaluate(ScaledDevice(IRDropTransform(exact_cfg), args.what_if_scale))
    t_aihwkit = float("nan")
    if args.aihwkit_batch > 0:
        t_aihwkit = aihwkit_irdrop_batch_s(digital, data.x_test[: args.aihwkit_batch], args.array_size,
                                           args.timing_ohm, args.rounds, dev)
    rows = []  # accuracy of the paper's device versus wire resistance
    for ohm in tqdm([float(s) for s in args.ohms.split(",") if s.strip()], desc="accuracy", unit="R"):
        transform = IRDropTransform(IRDropConfig(ohm, array_size=args.array_size))
        acc = found["paper"]["accuracy"] if ohm == args.timing_ohm else evaluate(transform)
        rows.append((ohm, acc, worst_rho(transform)))
    print(f"device {args.device_file} ({args.mapping} mapping) | array {args.array_size} | {args.epochs} epochs digital "
          f"({t_train:.0f} s) | torch threads {torch.get_num_threads()} | {dev} | wire {args.timing_ohm:g} ohm | "
          f"warm-up + best of {args.rounds} per side")
    report(args, found, tile, t_aihwkit, acc_ideal, rows)


def report(args, found: dict, tile: dict, t_aihwkit: float, acc_ideal: float, rows: list) -> None:
    """The table and the RESULT line."""
    for name, f in found.items():
        label = "paper's device" if name == "paper" else f"device x {args.what_if_scale:g}"
        print(f"{label}: rho {f['rho']:.2f}; cold (freeze + test set): ideal {f['ideal']:.2f} s, IR drop "
              f"{f['ir_cold']:.2f} s ({f['ir_cold'] / f['ideal']:.1f}x); warm (test set through the frozen network): "
              f"ideal {f['ideal_warm']:.3f} s, IR drop {f['ir_warm']:.3f} s ({f['ir_warm'] / f['ideal_warm']:.2f}x); "
              f"the solves alone {f['solve']:.2f} s for {f['n_tiles']} tiles"
              + (f"; freeze with solves + one batch of {args.aihwkit_batch}: {f['batch']:.3f} s"
                 if args.aihwkit_batch > 0 else ""))
    if args.aihwkit_batch > 0:
        print(f"aihwkit IRDropT, one batch of {args.aihwkit_batch}: {t_aihwkit:.1f} s (not a like-for-like pair: "
              "a PWM time-sliced Thevenin model with its own conductance scale; no ratio)")
    s = found["scaled"]
    print(f"device x {args.what_if_scale:g}, accuracy with IR drop: auto {100 * s['accuracy']:.2f} %, "
          f"exact solve {100 * s['accuracy_exact']:.2f} %")
    print(f"paper's device, accuracy without IR drop: {100 * acc_ideal:.2f} %")
    for ohm, acc, rho in rows:
        print(f"  wire {ohm:g} ohm/segment: {100 * acc:.2f} %   (drop strength rho of worst array {rho:.1f})")
    print(f"one 256 x 256 tile of the paper's device (a pair of arrays, exact solve, {args.timing_ohm:g} ohm): "
          f"{tile['fast_s']:.3f} s on {args.device} (target <= 0.3 s); on the CPU: ir_fast {tile['fast_cpu_s']:.3f} s, "
          f"sparse LU reference {tile['reference_s']:.2f} s ({tile['reference_s'] / tile['fast_cpu_s']:.0f}x), "
          f"largest relative difference {tile['max_rel_diff']:.1e}")
    fields = []
    for name, f in found.items():
        fields += [f"{name}_cold_over_ideal={f['ir_cold'] / f['ideal']:.2f}",
                   f"{name}_warm_over_ideal={f['ir_warm'] / f['ideal_warm']:.2f}",
                   f"{name}_solve_per_tile_s={f['solve'] / f['n_tiles']:.3f}",
                   f"{name}_rho={f['rho']:.3f}", f"{name}_t_ideal_s={f['ideal']:.3f}",
                   f"{name}_t_ir_cold_s={f['ir_cold']:.3f}", f"{name}_t_ideal_warm_s={f['ideal_warm']:.4f}",
                   f"{name}_t_ir_warm_s={f['ir_warm']:.4f}", f"{name}_t_batch_s={f.get('batch', float('nan')):.3f}"]
    acc_fields = " ".join(f"acc_{ohm:g}ohm={acc:.4f}" for ohm, acc, _ in rows)
    print("RESULT " + " ".join(fields) + f" strong_tile256_solve_s={tile['fast_s']:.3f} "
          f"strong_tile256_cpu_s={tile['fast_cpu_s']:.3f} strong_tile256_reference_s={tile['reference_s']:.2f} "
          f"reference_over_fast={tile['reference_s'] / tile['fast_cpu_s']:.1f} "
          f"reference_max_rel_diff={tile['max_rel_diff']:.1e} t_aihwkit_batch_s={t_aihwkit:.2f} aihwkit_pair=none "
          f"scaled_acc_auto={s['accuracy']:.4f} scaled_acc_exact={s['accuracy_exact']:.4f} "
          f"acc_ideal={acc_ideal:.4f} {acc_fields} array={args.array_size} ohm={args.timing_ohm:g} "
          f"rounds={args.rounds} device={args.device} mapping={args.mapping}")


def strong_tile(ohm: float, rounds: int, dev: str) -> dict[str, float]:
    """One full 256 x 256 tile of the paper's device (G+ and G- arrays, conductances uniform over its
    1.9-3.3 mS range), exact effective matrices: ir_fast on ``dev``; ir_fast and the sparse LU reference
    on the CPU (warm-up on a 16 x 16 corner for both, best of ``rounds``, interleaved)."""
    import numpy as np

    from memlab.simulation import ir_reference
    from memlab.simulation.ir_fast import IRDropConfig, effective_conductance

    g = torch.Generator().manual_seed(0)
    g_pos, g_neg = 1.9e-3 + 1.4e-3 * torch.rand(2, 256, 256, generator=g, dtype=torch.float64)
    cfg = IRDropConfig(ohm, array_size=256, method="solve")
    out = {"fast_s": best_of(lambda: effective_conductance(g_pos.to(dev), g_neg.to(dev), cfg), rounds, dev)}
    wires = cfg.wires
    last = {}

    def reference():
        last["reference"] = (ir_reference.effective_conductance(g_pos.numpy(), wires)
                             - ir_reference.effective_conductance(g_neg.numpy(), wires))

    def fast():
        last["fast"] = effective_conductance(g_pos, g_neg, cfg).numpy()

    # the reference takes ~10 s an array: both sides warm up on one small array (imports, first touches)
    small = IRDropConfig(ohm, array_size=16, method="solve")
    warm_up = {"fast_cpu_s": lambda: effective_conductance(g_pos[:16, :16], g_neg[:16, :16], small),
               "reference_s": lambda: ir_reference.effective_conductance(g_pos[:16, :16].numpy(), wires)}
    best = paired_best({"fast_cpu_s": fast, "reference_s": reference}, rounds, "cpu", warm_up)
    ref = last["reference"]
    best["max_rel_diff"] = float(np.abs(last["fast"] - ref).max() / np.abs(ref).max())
    return {**out, **best}


class ScaledDevice:
    """A tile transform seeing the device at ``scale`` times its conductance (same weights):
    the IR-drop what-if of a device with lower operating currents."""

    def __init__(self, transform, scale: float) -> None:
        self.transform, self.config, self.scale = transform, transform.config, scale

    def scaled(self, tile):
        return dataclasses.replace(tile, g_per_weight_S=tile.g_per_weight_S * self.scale,
                                   g_idle_S=tile.g_idle_S * self.scale)

    def transform_tiles(self, tiles):
        out = self.transform.transform_tiles([self.scaled(t) for t in tiles])
        return [dataclasses.replace(o, g_per_weight_S=t.g_per_weight_S, g_idle_S=t.g_idle_S)
                for o, t in zip(out, tiles)]


if __name__ == "__main__":
    main()
