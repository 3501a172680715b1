"""The CUDA paths of `memlab simulate`: on a machine with a GPU they must give the CPU's results
(within float tolerance); without one, asking for it is a clear error (exit 2, no results file).

The GPU tests are marked ``gpu`` and skipped, saying why, where torch sees no CUDA device.
"""

from __future__ import annotations

import json

import pytest
import torch

from memlab.cli import main
from tests.helpers.simulate_cli import DEVICE, mean, simulate

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
@pytest.mark.parametrize("task", ["digits", "cifar10"])
def test_device_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys, task):
    out = tmp_path / "r.json"
    code = main(["simulate", str(DEVICE), "--task", task, "--quick", "--device", "cuda", "--data-dir", str(tmp_path),
                 "--out", str(out)])
    assert code == 2
    assert "cuda" in capsys.readouterr().err.lower()
    assert not out.exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is False")
def test_digits_on_cuda_gives_the_cpu_results(tmp_path, digits_checkpoints):
    cpu = simulate(tmp_path / "cpu.json", "--drift", "none", checkpoints=digits_checkpoints)
    gpu = simulate(tmp_path / "gpu.json", "--drift", "none", "--device", "cuda", checkpoints=tmp_path / "ck-gpu")
    assert gpu["config"]["device"] == "cuda"
    assert gpu["digital_accuracy"] == pytest.approx(cpu["digital_accuracy"], abs=0.02)
    assert mean(gpu) == pytest.approx(mean(cpu), abs=0.03)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is False")
def test_cifar10_on_cuda_runs_every_stage(tmp_path):
    from tests.cifar10.conftest import make_tarball

    (tmp_path / "data" / "cifar10-jpeg").mkdir(parents=True)
    make_tarball(tmp_path / "data" / "cifar10-jpeg" / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2})
    out = tmp_path / "out" / "r.json"
    assert main(["simulate", str(DEVICE), "--task", "cifar10", "--quick", "--device", "cuda", "--repeats", "1",
                 "--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["complete"] and results["task"] == "cifar10"
    assert 0.0 <= results["analog_accuracy"]["mean"] <= 1.0
