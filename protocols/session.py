"""The life of one run, shared by the pulse, retention and I-V runners (any instrument).

:func:`recording` wraps a run: whatever happens, the instrument ends safe
(its ``close()``: 0 V, disconnected, session ended), then the archive is closed
as ``complete``, ``interrupted`` (a stop signal, Ctrl-C, a lost connection:
resumable) or ``failed`` with the reason. :class:`RunResult` is what every
runner returns; :func:`record_safe_start` keeps the record of the 0 V start.
The plans (what is applied) stay pure in :mod:`.patterns`, :mod:`.retention`
and :mod:`.protocol`; this module only sequences the instrument and the archive.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Callable, Protocol

from tqdm import tqdm

from memlab.errors import InstrumentConnectionError
from memlab.instruments.output_state import InstrumentLeftLiveWarning, format_record

from .archive import ArchiveWriter
from .signals import deferred, interruption_reason, stop_on_signals


class Instrument(Protocol):
    """What a run needs of its instrument: a ``close()`` that always reaches 0 V (WGFMU, B1500, twins).

    An instrument may also have ``_abort_if_running()``: a stop aborts its running sequence first.
    """

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunResult:
    """What a run did: final status, cycles now in the archive, the reason when not complete."""

    status: str
    cycles_completed: int
    reason: str = ""
    elapsed_s: float = 0.0
    unit: str = "cycle"
    """What ``cycles_completed`` counts: cycle, state (retention) or sweep (I-V)."""


@contextlib.contextmanager
def recording(w: Instrument, writer: ArchiveWriter | None, bar: tqdm, on_stop: Callable[[], None] | None = None):
    """Always end with the instrument safe (0 V, disconnected, session closed), then the archive closed.

    SIGINT, SIGTERM and SIGHUP stop the run (:mod:`.signals`); it, like Ctrl-C,
    closes the archive as ``interrupted`` with the signal named (a lost
    instrument connection too, with the error as reason), any other error as
    ``failed`` with the error as reason (both re-raised); a clean exit as
    ``complete``. The cleanup runs with stop signals deferred, so a second
    signal cannot skip the 0 V step or leave the archive open. On a stop
    (signal or Ctrl-C) the running sequence is aborted first, then
    ``on_stop()`` writes what was measured, then the outputs go to 0 V.
    """
    with stop_on_signals():
        try:
            yield
        except BaseException as exc:
            with deferred():
                if isinstance(exc, KeyboardInterrupt) and on_stop is not None:
                    _rescue(w, on_stop)
                _cleanup(w, bar, exc)
                if writer is not None:
                    if isinstance(exc, KeyboardInterrupt):
                        writer.close("interrupted", interruption_reason(exc))
                    elif isinstance(exc, InstrumentConnectionError):  # resumable once the link is back
                        writer.close("interrupted", f"{type(exc).__name__}: {exc}")
                    else:
                        writer.close("failed", f"{type(exc).__name__}: {exc}")
            raise
        with deferred():
            try:
                _cleanup(w, bar, None)
            except BaseException as exc:
                if writer is not None:
                    writer.close("failed", f"{type(exc).__name__}: {exc}")
                raise
            if writer is not None:
                writer.close("complete")


def _rescue(w: Instrument, on_stop: Callable[[], None]) -> None:
    """Abort the sequence, then save what it measured; a failure here must not stop the 0 V step."""
    try:
        abort = getattr(w, "_abort_if_running", None)
        if abort is not None:
            abort()
        on_stop()
    except Exception:  # noqa: BLE001 - the outputs come first; the archive keeps what was written
        pass


def _cleanup(w: Instrument, bar: tqdm, pending: BaseException | None) -> None:
    """Bar closed, then abort if running, 0 V on every output, disconnect, end the session.

    With an exception already ``pending`` a failure here is chained to it, not raised over it.
    """
    bar.close()
    try:
        w.close()
    except BaseException:
        if pending is None:
            raise


def record_safe_start(writer: ArchiveWriter | None, record: dict) -> None:
    """Append a safe start's record to the archive's ``safe_starts``; warn when the outputs were found live."""
    if writer is not None:
        try:
            earlier = list(writer.attr("safe_starts"))
        except KeyError:
            earlier = []
        writer.set_attrs({"safe_starts": [*earlier, record]})
    if record.get("live"):
        warnings.warn(format_record(record), InstrumentLeftLiveWarning, stacklevel=2)
