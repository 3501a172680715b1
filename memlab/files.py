"""Small file helpers shared by every layer."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
from importlib import resources
from typing import Iterator

PARTIAL_SUFFIX = ".partial"
"""What a file is called while memlab writes it; it gets its real name only once complete."""


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


def partial_path(path: str | os.PathLike) -> pathlib.Path:
    """The name ``path`` is written under until it is complete (``NAME.partial`` beside it)."""
    path = pathlib.Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Write ``path`` all at once: the block writes the yielded ``NAME.partial``, which replaces
    ``path`` only when the block ends normally; on any exception it is removed.

    So ``path`` never holds half a file, and a failure leaves no partial file; a
    process killed inside the block leaves only ``NAME.partial``, which
    :func:`explain_partial` describes and the next write replaces.
    """
    path = pathlib.Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """``path.write_text(text)`` through :func:`atomic_output` (UTF-8)."""
    path = pathlib.Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def explain_partial(path: str | os.PathLike) -> str | None:
    """Why ``path`` is an unfinished file, when it is one (its name ends in ``.partial``), else None;
    for a missing ``path`` whose partial file exists, what that partial file is."""
    path = pathlib.Path(path)
    if path.name.endswith(PARTIAL_SUFFIX) and len(path.name) > len(PARTIAL_SUFFIX):
        final = path.name[: -len(PARTIAL_SUFFIX)]
        return (f"{path}: an unfinished file: memlab was writing {final} here and stopped (killed or crashed) "
                f"before it was complete, so nothing in it counts as recorded; delete it and rerun")
    partial = partial_path(path)
    if not path.exists() and partial.exists():
        return (f"{path}: not found; {partial.name} beside it was left by a writer killed before {path.name} "
                "was complete (nothing was recorded); delete it and rerun")
    return None


def sample_data(*parts: str) -> pathlib.Path:
    """A file of the repository's ``sample_data/`` as shipped inside the package (importlib.resources).

    ``memlab/sample_data`` links to the checkout's ``sample_data/``; an installed
    wheel holds a copy of its protocols, device files and runs, so this works from
    any directory, editable or not. DataNotFoundError names the file when it is absent.
    """
    from memlab.errors import DataNotFoundError

    found = resources.files("memlab").joinpath("sample_data", *parts)
    if not found.is_file():
        raise DataNotFoundError(f"sample data file {'/'.join(parts)} is not in the installed memlab ({found})")
    return pathlib.Path(str(found))  # a regular package on disk: the Traversable is a path
