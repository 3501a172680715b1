"""Seeds by name in the experiment's stages: adding a stage, a time or a repeat never shifts another's draws."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from memlab.analysis.device_file import load_device_file
from memlab.seeds import derive
from memlab.simulation import analog as dm
from memlab.simulation import experiment as ex
from memlab.simulation.tasks import get_task

DEVICE = Path(__file__).resolve().parents[2] / "sample_data" / "devices" / "virtual-hfs2.json"
DAY = 86400.0


@pytest.fixture(scope="module")
def setup():
    task = get_task("digits")
    data = task.load(None)
    torch.manual_seed(0)
    net = task.build().eval()
    device = load_device_file(DEVICE)
    cfg = ex.SimulationConfig(task="digits", repeats=2, options=dm.AnalogOptions(drift="measured"),
                              times_s=(1.0, DAY))
    model = dm.to_analog(net, device, cfg.options, hwat=False).eval()
    return task, data, cfg, model


def test_adding_a_time_leaves_the_other_times_alone(setup):
    task, data, cfg, model = setup
    two = ex.accuracy_vs_time(model, data, cfg, task, seed=derive(0, "drift"), progress=False)
    three = ex.accuracy_vs_time(model, data, dataclasses.replace(cfg, times_s=(1.0, 3600.0, DAY)), task,
                                seed=derive(0, "drift"), progress=False)
    assert three[0] == two[0] and three[2] == two[1]


def test_more_repeats_keep_the_first_ones(setup):
    task, data, cfg, model = setup
    two = ex.programming_repeats(model, data, cfg, task, seed=derive(0, "programming"), progress=False)
    three = ex.programming_repeats(model, data, dataclasses.replace(cfg, repeats=3), task,
                                   seed=derive(0, "programming"), progress=False)
    assert three[:2] == two


def test_the_results_record_the_derived_seeds():
    table = ex.seed_table(7)
    assert table["root"] == 7 and table["programming"] == derive(7, "programming")
    assert table["hwat_depression"] == derive(7, "hwat", "depression") != table["hwat_potentiation"]
    values = [v for k, v in table.items() if k not in ("root", "scheme")]
    assert len(set(values)) == len(values)  # no two stages share a seed
