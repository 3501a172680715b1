"""Datasets for the simulation tasks: MNIST (IDX files) and scikit-learn's 8x8 digits.

Data directory resolution (ARCHITECTURE.md): the ``data_dir`` argument (the
``--data-dir`` flag), then ``$MEMLAB_DATA``, then ``../shared/data`` next to
the checkout, then ``~/.cache/memlab/data``. Nothing is ever downloaded. MNIST
is the four original IDX files, gzipped or not, in ``<dir>/mnist/`` or
``<dir>/`` itself; when a ``SHA256SUMS`` file sits beside them every file it
lists is checked. CIFAR-10 lives in :mod:`memlab.simulation.cifar10_data`.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from memlab.errors import DataNotFoundError, SchemaError
from memlab.files import sha256_file

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Per-pixel mean and std of the MNIST training set (pixels scaled to 0..1).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass(frozen=True)
class Dataset:
    """Tensors of one task: images (N, ...) float32 normalised, labels (N,) int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str  # where it was read from (path, or 'sklearn')
    checksums_verified: bool

    def provenance(self) -> dict:
        # the file or folder name, not the machine's path (results are shared; checksums identify the data)
        return {"name": self.name, "source": Path(self.source).name or self.source, "train": int(len(self.y_train)),
                "test": int(len(self.y_test)), "checksums_verified": self.checksums_verified}


def default_data_dirs() -> list[Path]:
    """Search order when no directory is given: $MEMLAB_DATA, ../shared/data, user cache."""
    dirs = []
    if os.environ.get("MEMLAB_DATA"):
        dirs.append(Path(os.environ["MEMLAB_DATA"]))
    checkout = Path(__file__).resolve().parent.parent
    dirs.append(checkout.parent / "shared" / "data")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    dirs.append(Path(base) / "memlab" / "data")
    return dirs


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def find_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the four MNIST IDX files; DataNotFoundError names every place looked at."""
    roots = [Path(data_dir)] if data_dir is not None else default_data_dirs()
    looked = []
    for root in roots:
        for folder in (root.expanduser() / "mnist", root.expanduser()):
            looked.append(str(folder))
            if all(_idx_path(folder, stem) for stem in MNIST_FILES.values()):
                return folder
    raise DataNotFoundError(
        f"MNIST IDX files ({', '.join(s + '[.gz]' for s in MNIST_FILES.values())}) not found; "
        f"looked in: {', '.join(looked)}")


def verify_checksums(folder: Path, names: list[str]) -> bool:
    """Check ``names`` against ``folder/SHA256SUMS``; False when there is no such file.

    Raises SchemaError naming the file whose hash differs.
    """
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return False
    expected = {}
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            expected[parts[1].lstrip("*")] = parts[0].lower()
    for name in names:
        if name in expected and sha256_file(folder / name) != expected[name]:
            raise SchemaError(f"{folder / name}: SHA-256 does not match {sums} (corrupt or altered file)")
    return True


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise SchemaError(f"{path}: not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise SchemaError(f"{path}: unknown IDX data type 0x{data[2]:02x}")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise SchemaError(f"{path}: IDX header says {shape} but holds {array.size} values")
    return array.reshape(shape)


def load_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """MNIST normalised with the training set's mean/std, images (N, 1, 28, 28)."""
    folder = find_mnist(data_dir)
    paths = {key: _idx_path(folder, stem) for key, stem in MNIST_FILES.items()}
    verified = verify_checksums(folder, [p.name for p in paths.values()])
    arrays = {key: read_idx(p) for key, p in paths.items()}

    def images(a: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)
        return (x - MNIST_MEAN) / MNIST_STD

    return Dataset("mnist", images(arrays["train_images"]),
                   torch.from_numpy(arrays["train_labels"].astype(np.int64)),
                   images(arrays["test_images"]), torch.from_numpy(arrays["test_labels"].astype(np.int64)),
                   str(folder), verified)


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images), split with a seeded permutation."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32)).unsqueeze(1)
    x = (x - x.mean()) / x.std()
    y = torch.from_numpy(d.target.astype(np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(len(y) * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test], "sklearn.datasets.load_digits", False)
