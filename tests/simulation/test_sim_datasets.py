"""IDX reading, checksums, data directory resolution, and the real MNIST when present."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from memlab.errors import DataNotFoundError, SchemaError
from memlab.simulation import datasets
from tests.helpers.shared_data import shared_data


def write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def fake_mnist(folder, gz=True, n_train=30, n_test=10, sums=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    lines = []
    for stem, arr in arrays.items():
        name = stem + (".gz" if gz else "")
        write_idx(folder / name, arr, gz)
        lines.append(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}")
    if sums:
        (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    arr = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    write_idx(tmp_path / "a.idx", arr, gz)
    path = tmp_path / "a.idx"
    if gz:
        path = path.rename(tmp_path / "a.idx.gz")
    assert np.array_equal(datasets.read_idx(path), arr)


def test_not_idx_is_schema_error(tmp_path):
    (tmp_path / "x").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(SchemaError, match="magic"):
        datasets.read_idx(tmp_path / "x")


def test_load_mnist_from_data_dir_with_checksums(tmp_path):
    arrays = fake_mnist(tmp_path / "mnist")
    data = datasets.load_mnist(tmp_path)
    assert data.x_train.shape == (30, 1, 28, 28) and data.x_test.shape == (10, 1, 28, 28)
    assert data.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert data.checksums_verified


def test_plain_idx_without_sums(tmp_path):
    fake_mnist(tmp_path, gz=False, sums=False)
    data = datasets.load_mnist(tmp_path)
    assert len(data.y_train) == 30 and not data.checksums_verified


def test_checksum_mismatch_names_the_file(tmp_path):
    fake_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(10), True)
    with pytest.raises(SchemaError, match="t10k-labels"):
        datasets.load_mnist(tmp_path)


def test_missing_data_names_where_it_looked(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match=str(tmp_path)):
        datasets.load_mnist(tmp_path)
    monkeypatch.setenv("MEMLAB_DATA", str(tmp_path / "env"))
    dirs = datasets.default_data_dirs()
    assert dirs[0] == tmp_path / "env" and dirs[1].name == "data" and dirs[1].parent.name == "shared"


def test_environment_variable_is_searched(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "mnist")
    monkeypatch.setenv("MEMLAB_DATA", str(tmp_path))
    assert datasets.find_mnist() == tmp_path / "mnist"


def _rows(x) -> list[bytes]:
    return sorted(r.tobytes() for r in x.reshape(x.shape[0], -1).numpy())


def test_digits_split_is_seeded():
    """The same seed gives the same split, another seed another split, and every split is a partition
    of scikit-learn's 1797 images (checked against sklearn's own array, not the loader's)."""
    from sklearn.datasets import load_digits as sk_digits

    a, b, c = datasets.load_digits(seed=3), datasets.load_digits(seed=3), datasets.load_digits(seed=4)
    assert torch.equal(a.x_test, b.x_test) and a.y_test.tolist() == b.y_test.tolist()
    assert not torch.equal(a.x_test, c.x_test)  # a loader that ignores the seed fails here
    assert _rows(a.x_test) != _rows(c.x_test)  # a different set of images, not only another order
    assert len(a.y_test) == round(0.25 * 1797) and len(a.y_train) + len(a.y_test) == 1797
    assert a.x_train.shape[1:] == (1, 8, 8)
    pixels = torch.from_numpy(sk_digits().images.astype(np.int64))  # 0..16
    for split in (a, c):
        both = torch.cat([split.x_train, split.x_test])
        # the loader's normalisation is affine: undo it onto sklearn's 0..16 grid
        back = torch.round((both - both.min()) / (both.max() - both.min()) * 16).long()
        assert _rows(back) == _rows(pixels)
        labels = sorted(torch.cat([split.y_train, split.y_test]).tolist())
        assert labels == sorted(sk_digits().target.tolist())


def test_real_mnist_from_the_shared_data():
    """MNIST in ../shared/data: required under CI, else skipped (tests.helpers.shared_data)."""
    folder = datasets.find_mnist(shared_data("mnist"))
    data = datasets.load_mnist(folder)
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert abs(float(data.x_train.mean())) < 1e-3
    assert (folder / "SHA256SUMS").is_file() == data.checksums_verified


def test_provenance_names_the_data_not_the_machines_path():
    import torch

    from memlab.simulation.datasets import Dataset

    x, y = torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)
    d = Dataset("mnist", x, y, x, y, source="/home/someone/lab/data/mnist", checksums_verified=True)
    assert d.provenance()["source"] == "mnist"
    assert Dataset("digits", x, y, x, y, source="sklearn", checksums_verified=True).provenance()["source"] == "sklearn"
