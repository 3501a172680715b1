"""What the network costs on the measured device: programming energy and time, inference energy.

Everything is computed from the programmed crossbars of a frozen network
(:func:`memlab.simulation.analog.freeze` before programming, so the
conductances are the programming targets) and from the device's own numbers:

* **Programming** (per device pair, one device holds the weight, the other
  stays at the window's first state): the pulses to reach the target state
  from the window's first state (the reset that brings a device there is not
  counted), times ``pulses_per_state``; open loop counts the nominal pulses,
  write-verify the pulses a device with its own step size needs (D2D drawn per
  repeat, as programming does), capped at its reachable range. Energy: pulses
  x the device file's energy per pulse (per-state and per-branch values are not
  in device files yet: the mean over every pulse of both branches stands in,
  and the results say so), with its pulse-to-pulse σ. Time: pulses x the
  protocol's pulse period (write, read-verify, gaps), devices programmed one at
  a time.
* **Inference** per image: the crossbar read energy ``Σ V² · G · t`` over the
  cells each MVM drives (``V = |x / r| · V_read`` per input row after the DAC,
  both devices of every pair, ``t`` the read pulse's width), plus one DAC
  conversion per input row and one ADC conversion per output column of every
  tile per MVM, at a configurable energy per conversion; beside the digital
  network's multiply-accumulate count.
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
import torch

from memlab.analysis.pulse_timing import PulseTiming, find_source_run, pulse_timing_from_run
from memlab.errors import ConfigError
from memlab.simulation.crossbar import ProgrammedConv2d, ProgrammedLayer, ProgrammedTile

WALDEN_FOM_J = 10e-15
"""Default ADC figure of merit, J per conversion step (E = FOM · 2**bits). B. Murmann, "ADC
Performance Survey 1997-2024" (Stanford University, https://github.com/bmurmann/ADC-survey):
SAR ADCs at 8 bits and 1-100 MS/s lie between ~1 and ~10 fJ per conversion step; the upper end
(2.56 pJ per 8-bit conversion) is taken, a conservative choice."""
DAC_FRACTION_OF_ADC = 0.1
"""Default DAC energy as a fraction of the ADC's at the same bits: an assumption (no survey value)."""


@dataclass(frozen=True)
class ConverterEnergy:
    adc_J: float  # per conversion
    dac_J: float
    source: str


@dataclass(frozen=True)
class PulseEnergy:
    mean_J: float
    std_J: float
    source: str


def converters(adc_bits: int, dac_bits: int, adc_J: Optional[float] = None,
               dac_J: Optional[float] = None) -> ConverterEnergy:
    """Energy per conversion: given, or the defaults (:data:`WALDEN_FOM_J`, :data:`DAC_FRACTION_OF_ADC`)."""
    for name, value in (("adc_energy_J", adc_J), ("dac_energy_J", dac_J)):
        if value is not None and not (math.isfinite(value) and 0 <= value < 1e-6):
            raise ConfigError(f"{name} is {value!r}; allowed 0 to 1e-6 J per conversion")
    default = adc_J is None or dac_J is None
    adc = WALDEN_FOM_J * 2 ** adc_bits if adc_J is None else adc_J
    dac = DAC_FRACTION_OF_ADC * WALDEN_FOM_J * 2 ** dac_bits if dac_J is None else dac_J
    source = ("given" if not default else
              f"default: ADC {WALDEN_FOM_J * 1e15:g} fJ/step x 2^bits (Murmann ADC survey, SAR upper end)"
              f"{'' if dac_J is not None else f'; DAC {DAC_FRACTION_OF_ADC:g} x that at its bits (assumption)'}")
    return ConverterEnergy(adc, dac, source)


def pulse_energy(device: Any, energy_per_pulse_J: Optional[float] = None) -> PulseEnergy:
    """The device file's energy per programming pulse, or the user's value; a clear error without either."""
    if energy_per_pulse_J is not None:
        if not (math.isfinite(energy_per_pulse_J) and 0 < energy_per_pulse_J < 1e-3):
            raise ConfigError(f"energy_per_pulse_J is {energy_per_pulse_J!r}; allowed 0 to 1e-3 J")
        return PulseEnergy(energy_per_pulse_J, 0.0, "given")
    e = device.energy_per_pulse_J
    if e is None:
        raise ConfigError("the device file has no energy_per_pulse_J (its runs recorded no waveforms); "
                          "give the energy per programming pulse (--energy-per-pulse-J J)")
    return PulseEnergy(e.mean, e.std, "device file energy_per_pulse_J (mean over every pulse of both branches; "
                                      "it stands in for every state and branch)")


