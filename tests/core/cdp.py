"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (standard library only).

Chromium reads commands on file descriptor 3 and writes replies and events on
4, each a JSON message ended by a NUL byte. Used by the report's browser test
and to take the report's screenshot; Debian's ``chromium`` package provides the
browser (nothing is downloaded).
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--disable-extensions", "--metrics-recording-only", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with a fresh profile; ``page()`` opens a tab to drive."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="memlab-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def child_fds() -> None:  # the pipe ends where Chromium expects them (via fds >= 10: no clobbering)
            import fcntl

            high = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self._profile.name}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     pass_fds=(3, 4, cmd_r, res_w), preexec_fn=child_fds)
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, timeout_s: float) -> dict | None:
        deadline = time.monotonic() + timeout_s
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._res_r], [], [], left)[0]:
                return None
            chunk = os.read(self._res_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout_s: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            reply = self._read(deadline - time.monotonic())
            if reply is None:
                break
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(f"{method}: no reply within {timeout_s} s")

    def wait_event(self, method: str, timeout_s: float = 30.0) -> dict:
        for k, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(k)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            e = self._read(deadline - time.monotonic())
            if e is None:
                break
            if e.get("method") == method:
                return e
            self.events.append(e)
        raise TimeoutError(f"no {method} within {timeout_s} s")

    def page(self) -> str:
        """A new tab with Network, Page and Runtime enabled; returns its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Runtime"):
            self.send(f"{domain}.enable", session=session)
        return session

    def load(self, session: str, url: str, timeout_s: float = 60.0) -> list[str]:
        """Navigate and wait for the load event; returns every URL the page requested."""
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", timeout_s)
        time.sleep(0.3)  # late requests (none expected) still get recorded
        while (e := self._read(0.2)) is not None:
            self.events.append(e)
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def evaluate(self, session: str, expression: str):
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session=session)
        return reply["result"].get("value")

    def screenshot(self, session: str, path: str | os.PathLike, full_page: bool = True) -> pathlib.Path:
        params = {"format": "png"}
        if full_page:
            size = self.evaluate(session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            self.send("Emulation.setDeviceMetricsOverride", {"width": size[0], "height": min(size[1], 16000),
                                                             "deviceScaleFactor": 1, "mobile": False}, session=session)
        data = self.send("Page.captureScreenshot", params, session=session)["data"]
        path = pathlib.Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout_s=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
