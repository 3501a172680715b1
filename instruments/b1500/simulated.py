"""A stateful simulated B1500A answering FLEX, with one SMU wired to a virtual device.

:class:`SimulatedInstrument` stands in for the pyvisa resource (``write``,
``read``, ``query``, ``close``): it parses each FLEX command, keeps the
mainframe's state (enabled outputs, forced values, compliance, format, sweep
setup, error queue) and answers measurements from the device, so the real
:class:`~.driver.B1500` code runs unchanged over it. :class:`SimulatedB1500`
is that driver on that instrument.

Wiring: SMU ``device_channel`` (slot 1 by default) drives the device's top
electrode, the bottom electrode is on the ground unit; other SMUs are open.
A spot or sweep-step measurement applies its bias for ``measure_time_s``
(plus the sweep's hold/delay) to the device, then reads the current;
currents beyond the compliance are clipped to it and flagged (status C).
Error codes approximate the B1500A's (100 undefined command, 120 bad number,
200 output not enabled).
"""

from __future__ import annotations

import math
import os
from typing import Mapping

import numpy as np

from memlab.errors import InstrumentTimeoutError
from memlab.status import PointStatus

from ..faults import FaultPlan
from ..ohmic import OhmicDevice
from ..output_state import OutputState, describe_found
from . import flex
from .driver import B1500, MAX_ABS_VOLTAGE_V

IDN = "Keysight Technologies,B1500A,SIM00001,A.06.01.2019.0423"
MODULES = ("B1517A,0", "B1517A,0", "0,0", "0,0", "0,0", "B1530A,0", "0,0", "0,0", "0,0", "0,0")
INSTRUMENT_NOISE_A = 1e-12


