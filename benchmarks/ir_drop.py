"""Benchmark: MNIST inference with IR drop (issue 8), speed and accuracy in one run.

A 784-500-10 MLP is trained digitally (seeded, ``--epochs``), mapped on the
virtual device (``sample_data/devices/virtual-hfs2.json``, derived from the sample runs; potentiation
branch, 30 % D2D, tiles of ``--array-size``), programmed and drifted to one
day (Wan 2022, global drift compensation) exactly as ``memlab simulate``
does, and frozen for evaluation. Two devices are timed, in one run:

* ``paper``: the virtual device as measured (1.6-2.9 mS per cell: a strong
  drop, so ``method='auto'`` runs the exact solve);
* ``scaled``: the same device at ``--what-if-scale`` times its conductance
  (default 1/100: 16-29 µS, a typical RRAM read current, the "operating
  currents" the paper says should be tuned), where the drop is weak and
  ``auto`` takes the closed form when its drop strength ρ ≤ 0.3; its accuracy
  is also computed with the exact solve, to show what the closed form costs.

For each: test-set evaluation time with IR drop (``IRDropTransform`` at
``--timing-ohm``, ``method='auto'``) ÷ the same evaluation on the ideal
crossbar, best of ``--rounds`` each, interleaved so a busy machine hurts both
alike, compared like with like: ``cold`` = freeze (with the crossbar solves
on the IR side) + test set on both sides, ``warm`` = the test set through the
already frozen network on both sides; the solves alone per tile; and one full
256 x 256 tile of the paper's device (a G+/G- pair, exact solve:
``strong_tile256_solve_s``); and the fast model on one
batch of ``--aihwkit-batch`` test images ÷ aihwkit's
``TorchInferenceRPUConfigIRDropT`` (same weights, same ``max_input_size``,
``ir_drop_rs`` = the wire resistance) on the same batch (``--aihwkit-batch
0`` skips it: minutes on 2 cores). Then the test accuracy of the paper's
device without and with IR drop at each of ``--ohms``, with the drop
strength ρ (``ir_fast.line_drops``) of the worst array.

    .venv/bin/python benchmarks/ir_drop.py [--device cuda] [--array-size 64]

Prints a table, then a last line ``RESULT ...``.
"""

from __future__ import annotations

import argparse
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


def aihwkit_irdrop_batch_s(digital: torch.nn.Module, x: torch.Tensor, array_size: int, ohm: float) -> float:
    """Seconds for aihwkit's time-dependent IR-drop tile on one batch (CPU)."""
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.simulator.configs import TorchInferenceRPUConfigIRDropT

    cfg = TorchInferenceRPUConfigIRDropT()
    cfg.mapping.max_input_size = array_size
    cfg.mapping.max_output_size = array_size
    cfg.forward.ir_drop_rs = ohm
    model = convert_to_analog(digital.cpu(), cfg).eval()
    with torch.no_grad():
        _, dt = _timed(lambda: model(x.cpu()), "cpu")
    return dt


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


