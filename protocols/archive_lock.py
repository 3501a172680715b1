"""The one-writer lock of a run archive, and the reader's question "is its writer alive?".

The writer holds an exclusive OS lock on ``<archive>.lock`` (a lock file, not
HDF5's own locking, because HDF5 shares a file opened twice in one process, so
it would not stop a second writer there). The OS drops the lock when the holder
dies, so a killed run never leaves a stale lock, and a reader that finds the
lock held knows the writer is still running (:func:`writer_alive`).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import time

from memlab.errors import ArchiveLockedError

RETRY_S = 1.0
"""How long a writer retries a lock held for a moment by a reader's probe."""


def lock_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name + ".lock")


class Lock:
    """An exclusive, non-blocking lock on ``<archive>.lock`` (:class:`ArchiveLockedError` if held)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = lock_path(path)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + RETRY_S
        while True:
            try:
                _lock_fd(self._fd, exclusive=True)
                break
            except OSError as exc:
                # A reader's probe holds a shared lock for microseconds; a writer holds it for the run.
                if time.monotonic() < deadline and _probing(exc):
                    time.sleep(0.01)
                    continue
                os.close(self._fd)
                self._fd = None
                raise ArchiveLockedError(
                    f"{path}: another writer holds the run archive (lock file {self.path})") from exc

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)  # closing the descriptor releases the lock
        self._fd = None


def _probing(exc: OSError) -> bool:
    return isinstance(exc, BlockingIOError) or getattr(exc, "errno", None) in (11, 13, 35)


def _lock_fd(fd: int, exclusive: bool) -> None:
    try:
        import fcntl
    except ImportError:  # Windows, where the lab-side WGFMU backend runs
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)


def writer_alive(path: str | os.PathLike) -> bool | None:
    """Whether a live process holds the archive's writer lock (None: cannot tell on this OS).

    Probes with a shared, non-blocking lock, released at once; a lock file left
    by a killed writer is not locked, so it reads as no writer.
    """
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fd = os.open(lock_path(pathlib.Path(path)), os.O_RDONLY)
    except OSError:
        return False  # no lock file: the writer closed the archive (or never started)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
