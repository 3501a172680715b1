"""Loader and cache of the CIFAR-10 JPEG copy (augmentation: test_augment.py)."""

import hashlib
import json

import numpy as np
import pytest
import torch

from memlab.errors import ConfigError, DataNotFoundError, SchemaError
from memlab.simulation import cifar10_data as cd


def test_tarball_decodes_to_sorted_uint8_arrays(tiny_tarball, tmp_path):
    data = cd.load_cifar10(tiny_tarball.parent.parent, cache_dir=tmp_path / "c", progress=False)
    assert data.train.images.shape == (30, 32, 32, 3) and data.train.images.dtype == np.uint8
    assert data.test.images.shape == (20, 32, 32, 3)
    assert data.train.labels.tolist() == [c for c in range(10) for _ in range(3)]
    assert data.source == tiny_tarball and data.label == "CIFAR-10 (JPEG copy)"
    assert data.source_sha256 == hashlib.sha256(tiny_tarball.read_bytes()).hexdigest()
    # random pixels: mean near 0.5, std near 1/sqrt(12)
    assert all(0.4 < m < 0.6 for m in data.mean) and all(0.2 < s < 0.35 for s in data.std)


def test_full_load_writes_cache_with_checksum_then_reads_it(tiny_tarball, tmp_path, monkeypatch):
    cache = tmp_path / "c"
    first = cd.load_cifar10(tiny_tarball, cache_dir=cache, progress=False)
    meta = json.loads(first.cache_path.with_suffix(".json").read_text())
    assert first.cache_path.parent == cache
    assert meta["cache_sha256"] == hashlib.sha256(first.cache_path.read_bytes()).hexdigest()
    assert meta["source_sha256"] == first.source_sha256

    def no_decode(*a, **k):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(cd, "decode_source", no_decode)
    second = cd.load_cifar10(tiny_tarball, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(second.train.images, first.train.images)
    np.testing.assert_array_equal(second.test.labels, first.test.labels)


def test_corrupt_cache_is_rebuilt(tiny_tarball, tmp_path):
    cache = tmp_path / "c"
    first = cd.load_cifar10(tiny_tarball, cache_dir=cache, progress=False)
    first.cache_path.write_bytes(b"garbage")
    again = cd.load_cifar10(tiny_tarball, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again.train.images, first.train.images)
    assert again.cache_path.stat().st_size > 1000


def test_cache_goes_beside_writable_data_else_user_cache(tiny_tarball, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    beside = cd.load_cifar10(tiny_tarball, progress=False)
    assert beside.cache_path.parent == tiny_tarball.parent
    folder = tiny_tarball.parent
    for f in folder.glob("*.np*"):
        f.unlink()
    for f in folder.glob("*.json"):
        f.unlink()
    folder.chmod(0o555)
    try:
        elsewhere = cd.load_cifar10(tiny_tarball, progress=False)
    finally:
        folder.chmod(0o755)
    assert elsewhere.cache_path.parent == tmp_path / "xdg" / "memlab"
    assert not list(folder.glob("*.npz"))


def test_per_class_subset_is_not_cached(tiny_tarball, tmp_path):
    data = cd.load_cifar10(tiny_tarball, per_class=1, cache_dir=tmp_path / "c", progress=False)
    assert len(data.train) == 10 and len(data.test) == 10
    assert data.cache_path is None and not (tmp_path / "c").exists()
    assert data.train.labels.tolist() == list(range(10))


def test_unpacked_folder_gives_the_same_arrays(tiny_tarball, tmp_path):
    import tarfile

    folder = tmp_path / "unpacked" / "cifar10-jpeg"
    folder.mkdir(parents=True)
    with tarfile.open(tiny_tarball) as tar:
        tar.extractall(folder, filter="data")
    from_tar = cd.load_cifar10(tiny_tarball, cache_dir=tmp_path / "c1", progress=False)
    from_dir = cd.load_cifar10(tmp_path / "unpacked", cache_dir=tmp_path / "c2", progress=False)
    assert from_dir.source == folder
    np.testing.assert_array_equal(from_dir.train.images, from_tar.train.images)
    np.testing.assert_array_equal(from_dir.test.labels, from_tar.test.labels)


def test_missing_data_names_where_it_looked(tmp_path):
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "nowhere")):
        cd.load_cifar10(tmp_path / "nowhere", progress=False)


def test_env_variable_is_searched(tiny_tarball, monkeypatch):
    monkeypatch.setenv("MEMLAB_DATA", str(tiny_tarball.parent.parent))
    assert cd.find_cifar10() == tiny_tarball


def test_checksum_file_mismatch_is_an_error(tiny_tarball, tmp_path):
    (tiny_tarball.parent / "SHA256SUMS").write_text(f"{'0' * 64}  cifar10-jpeg.tar.gz\n")
    with pytest.raises(SchemaError, match="does not match"):
        cd.load_cifar10(tiny_tarball, cache_dir=tmp_path / "c", progress=False)


def test_wrong_image_size_and_unknown_class_are_errors(tmp_path, tarball_factory):
    make_tarball, _jpeg = tarball_factory
    rng = np.random.default_rng(1)
    bad = make_tarball(tmp_path / "a.tar.gz", {"train": 1, "test": 1},
                       extra={"train/cat/0001.jpg": _jpeg(rng, (28, 28))})
    with pytest.raises(SchemaError, match=r"train/cat/1: image shape"):
        cd.load_cifar10(bad, cache_dir=tmp_path / "c", progress=False)
    odd = make_tarball(tmp_path / "b.tar.gz", {"train": 1, "test": 1},
                       extra={"test/unicorn/0000.jpg": _jpeg(rng)})
    with pytest.raises(SchemaError, match="unknown class folder test/unicorn"):
        cd.load_cifar10(odd, cache_dir=tmp_path / "c", progress=False)


def test_real_subset_has_balanced_labels(real_data_dir):
    data = cd.load_cifar10(real_data_dir, per_class=20, progress=False)
    assert len(data.train) == len(data.test) == 200
    assert np.bincount(data.train.labels).tolist() == [20] * 10


# ---------------------------------------------------------------- augmentation

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)


def test_to_tensor_is_channels_first_uint8():
    split = cd.Split(images=np.zeros((4, 32, 32, 3), np.uint8), labels=np.arange(4))
    split.images[1, 2, 3, 0] = 200
    x, y = cd.to_tensor(split)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.uint8 and x[1, 0, 2, 3] == 200
    assert y.tolist() == [0, 1, 2, 3]


def test_normalise_uses_per_channel_mean_and_std():
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    out = cd.normalise(x, MEAN, STD)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([2.0, 3.0, 7 / 3]))


def test_unpacked_folder_is_cached_too(tiny_tarball, tmp_path, monkeypatch):
    import tarfile

    folder = tmp_path / "unpacked"
    folder.mkdir()
    with tarfile.open(tiny_tarball) as tar:
        tar.extractall(folder, filter="data")
    first = cd.load_cifar10(folder, cache_dir=tmp_path / "c", progress=False)
    monkeypatch.setattr(cd, "decode_source", lambda *a, **k: pytest.fail("decoded again"))
    second = cd.load_cifar10(folder, cache_dir=tmp_path / "c", progress=False)
    assert second.cache_path == first.cache_path
    np.testing.assert_array_equal(second.train.images, first.train.images)


def test_channel_stats_are_exact():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    mean, std = cd._channel_stats(images)
    x = images.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, x.std(axis=0), rtol=1e-12)
