"""The public aihwkit bridge: a user's own network on the device file (memlab.simulation.bridge)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import torch
from aihwkit.nn import AnalogConv2d, AnalogLinear

import memlab
from memlab.errors import ConfigError
from memlab.seeds import derive
from memlab.simulation import bridge
from memlab.simulation.experiment import SimulationConfig, run_simulation
from memlab.simulation.tasks import get_task

ROOT = pathlib.Path(__file__).parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
# a crossbar as ideal as the options allow: what is left is quantisation to the measured states
QUIET = dict(d2d_fraction=0.0, drift="none", adc_bits=16, dac_bits=16)


class Residual(torch.nn.Module):
    """Depthwise conv, batch norm, pointwise conv, residual sum."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = torch.nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.bn = torch.nn.BatchNorm2d(c)
        self.pw = torch.nn.Conv2d(c, c, 1)

    def forward(self, x):
        return x + self.pw(torch.relu(self.bn(self.dw(x))))


def user_network() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),                          # stem
        torch.nn.ReLU(), Residual(8),
        torch.nn.Conv2d(8, 8, 3, stride=2, dilation=2, padding=2, groups=2),  # grouped, strided, dilated
        torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 2 * 2, 10))
    with torch.no_grad():  # batch-norm statistics that are not the identity
        net(torch.rand(64, 1, 8, 8) * 4)
    return net.eval()


def _analog_layers(model):
    return [m for m in model.modules() if isinstance(m, (AnalogConv2d, AnalogLinear))]


def test_grouped_convolution_split_is_exact():
    conv = torch.nn.Conv2d(6, 9, 3, stride=2, padding=1, dilation=1, groups=3)
    x = torch.randn(4, 6, 9, 9)
    torch.testing.assert_close(bridge.GroupedConv2d(conv)(x), conv(x), rtol=0, atol=1e-6)


def test_every_layer_kind_converts_programs_and_evaluates_close_to_digital():
    net = user_network()
    config = bridge.analog_config(DEVICE, **QUIET)
    analog = bridge.convert_to_analog(net, config)
    # stem, dw as 8 one-channel convs, pw, the grouped conv as 2, the head: 13 analog layers
    assert len(_analog_layers(analog)) == 1 + 8 + 1 + 2 + 1
    assert analog.memlab_lineage["grouped_convolutions_split"] == ["2.dw", "3"]
    x = torch.rand(32, 1, 8, 8) * 4
    bridge.calibrate_input_ranges(analog, [x])
    bridge.program_analog_weights(analog, seed=1)
    bridge.drift_analog_weights(analog, 1.0, seed=1)
    with torch.no_grad():
        out, ref = bridge.freeze(analog, config, seed=1)(x), net(x)
    # 16 measured states and their programming sigma through 13 layers: 0.35 of the logits' norm;
    # the groups of a grouped conv fed the wrong input channels give 0.83
    rel = float((out - ref).norm() / ref.norm())
    assert rel < 0.5, rel
    # the aihwkit network itself agrees with its frozen copy (the fast path is exact)
    with torch.no_grad():
        torch.testing.assert_close(analog(x), out, rtol=0, atol=2e-3 * float(ref.abs().max()))


def test_layers_kept_digital_on_request_and_unsupported_layers_named():
    net = user_network()
    config = bridge.analog_config(DEVICE, **QUIET)
    analog = bridge.convert_to_analog(net, config, digital_layers=("0", "8"))
    assert type(analog.get_submodule("0")) is torch.nn.Conv2d and type(analog.get_submodule("8")) is torch.nn.Linear
    assert len(_analog_layers(analog)) == 11
    embed = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    with pytest.raises(ConfigError, match=r"layer '0' \(Embedding\) has weights but no analog counterpart"):
        bridge.convert_to_analog(embed, config)
    assert len(_analog_layers(bridge.convert_to_analog(embed, config, digital_layers=("0",)))) == 1
    for layer, kind in ((torch.nn.Conv1d(2, 2, 3), "Conv1d"), (torch.nn.ConvTranspose2d(2, 2, 3), "ConvTranspose2d")):
        with pytest.raises(ConfigError, match=kind):
            bridge.convert_to_analog(torch.nn.Sequential(layer), config)
    with pytest.raises(ConfigError, match="pads with 'reflect'"):
        bridge.convert_to_analog(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding_mode="reflect")), config)
    with pytest.raises(ConfigError, match="no layer named 'head'"):
        bridge.convert_to_analog(net, config, digital_layers=("head",))
    with pytest.raises(ConfigError, match="unknown option.*d2d.*allowed"):
        bridge.analog_config(DEVICE, d2d=0.3)


def test_the_bridge_equals_memlab_simulate_for_the_mlp(tmp_path):
    """Same device file, options and seeds: the bridge's HWAT network gives simulate's numbers."""
    options = memlab.simulation.analog.AnalogOptions(drift="wan2022")
    cfg = SimulationConfig(epochs=2, hwat_epochs=1, repeats=2, times_s=(1.0, 86400.0), d2d_sweep=(0.3,),
                           options=options)
    sim = run_simulation(DEVICE, "digits", config=cfg, checkpoint_dir=tmp_path, progress=False)
    task = get_task("digits")
    data = task.load(None)
    net = task.build()
    (digital_ckpt,) = tmp_path.glob("digits-digital-*.pt")
    net.load_state_dict(torch.load(digital_ckpt, weights_only=True))

    config = bridge.analog_config(DEVICE, drift="wan2022")
    analog = bridge.convert_to_analog(net, config, hwat=True)
    bridge.hwat_fine_tune(analog, data.x_train, data.y_train, epochs=1, lr=task.hwat_lr,
                          batch_size=task.batch_size, seed=derive(cfg.seed, "hwat", "potentiation"), progress=False)
    res = bridge.evaluate_analog(analog, data.x_test, data.y_test, config, times_s=(1.0, 86400.0), repeats=2,
                                 seed=cfg.seed, batch_size=task.eval_batch_size, digital=net, task="digits").to_json()
    assert res["digital_accuracy"] == sim["digital_accuracy"]
    assert res["analog_accuracy"]["repeats"] == sim["analog_accuracy"]["repeats"]
    (hwat_gdc,) = [v for v in sim["accuracy_vs_time"] if v["hwat"] and v["drift_compensation"]
                   and v["branch"] == "potentiation"]
    assert res["accuracy_vs_time"][0]["accuracy"] == hwat_gdc["accuracy"]
    assert res["accuracy_vs_time"][0]["hwat"] is True
    # one JSON shape: every key simulate writes, plus the lineage
    assert set(sim) - {"figures"} <= set(res) and res["lineage"]["device_file_sha256"] == sim["device_file_sha256"]
    json.loads(json.dumps(res, allow_nan=False))


def test_the_example_runs(tmp_path):
    out = tmp_path / "own.json"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "own_network.py"), "--epochs", "3",
                           "--repeats", "2", "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "digital" in proc.stdout and "after 1 day" in proc.stdout
    res = json.loads(out.read_text())
    assert res["digital_accuracy"] > 0.5 and res["analog_accuracy"]["mean"] > 0.5


def test_the_bridge_docstring_examples_run(tmp_path, monkeypatch):
    import doctest

    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    tests = [t for t in doctest.DocTestFinder().find(bridge, globs={"memlab": memlab}) if t.examples]
    assert tests
    for test in tests:
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.summarize(verbose=False).failed == 0, test.name
