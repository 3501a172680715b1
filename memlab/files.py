"""Small file helpers shared by every layer."""

from __future__ import annotations

import hashlib
import os
import pathlib


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (provenance and checksum checks)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def prepare_output(path: str | os.PathLike, flag: str, *, folder: bool = False) -> pathlib.Path:
    """Make ``path``'s folder exist (``path`` itself too with ``folder``); every command does the same.

    Missing folders are created, with their parents. A file output that is an
    existing folder, or a folder that cannot be created, is a ConfigError
    naming ``flag`` (exit 2), before any work starts.
    """
    from memlab.errors import ConfigError

    path = pathlib.Path(path)
    target = path if folder else path.parent
    if not folder and path.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; give a file name")
    if folder and path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: is a file; give a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot create folder {target}: {exc.strerror or exc}") from None
    return path
