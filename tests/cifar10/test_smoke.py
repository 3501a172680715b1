"""CPU smoke test: every stage of the one experiment on CIFAR-10, 50 + 50 real images, one epoch each."""

import json
import math
from pathlib import Path

import pytest
import torch

from memlab.simulation.cifar10 import TrainSettings, build_network
from memlab.simulation.experiment import run_experiment
from memlab.simulation.plan import ExperimentPlan, default_plan
from memlab.simulation.tasks import get_task
from memlab.simulation.tasks.cifar10 import Cifar10Training

from tests.helpers.shared_data import shared_data

ROOT = Path(__file__).resolve().parents[2]
DEVICE_FILE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"  # tracked: never a reason to skip
TINY = Cifar10Training(settings=TrainSettings(batch_size=10, eval_batch_size=50), per_class=5, eval_every=1)


@pytest.fixture(scope="module")
def data_dir():
    """The CIFAR-10 JPEG copy in ../shared/data: required under CI, else skipped."""
    return shared_data("cifar10-jpeg", "cifar10-jpeg.tar.gz").parent


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("cifar10")
    plan = ExperimentPlan(epochs=1, hwat_epochs=1, repeats=2, sweep_repeats=1, d2d_sweep=(0.0, 0.3),
                          times_s=(1.0, 86400.0), drift_branches=None, compare_open_loop=True, training=TINY)
    # conftest's _one_torch_thread keeps this to one thread
    results = run_experiment(DEVICE_FILE, plan, "cifar10", out=out / "results.json", figures=out / "figures",
                             data_dir=data_dir, progress=False)
    return results.to_json(), out


@pytest.mark.slow
def test_every_stage_ran_and_was_recorded(smoke):
    results, out = smoke
    assert results["complete"] and results["task"] == "cifar10"
    assert results["dataset"]["dataset"] == "CIFAR-10 (JPEG copy)"
    assert results["dataset"]["n_train"] == results["dataset"]["n_test"] == 50
    assert results["network"]["weights"] == 210_720 and results["network"]["memristors"] == 421_440
    assert results["training"]["digital"]["epochs_run"] == 1
    assert results["training"]["hwat"]["epochs_run"] == 1
    assert results["summary"]["digital_epochs_run"] == results["summary"]["hwat_epochs_run"] == 1
    for acc in [results["digital_accuracy"], *results["analog_accuracy"]["repeats"]]:
        assert 0.0 <= acc <= 1.0
    assert len(results["analog_accuracy"]["repeats"]) == 2
    assert results["d2d_sweep"]["d2d_fraction"] == [0.0, 0.3] and len(results["d2d_sweep"]["accuracy"]) == 2
    assert results["config"]["options"]["programming"] == "write_verify"
    assert len(results["d2d_sweep_open_loop"]["accuracy"]) == 2  # the comparison sweep ran too
    assert results["d2d_sweep_open_loop"]["programming"] == "open_loop"
    variants = {(v["branch"], v["hwat"], v["drift_compensation"]) for v in results["accuracy_vs_time"]}
    assert variants == {("potentiation", h, c) for h in (True, False) for c in (True, False)}
    for v in results["accuracy_vs_time"]:
        assert v["times_s"] == [1.0, 86400.0] and len(v["accuracy"]) == 2
    assert all(math.isfinite(x) for x in results["summary"].values() if isinstance(x, float))
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["summary"] == results["summary"]
    for name in results["figures"].values():
        assert not Path(name).is_absolute() and (out / name).stat().st_size > 1000


@pytest.mark.slow
def test_the_recorded_accuracies_are_the_saved_networks(smoke, data_dir):
    """The digital accuracy in the results is the saved digital network's on the 50 test images
    (loaded again, evaluated here in eval mode); the programming repeats are separate draws."""
    from memlab.simulation.cifar10_data import load_cifar10, to_tensor

    results, out = smoke
    data = load_cifar10(data_dir, per_class=5, progress=False)
    x, y = to_tensor(data.test, torch.device("cpu"))
    net = build_network()
    (weights,) = (out / "checkpoints").glob("cifar10-digital-*.pt")
    net.load_state_dict(torch.load(weights, weights_only=True))
    net.eval()
    mean = torch.tensor(data.mean).view(1, 3, 1, 1)
    std = torch.tensor(data.std).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = net((x.float() / 255 - mean) / std).argmax(1)
    assert results["digital_accuracy"] == pytest.approx(int((predicted == y).sum()) / len(y), abs=1e-9)
    assert results["dataset"]["mean"] == pytest.approx(list(data.mean))


@pytest.mark.slow
def test_saved_weights_load_safely(smoke):
    _, out = smoke
    (digital,) = (out / "checkpoints").glob("cifar10-digital-*.pt")
    net = build_network()
    net.load_state_dict(torch.load(digital, weights_only=True))
    (hwat_file,) = (out / "checkpoints").glob("cifar10-hwat-*.pt")
    hwat = torch.load(hwat_file, weights_only=True)
    assert "digital.features.0.upper.1.running_mean" in hwat  # HWAT's BatchNorm state travels with it
    assert any(k.endswith(".weight") and not k.startswith("digital.") for k in hwat)


@pytest.mark.slow
def test_a_run_can_start_from_saved_weights(smoke, tmp_path, data_dir):
    first, out = smoke
    (digital,) = (out / "checkpoints").glob("cifar10-digital-*.pt")
    (hwat,) = (out / "checkpoints").glob("cifar10-hwat-*.pt")
    plan = ExperimentPlan(epochs=1, hwat_epochs=0, repeats=1, d2d_sweep=(0.3,), times_s=(1.0,), drift_branches=None,
                          training=TINY, digital_weights=str(digital), hwat_weights=str(hwat))
    results = run_experiment(DEVICE_FILE, plan, "cifar10", data_dir=data_dir, progress=False).to_json()
    assert results["training"]["digital"]["epochs_run"] == 0
    assert results["training"]["digital"]["loaded_from"].endswith(digital.name)
    assert results["training"]["hwat"]["loaded_from"].endswith(hwat.name)
    assert 0.0 <= results["analog_accuracy"]["mean"] <= 1.0
    assert results["digital_accuracy"] == pytest.approx(first["digital_accuracy"])  # the same network
    assert results["d2d_sweep_open_loop"] is None


def test_unloadable_digital_weights_are_refused(tmp_path):
    from memlab.errors import ConfigError
    from memlab.simulation.stages import _load_weights

    bad = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    with pytest.raises(ConfigError, match="other.pt"):
        _load_weights(build_network(), bad, "digital")


def test_the_committed_networks_are_evaluated_in_their_own_architecture():
    """Load-or-train: --digital-weights builds the file's architecture (the committed networks are
    v1-2026-11); without weights the default plan trains the default architecture (no pre-trained stage)."""
    from memlab.simulation.stages import _digital, Clock

    task = get_task("cifar10")
    path = ROOT / "results" / "cifar10" / "networks" / "cifar10_digital.pt"
    plan = default_plan(task, digital_weights=str(path)).resolved(task)

    class NoData:
        def provenance(self):
            return {}

    net, record, _ = _digital(task, NoData(), plan, None, progress=False, log=lambda s: None, clock=Clock(None))
    assert net.architecture.name == "v1-2026-11" and record["loaded_from"] == "results/cifar10/networks/cifar10_digital.pt"
    assert record["epochs_trained"] == 200 and record["epochs_run"] == 0
    assert task.pretrained_file("digital", default_plan(task).resolved(task)) is None
