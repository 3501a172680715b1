"""Context-manager behaviour shared by every instrument: outputs off on any exit path."""

from __future__ import annotations


class SafeClose:
    """``with instrument:`` calls the instrument's ``close()`` (outputs to 0 V, disconnected) however the block ends.

    If the block is already raising, a failure inside ``close()`` is suppressed
    so the user sees the original error; otherwise it propagates.
    """

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.close()
        except Exception:
            if exc_type is None:
                raise
        return False
