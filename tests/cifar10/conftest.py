"""Fixtures: a tiny synthetic CIFAR-10 JPEG tarball, and the real copy when present."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memlab.simulation.cifar10_data import CLASSES

from tests.helpers.shared_data import SHARED_DATA, shared_data

REAL_DATA = SHARED_DATA / "cifar10-jpeg"


def _jpeg(rng: np.random.Generator, size=(32, 32)) -> bytes:
    img = Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_tarball(path: Path, per_class: dict, *, extra: dict | None = None) -> Path:
    """Write ``train/<class>/NNNN.jpg`` and ``test/...`` members; ``extra`` maps more names to bytes."""
    rng = np.random.default_rng(0)
    members = {}
    for split, n in per_class.items():
        for cls in reversed(CLASSES):  # reversed: the loader must not rely on tar order
            for i in range(n):
                members[f"{split}/{cls}/{i:04d}.jpg"] = _jpeg(rng)
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def tarball_factory():
    """(make_tarball, jpeg_bytes) for tests that build odd tarballs."""
    return make_tarball, _jpeg


@pytest.fixture
def tiny_tarball(tmp_path) -> Path:
    folder = tmp_path / "data" / "cifar10-jpeg"
    folder.mkdir(parents=True)
    return make_tarball(folder / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2})


@pytest.fixture
def real_data_dir() -> Path:
    """The CIFAR-10 JPEG copy in ../shared/data: required under CI, else skipped."""
    return shared_data("cifar10-jpeg", "cifar10-jpeg.tar.gz").parent


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny batches gain nothing from two threads, and OpenMP's spin-waiting makes two
    threads about 50x slower when other processes share the two cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