# --------------------------------------------------------------------------- pure arithmetic

def read_energy_J(g_pos_S: torch.Tensor, g_neg_S: torch.Tensor, x_fraction: torch.Tensor, read_voltage_V: float,
                  read_time_s: float) -> float:
    """``Σ_mvm Σ_i (x_i · V)² · t · Σ_j (G+_ji + G-_ji)``: one crossbar (out x in conductances) driven by
    ``x_fraction`` (MVMs x in, each in [-1, 1] of the read voltage)."""
    row_sum = (g_pos_S + g_neg_S).sum(dim=0).to(torch.float64)
    drive = x_fraction.to(torch.float64).clamp(-1.0, 1.0).square().sum(dim=0)
    return float(drive @ row_sum) * read_voltage_V ** 2 * read_time_s


def programming_pulses(change_S: torch.Tensor, step_S: float, top_S: float, states: int, pulses_per_state: int, *,
                       programming: str, d2d: float = 0.0, d2d_range: float = 0.0,
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Pulses per device to move it by ``change_S`` from the window's first state (see module docstring)."""
    nominal = torch.round(change_S / step_S).clamp(0, states - 1)
    if programming == "open_loop" or d2d == 0 and d2d_range == 0:
        return nominal.long() * pulses_per_state
    shape = change_S.shape
    factor = (1.0 + d2d * torch.randn(shape, generator=generator, dtype=change_S.dtype)).clamp(min=0.05) \
        if d2d > 0 else torch.ones_like(change_S)
    top = top_S * (1.0 + d2d_range * torch.randn(shape, generator=generator, dtype=change_S.dtype)).clamp(min=0.0) \
        if d2d_range > 0 else torch.full_like(change_S, top_S)
    step = step_S * factor
    return torch.minimum(torch.round(nominal * step_S / step), torch.floor(top / step)).clamp(min=0).long() \
        * pulses_per_state


# --------------------------------------------------------------------------- a frozen network

def analog_layers(frozen: torch.nn.Module) -> list[tuple[str, torch.nn.Module, ProgrammedLayer]]:
    """(name, module, its ProgrammedLayer) for every crossbar layer of a frozen network, in order."""
    out = []
    for name, mod in frozen.named_modules():
        if isinstance(mod, ProgrammedConv2d):
            out.append((name, mod, mod.layer))
        elif isinstance(mod, ProgrammedLayer) and not name.endswith(".layer"):
            out.append((name, mod, mod))
    return out


@torch.no_grad()
def layer_inputs(frozen: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each crossbar layer's MVM inputs for the batch ``x``: (MVMs, in_features), conv inputs unfolded."""
    found: dict[str, torch.Tensor] = {}
    hooks = []
    for name, mod, layer in analog_layers(frozen):
        def grab(module, args, name=name, layer=layer):
            inp = args[0]
            if isinstance(module, ProgrammedConv2d):
                cols = torch.nn.functional.unfold(inp, module.kernel_size, module.dilation, module.padding,
                                                  module.stride)  # (B, in_features, positions)
                found[name] = cols.transpose(1, 2).reshape(-1, layer.in_features)
            else:
                found[name] = inp.reshape(-1, layer.in_features)
        hooks.append(mod.register_forward_pre_hook(grab))
    try:
        frozen.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    return found


def _tile_rows(tile: ProgrammedTile, inputs: torch.Tensor) -> torch.Tensor:
    return inputs[:, tile.in_start:tile.in_stop] / tile.input_range


ASSUMPTIONS = (
    "each device starts at the window's first state; the reset that brings it there is not counted",
    "one device of each differential pair is programmed, the other stays at the first state",
    "devices are programmed one at a time: time = pulses x the protocol's pulse period",
    "write-verify: the pulses a device with its own (D2D) step size needs, no failed verifies",
    "inference: every input row of a tile is driven for one read-pulse width per MVM at |x/r| of the "
    "read voltage; one DAC conversion per row and one ADC conversion per column of each tile per MVM",
)
"""What :func:`network_cost`'s numbers assume (its ``assumptions``)."""


def network_cost(frozen: torch.nn.Module, x: torch.Tensor, *, device: Any, options: Any, timing: PulseTiming,
                 conv: ConverterEnergy, pulse: PulseEnergy, repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """Programming (pulses, J, s; mean and std over ``repeats``) and inference (J per image) per layer
    and in total, for a frozen network of *target* conductances and a batch ``x`` of test inputs."""
    branch = device.branch(options.branch)
    step_S = abs(branch.slope_S_per_pulse) * device.pulses_per_state
    states = len(branch.state_mean_S)
    top_S = step_S * (states - 1)
    inputs = layer_inputs(frozen, x)
    n_images = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    layers, totals = [], np.zeros((repeats, 2))  # pulses, energy per repeat
    for name, _, layer in analog_layers(frozen):
        mvms = inputs[name].shape[0]
        read_J = dac = adc = 0.0
        pulses = np.zeros(repeats)
        energy = np.zeros(repeats)
        devices = 0
        for tile in layer.tiles:
            g_pos, g_neg = tile.conductances_S()
            read_J += read_energy_J(g_pos, g_neg, _tile_rows(tile, inputs[name]), timing.read_voltage_V,
                                    timing.read_time_s)
            rows, cols = tile.in_stop - tile.in_start, tile.out_stop - tile.out_start
            dac, adc = dac + mvms * rows, adc + mvms * cols
            change = tile.weight.abs().to(torch.float64) * tile.g_per_weight_S
            devices += 2 * change.numel()
            for r in range(repeats):
                total, joules = _programming_draw(change, step_S, top_S, states, device, options, pulse, gen)
                pulses[r] += total
                energy[r] += joules
        totals[:, 0] += pulses
        totals[:, 1] += energy
        per_image = {"crossbar_read_J": read_J / n_images, "dac_J": dac * conv.dac_J / n_images,
                     "adc_J": adc * conv.adc_J / n_images}
        per_image["total_J"] = sum(per_image.values())
        layers.append({
            "name": name, "in_features": layer.in_features, "out_features": layer.out_features,
            "tiles": len(layer.tiles), "devices": devices, "mvms_per_image": mvms / n_images,
            "macs_per_image": mvms / n_images * layer.in_features * layer.out_features,
            "dac_conversions_per_image": dac / n_images, "adc_conversions_per_image": adc / n_images,
            "programming": _spread(pulses, energy, timing.pulse_period_s),
            "inference_per_image": per_image})
    inference = {k: sum(layer["inference_per_image"][k] for layer in layers)
                 for k in ("crossbar_read_J", "dac_J", "adc_J", "total_J")}
    inference["converter_share"] = (inference["dac_J"] + inference["adc_J"]) / inference["total_J"] \
        if inference["total_J"] > 0 else 0.0
    return {
        "layers": layers,
        "programming": _spread(totals[:, 0], totals[:, 1], timing.pulse_period_s),
        "inference_per_image": inference,
        "macs_per_image": sum(layer["macs_per_image"] for layer in layers),
        "devices": sum(layer["devices"] for layer in layers),
        "parameters": {"timing": asdict(timing), "converters": asdict(conv), "pulse_energy": asdict(pulse),
                       "programming": options.programming, "branch": options.branch,
                       "d2d_fraction": options.d2d_fraction, "d2d_range_fraction": options.range_fraction,
                       "repeats": repeats, "seed": seed, "images": n_images,
                       "conductances": "programming targets (before programming noise and drift)"},
        "assumptions": list(ASSUMPTIONS),
    }


def _programming_draw(change: torch.Tensor, step_S: float, top_S: float, states: int, device: Any, options: Any,
                      pulse: PulseEnergy, gen: torch.Generator) -> tuple[int, float]:
    """One programming of a tile's devices to their ``change`` (S): its pulses and their energy (J)."""
    n = programming_pulses(change, step_S, top_S, states, device.pulses_per_state,
                           programming=options.programming, d2d=options.d2d_fraction,
                           d2d_range=options.range_fraction, generator=gen)
    total = int(n.sum())
    # the sum of `total` pulse energies: mean and pulse-to-pulse sigma
    return total, total * pulse.mean_J + math.sqrt(total) * pulse.std_J * float(
        torch.randn((), generator=gen, dtype=torch.float64))


def _spread(pulses: np.ndarray, energy: np.ndarray, period_s: float) -> dict[str, Any]:
    std = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
    return {"pulses_mean": float(pulses.mean()), "pulses_std": std(pulses),
            "energy_J_mean": float(energy.mean()), "energy_J_std": std(energy),
            "time_s_mean": float(pulses.mean() * period_s), "time_s_std": std(pulses) * period_s}


# --------------------------------------------------------------------------- the simulation's energy block

@dataclass(frozen=True)
class EnergySettings:
    """What ``memlab simulate --energy`` needs beyond the device file (None: from the device or defaults).

    run: a pulse-cycling run archive whose protocol gives the read pulse and pulse period
        (default: the device file's source run, found beside it by name and SHA-256).
    read_time_s: override the read pulse's width as the inference integration time.
    """

    run: Optional[str] = None
    read_time_s: Optional[float] = None
    adc_energy_J: Optional[float] = None
    dac_energy_J: Optional[float] = None
    energy_per_pulse_J: Optional[float] = None
    images: int = 100
    repeats: int = 5

    def __post_init__(self) -> None:
        if self.read_time_s is not None and not (math.isfinite(self.read_time_s) and 0 < self.read_time_s < 1):
            raise ConfigError(f"read_time_s is {self.read_time_s!r}; allowed 0 to 1 s")
        if not 1 <= self.images <= 100000 or not 1 <= self.repeats <= 1000:
            raise ConfigError(f"energy images {self.images} / repeats {self.repeats}: allowed 1-100000 / 1-1000")


def timing_for(device_path: str | pathlib.Path, device: Any, settings: EnergySettings) -> PulseTiming:
    run = settings.run if settings.run is not None else find_source_run(device_path, device)
    if run is None:
        raise ConfigError(f"{device_path}: none of its source runs is beside it (or in ../runs) to give the read "
                          "pulse and pulse period; give the pulse-cycling run archive with --energy-run RUN.h5")
    timing = pulse_timing_from_run(run)
    if settings.read_time_s is not None:
        timing = PulseTiming(timing.read_voltage_V, settings.read_time_s, timing.pulse_period_s,
                             timing.source + f"; read time {settings.read_time_s:g} s given")
    return timing


def energy_block(analog: torch.nn.Module, x: torch.Tensor, device_path: str | pathlib.Path, device: Any,
                 options: Any, settings: EnergySettings, *, seed: int, tile_transform=None) -> dict[str, Any]:
    """:func:`network_cost` of an analog network before programming (its targets) on ``x[:images]``."""
    from memlab.simulation import analog as dm

    timing = timing_for(device_path, device, settings)
    conv = converters(options.adc_bits, options.dac_bits, settings.adc_energy_J, settings.dac_energy_J)
    pulse = pulse_energy(device, settings.energy_per_pulse_J)
    frozen = dm.freeze(analog, seed=seed, tile_transform=tile_transform)
    return network_cost(frozen, x[:settings.images].cpu(), device=device, options=options, timing=timing,
                        conv=conv, pulse=pulse, repeats=settings.repeats, seed=seed)


def summary_lines(cost: dict[str, Any]) -> list[str]:
    """The energy block in a few lines, as ``memlab simulate`` prints it."""
    p, i = cost["programming"], cost["inference_per_image"]
    return [f"programming: {p['pulses_mean']:.4g} pulses, {p['energy_J_mean']:.4g} ± {p['energy_J_std']:.2g} J, "
            f"{p['time_s_mean']:.4g} s (devices one at a time)",
            f"inference per image: {i['total_J']:.4g} J (crossbar reads {i['crossbar_read_J']:.3g} J, DAC "
            f"{i['dac_J']:.3g} J, ADC {i['adc_J']:.3g} J; converters {100 * i['converter_share']:.2g} %), "
            f"{cost['macs_per_image']:.4g} MACs"]
