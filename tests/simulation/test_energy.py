"""What the network costs on the device (memlab.simulation.energy): hand calculations, the device file's
own energy, the CLI's refusal without energy, and the results block of a simulation."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import pytest
import torch

from memlab.analysis.device_file import load_device_file, save_device_file
from memlab.cli import main
from memlab.errors import ConfigError
from memlab.protocols.archive import read_run
from memlab.simulation import energy as en
from memlab.simulation.crossbar import ProgrammedLayer, ProgrammedTile
from memlab.simulation.analog import AnalogOptions

ROOT = pathlib.Path(__file__).parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
RUN = ROOT / "sample_data" / "runs" / "paper-tailored-sim.h5"
mS = 1e-3


def test_read_energy_of_a_2x2_crossbar_by_hand():
    # out x in: G[j, i] = conductance between input row i and output column j
    g_pos = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64) * mS
    g_neg = torch.tensor([[0.5, 0.5], [0.5, 0.5]], dtype=torch.float64) * mS
    x = torch.tensor([[1.0, -0.5], [0.2, 0.0]], dtype=torch.float64)  # two MVMs, fractions of the read voltage
    # row 0 drives G+ 1 + 3 and G- 0.5 + 0.5 = 5 mS, row 1: 2 + 4 + 1 = 7 mS
    # sum over MVMs of x^2: row 0 1 + 0.04 = 1.04, row 1 0.25; V = 0.1 V, t = 30 us
    hand = (1.04 * 5e-3 + 0.25 * 7e-3) * 0.1 ** 2 * 30e-6
    assert en.read_energy_J(g_pos, g_neg, x, 0.1, 30e-6) == pytest.approx(hand, rel=1e-12)
    # inputs beyond the DAC's range are clipped to it: x * 3 -> (1, -1), (0.6, 0)
    assert en.read_energy_J(g_pos, g_neg, x * 3, 0.1, 30e-6) == pytest.approx(
        (1.36 * 5e-3 + 1.0 * 7e-3) * 0.01 * 30e-6, rel=1e-12)


def _tile(weight: torch.Tensor, g_per_weight_S: float, g_idle_S: float, input_range: float) -> ProgrammedTile:
    out, inp = weight.shape
    return ProgrammedTile(in_start=0, in_stop=inp, out_start=0, out_stop=out, weight=weight,
                          weight_codes_T=weight.T.contiguous(), input_range=input_range, dac_step=1 / 127,
                          dac_levels=127, adc_step=1 / 127, adc_levels=127, out_noise_codes=0.0,
                          out_scale=torch.ones(out), g_per_weight_S=g_per_weight_S, g_idle_S=g_idle_S, g_direction=1.0)


def test_a_4x3_crossbar_programming_and_inference_by_hand():
    """4 inputs x 3 outputs, every weight an exact number of states: pulses, J, s, reads and conversions."""
    device = load_device_file(DEVICE)
    b = device.branches.potentiation
    step = abs(b.slope_S_per_pulse) * device.pulses_per_state  # S per state
    states = len(b.state_mean_S)
    # weights in units of one state (g_per_weight = step): target states 0, 1, 3, 15 (the top)
    w = torch.tensor([[1.0, -3.0, 0.0, 15.0],
                      [0.0, 2.0, -1.0, 0.0],
                      [-15.0, 0.0, 4.0, 1.0]], dtype=torch.float64)
    g0 = 1.6e-3
    layer = torch.nn.Sequential(ProgrammedLayer([_tile(w, step, g0, input_range=2.0)], 4, 3, None))
    x = torch.tensor([[2.0, 1.0, -1.0, 0.0], [1.0, 0.0, 0.0, 4.0]], dtype=torch.float64)  # two images
    timing = en.PulseTiming(read_voltage_V=0.1, read_time_s=30e-6, pulse_period_s=70e-6, source="test")
    conv = en.ConverterEnergy(adc_J=2e-12, dac_J=3e-13, source="test")
    pulse = en.PulseEnergy(mean_J=0.6e-9, std_J=0.0, source="test")
    options = AnalogOptions(d2d_fraction=0.0)
    cost = en.network_cost(layer, x, device=device, options=options, timing=timing, conv=conv, pulse=pulse,
                           repeats=2)
    pulses = (1 + 3 + 15) + (2 + 1) + (15 + 4 + 1)  # |w| states, one device of each pair
    assert states == 16 and cost["programming"]["pulses_mean"] == pulses * device.pulses_per_state
    assert cost["programming"]["energy_J_mean"] == pytest.approx(pulses * 0.6e-9, rel=1e-12)
    assert cost["programming"]["time_s_mean"] == pytest.approx(pulses * 70e-6, rel=1e-12)
    assert cost["programming"]["pulses_std"] == 0.0 and cost["devices"] == 24
    # reads: G+ = g0 + step * max(w, 0), G- = g0 + step * max(-w, 0); column sums per input row
    row = [sum(2 * g0 + step * abs(float(w[j, i])) for j in range(3)) for i in range(4)]
    # x / r clipped to +-1: image 1 (1, 0.5, -0.5, 0), image 2 (0.5, 0, 0, 1 (clipped from 2))
    drive = [1 + 0.25, 0.25, 0.25, 1.0]
    read = sum(d * r for d, r in zip(drive, row)) * 0.01 * 30e-6 / 2
    per_image = cost["inference_per_image"]
    assert per_image["crossbar_read_J"] == pytest.approx(read, rel=1e-12)
    assert per_image["dac_J"] == pytest.approx(4 * 3e-13, rel=1e-12)  # one MVM per image, 4 rows
    assert per_image["adc_J"] == pytest.approx(3 * 2e-12, rel=1e-12)  # 3 columns
    assert cost["macs_per_image"] == 12
    assert per_image["total_J"] == pytest.approx(read + 4 * 3e-13 + 3 * 2e-12, rel=1e-12)


def test_programming_pulses_open_loop_write_verify_and_d2d():
    step, top = 80e-6, 80e-6 * 15
    change = torch.tensor([0.0, 80e-6, 4.4 * 80e-6, 15 * 80e-6, 20 * 80e-6], dtype=torch.float64)
    nominal = [0, 1, 4, 15, 15]  # rounded to a state, capped at the top state
    for programming in ("open_loop", "write_verify"):
        n = en.programming_pulses(change, step, top, 16, 2, programming=programming)
        assert n.tolist() == [2 * k for k in nominal]
    # open loop ignores each device's own step size; write-verify pays for it
    gen = torch.Generator().manual_seed(0)
    many = change[3].repeat(20000)
    blind = en.programming_pulses(many, step, top, 16, 1, programming="open_loop", d2d=0.3, generator=gen)
    verify = en.programming_pulses(many, step, top, 16, 1, programming="write_verify", d2d=0.3, d2d_range=0.3,
                                   generator=gen)
    assert (blind == 15).all()
    assert verify.float().std() > 1 and (en.programming_pulses(change[:1].repeat(50), step, top, 16, 1,
                                                               programming="write_verify", d2d=0.3,
                                                               generator=gen) == 0).all()


def test_a_device_programmed_through_its_branch_costs_what_the_device_file_says_a_half_cycle_costs():
    device = load_device_file(DEVICE)
    n_up, n_down = read_run(RUN, waveforms=False).pulse_counts
    pulse = en.pulse_energy(device)
    b = device.branches.potentiation
    step = abs(b.slope_S_per_pulse) * device.pulses_per_state
    # the window: first to last state of the branch
    window = en.programming_pulses(torch.tensor([15 * step], dtype=torch.float64), step, 15 * step, 16,
                                   device.pulses_per_state, programming="write_verify")
    assert int(window) == (len(b.state_mean_S) - 1) * device.pulses_per_state
    # the protocol's whole half-cycle (n_up pulses) at the device file's energy per pulse
    half = device.energy_per_cycle_J.mean / 2
    assert n_up == n_down and n_up * pulse.mean_J == pytest.approx(half, rel=1e-9)
    assert "stands in for every state and branch" in pulse.source


def test_timing_from_the_device_files_own_run():
    device = load_device_file(DEVICE)
    run = en.find_source_run(DEVICE, device)
    assert run is not None and run.name == RUN.name
    t = en.pulse_timing_from_run(run)
    # the paper protocol: -0.1 V / 30 us read 20 us after each pulse, 20 us gap, 20 ns edges, 160-350 ns pulses
    assert t.read_voltage_V == pytest.approx(0.1) and t.read_time_s == pytest.approx(30e-6)
    assert t.pulse_period_s == pytest.approx(255e-9 + 40e-9 + 70e-6, rel=1e-9)
    assert en.converters(8, 8).adc_J == pytest.approx(10e-15 * 256)


def test_a_device_file_without_energy_is_refused_naming_the_key(tmp_path, capsys):
    device = load_device_file(DEVICE)
    bare = dataclasses.replace(device, energy_per_cycle_J=None, energy_per_pulse_J=None)
    path = tmp_path / "no-energy.json"
    save_device_file(bare, path)
    with pytest.raises(ConfigError, match="no energy_per_pulse_J"):
        en.pulse_energy(bare)
    assert en.pulse_energy(bare, 1e-9).mean_J == 1e-9
    rc = main(["simulate", str(path), "--task", "digits", "--quick", "--energy", "--energy-run", str(RUN),
               "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "energy_per_pulse_J" in err and "--energy-per-pulse-J" in err
    assert not (tmp_path / "r.json").exists()
    with pytest.raises(ConfigError, match="adc_energy_J"):
        en.converters(8, 8, adc_J=-1.0)


def test_simulate_with_energy_writes_the_block_the_figure_and_the_report_table(tmp_path):
    from memlab.report import cost_html

    out = tmp_path / "r.json"
    rc = main(["simulate", str(DEVICE), "--task", "digits", "--quick", "--energy", "--repeats", "2",
               "--out", str(out), "--figures", str(tmp_path / "fig")])
    assert rc in (0, None)
    res = json.loads(out.read_text())
    cost = res["energy"]
    assert [layer["name"] for layer in cost["layers"]] == ["1", "3"]  # the MLP's two Linear layers
    assert cost["devices"] == 2 * (64 * 128 + 128 * 10)
    assert cost["programming"]["pulses_mean"] > 0 and cost["programming"]["pulses_std"] > 0  # D2D 30 %
    total = sum(layer["inference_per_image"]["total_J"] for layer in cost["layers"])
    assert cost["inference_per_image"]["total_J"] == pytest.approx(total)
    assert math.isclose(cost["parameters"]["timing"]["read_time_s"], 30e-6)
    assert (tmp_path / "fig" / "digits_network_energy.png").is_file()
    html = cost_html(cost)
    assert "<td>network</td>" in html and "stands in for every state" in html
