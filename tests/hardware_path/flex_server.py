"""The simulated B1500A served over TCP on 127.0.0.1, as a LAN-connected mainframe is reached.

:class:`FlexServer` listens on an ephemeral port of 127.0.0.1 and hands every
line the client sends (the B1500A takes LF or CR LF as the end of a message)
to a :class:`~memlab.instruments.b1500.SimulatedInstrument`; every reply the
instrument queues goes back with the B1500A's CR LF terminator, the error
queue (``ERRX?``) included. pyvisa with pyvisa-py reaches it as
``TCPIP::127.0.0.1::PORT::SOCKET``: real sockets, real termination handling,
real timeouts.

Faults, set on the server before or during a session (each counts one
connection's commands by mnemonic, 1-based):

* ``split_replies = n``: each reply (only those to ``split_only`` when it is
  set) is sent in ``n`` packets ``packet_pause_s`` apart (TCP_NODELAY on), as
  a mainframe sends a sweep's points while it measures them: the client must
  reassemble the reply from several reads;
* ``silent = (mnemonic, k)``: the ``k``-th ``mnemonic`` is executed but its
  reply never sent;
* ``delay = (mnemonic, seconds)``: every reply to ``mnemonic`` waits that
  long (a sweep taking its time on the instrument);
* ``drop = (mnemonic, k)``: the connection is closed when the ``k``-th
  ``mnemonic`` arrives, before it is executed (the cable pulled mid-sweep).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

from memlab.instruments.b1500 import SimulatedInstrument


class FlexServer:
    """A one-client-at-a-time FLEX server in a background thread (a context manager)."""

    def __init__(self, instrument: SimulatedInstrument | None = None, *, split_replies: int = 1,
                 packet_pause_s: float = 0.005, split_only: str | None = None) -> None:
        self.instrument = instrument if instrument is not None else SimulatedInstrument()
        self.split_replies = split_replies
        self.packet_pause_s = packet_pause_s
        self.split_only = split_only
        self.silent: tuple[str, int] | None = None
        self.drop: tuple[str, int] | None = None
        self.delay: tuple[str, float] | None = None
        self.received: list[str] = []
        self.connections = 0
        self.packets_sent = 0
        self.dropped = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="flex-server", daemon=True)

    @property
    def address(self) -> str:
        """The VISA resource string of this server."""
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def __enter__(self) -> "FlexServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    # --- serving --------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.settimeout(0.1)
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        counts: Counter[str] = Counter()
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return  # the client closed
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = line.decode("ascii").strip()
                if not message:
                    continue
                mnemonic = message.partition(" ")[0].upper()
                counts[mnemonic] += 1
                if self.drop == (mnemonic, counts[mnemonic]):
                    self.dropped = True
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                self.received.append(message)
                self.instrument.write(message)
                replies = self.instrument.take_replies()
                if self.silent == (mnemonic, counts[mnemonic]):
                    continue
                if self.delay is not None and self.delay[0] == mnemonic:
                    time.sleep(self.delay[1])
                split = self.split_replies if self.split_only in (None, mnemonic) else 1
                for reply in replies:
                    if not self._send(conn, (reply + "\r\n").encode("ascii"), split):
                        return

    def _send(self, conn: socket.socket, data: bytes, split: int) -> bool:
        n = max(1, min(split, len(data)))
        size = -(-len(data) // n)
        try:
            for start in range(0, len(data), size):
                conn.sendall(data[start:start + size])
                self.packets_sent += 1
                if start + size < len(data):
                    time.sleep(self.packet_pause_s)
        except OSError:
            return False
        return True
