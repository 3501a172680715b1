"""CPU smoke test: every stage of the CIFAR-10 experiment on 50 + 50 real images, one epoch each."""

import json
import math
from pathlib import Path

import pytest
import torch

from memlab.simulation.cifar10 import TrainSettings, build_network
from memlab.simulation.cifar10_experiment import Cifar10Plan, run_cifar10

from tests.helpers.shared_data import shared_data

ROOT = Path(__file__).resolve().parents[2]
DEVICE_FILE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"  # tracked: never a reason to skip


@pytest.fixture(scope="module")
def data_dir():
    """The CIFAR-10 JPEG copy in ../shared/data: required under CI, else skipped."""
    return shared_data("cifar10-jpeg", "cifar10-jpeg.tar.gz").parent


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("cifar10")
    plan = Cifar10Plan(settings=TrainSettings(digital_epochs=1, hwat_epochs=1, batch_size=10,
                                              eval_batch_size=50),
                       repeats=2, sweep_repeats=1, d2d_sweep=(0.0, 0.3), times_s=(1.0, 86400.0),
                       per_class=5, eval_every=1)
    # conftest's _one_torch_thread keeps this to one thread
    results = run_cifar10(DEVICE_FILE, plan, out_dir=out, data_dir=data_dir, progress=False,
                          log=lambda s: None)
    return results, out


@pytest.mark.slow
def test_every_stage_ran_and_was_recorded(smoke):
    results, out = smoke
    assert results["complete"] and results["task"] == "cifar10"
    assert results["dataset"]["dataset"] == "CIFAR-10 (JPEG copy)"
    assert results["dataset"]["n_train"] == results["dataset"]["n_test"] == 50
    assert results["network"]["weights"] == 210_720 and results["network"]["memristors"] == 421_440
    assert results["training"]["digital"]["epochs_run"] == 1
    assert results["training"]["hwat"]["epochs_run"] == 1
    for acc in [results["digital_accuracy"], *results["analog_accuracy"]["repeats"]]:
        assert 0.0 <= acc <= 1.0
    assert len(results["analog_accuracy"]["repeats"]) == 2
    assert results["d2d_sweep"]["d2d_fraction"] == [0.0, 0.3] and len(results["d2d_sweep"]["accuracy"]) == 2
    assert results["config"]["options"]["programming"] == "write_verify"
    assert len(results["d2d_sweep_open_loop"]["accuracy"]) == 2  # the comparison sweep ran too
    assert results["d2d_sweep_open_loop"]["programming"] == "open_loop"
    variants = {(v["hwat"], v["drift_compensation"]) for v in results["accuracy_vs_time"]}
    assert variants == {(True, True), (True, False), (False, True), (False, False)}
    for v in results["accuracy_vs_time"]:
        assert v["times_s"] == [1.0, 86400.0] and len(v["accuracy"]) == 2
    assert all(math.isfinite(x) for x in results["summary"].values() if isinstance(x, float))
    on_disk = json.loads((out / "cifar10_results.json").read_text())
    assert on_disk["summary"] == results["summary"]
    for name in results["figures"].values():
        assert (out / Path(name).name).stat().st_size > 1000


@pytest.mark.slow
def test_the_recorded_accuracies_are_the_saved_networks(smoke, data_dir):
    """The digital accuracy in the results is the saved digital network's on the 50 test images
    (loaded again, evaluated here in eval mode); the programming repeats are separate draws."""
    from memlab.simulation.cifar10_data import load_cifar10, to_tensor

    results, out = smoke
    data = load_cifar10(data_dir, per_class=5, progress=False)
    x, y = to_tensor(data.test, torch.device("cpu"))
    net = build_network()
    net.load_state_dict(torch.load(out / "cifar10_digital.pt", weights_only=True))
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
    state = torch.load(out / "cifar10_digital.pt", weights_only=True)
    net = build_network()
    net.load_state_dict(state)
    hwat = torch.load(out / "cifar10_hwat.pt", weights_only=True)
    assert "digital.features.0.upper.1.running_mean" in hwat
    assert any(k.endswith(".weight") and not k.startswith("digital.") for k in hwat)


@pytest.mark.slow
def test_a_run_can_start_from_saved_weights(smoke, tmp_path, data_dir):
    _, out = smoke
    plan = Cifar10Plan(settings=TrainSettings(digital_epochs=1, hwat_epochs=0, batch_size=10,
                                              eval_batch_size=50),
                       repeats=1, sweep_repeats=1, d2d_sweep=(0.3,), times_s=(1.0,), per_class=5,
                       digital_weights=str(out / "cifar10_digital.pt"), hwat_weights=str(out / "cifar10_hwat.pt"),
                       compare_open_loop=False)
    results = run_cifar10(DEVICE_FILE, plan, out_dir=tmp_path, data_dir=data_dir, progress=False,
                          log=lambda s: None)
    first = json.loads((out / "cifar10_results.json").read_text())
    assert results["training"]["digital"]["epochs_run"] == 0
    assert results["training"]["digital"]["loaded_from"].endswith("cifar10_digital.pt")
    assert results["training"]["hwat"]["loaded_from"].endswith("cifar10_hwat.pt")
    assert 0.0 <= results["analog_accuracy"]["mean"] <= 1.0
    assert results["digital_accuracy"] == pytest.approx(first["digital_accuracy"])  # the same network
    assert "d2d_sweep_open_loop" not in results


def test_unloadable_digital_weights_are_refused(tmp_path):
    from memlab.errors import ConfigError
    from memlab.simulation.cifar10_experiment import _load_digital

    bad = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    with pytest.raises(ConfigError, match="other.pt"):
        _load_digital(build_network(), str(bad), torch.device("cpu"))
