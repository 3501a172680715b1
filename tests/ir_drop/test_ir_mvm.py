"""IR drop as the crossbar hook of the simulation's programmed layers."""

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from memlab.errors import ConfigError
from memlab.simulation import ir_reference
from memlab.simulation.crossbar import ProgrammedLayer, ProgrammedTile
from memlab.simulation.ir_fast import IRDropConfig
from memlab.commands._ir_drop import ir_drop_options
from memlab.simulation.ir_mvm import IRDropMvm, IRDropTransform, effective_weight, ir_drop_transform
from memlab.simulation.ir_reference import CrossbarWires
from ir_drop_helpers import PAPER_G_IDLE_S, PAPER_STEP_S, rel_rms


def make_tile(n_in: int, n_out: int, direction: float, seed: int) -> ProgrammedTile:
    w = torch.rand(n_out, n_in, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    dac_step, adc_step = 2 / 254, 2 * 10 / 254
    return ProgrammedTile(
        in_start=0, in_stop=n_in, out_start=0, out_stop=n_out, weight=w,
        weight_codes_T=(w * (dac_step / adc_step)).T.contiguous(), input_range=1.0, dac_step=dac_step,
        dac_levels=127.0, adc_step=adc_step, adc_levels=127.0, out_noise_codes=0.0,
        out_scale=torch.full((n_out,), adc_step), g_per_weight_S=15 * PAPER_STEP_S,
        g_idle_S=PAPER_G_IDLE_S if direction > 0 else PAPER_G_IDLE_S + 15 * PAPER_STEP_S, g_direction=direction)


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_effective_weight_is_the_reference_crossbar_in_weight_units(direction):
    tile = make_tile(24, 10, direction, seed=1)
    cfg = IRDropConfig(0.5, array_size=32, method="solve")
    g_pos, g_neg = (g.T.double().numpy() for g in tile.conductances_S())
    wires = CrossbarWires(0.5)
    g_eff = ir_reference.effective_conductance(g_pos, wires) - ir_reference.effective_conductance(g_neg, wires)
    expected = direction * g_eff.T / tile.g_per_weight_S
    got = effective_weight(tile, cfg).double().numpy()
    assert rel_rms(got, expected) < 1e-5
    assert rel_rms(got, tile.weight.double().numpy()) > 1e-3  # IR drop changed the weights
    # with zero resistance the hook reproduces the programmed weight
    ideal = effective_weight(tile, IRDropConfig(0.0))
    torch.testing.assert_close(ideal, tile.weight, rtol=0, atol=1e-5)


def test_mvm_and_transform_hooks_give_the_same_layer():
    tile = make_tile(40, 12, 1.0, seed=2)
    cfg = IRDropConfig(1.0, array_size=16)
    mvm = IRDropMvm(cfg)
    x = torch.rand(5, 40, generator=torch.Generator().manual_seed(3))
    y = ProgrammedLayer([tile], 40, 12, None, mvm=mvm)(x)
    assert len(mvm._codes) == 1
    transformed = IRDropTransform(cfg)(tile)
    torch.testing.assert_close(transformed.weight, effective_weight(tile, cfg))
    torch.testing.assert_close(y, ProgrammedLayer([transformed], 40, 12, None)(x))
    assert not torch.allclose(y, ProgrammedLayer([tile], 40, 12, None)(x))
    assert json_roundtrip(repr(mvm))["wire_resistance_ohm"] == 1.0
    assert IRDropTransform(cfg).as_dict()["array_size"] == 16


def json_roundtrip(text: str) -> dict:
    import json

    return json.loads(text[text.index("(") + 1:-1])


def test_options_give_the_ideal_crossbar_unless_asked():
    assert ir_drop_transform(False, None, 256) is None
    with pytest.raises(ConfigError, match="--wire-resistance-ohm"):
        ir_drop_transform(True, None, 256)
    with pytest.raises(ConfigError, match="without --ir-drop"):
        ir_drop_transform(False, 1.0, 256)


def test_click_decorator_passes_one_mvm():
    seen = {}

    @click.command()
    @ir_drop_options
    @click.option("--tile-size", type=int, default=128)
    def cmd(tile_size, tile_transform):
        seen["mvm"] = tile_transform

    runner = CliRunner()
    assert runner.invoke(cmd, []).exit_code == 0 and seen["mvm"] is None
    result = runner.invoke(cmd, ["--ir-drop", "--wire-resistance-ohm", "2.5"])
    assert result.exit_code == 0, result.output
    assert seen["mvm"].config == IRDropConfig(2.5, array_size=128)
    runner.invoke(cmd, ["--ir-drop", "--wire-resistance-ohm", "1", "--array-size", "64", "--sense-resistance-ohm", "3"])
    assert seen["mvm"].config.array_size == 64 and seen["mvm"].config.sense_resistance_ohm == 3.0
    runner.invoke(cmd, ["--ir-drop", "--wire-resistance-ohm", "1", "--ir-method", "closed_form"])
    assert seen["mvm"].config.method == "closed_form"
    assert np.isclose(seen["mvm"].as_dict()["wire_resistance_ohm"], 1.0)


def test_freeze_of_a_programmed_aihwkit_network_takes_the_hook():
    """End to end through the simulation's own freeze (aihwkit, paper device file)."""
    from pathlib import Path

    from memlab.analysis.device_file import load_device_file
    from memlab.simulation import analog as dm

    path = Path(__file__).resolve().parents[2] / "sample_data" / "devices" / "virtual-hfs2.json"  # tracked
    torch.manual_seed(0)
    digital = torch.nn.Sequential(torch.nn.Linear(40, 24), torch.nn.ReLU(), torch.nn.Linear(24, 5))
    analog = dm.to_analog(digital, load_device_file(path), dm.AnalogOptions(tile_size=16, seed=0), hwat=False)
    x = torch.rand(64, 40, generator=torch.Generator().manual_seed(1))
    dm.calibrate_input_ranges(analog, [x])
    dm.program(analog, 0)
    dm.drift_to(analog, 0.0, 0)
    ideal = dm.freeze(analog)(x)
    with_transform = dm.freeze(analog, tile_transform=IRDropTransform(IRDropConfig(1e-6, array_size=16)))(x)
    torch.testing.assert_close(with_transform, ideal, atol=0.05 * float(ideal.abs().max()), rtol=0)
    tiny = IRDropMvm(IRDropConfig(1e-6, array_size=16))
    frozen = dm.freeze(analog, mvm=tiny)
    torch.testing.assert_close(frozen(x), ideal, atol=0.05 * float(ideal.abs().max()), rtol=0)
    assert len(tiny._codes) == 3 * 2 + 2 * 1  # 40 inputs -> 3 row tiles x 2 column tiles; 24 -> 2 x 1
    del frozen  # the cache lets go of a discarded network's matrices
    import gc

    gc.collect()
    assert len(tiny._codes) == 0
    strong = dm.freeze(analog, tile_transform=IRDropTransform(IRDropConfig(5.0, array_size=16)))(x)
    assert float((strong - ideal).abs().max()) > 0.1 * float(ideal.abs().max())
    torch.testing.assert_close(strong, dm.freeze(analog, mvm=IRDropMvm(IRDropConfig(5.0, array_size=16)))(x))
