"""CIFAR-10 from the JPEG copy: decode once, cache as arrays, augment on the GPU.

The shared data holds all 60,000 CIFAR-10 images re-encoded as JPEG (quality
~75) by a third party, as ``cifar10-jpeg.tar.gz`` (``train/<class>/NNNN.jpg``,
``test/<class>/NNNN.jpg``) or an unpacked folder of the same layout. The
pixels are not the original ones, so every result names the data
``"CIFAR-10 (JPEG copy)"`` (:data:`DATASET_LABEL`).

Decoding 60,000 JPEGs takes tens of seconds, so the full set is decoded once
into ``cifar10-jpeg-<sha16>.npz`` (uint8 arrays, no pickle) with a JSON
sidecar holding the SHA-256 of the source and of the cache file. The cache lies
beside the data when that folder is writable, else in ``$XDG_CACHE_HOME/memlab``
(``~/.cache/memlab``). A cache whose checksum does not match is rebuilt.
Subsets (``per_class``) are decoded directly and never cached: they are
quick, and a partial cache would be a trap.

Batches are normalised (:func:`normalise`, with the training set's
per-channel mean and std; the only step test images get) and training
batches augmented (:func:`augment`) by a handful of torch ops on whole
batches, so with the arrays on the GPU the data path never waits on the
CPU: exact horizontal flips, integer pad-and-crop shifts (pixels copied,
never interpolated) and, for a stated fraction of each batch only, a small
bilinear rotation.
Only Pillow decodes; torchvision is never imported (see SIMULATION.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from memlab.errors import ConfigError, DataNotFoundError, SchemaError
from memlab.files import sha256_file
from memlab.simulation.cifar10_augment import NO_AUGMENT, AugmentParams, augment, normalise
from memlab.simulation.datasets import default_data_dirs

__all__ = ["DATASET_LABEL", "Cifar10Data", "Split", "load_cifar10", "to_tensor",
           # the batch path, kept importable from here beside the data it is for
           "AugmentParams", "NO_AUGMENT", "augment", "normalise"]

DATASET_LABEL = "CIFAR-10 (JPEG copy)"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
TARBALL_NAME = "cifar10-jpeg.tar.gz"
FOLDER_NAME = "cifar10-jpeg"
IMAGE_SIZE_PX = 32
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
CACHE_FORMAT_VERSION = 1

_MEMBER = re.compile(r"^(?:\./)?(?:[^/]+/)?(train|test)/([a-z]+)/(\d+)\.jpe?g$")


@dataclass(frozen=True)
class Split:
    """One split: ``images`` (N, 32, 32, 3) uint8 RGB, ``labels`` (N,) int64 class indices."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Cifar10Data:
    """Decoded CIFAR-10 (JPEG copy).

    ``source`` is the tarball or folder read; ``source_sha256`` its checksum
    (for a folder: of the sorted member names and bytes); ``cache_path`` the
    array file used or written (None for subsets); ``mean``/``std`` the
    training split's per-channel statistics on the 0..1 scale.
    """

    train: Split
    test: Split
    source: Path
    source_sha256: str
    cache_path: Path | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    label: str = DATASET_LABEL

    def provenance(self) -> dict:
        """JSON-ready description for results files."""
        # names, not the machine's paths: the SHA-256 identifies the data
        return {"dataset": self.label, "source": Path(str(self.source)).name,
                "source_sha256": self.source_sha256,
                "cache": Path(self.cache_path).name if self.cache_path else None,
                "n_train": len(self.train), "n_test": len(self.test),
                "mean": list(self.mean), "std": list(self.std)}


# ---------------------------------------------------------------- locating

def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memlab"


def _candidates(root: Path) -> list[Path]:
    """Where, under one data directory, the tarball or folder may sit."""
    if root.is_file():
        return [root]
    return [root / FOLDER_NAME / TARBALL_NAME, root / TARBALL_NAME,
            root / FOLDER_NAME, root]


