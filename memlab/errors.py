"""The one exception hierarchy of memlab.

Every error a user can cause derives from :class:`MemlabError` and from the
matching built-in, so callers that only know Python's exceptions still catch
them (``except ValueError`` catches a bad protocol). The CLI maps every
``MemlabError`` to exit status 2 with a one-line message.
"""

from __future__ import annotations


class MemlabError(Exception):
    """Root of every error memlab raises on purpose."""


class ConfigError(MemlabError, ValueError):
    """A protocol, option or parameter is invalid (names the field, value and limit)."""


class LimitError(ConfigError):
    """A value lies outside what an instrument or protocol allows."""


class SchemaError(MemlabError, ValueError):
    """A stored file (run archive, device file, results) is corrupt, foreign or of an unknown version."""


class DamagedDataError(SchemaError):
    """Stored data fails its checksum or cannot be decoded (names the file and the dataset)."""


class ImportDataError(MemlabError, ValueError):
    """Foreign measurement data cannot be imported (names file, row and column)."""


class DataNotFoundError(MemlabError, FileNotFoundError):
    """A dataset or input file is missing (names what and where it was looked for)."""


class InstrumentError(MemlabError, OSError):
    """An instrument or its library reported an error.

    ``code`` is the instrument's or library's own error code when there is one.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:  # OSError would otherwise format (errno, strerror)
        msg = self.args[0] if self.args else ""
        return f"{msg} (code {self.code})" if self.code is not None else str(msg)


class InstrumentTimeoutError(InstrumentError, TimeoutError):
    """The instrument did not answer or finish in time."""


class InstrumentConnectionError(InstrumentError, ConnectionError):
    """The connection to an instrument was lost (closed by the peer, reset, VI_ERROR_CONN_LOST).

    A run that loses its instrument this way is closed as ``interrupted``: what
    was measured is kept and the run can be resumed once the link is back.
    """


class InstrumentAbortedError(InstrumentError):
    """A running sequence was aborted."""


class ArchiveLockedError(MemlabError, OSError):
    """Another writer holds the run archive."""


class ArchiveFullError(MemlabError, OSError):
    """The disk or the file-size limit cannot take the next append (the archive is closed as failed)."""


class SpiceError(MemlabError, RuntimeError):
    """ngspice (the IR-drop cross-check) is missing, failed, or its output could not be parsed."""
