"""Stop signals during a run: SIGINT, SIGTERM and SIGHUP end it the way Ctrl-C does.

While :func:`stop_on_signals` is active, each of these signals raises
:class:`RunInterrupted` (a ``KeyboardInterrupt`` carrying the signal) in the
main thread, so the runner's cleanup aborts the sequence, drives the outputs
to 0 V, flushes what was measured and closes the archive as ``interrupted``
with the signal named. Inside :func:`deferred` (the cleanup itself) a further
signal is only recorded: a second Ctrl-C or a ``kill`` from an impatient
supervisor cannot skip the 0 V step. SIGKILL cannot be caught; the archive's
per-flush appends bound what it loses.

Handlers are installed only from the main thread (Python's rule) and the
previous ones are restored on exit. SIGHUP does not exist on Windows.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by ``signum`` (SIGINT, SIGTERM or SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def interruption_reason(exc: BaseException) -> str:
    """The archive's ``status_reason`` for a run stopped by ``exc``."""
    signum = getattr(exc, "signum", signal.SIGINT)
    name = signal.Signals(signum).name
    if signum == signal.SIGINT:
        return f"stopped by the user (Ctrl-C, {name})"
    why = {"SIGTERM": "a termination request", "SIGHUP": "the terminal or session closed"}.get(name, "a signal")
    return f"stopped by {name} ({why})"


class _State(threading.local):
    depth = 0
    deferring = 0
    pending: list[int]

    def __init__(self) -> None:
        self.pending = []


_state = _State()


def _handler(signum, frame) -> None:
    if _state.deferring:
        _state.pending.append(signum)  # cleanup in progress: it finishes first
        return
    raise RunInterrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM/SIGHUP raise :class:`RunInterrupted` (nested use is fine)."""
    if threading.current_thread() is not threading.main_thread() or _state.depth:
        _state.depth += 1
        try:
            yield
        finally:
            _state.depth -= 1
        return
    previous = {s: signal.signal(s, _handler) for s in STOP_SIGNALS}
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred() -> Iterator[list[int]]:
    """Within the block, stop signals are recorded (yielded list), not raised: cleanup cannot be cut short."""
    _state.deferring += 1
    start = len(_state.pending)
    try:
        yield _state.pending
    finally:
        _state.deferring -= 1
        if not _state.deferring:
            del _state.pending[start:]


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """Within the block a stop signal waits; it is raised as the block ends (an archive append is never torn).

    Inside a :func:`deferred` cleanup it stays recorded there instead.
    """
    _state.deferring += 1
    start = len(_state.pending)
    try:
        yield
    finally:
        _state.deferring -= 1
        arrived = _state.pending[start:]
        if not _state.deferring:
            del _state.pending[start:]
    if arrived and not _state.deferring:
        raise RunInterrupted(arrived[0])