def main() -> None:
    from memlab.simulation import training
    from memlab.simulation.ir_fast import IRDropConfig, line_drops
    from memlab.simulation.ir_mvm import IRDropTransform
    from memlab.simulation.tasks import get_task

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device-file", default=str(ROOT / "sample_data/devices/virtual-hfs2.json"))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--array-size", type=int, default=256)
    ap.add_argument("--timing-ohm", type=float, default=1.0)
    ap.add_argument("--ohms", default="0.1,0.3,1,3", help="wire resistances (ohm per segment) for accuracy")
    ap.add_argument("--what-if-scale", type=float, default=0.01,
                    help="conductance scale of the second, weak-drop device")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--aihwkit-batch", type=int, default=100)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mapping", choices=["aihwkit", "manual"], default="aihwkit",
                    help="aihwkit: memlab simulate's path (D2D, drift, GDC); manual: no aihwkit needed")
    args = ap.parse_args()
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

    if args.mapping == "aihwkit":
        from memlab.analysis.device_file import load_device_file
        from memlab.simulation import analog as dm

        device_file = load_device_file(args.device_file)
        options = dm.AnalogOptions(tile_size=args.array_size, seed=args.seed)
        analog = dm.to_analog(digital, device_file, options, hwat=False).to(dev)
        dm.calibrate_input_ranges(analog, [data.x_train[i:i + 1000].to(dev) for i in range(0, 10000, 1000)])
        dm.program(analog, args.seed)
        dm.drift_to(analog, DAY_S, args.seed)

        def freeze(transform=None):
            return dm.freeze(analog, tile_transform=transform)
    else:
        import json

        dev_json = json.loads(pathlib.Path(args.device_file).read_text())
        means = dev_json["branches"]["potentiation"]["state_mean_S"]
        freeze = manual_freeze(digital.cpu(), data.x_train[:10000], args.array_size, means[0], means[-1] - means[0])

    def evaluate(transform=None):
        frozen = freeze(transform).to(dev)
        return training.accuracy(frozen, data.x_test, data.y_test, batch_size=task.eval_batch_size, device=dev), frozen

    def worst_rho(transform) -> float:
        rho = 0.0
        for module in freeze().modules():  # ideal tiles: the programmed conductances
            for tile in getattr(module, "tiles", []):
                g_pos, _ = (transform.scaled(tile) if hasattr(transform, "scaled") else tile).conductances_S()
                a, b = line_drops(g_pos.T.double(), transform.config.wires)
                rho = max(rho, float((a + b).max()))
        return rho

    def accuracy_of(frozen):
        return training.accuracy(frozen, data.x_test, data.y_test, batch_size=task.eval_batch_size, device=dev)

    def timings(transform) -> dict[str, float]:
        best = {k: float("inf") for k in ("ideal", "ideal_warm", "ir_cold", "ir_warm", "solve")}
        for _ in tqdm(range(args.rounds), desc="timing", unit="round", leave=False):
            (_, ideal), dt = _timed(lambda: evaluate(), dev)  # freeze + evaluate, as ir_cold
            best["ideal"] = min(best["ideal"], dt)
            _, dt = _timed(lambda: accuracy_of(ideal), dev)  # the frozen network reused, as ir_warm
            best["ideal_warm"] = min(best["ideal_warm"], dt)
            (acc, frozen), dt = _timed(lambda: evaluate(transform), dev)
            best["ir_cold"] = min(best["ir_cold"], dt)
            _, dt = _timed(lambda: accuracy_of(frozen), dev)
            best["ir_warm"] = min(best["ir_warm"], dt)
            layers = [m.tiles for m in ideal.modules() if hasattr(m, "tiles") and isinstance(m.tiles, list)]
            _, dt = _timed(lambda: [transform.transform_tiles(t) for t in layers], dev)  # the crossbar solves alone
            best["solve"] = min(best["solve"], dt)
            best["n_tiles"] = sum(len(t) for t in layers)
        best["accuracy"] = acc
        if args.aihwkit_batch > 0:
            xb = data.x_test[: args.aihwkit_batch].to(dev)

            def fast_batch():
                with torch.no_grad():
                    return freeze(transform).to(dev)(xb)

            best["batch"] = min(_timed(fast_batch, dev)[1] for _ in range(args.rounds))
        return best

    acc_ideal, _ = evaluate()
    tile_256 = strong_tile_seconds(args.timing_ohm, args.rounds, dev)
    timing_cfg = IRDropConfig(args.timing_ohm, array_size=args.array_size)
    scenarios = {"paper": IRDropTransform(timing_cfg),
                 "scaled": ScaledDevice(IRDropTransform(timing_cfg), args.what_if_scale)}
    found = {}
    for name, transform in tqdm(scenarios.items(), desc="devices", unit="device"):
        found[name] = timings(transform)
        found[name]["rho"] = worst_rho(transform)
    exact_cfg = IRDropConfig(args.timing_ohm, array_size=args.array_size, method="solve")
    found["scaled"]["accuracy_exact"] = evaluate(ScaledDevice(IRDropTransform(exact_cfg), args.what_if_scale))[0]
    t_aihwkit = float("nan")
    if args.aihwkit_batch > 0:
        t_aihwkit = aihwkit_irdrop_batch_s(digital, data.x_test[: args.aihwkit_batch], args.array_size,
                                           args.timing_ohm)

    # accuracy of the paper's device versus wire resistance
    rows = []
    for ohm in tqdm([float(s) for s in args.ohms.split(",") if s.strip()], desc="accuracy", unit="R"):
        transform = IRDropTransform(IRDropConfig(ohm, array_size=args.array_size))
        acc = found["paper"]["accuracy"] if ohm == args.timing_ohm else evaluate(transform)[0]
        rows.append((ohm, acc, worst_rho(transform)))

    print(f"device {args.device_file} ({args.mapping} mapping) | array {args.array_size} | {args.epochs} epochs digital "
          f"({t_train:.0f} s) | torch threads {torch.get_num_threads()} | {dev} | wire {args.timing_ohm:g} ohm")
    for name, f in found.items():
        label = "paper's device" if name == "paper" else f"device x {args.what_if_scale:g}"
        print(f"{label}: rho {f['rho']:.2f}; test set ideal {f['ideal']:.2f} s (freeze + evaluate; "
              f"{f['ideal_warm']:.2f} s reusing the frozen network), IR drop {f['ir_cold']:.2f} s "
              f"(with crossbar solves; {f['ir_cold'] / f['ideal']:.1f}x), {f['ir_warm']:.2f} s reusing them "
              f"({f['ir_warm'] / f['ideal_warm']:.2f}x); the solves alone {f['solve']:.2f} s for {f['n_tiles']} tiles"
              + (f"; one batch of {args.aihwkit_batch}: {f['batch']:.3f} s vs aihwkit IRDropT {t_aihwkit:.1f} s "
                 f"({t_aihwkit / f['batch']:.0f}x faster)" if args.aihwkit_batch > 0 else ""))
    s = found["scaled"]
    print(f"device x {args.what_if_scale:g}, accuracy with IR drop: auto {100 * s['accuracy']:.2f} %, "
          f"exact solve {100 * s['accuracy_exact']:.2f} %")
    print(f"paper's device, accuracy without IR drop: {100 * acc_ideal:.2f} %")
    for ohm, acc, rho in rows:
        print(f"  wire {ohm:g} ohm/segment: {100 * acc:.2f} %   (drop strength rho of worst array {rho:.1f})")
    acc_fields = " ".join(f"acc_{ohm:g}ohm={acc:.4f}" for ohm, acc, _ in rows)
    fields = []
    for name, f in found.items():
        fields += [f"{name}_cold_over_ideal={f['ir_cold'] / f['ideal']:.2f}",
                   f"{name}_warm_over_ideal={f['ir_warm'] / f['ideal_warm']:.2f}",
                   f"{name}_solve_per_tile_s={f['solve'] / f['n_tiles']:.3f}",
                   f"{name}_aihwkit_over_fast={t_aihwkit / f.get('batch', float('nan')):.1f}",
                   f"{name}_rho={f['rho']:.3f}", f"{name}_t_ideal_s={f['ideal']:.3f}",
                   f"{name}_t_ir_cold_s={f['ir_cold']:.3f}", f"{name}_t_batch_s={f.get('batch', float('nan')):.3f}"]
    print(f"one 256 x 256 tile of the paper's device (a pair of arrays, exact solve, {args.timing_ohm:g} ohm): "
          f"{tile_256:.3f} s")
    print("RESULT " + " ".join(fields) + f" strong_tile256_solve_s={tile_256:.3f} t_aihwkit_batch_s={t_aihwkit:.2f} "
          f"scaled_acc_auto={s['accuracy']:.4f} scaled_acc_exact={s['accuracy_exact']:.4f} "
          f"acc_ideal={acc_ideal:.4f} {acc_fields} array={args.array_size} ohm={args.timing_ohm:g} "
          f"device={dev} mapping={args.mapping}")


def strong_tile_seconds(ohm: float, rounds: int, dev: str) -> float:
    """Best-of-``rounds`` seconds of the exact effective matrices of one full 256 x 256 tile
    of the paper's device (G+ and G- arrays, conductances uniform over its 1.9-3.3 mS range)."""
    from memlab.simulation.ir_fast import IRDropConfig, effective_conductance

    g = torch.Generator().manual_seed(0)
    g_pos, g_neg = (1.9e-3 + 1.4e-3 * torch.rand(2, 256, 256, generator=g, dtype=torch.float64)).to(dev)
    cfg = IRDropConfig(ohm, array_size=256, method="solve")
    return min(_timed(lambda: effective_conductance(g_pos, g_neg, cfg), dev)[1] for _ in range(rounds))


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