class SimulatedInstrument:
    """FLEX-speaking stand-in for a B1500A's VISA resource."""

    def __init__(self, device=None, *, device_channel: int = 1, seed: int = 0, measure_time_s: float = 1e-3,
                 modules: tuple[str, ...] = MODULES, fail_at: Mapping | None = None, failure: str = "io",
                 state_dir: str | os.PathLike | None = None, address: str = "GPIB0::17::INSTR") -> None:
        self.device = device if device is not None else OhmicDevice()
        self.device_channel = int(device_channel)
        self.measure_time_s = float(measure_time_s)
        self.modules = modules
        self.faults = FaultPlan(fail_at, failure)
        self._rng = np.random.default_rng([int(seed), 0xB1500])
        self.log: list[str] = []
        self._reset()
        self.closed = False
        self._state = None if state_dir is None else OutputState(state_dir, "b1500", address)
        self.found = None
        if self._state is not None:  # the outputs a previous process left on this mainframe
            prior = self._state.load()
            self.found = describe_found(prior)
            for key, saved in ((prior or {}).get("channels") or {}).items():
                if str(key).isdigit() and isinstance(saved, dict):
                    volts = saved.get("output_V", 0.0)
                    self.output_V[int(key)] = float(volts) if isinstance(volts, (int, float)) \
                        and math.isfinite(volts) else 0.0
                    if saved.get("connected"):
                        self.enabled.add(int(key))
            self._persist()

    _CHANGES_OUTPUTS = frozenset({"*RST", "CN", "CL", "DZ", "DV", "DI", "XE"})

    def _persist(self) -> None:
        if self._state is None:
            return
        channels = {str(c): {"connected": c in self.enabled, "output_V": self.output_V.get(c, 0.0)}
                    for c in sorted(set(self.enabled) | set(self.output_V))}
        self._state.save(session_open=not self.closed, channels=channels)

    def _reset(self) -> None:
        self.enabled: set[int] = set()
        self.output_V: dict[int, float] = {}
        self.compliance: dict[int, float] = {}
        self.fmt = 1
        self.sweep: tuple | None = None
        self.timing = (0.0, 0.0)
        self.measure_mode: tuple[int, list[int]] = (1, [])
        self.error_queue: list[tuple[int, str]] = []
        self._pending: list[str] = []

    # --- VISA resource surface --------------------------------------------------------
    def write(self, message: str) -> None:
        message = message.strip()
        self.log.append(message)
        mnemonic, _, rest = message.partition(" ")
        kind = self.faults.tick(mnemonic)
        if kind is not None:
            raise FaultPlan.error(kind, f"B1500A {mnemonic}")
        args = [a.strip() for a in rest.split(",")] if rest.strip() else []
        handler = getattr(self, "_cmd_" + mnemonic.lstrip("*").upper().replace("?", "_q"), None)
        if handler is None:
            self.error_queue.append((100, f"Undefined GPIB command: {mnemonic}"))
            return
        try:
            numbers = [float(a) for a in args]
        except ValueError:
            self.error_queue.append((120, f"Incorrect numeric data in {message!r}"))
            return
        handler(numbers)
        if mnemonic.upper() in self._CHANGES_OUTPUTS:
            self._persist()

    def read(self) -> str:
        kind = self.faults.tick("read")
        if kind is not None:
            raise FaultPlan.error(kind, "B1500A read")
        if not self._pending:
            raise InstrumentTimeoutError("B1500A read: no reply pending (VI_ERROR_TMO)")
        return self._pending.pop(0)

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def close(self) -> None:
        self.closed = True
        self._persist()

    def take_replies(self) -> list[str]:
        """Every reply queued and not yet read, in order (what a server sends back after a message)."""
        replies, self._pending = self._pending, []
        return replies

    # --- helpers -------------------------------------------------------------------------
    def _reply(self, text: str) -> None:
        self._pending.append(text)

    def _channel(self, value: float) -> int | None:
        ch = int(value)
        if ch != value or not 1 <= ch <= 10 or not self.modules[ch - 1].startswith("B151"):
            self.error_queue.append((120, f"channel {value!r}: no SMU in that slot"))
            return None
        return ch

    def _enabled(self, ch: int) -> bool:
        if ch not in self.enabled:
            self.error_queue.append((200, f"channel {ch} output not enabled; send CN first"))
            return False
        return True

    def _bias_V(self) -> float:
        ch = self.device_channel
        return self.output_V.get(ch, 0.0) if ch in self.enabled else 0.0

    def _hold(self, voltage_V: float, duration_s: float) -> None:
        if voltage_V == 0.0:
            self.device.relax(duration_s)
        else:
            self.device.apply_segment(voltage_V, voltage_V, duration_s)

    def _measure(self, ch: int, kind: str, extra_s: float = 0.0) -> flex.FlexPoint:
        bias = self.output_V.get(ch, 0.0) if ch in self.enabled else 0.0
        self._hold(self._bias_V(), extra_s + self.measure_time_s)
        if kind == "V":
            return flex.FlexPoint(bias, PointStatus.OK, ch, "V", "N")
        current = float(self.device.current_A(bias)) if ch == self.device_channel and ch in self.enabled else 0.0
        current += INSTRUMENT_NOISE_A * float(self._rng.standard_normal())
        status = PointStatus.OK
        limit = abs(self.compliance.get(ch, math.inf))
        if abs(current) > limit:
            current, status = math.copysign(limit, current), PointStatus.COMPLIANCE
        return flex.FlexPoint(current, status, ch, "I", "C" if status else "N")

    def _format(self, points: list[flex.FlexPoint]) -> str:
        encode = flex.format_fmt1 if self.fmt == 1 else flex.format_fmt21
        return ",".join(encode(p) for p in points)

    # --- commands ---------------------------------------------------------------------------
    def _cmd_IDN_q(self, args) -> None:
        self._reply(IDN)

    def _cmd_UNT_q(self, args) -> None:
        self._reply(";".join(self.modules))

    def _cmd_ERRX_q(self, args) -> None:
        code, text = self.error_queue.pop(0) if self.error_queue else (0, "No Error.")
        self._reply(f'{code},"{text}"')

    def _cmd_LRN_q(self, args) -> None:
        if args != [0.0]:
            self.error_queue.append((120, f"*LRN? {args!r}: the simulation answers type 0 (output switches)"))
            self._reply("")
            return
        self._reply("CN" + ",".join(str(c) for c in sorted(self.enabled)) if self.enabled else "CL")

    def _cmd_OPC_q(self, args) -> None:
        self._reply("1")

    def _cmd_RST(self, args) -> None:
        self._reset()

    def _cmd_CN(self, args) -> None:
        channels = [self._channel(a) for a in args] if args else [
            i + 1 for i, m in enumerate(self.modules) if m.startswith("B151")]
        self.enabled.update(c for c in channels if c is not None)

    def _cmd_CL(self, args) -> None:
        channels = [self._channel(a) for a in args] if args else list(self.enabled)
        for ch in channels:
            if ch is not None:
                self.enabled.discard(ch)
                self.output_V[ch] = 0.0

    def _cmd_DZ(self, args) -> None:
        channels = [self._channel(a) for a in args] if args else list(self.output_V)
        for ch in channels:
            if ch is not None:
                self.output_V[ch] = 0.0

    def _cmd_FMT(self, args) -> None:
        if not args or int(args[0]) not in (1, 21):
            self.error_queue.append((120, f"FMT {args!r}: the simulation speaks FMT 1 and 21"))
            return
        self.fmt = int(args[0])

    def _noop(self, args) -> None:
        """Accepted, no effect on the simulation (filter, ADC, averaging, ranges)."""

    _cmd_FL = _cmd_AV = _cmd_AIT = _cmd_AAD = _cmd_RI = _cmd_RV = _noop

    def _cmd_DV(self, args) -> None:
        if len(args) < 3:
            self.error_queue.append((120, "DV needs channel,range,voltage"))
            return
        ch = self._channel(args[0])
        if ch is None or not self._enabled(ch):
            return
        if abs(args[2]) > MAX_ABS_VOLTAGE_V:
            self.error_queue.append((120, f"DV voltage {args[2]!r} outside +-{MAX_ABS_VOLTAGE_V:g} V"))
            return
        self.output_V[ch] = args[2]
        self.compliance[ch] = args[3] if len(args) > 3 else 0.1

    def _cmd_DI(self, args) -> None:
        if len(args) < 3:
            self.error_queue.append((120, "DI needs channel,range,current"))
            return
        ch = self._channel(args[0])
        if ch is None or not self._enabled(ch):
            return
        limit_V = abs(args[3]) if len(args) > 3 else 2.0
        g = getattr(self.device, "conductance_S", 1e-3) if ch == self.device_channel else 0.0
        # small-signal estimate of the voltage that drives the current, capped by the compliance
        voltage = args[2] / g if g > 0 else math.copysign(limit_V, args[2])
        self.output_V[ch] = max(-limit_V, min(limit_V, voltage))
        self.compliance[ch] = math.inf

    def _spot(self, args, kind: str) -> None:
        ch = self._channel(args[0]) if args else None
        if ch is None:
            self._reply(self._format([flex.FlexPoint(math.nan, PointStatus.MISSING, 0, "Z", "N")]))
            return
        self._reply(self._format([self._measure(ch, kind)]))

    def _cmd_TI(self, args) -> None:
        self._spot(args, "I")

    def _cmd_TV(self, args) -> None:
        self._spot(args, "V")

    def _cmd_WT(self, args) -> None:
        self.timing = (args[0] if args else 0.0, args[1] if len(args) > 1 else 0.0)

    def _cmd_WV(self, args) -> None:
        if len(args) < 6:
            self.error_queue.append((120, "WV needs channel,mode,range,start,stop,steps"))
            return
        ch = self._channel(args[0])
        if ch is None:
            return
        if int(args[1]) not in (1, 3) or not 1 <= int(args[5]) <= 10001:
            self.error_queue.append((120, f"WV mode {args[1]!r} / steps {args[5]!r} not simulated or out of range"))
            return
        compliance = args[6] if len(args) > 6 else 0.1
        self.sweep = (ch, int(args[1]), args[3], args[4], int(args[5]), compliance)

    def _cmd_MM(self, args) -> None:
        if not args:
            self.error_queue.append((120, "MM needs a mode"))
            return
        self.measure_mode = (int(args[0]), [int(a) for a in args[1:]])

    def _cmd_XE(self, args) -> None:
        mode, channels = self.measure_mode
        if mode != 2 or self.sweep is None:
            self.error_queue.append((150, "XE: only staircase sweeps (MM 2 after WV) are simulated"))
            return
        ch, sweep_mode, start, stop, steps, compliance = self.sweep
        if not self._enabled(ch):
            self._reply("")
            return
        values = list(np.linspace(start, stop, steps)) if steps > 1 else [start]
        if sweep_mode == 3:
            values = values + values[::-1]
        hold, delay = self.timing
        self.compliance[ch] = compliance
        points = []
        for i, v in enumerate(values):
            self.output_V[ch] = float(v)
            for measured in channels or [ch]:
                points.append(self._measure(measured, "I", (hold if i == 0 else 0.0) + delay))
        self.output_V[ch] = float(start)  # the source returns to the start value after the sweep
        self._reply(self._format(points))


class SimulatedB1500(B1500):
    """The :class:`B1500` driver running on a :class:`SimulatedInstrument` (``.instrument``)."""

    def __init__(self, device=None, *, device_channel: int = 1, seed: int = 0, measure_time_s: float = 1e-3,
                 fail_at: Mapping | None = None, failure: str = "io", state_dir: str | os.PathLike | None = None,
                 address: str = "GPIB0::17::INSTR", **driver_kwargs) -> None:
        self.instrument = SimulatedInstrument(device, device_channel=device_channel, seed=seed,
                                              measure_time_s=measure_time_s, fail_at=fail_at, failure=failure,
                                              state_dir=state_dir, address=address)
        super().__init__(self.instrument, **driver_kwargs)

    def outputs_found(self) -> dict:
        """The switches (``*LRN? 0``), and in the simulation also the voltages a previous process left."""
        found = super().outputs_found()
        inherited = self.instrument.found
        if inherited is not None and inherited.get("live"):
            found = {**inherited, "live": True}
        return found

    def snapshot(self) -> dict:
        return {**super().snapshot(), "device_channel": self.instrument.device_channel,
                "device": self.instrument.device.snapshot()}
