"""A scripted VISA resource: instrument driver tests replay an ordered (command, reply) list.

Every ``write``/``query`` must be the next scripted command; a reply scripted
for a ``write`` must be ``read`` before the next command; ``assert_done()``
fails on commands never sent. Any driver that takes an injected pyvisa-like
resource (``write``, ``read``, ``query``, ``close``) can be tested with it.
"""

from __future__ import annotations


class ScriptedResource:
    """A VISA resource that expects exactly ``script``: (command, reply or None), in order."""

    def __init__(self, script):
        self.script = list(script)
        self.pending = None
        self.closed = False

    def _expect(self, message):
        assert self.script, f"unexpected command {message!r}: script exhausted"
        expected, reply = self.script.pop(0)
        assert message == expected, f"expected {expected!r}, got {message!r}"
        return reply

    def write(self, message):
        reply = self._expect(message)
        if reply is not None:
            self.pending = reply

    def read(self):
        assert self.pending is not None, "read with no reply pending"
        reply, self.pending = self.pending, None
        return reply

    def query(self, message):
        reply = self._expect(message)
        assert reply is not None, f"{message!r} is scripted without a reply"
        return reply

    def close(self):
        self.closed = True

    def assert_done(self):
        assert not self.script, f"commands never sent: {self.script}"
