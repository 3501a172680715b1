"""`memlab simulate --task cifar10` through the CLI, on a tiny synthetic JPEG tarball (3 training and
2 test images a class, tests/cifar10/conftest.py): the flags reach the CIFAR-10 driver, and the
accuracy it records is the saved network's on the test images, decoded here with PIL and tarfile."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from memlab.cli import main
from memlab.simulation.cifar10 import build_network
from memlab.simulation.cifar10_data import CLASSES
from tests.helpers.simulate_cli import DEVICE


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from tests.cifar10.conftest import make_tarball

    root = tmp_path_factory.mktemp("c10cli")
    (root / "data" / "cifar10-jpeg").mkdir(parents=True)
    tarball = make_tarball(root / "data" / "cifar10-jpeg" / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2})
    out = root / "out" / "results.json"
    code = main(["simulate", str(DEVICE), "--task", "cifar10", "--quick", "--data-dir", str(root / "data"),
                 "--repeats", "2", "--d2d", "0.1", "--read-noise", "0.02", "--seed", "3", "--out", str(out)])
    assert code == 0
    return tarball, out, json.loads(out.read_text())


def _test_images(tarball):
    """(uint8 images N x 3 x 32 x 32, labels) of the tarball's test split, by PIL alone."""
    images, labels = [], []
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            split, cls, _ = member.name.split("/")
            if split == "test":
                img = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
                images.append(np.asarray(img).transpose(2, 0, 1))
                labels.append(CLASSES.index(cls))
    return torch.from_numpy(np.stack(images)), torch.tensor(labels)


def test_the_flags_reach_the_cifar10_driver(cli_run):
    _, out, results = cli_run
    assert results["task"] == "cifar10" and results["complete"]
    assert (results["dataset"]["n_train"], results["dataset"]["n_test"]) == (30, 20)
    options = results["config"]["options"]
    assert options["d2d_fraction"] == 0.1 and options["read_noise_fraction"] == 0.02 and options["seed"] == 3
    assert len(results["analog_accuracy"]["repeats"]) == 2
    assert results["training"]["digital"]["epochs_run"] == 1 and results["training"]["hwat"]["epochs_run"] == 1


def test_the_recorded_digital_accuracy_is_the_saved_networks(cli_run):
    tarball, out, results = cli_run
    net = build_network()
    (weights,) = (out.parent / "checkpoints").glob("cifar10-digital-*.pt")  # checkpoints/ beside --out
    net.load_state_dict(torch.load(weights, weights_only=True))
    net.eval()
    x, y = _test_images(tarball)
    mean = torch.tensor(results["dataset"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(results["dataset"]["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = net((x.float() / 255 - mean) / std).argmax(1)
    assert results["digital_accuracy"] == pytest.approx(int((predicted == y).sum()) / len(y), abs=1e-9)


def test_a_bad_energy_option_is_refused_before_any_data_or_training(tmp_path, capsys):
    """CIFAR-10 takes the energy stage like every task; its options are checked before the data is
    even looked for (the empty --data-dir would fail later)."""
    code = main(["simulate", str(DEVICE), "--task", "cifar10", "--quick", "--energy", "--adc-energy-J", "-1",
                 "--data-dir", str(tmp_path), "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "adc_energy_J is -1.0" in err and "CIFAR-10 JPEG" not in err
    assert not (tmp_path / "r.json").exists()
