"""Build and drive the compiled WGFMU library stand-in (``wgfmu_standin.c``).

``build(folder)`` compiles it with the system C compiler (``$CC``, else cc,
gcc or clang) into ``folder/libwgfmu_standin.so``; :class:`StandIn` opens the
same shared object (``dlopen`` returns one handle per path, so the state the
binding sees is the state set here) and reaches its ``standin_*`` entry
points: reset, a device model behind the library, a slower or faster
sequencer clock, an injected failure, the outputs' voltages.

:class:`DeviceCallbacks` puts a Python virtual device behind the C library as
``CFUNCTYPE`` callbacks: current at the device state, a linear segment applied,
time without bias, and the instrument-noise source, drawn per (channel,
execute) from ``numpy.random.default_rng([seed, channel, execution])`` as the
simulated WGFMU draws it. So a run on the stand-in and a run on the simulated
backend see the same device *and* the same noise; everything the instrument
does between them (sequencer, sample placement, averaging, range clipping,
result memory, return codes) is the C code's.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_double, c_int
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("wgfmu_standin.c")
LIBRARY_NAME = "libwgfmu_standin.so"

CURRENT = CFUNCTYPE(c_int, c_int, POINTER(c_double), POINTER(c_double))
APPLY = CFUNCTYPE(c_int, c_double, c_double, c_double)
RELAX = CFUNCTYPE(c_int, c_double)
NORMAL = CFUNCTYPE(c_int, c_int, c_int, c_int, POINTER(c_double))


def compiler() -> str | None:
    """The C compiler to use, or None when the system has none."""
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def build(folder: Path) -> Path:
    """Compile the stand-in into ``folder``; raises CalledProcessError with the compiler's output."""
    cc = compiler()
    if cc is None:
        raise FileNotFoundError("no C compiler (CC, cc, gcc, clang) on PATH")
    out = Path(folder) / LIBRARY_NAME
    # -ffp-contract=off: no fused multiply-add, so the arithmetic matches numpy's step for step
    subprocess.run([cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-ffp-contract=off", "-shared", "-fPIC", "-o", str(out), str(SOURCE), "-lm"],
                   check=True, capture_output=True, text=True, timeout=120)
    return out


class DeviceCallbacks:
    """A Python device (``current_A``, ``apply_segment``, ``relax``) and noise seed as C callbacks."""

    def __init__(self, device, seed: int) -> None:
        self.device, self.seed = device, int(seed)
        self.streams: dict[tuple[int, int], np.random.Generator] = {}
        self.errors: list[BaseException] = []
        # the CFUNCTYPE objects must outlive every call the library makes
        self.current, self.apply = CURRENT(self._current), APPLY(self._apply)
        self.relax, self.normal = RELAX(self._relax), NORMAL(self._normal)

    def _guard(self, step) -> int:
        try:
            step()
            return 0
        except BaseException as exc:  # an exception must not unwind through C: report it as a failure
            self.errors.append(exc)
            return -1

    def _current(self, n, volts, amps) -> int:
        def step():
            v = np.ctypeslib.as_array(volts, (n,)).copy()
            np.ctypeslib.as_array(amps, (n,))[:] = self.device.current_A(v)
        return self._guard(step)

    def _apply(self, v0, v1, dt) -> int:
        return self._guard(lambda: self.device.apply_segment(v0, v1, dt))

    def _relax(self, dt) -> int:
        return self._guard(lambda: self.device.relax(dt))

    def _normal(self, channel, execution, n, out) -> int:
        def step():
            key = (channel, execution)
            if key not in self.streams:
                self.streams[key] = np.random.default_rng([self.seed, channel, execution])
            np.ctypeslib.as_array(out, (n,))[:] = self.streams[key].standard_normal(n)
        return self._guard(step)


class StandIn:
    """The stand-in's own entry points (``standin_*``), on the shared object at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.dll = ctypes.CDLL(str(self.path))
        d = self.dll
        d.standin_reset.argtypes, d.standin_reset.restype = [], c_int
        d.standin_setDevice.argtypes = [CURRENT, APPLY, RELAX, NORMAL]
        d.standin_setDevice.restype = c_int
        d.standin_setTimeScale.argtypes, d.standin_setTimeScale.restype = [c_double], c_int
        d.standin_failNext.argtypes, d.standin_failNext.restype = [c_char_p, c_int, c_char_p, c_int], c_int
        d.standin_output.argtypes, d.standin_output.restype = [c_int, POINTER(c_double), POINTER(c_int)], c_int
        d.standin_sessionOpen.argtypes, d.standin_sessionOpen.restype = [], c_int
        self.callbacks: DeviceCallbacks | None = None

    def reset(self) -> None:
        """Everything back to the state after loading (no session, no patterns, built-in device)."""
        self.dll.standin_reset()
        self.callbacks = None

    def set_device(self, device, seed: int) -> DeviceCallbacks:
        """Put ``device`` (and the simulated WGFMU's noise for ``seed``) behind the library."""
        self.callbacks = DeviceCallbacks(device, seed)
        cb = self.callbacks
        assert self.dll.standin_setDevice(cb.current, cb.apply, cb.relax, cb.normal) == 0
        return cb

    def time_scale(self, scale: float) -> None:
        """Sequencer seconds per wall-clock second."""
        assert self.dll.standin_setTimeScale(scale) == 0

    def fail_next(self, function: str, code: int, text: str, skip: int = 0) -> None:
        """Make the (skip+1)-th next call of ``WGFMU_<function>`` return ``code`` with ``text``."""
        assert self.dll.standin_failNext(function.encode(), int(code), text.encode(), int(skip)) == 0

    def output(self, channel_id: int) -> tuple[float, bool]:
        """(voltage the channel outputs now, whether its relay is closed)."""
        volts, connected = c_double(), c_int()
        assert self.dll.standin_output(channel_id, ctypes.byref(volts), ctypes.byref(connected)) == 0
        return volts.value, bool(connected.value)

    @property
    def session_open(self) -> bool:
        return bool(self.dll.standin_sessionOpen())
