"""Deterministic kills: ``install(phase)`` makes this process SIGKILL itself at one moment of a run's life.

Imported by the child process of :func:`kill_cases.kill_phase_case` before
``memlab.cli.main`` runs, so the kill is real (no ``finally``, no ``atexit``,
no flush) and lands exactly in the phase named, not wherever a timer happens
to fall. ``PHASES`` lists them; each name says what the writer was doing.
"""

from __future__ import annotations

import contextlib
import os
import signal

PHASES = {
    # archive creation
    "create: lock taken, no file yet": "measure",
    "create: root attributes set, not flushed": "measure",
    "create: flushed, before the rename": "measure",
    "create: /pulses half made": "measure",
    "create: /pulses made and flushed": "measure",
    # the first append
    "first append: rows grown, not written": "measure",
    "first append: two datasets written": "measure",
    "first append: all written, not flushed": "measure",
    "first append: flushed": "measure",
    # resuming an interrupted archive
    "resume: log added, before the trim": "resume",
    "resume: trimmed, not flushed": "resume",
    "resume: flushed, before the instrument": "resume",
    # closing
    "close: final attributes set, not flushed": "measure",
    "close: file closed, lock not released": "measure",
    # whole-file writers
    "device file: half written": "analyze",
    "device file: written, before the rename": "analyze",
    "import: rows half written": "import",
    "import: closed, before the rename": "import",
}


def die() -> None:
    os.kill(os.getpid(), int(os.environ.get("MEMLAB_KILL_SIGNAL", signal.SIGKILL)))


def install(phase: str) -> None:
    """Patch the writer so that this process dies in ``phase`` (one of :data:`PHASES`)."""
    import pathlib

    import memlab.protocols.archive as archive
    import memlab.protocols.archive_layout as archive_layout
    import memlab.protocols.archive_lock as archive_lock
    from memlab.protocols import scales

    W = archive.ArchiveWriter
    calls = {"append": 0, "wrote": 0}

    def after(obj, name, *, when=lambda *a, **k: True):
        original = getattr(obj, name)

        def wrapped(*args, **kwargs):
            out = original(*args, **kwargs)
            if when(*args, **kwargs):
                die()
            return out
        setattr(obj, name, wrapped)

    def before(obj, name, *, when=lambda *a, **k: True):
        original = getattr(obj, name)

        def wrapped(*args, **kwargs):
            if when(*args, **kwargs):
                die()
            return original(*args, **kwargs)
        setattr(obj, name, wrapped)

    if phase == "create: lock taken, no file yet":
        after(archive, "_Lock")
    elif phase == "create: root attributes set, not flushed":
        before(archive_layout, "encode_attrs")  # the last step of the root before its flush
    elif phase == "create: flushed, before the rename":
        original = archive.atomic_output

        @contextlib.contextmanager
        def dying(path):
            with original(path) as tmp:
                yield tmp
                die()
        archive.atomic_output = dying
    elif phase == "create: /pulses half made":
        before(scales, "create_scales")
    elif phase == "create: /pulses made and flushed":
        after(W, "begin_pulses")
    elif phase.startswith("first append") or phase == "import: rows half written":
        original_append = archive._append

        def append(ds, rows):
            calls["append"] += 1
            if phase == "first append: rows grown, not written":
                ds.resize(ds.shape[0] + rows.shape[0], axis=0)
                die()
            original_append(ds, rows)
            if phase in ("first append: two datasets written", "import: rows half written") and calls["append"] == 2:
                die()
            if phase == "first append: all written, not flushed" and ds.name.endswith("read_time_s"):
                die()
        archive._append = append
        if phase == "first append: flushed":
            after(W, "append_cycles")
    elif phase == "resume: log added, before the trim":
        before(W, "_trim_torn")
    elif phase == "resume: trimmed, not flushed":
        after(W, "_trim_torn")
    elif phase == "resume: flushed, before the instrument":
        after(W, "resume")
    elif phase == "close: final attributes set, not flushed":
        after(W, "_final_attrs", when=lambda self, status, reason: status == "complete")
    elif phase == "close: file closed, lock not released":
        before(archive_lock.Lock, "release", when=lambda self: self._fd is not None)
    elif phase == "device file: half written":
        original_write = pathlib.Path.write_text

        def write_text(self, text, *args, **kwargs):
            if self.name.endswith(".json.partial"):
                original_write(self, text[: len(text) // 2], *args, **kwargs)
                die()
            return original_write(self, text, *args, **kwargs)
        pathlib.Path.write_text = write_text
    elif phase in ("device file: written, before the rename", "import: closed, before the rename"):
        suffix = ".json.partial" if phase.startswith("device") else ".h5.partial"
        before(os, "replace", when=lambda src, dst, *a, **k: str(src).endswith(suffix))
    else:
        raise ValueError(f"unknown kill phase {phase!r}")
