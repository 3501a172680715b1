"""The accuracy budget (memlab.simulation.budget): all off is the digital network, all on is the plain
analog evaluation, each switch removes what it names, and the costs add up."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest
import torch

from memlab.seeds import derive
from memlab.analysis.device_file import load_device_file
from memlab.simulation import budget as bd
from memlab.simulation import analog as dm

ROOT = pathlib.Path(__file__).parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
DAY_S = 86400.0


def _network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(12, 24), torch.nn.ReLU(), torch.nn.Linear(24, 4)).eval()


def _inputs(n: int = 512) -> torch.Tensor:
    return torch.randn(n, 12, generator=torch.Generator().manual_seed(1))


def _state(net: torch.nn.Module, device, options) -> dict[str, torch.Tensor]:
    """The network's analog state with input ranges calibrated on its inputs (the no-HWAT baseline's)."""
    model = dm.to_analog(net, device, options, hwat=False)
    dm.calibrate_input_ranges(model, [_inputs(128)])
    return dm.analog_state(model)


def _noisy_options(**kw) -> dm.AnalogOptions:
    """Every non-ideality on, strongly enough to matter."""
    base = dict(drift="measured", d2d_fraction=0.3, stuck_fraction=0.02, out_noise=0.05, read_noise_fraction=0.02,
                adc_bits=6, dac_bits=6, tile_size=16, seed=3)
    base.update(kw)
    return dm.AnalogOptions(**base)


def _frozen(net, device, state, options, t_s, seed):
    model = dm.to_analog(net, device, options, hwat=False)
    dm.load_analog_state(model, state)
    dm.program(model, seed)
    dm.drift_to(model, t_s, seed)
    return model, dm.freeze(model, seed=seed)


@torch.no_grad()
def test_everything_off_computes_the_digital_network():
    device = load_device_file(DEVICE)
    net, options = _network(), _noisy_options()
    state = _state(net, device, options)
    ideal = bd.stage_options(options, set())
    assert set(ideal.ideal) == set(dm.IDEAL_SWITCHES)
    assert (ideal.d2d_fraction, ideal.stuck_fraction, ideal.out_noise) == (0.0, 0.0, 0.0)
    _, frozen = _frozen(net, device, state, ideal, DAY_S, seed=7)
    x = _inputs() * 4  # far beyond the calibrated input ranges: an ideal DAC does not clip
    twin = bd.digital_twin(net, state)
    assert torch.allclose(frozen(x), twin(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(frozen(x).argmax(1), net(x).argmax(1))  # the baseline's twin is the network itself


@torch.no_grad()
def test_everything_on_is_the_plain_analog_evaluation():
    device = load_device_file(DEVICE)
    net, options = _network(), _noisy_options()
    state = _state(net, device, options)
    assert bd.stage_options(options, set(bd.STAGES)) == options
    x = _inputs()
    labels = net(x).argmax(1)

    def evaluate(model):
        return float((model(x).argmax(1) == labels).double().mean())

    out = bd.accuracy_budget(net, state, device, options, evaluate, bd.BudgetSettings(t_s=DAY_S, repeats=3), seed=11,
                             progress=False)
    plain = [evaluate(_frozen(net, device, state, options, DAY_S, seed=derive(11, "repeat", str(r)))[1]) for r in range(3)]
    assert out["full"]["repeats"] == plain
    assert out["weights_on_ideal_hardware"] == out["digital_accuracy"] == 1.0
    assert out["ideal"]["repeats"] == [1.0, 1.0, 1.0]
    # the cumulative costs telescope to the total, per repeat and in the mean
    assert sum(r["cumulative_cost"]["mean"] for r in out["stages"]) == pytest.approx(out["total_cost"]["mean"],
                                                                                   abs=1e-12)
    assert out["total_cost"]["mean"] == pytest.approx(1.0 - sum(plain) / 3, abs=1e-12)
    assert out["order"] == [s for s in bd.STAGES if s != "ir_drop"]
    assert out["absent"] == {"ir_drop": "no IR-drop model given"}
    alone = sum(r["alone_cost"]["mean"] for r in out["stages"])
    assert out["interaction"]["mean"] == pytest.approx(alone - out["total_cost"]["mean"], abs=1e-12)
    assert out["total_cost"]["mean"] > 0.05  # these non-idealities are strong: the budget has something to share
    assert all(len(r["cumulative_cost"]["ci95"]) == 2 for r in out["stages"])
    lines = bd.budget_table(out)
    assert any("device-to-device" in line for line in lines) and "interaction" in lines[-2]


def _weights(options, device, net, state, t_s=0.0, seed=5):
    model, frozen = _frozen(net, device, state, options, t_s, seed)
    return torch.cat([t.weight.flatten() for layer in frozen if hasattr(layer, "tiles") for t in layer.tiles])


@torch.no_grad()
def test_each_switch_removes_what_it_names():
    device = load_device_file(DEVICE)
    net = _network()
    clean = dm.AnalogOptions(drift="measured", d2d_fraction=0.0, tile_size=16, seed=3)
    state = _state(net, device, clean)
    every = set(bd.STAGES)
    exact = _weights(bd.stage_options(clean, set()), device, net, state)
    # states only: weights on the pair's 2 * states - 1 levels per tile (integers after scaling)
    levels = _weights(bd.stage_options(clean, {"states"}), device, net, state)
    states = len(device.branches.potentiation.state_mean_S)
    k = levels * (states - 1)
    assert torch.allclose(k, k.round(), atol=1e-3) and not torch.allclose(exact * (states - 1),
                                                                           (exact * (states - 1)).round(), atol=1e-3)
    # programming σ on top: off the levels
    noisy = _weights(bd.stage_options(clean, {"states", "programming_sigma"}), device, net, state)
    assert not torch.allclose(noisy * (states - 1), (noisy * (states - 1)).round(), atol=1e-3)
    # drift: the weights at one day differ from those at programming only when drift is on
    assert torch.equal(_weights(bd.stage_options(clean, every - {"drift", "read_noise"}), device, net, state, DAY_S),
                       _weights(bd.stage_options(clean, every - {"drift", "read_noise"}), device, net, state, 0.0))
    assert not torch.equal(_weights(bd.stage_options(clean, every - {"read_noise"}), device, net, state, DAY_S),
                           _weights(bd.stage_options(clean, every - {"read_noise"}), device, net, state, 0.0))
    # read noise: at one day without drift, only read noise moves the weights
    assert not torch.equal(_weights(bd.stage_options(clean, every - {"drift"}), device, net, state, DAY_S),
                           _weights(bd.stage_options(clean, every - {"drift"}), device, net, state, 0.0))
    # common random numbers: switching the D2D spread off leaves every other draw where it was. With
    # exact targets (write-verify), D2D only clips the weights beyond a device's short range; every other
    # weight keeps its programming-σ draw exactly.
    d2d = dataclasses.replace(clean, d2d_fraction=0.3)
    with_d2d = _weights(bd.stage_options(d2d, {"programming_sigma", "d2d"}), device, net, state)
    without = _weights(bd.stage_options(d2d, {"programming_sigma"}), device, net, state)
    same = (with_d2d == without).double().mean()
    assert 0.25 < same < 1.0, same  # about 0.4 here; a shifted draw gives about 0


@torch.no_grad()
def test_ideal_converters_neither_round_nor_clip():
    device = load_device_file(DEVICE)
    net = _network()
    options = dm.AnalogOptions(drift="none", d2d_fraction=0.0, tile_size=16, seed=3)
    state = _state(net, device, options)
    x = _inputs() * 4
    off = bd.stage_options(options, set(bd.STAGES) - {"dac", "adc"})
    only_adc = bd.stage_options(options, set(bd.STAGES) - {"dac"})
    on = bd.stage_options(options, set(bd.STAGES))
    y_off = _frozen(net, device, state, off, 0.0, 1)[1](x)
    y_adc = _frozen(net, device, state, only_adc, 0.0, 1)[1](x)
    y_on = _frozen(net, device, state, on, 0.0, 1)[1](x)
    assert not torch.allclose(y_off, y_adc, atol=1e-4) and not torch.allclose(y_adc, y_on, atol=1e-4)
    first = _frozen(net, device, state, off, 0.0, 1)[1][0]
    assert first.dac_levels == first.adc_levels == float("inf")


def test_settings_are_checked():
    from memlab.errors import ConfigError

    with pytest.raises(ConfigError, match="budget repeats"):
        bd.BudgetSettings(repeats=0)
    with pytest.raises(ConfigError, match="budget network"):
        bd.BudgetSettings(network="digital")
    with pytest.raises(ConfigError, match="ideal"):
        dm.AnalogOptions(ideal=("everything",))


def test_simulate_budget_through_the_cli(tmp_path, capsys):
    import json

    from memlab.cli import main

    out, figures = tmp_path / "r.json", tmp_path / "fig"
    code = main(["simulate", str(DEVICE), "--task", "digits", "--quick", "--budget", "--budget-time-s", "3600",
                 "--repeats", "2", "--stuck-fraction", "0.01", "--out", str(out), "--figures", str(figures)])
    assert code == 0
    results = json.loads(out.read_text())
    budget = results["budget"]
    assert budget["t_s"] == 3600 and budget["repeats"] == 2 and budget["network"] == "hwat"
    assert "stuck" in budget["order"] and "stuck" not in budget["absent"]
    assert budget["drift_model"].startswith("measured")
    # repeat r's seed derived by name from the stage's: more repeats never change the first ones
    assert budget["seeds"] == [derive(results["seeds"]["budget"], "repeat", str(r)) for r in range(2)]
    assert (figures / "digits_budget.png").is_file() and results["figures"]["budget"].endswith("digits_budget.png")
    text = capsys.readouterr().out
    assert "accuracy budget (hwat network" in text and "stuck devices" in text
    # a time the literature model does not know is refused before any training, naming the flag
    assert main(["simulate", str(DEVICE), "--task", "digits", "--quick", "--budget", "--drift", "wan2022",
                 "--budget-time-s", "5", "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