def _is_source(path: Path) -> bool:
    if path.is_file():
        return path.name.endswith((".tar.gz", ".tgz", ".tar"))
    return (path / "train").is_dir() and (path / "test").is_dir()


def find_cifar10(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the CIFAR-10 JPEG tarball or folder to read.

    ``data_dir`` (the ``--data-dir`` flag) may be the tarball itself, the
    ``cifar10-jpeg`` folder, or a data directory holding either; without it
    ``$MEMLAB_DATA``, ``../shared/data`` beside the checkout and
    ``~/.cache/memlab/data`` are searched. Raises DataNotFoundError naming
    every place looked at.
    """
    roots = [Path(data_dir)] if data_dir is not None else default_data_dirs()
    looked = []
    for root in roots:
        for cand in _candidates(root.expanduser()):
            looked.append(str(cand))
            if cand.exists() and _is_source(cand):
                return cand
    raise DataNotFoundError(
        f"CIFAR-10 JPEG copy ({TARBALL_NAME} or a {FOLDER_NAME}/ folder with train/ and test/) "
        f"not found; looked in: {', '.join(looked)}")


# ---------------------------------------------------------------- reading

def _check_sums_file(tarball: Path, digest: str) -> None:
    """If a SHA256SUMS file lies beside the tarball, the tarball must match it."""
    sums = tarball.parent / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == tarball.name and parts[0] != digest:
            raise SchemaError(f"{tarball}: sha256 {digest} does not match {sums} ({parts[0]})")


def _iter_members(source: Path):
    """Yield (split, class_name, index, jpeg_bytes) for every image of the source."""
    if source.is_file():
        with tarfile.open(source, "r|*") as tar:  # streaming: one pass, no random access
            for member in tar:
                m = _MEMBER.match(member.name)
                if m and member.isfile():
                    yield m.group(1), m.group(2), int(m.group(3)), tar.extractfile(member).read()
        return
    for path in sorted(source.glob("*/*/*")):
        m = _MEMBER.match(path.relative_to(source).as_posix())
        if m:
            yield m.group(1), m.group(2), int(m.group(3)), path.read_bytes()


def _decode(data: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # Pillow raises several unrelated types for bad files
        raise SchemaError(f"{name}: not a decodable JPEG ({exc})") from exc
    if arr.shape != (IMAGE_SIZE_PX, IMAGE_SIZE_PX, 3):
        raise SchemaError(f"{name}: image shape {arr.shape}, expected (32, 32, 3)")
    return arr


def decode_source(source: Path, *, per_class: int | None = None,
                  progress: bool = True) -> dict[str, Split]:
    """Decode the images of ``source`` into {"train": Split, "test": Split}.

    ``per_class`` keeps images numbered below it in each class folder of
    each split (None: all). Images are ordered by split, class, number, so
    the result does not depend on the order of the tarball.
    """
    if per_class is not None and per_class < 1:
        raise ConfigError(f"per_class={per_class} must be >= 1")
    found: dict[str, list] = {"train": [], "test": []}
    total = None if per_class else sum(SPLIT_SIZES.values())
    with tqdm(total=total, desc="decoding CIFAR-10 JPEGs", unit="img",
              disable=not progress, leave=False) as bar:
        for split, cls, index, data in _iter_members(source):
            if cls not in CLASSES:
                raise SchemaError(f"{source}: unknown class folder {split}/{cls}/ "
                                  f"(expected one of {', '.join(CLASSES)})")
            if per_class is not None and index >= per_class:
                continue
            found[split].append((CLASSES.index(cls), index,
                                 _decode(data, f"{source}:{split}/{cls}/{index}")))
            bar.update()
    splits = {}
    for split, items in found.items():
        if not items:
            raise SchemaError(f"{source}: no images under {split}/")
        items.sort(key=lambda t: (t[0], t[1]))
        splits[split] = Split(images=np.stack([t[2] for t in items]),
                              labels=np.array([t[0] for t in items], dtype=np.int64))
    return splits


def source_sha256(source: Path) -> str:
    """SHA-256 of a tarball, or of a folder's member names and bytes in sorted order."""
    if source.is_file():
        return sha256_file(source)
    h = hashlib.sha256()
    for split, cls, index, data in _iter_members(source):
        h.update(f"{split}/{cls}/{index}\0".encode())
        h.update(data)
    return h.hexdigest()


def _channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the 0..1 scale, exact, from 256-bin histograms
    (a float copy of the training set would take 1.2 GB)."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[-1]):
        counts = np.bincount(images[..., c].ravel(), minlength=256).astype(np.float64)
        n = counts.sum()
        mean = float((counts * levels).sum() / n)
        means.append(mean)
        stds.append(float(np.sqrt((counts * (levels - mean) ** 2).sum() / n)))
    return tuple(means), tuple(stds)


# ---------------------------------------------------------------- cache

def _cache_dir_for(source: Path, cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    beside = source.parent if source.is_file() else source
    return beside if _writable(beside) else _user_cache_dir()


def _writable(folder: Path) -> bool:
    """Writable for us *and* not marked read-only: root passes os.access on a
    r-x folder, but a shared data folder without write bits is meant to stay as it is."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(folder, os.W_OK)


def _write_cache(path: Path, splits: dict[str, Split], source: Path, digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, **{f"{s}_{k}": getattr(splits[s], k)
                       for s in ("train", "test") for k in ("images", "labels")})
    meta = {"format_version": CACHE_FORMAT_VERSION, "dataset": DATASET_LABEL,
            "source": source.name, "source_sha256": digest,
            "cache_sha256": sha256_file(tmp),
            "n_train": len(splits["train"]), "n_test": len(splits["test"])}
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written cache under the real name
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


def _read_cache(path: Path, digest: str) -> dict[str, Split] | None:
    """The cached splits, or None if absent, stale or corrupt (then it is rebuilt)."""
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return None
    if (meta.get("format_version") != CACHE_FORMAT_VERSION
            or meta.get("source_sha256") != digest
            or meta.get("cache_sha256") != sha256_file(path)):
        return None
    with np.load(path, allow_pickle=False) as z:
        return {s: Split(images=z[f"{s}_images"], labels=z[f"{s}_labels"])
                for s in ("train", "test")}


def load_cifar10(data_dir: str | os.PathLike | None = None, *, per_class: int | None = None,
                 cache_dir: str | os.PathLike | None = None,
                 progress: bool = True) -> Cifar10Data:
    """Load CIFAR-10 (JPEG copy) as uint8 arrays.

    The full set is decoded once and cached (see the module docstring);
    ``per_class`` decodes only the first ``per_class`` images of each class
    in each split, uncached (for smoke tests). Raises DataNotFoundError if
    no source is found and SchemaError for a corrupt one.
    """
    source = find_cifar10(data_dir)
    digest = source_sha256(source)
    if source.is_file():
        _check_sums_file(source, digest)
    if per_class is not None:
        splits, cache_path = decode_source(source, per_class=per_class, progress=progress), None
    else:
        cache_path = _cache_dir_for(source, cache_dir) / f"{FOLDER_NAME}-{digest[:16]}.npz"
        splits = _read_cache(cache_path, digest)
        if splits is None:
            splits = decode_source(source, progress=progress)
            _write_cache(cache_path, splits, source, digest)
    mean, std = _channel_stats(splits["train"].images)
    return Cifar10Data(train=splits["train"], test=splits["test"], source=source,
                       source_sha256=digest, cache_path=cache_path, mean=mean, std=std)


# ---------------------------------------------------------------- tensors and augmentation

def to_tensor(split: Split, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 3, 32, 32) uint8, labels (N,) int64) on ``device``.

    Kept as uint8 (150 MB for the training set) so the whole set sits on the
    GPU; :func:`normalise` / :func:`augment` turn batches into floats.
    """
    images = torch.from_numpy(np.ascontiguousarray(split.images)).permute(0, 3, 1, 2).contiguous()
    return images.to(device), torch.from_numpy(split.labels).to(device)
