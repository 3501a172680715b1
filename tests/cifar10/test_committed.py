"""An evaluation-only run of the committed networks: their architecture by name and the epochs
*they* were trained (from their weights records), not the 0 the run trained itself."""

from pathlib import Path

import pytest

from memlab.simulation.cifar10 import TrainSettings
from memlab.simulation.experiment import run_experiment
from memlab.simulation.plan import ExperimentPlan
from memlab.simulation.tasks.cifar10 import Cifar10Training

from tests.helpers.shared_data import shared_data

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "results" / "cifar10" / "networks"
DEVICE_FILE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"


@pytest.mark.slow
def test_evaluating_the_committed_networks_records_their_training(tmp_path):
    data_dir = shared_data("cifar10-jpeg", "cifar10-jpeg.tar.gz").parent
    plan = ExperimentPlan(epochs=0, hwat_epochs=0, repeats=1, sweep_repeats=1, d2d_sweep=(0.3,), times_s=(1.0,),
                          drift_branches=None, digital_weights=str(COMMITTED / "cifar10_digital.pt"),
                          hwat_weights=str(COMMITTED / "cifar10_hwat.pt"),
                          training=Cifar10Training(settings=TrainSettings(batch_size=10, eval_batch_size=50),
                                                   per_class=2))
    results = run_experiment(DEVICE_FILE, plan, "cifar10", out=tmp_path / "results.json", data_dir=data_dir,
                             progress=False).to_json()
    assert results["network"]["architecture"] == {"name": "v1-2026-11", "channels": [16, 32, 64],
                                                  "hidden": [120, 84]}
    digital, hwat = results["training"]["digital"], results["training"]["hwat"]
    assert digital["epochs_run"] == 0 and digital["epochs_trained"] == 200 and digital["hwat_epochs_trained"] == 0
    assert hwat["epochs_run"] == 0 and (hwat["epochs_trained"], hwat["hwat_epochs_trained"]) == (200, 20)
    assert digital["epochs_source"] == "weights record cifar10_digital.json"
    assert digital["weights_record"]["trained_on"].startswith("NVIDIA H200")
