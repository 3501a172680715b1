"""The data CI always has: ``../shared/data`` beside the repository (MNIST, the CIFAR-10 JPEG copy,
``external/``), read in place, never copied into the repository.

Under CI (the ``CI`` environment variable set, as every CI service does) a missing file is a test
*failure*: CI always has this data, so its absence means a broken checkout, not a test to leave out.
Elsewhere (a laptop without the data) the test is skipped, and the reason says where the data was
looked for and that CI would fail. Tracked files (sample data, protocols, modules) never go through
here: a missing tracked file is a plain failure.

- ``shared_data(*parts) -> Path``: the path, or fail (CI) / skip (elsewhere);
- ``@needs_shared_data(*parts)``: the same check before a test runs, as a decorator;
- ``SHARED_DATA``: the folder itself (``$MEMLAB_DATA`` when ``../shared/data`` is absent).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BESIDE = ROOT.parent / "shared" / "data"
SHARED_DATA = _BESIDE if _BESIDE.is_dir() or not os.environ.get("MEMLAB_DATA") else Path(os.environ["MEMLAB_DATA"])


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but an explicit no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_data(*parts: str) -> Path:
    """``SHARED_DATA / parts`` when it exists; else a failure under CI and a skip elsewhere."""
    path = SHARED_DATA.joinpath(*parts)
    if path.exists():
        return path
    where = f"{path} not found (shared data is read from ../shared/data beside the repository, or $MEMLAB_DATA)"
    if in_ci():
        pytest.fail(f"{where}: CI always has this data, so CI={os.environ['CI']!r} makes its absence a failure",
                    pytrace=False)
    pytest.skip(f"{where}; with CI set this is a failure")


def needs_shared_data(*parts: str):
    """Decorator: ``shared_data(*parts)`` before the test runs (fixtures are passed through)."""
    def decorate(test):
        @functools.wraps(test)
        def checked(*args, **kwargs):
            shared_data(*parts)
            return test(*args, **kwargs)
        return checked
    return decorate
