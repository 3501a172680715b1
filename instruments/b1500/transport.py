"""A pyvisa resource as the B1500 driver's transport: whole replies, one clear error per failure.

What pyvisa alone got wrong for FLEX over a socket (found by the FLEX server
tests in ``tests/hardware_path``):

* a peer that closed the connection looks, through pyvisa-py, like an
  instrument that is slow to answer: the read spins until the timeout and
  reports ``VI_ERROR_TMO``, so the run was closed as ``failed`` with a
  timeout. After a timeout the read here checks whether the socket reached
  end of file and then reports a lost connection
  (:class:`InstrumentConnectionError`; the run is closed as ``interrupted``,
  resumable); VISA's own ``VI_ERROR_CONN_LOST`` (Keysight/NI VISA) and an OS
  connection error (broken pipe, reset) are reported the same way.
* a timeout named neither the message whose reply did not come nor the time
  waited (``B1500A read() failed: VI_ERROR_TMO``); it names both here.

A reply that arrives in several packets is reassembled by pyvisa-py itself
(the socket session reads to the terminator); :meth:`VisaTransport.read`
still reads on to the terminator, for VISA libraries that end a read at a
packet boundary.
"""

from __future__ import annotations

import select
import socket
import time

from memlab.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeoutError

from .flex import TERMINATOR

class VisaTransport:
    """``write``/``read``/``query``/``clear``/``close`` over a pyvisa message-based resource.

    ``timeout_s`` (settable) bounds each reply, from the read's start to its terminator.
    """

    def __init__(self, resource, address: str, *, timeout_s: float = 10.0, terminator: str = TERMINATOR) -> None:
        self.resource = resource
        self.address = address
        self.terminator = terminator.encode("ascii")
        self.timeout_s = float(timeout_s)
        self.last_message = ""

    def _failure(self, what: str, exc: BaseException) -> InstrumentError:
        import pyvisa

        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, pyvisa.errors.VisaIOError) and exc.error_code == pyvisa.constants.StatusCode.error_connection_lost:
            return InstrumentConnectionError(f"B1500A at {self.address}: connection lost during {what}: {text}")
        if isinstance(exc, (ConnectionError, pyvisa.errors.InvalidSession)):
            return InstrumentConnectionError(f"B1500A at {self.address}: connection lost during {what}: {text}")
        return InstrumentError(f"B1500A at {self.address}: {what} failed: {text}")

    def write(self, message: str) -> None:
        """Send ``message`` with the terminator."""
        self.last_message = message
        try:
            self.resource.write_raw(message.encode("ascii") + self.terminator)
        except Exception as exc:  # noqa: BLE001 - pyvisa and OS errors, mapped to one of ours
            raise self._failure(f"sending {message!r}", exc) from exc

    def read(self) -> str:
        """One reply, terminator removed; waits at most ``timeout_s`` for all of it."""
        import pyvisa

        what = f"reply to {self.last_message!r}" if self.last_message else "reply"
        deadline = time.monotonic() + self.timeout_s
        received = b""
        while not received.endswith(self.terminator):
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_timeout)
                self.resource.timeout = max(1, int(left * 1000))
                received += self.resource.read_raw()
            except pyvisa.errors.VisaIOError as exc:
                if exc.error_code != pyvisa.constants.StatusCode.error_timeout:
                    raise self._failure(f"reading the {what}", exc) from exc
                if _peer_closed(self.resource):
                    got = f" after {len(received)} bytes of it" if received else ""
                    raise InstrumentConnectionError(f"B1500A at {self.address}: connection closed by the "
                                                    f"instrument while waiting for the {what}{got}") from exc
                got = f"; {len(received)} bytes of it came: {received[:60]!r}" if received else ""
                raise InstrumentTimeoutError(f"B1500A at {self.address}: no {what} within {self.timeout_s:g} s "
                                             f"(VISA timeout; --visa-timeout sets it){got}") from exc
            except Exception as exc:  # noqa: BLE001 - OS errors of the transport, mapped to one of ours
                raise self._failure(f"reading the {what}", exc) from exc
        return received[:-len(self.terminator)].decode("ascii", errors="replace")

    def query(self, message: str) -> str:
        """``write`` then ``read``."""
        self.write(message)
        return self.read()

    def clear(self) -> None:
        """VISA device clear: the instrument aborts what it runs and empties its output buffer.

        Not for a raw socket (``::SOCKET``), which has no device clear: pyvisa-py's
        stand-in for it only drains the input, and loops forever on a connection
        the peer has closed (a hang before the 0 V step, found by the FLEX server tests).
        """
        if getattr(self.resource, "resource_class", "") == "SOCKET":
            return
        try:
            self.resource.clear()
        except Exception as exc:  # noqa: BLE001
            raise self._failure("device clear", exc) from exc

    def close(self) -> None:
        """Close the VISA session."""
        try:
            self.resource.close()
        except Exception as exc:  # noqa: BLE001
            raise self._failure("closing the session", exc) from exc


def _peer_closed(resource) -> bool:
    """Whether the TCP socket under a pyvisa-py resource has reached end of file (the peer closed it).

    False for anything that is not a pyvisa-py socket session: other VISA
    libraries report a lost connection themselves.
    """
    try:
        sessions = getattr(resource.visalib, "sessions", None)
        sock = getattr(sessions.get(resource.session), "interface", None) if isinstance(sessions, dict) else None
    except Exception:  # noqa: BLE001 - a closed or foreign session: nothing to look at
        return False
    if not isinstance(sock, socket.socket):
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
