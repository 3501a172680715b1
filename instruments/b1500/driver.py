"""B1500A SMU driver: FLEX commands over a pyvisa resource.

One method sends one FLEX command (named in its docstring). The resource is
injected (anything with ``write``, ``read``, ``query``): a pyvisa resource from
:meth:`B1500.open`, the simulated instrument, or a test script. Commands that
can fail are followed by draining ``ERRX?``; an error raises
:class:`InstrumentError` with the instrument's code and text. Voltages,
currents, sweep sizes and times are checked against the limits given at
construction before anything is sent. ``close()`` and leaving a ``with`` block
by any path send ``DZ`` (0 V everywhere) then ``CL`` (all outputs disconnected),
after a VISA device clear when a reply did not come (the mainframe may still be
measuring, and its late reply must not be read as the answer to ``ERRX?``).

A resource from :meth:`B1500.open` is wrapped in :class:`~.transport.VisaTransport`
(whole replies, lost connections and timeouts told apart); the time allowed for
a sweep's reply is the VISA timeout plus the sweep's own duration.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Sequence

from memlab import checks
from memlab.errors import InstrumentError, InstrumentTimeoutError, LimitError
from memlab.instruments.safe_close import SafeClose

from . import flex
from .flex import FlexPoint

MAX_ABS_VOLTAGE_V = 100.0  # B1511/B1517 SMUs force up to +-100 V (HPSMU 200 V: pass a higher limit)
MAX_ABS_CURRENT_A = 0.1  # MPSMU/HRSMU compliance limit
MAX_SWEEP_STEPS = 10001
MAX_HOLD_S = 655.35
MAX_DELAY_S = 65.535
MAX_ERRORS_DRAINED = 64
POINT_ALLOWANCE_S = 0.02
"""Time allowed per measured sweep point on top of hold and delay (the ADC's auto integration
takes well under this); slower integration settings need a longer --visa-timeout."""


def _check(field: str, value: float, low: float, high: float, unit: str) -> float:
    return checks.in_range(field, value, low, high, unit)


class B1500(SafeClose):
    """A B1500A mainframe's SMUs through FLEX.

    ``voltage_limit_V`` and ``current_limit_A`` are the user's safety limits
    (at most the SMU's own); ``fmt`` the data output format (1 or 21).
    """

    def __init__(self, resource, *, voltage_limit_V: float = MAX_ABS_VOLTAGE_V,
                 current_limit_A: float = MAX_ABS_CURRENT_A, fmt: int = 1) -> None:
        self.resource = resource
        self.voltage_limit_V = _check("voltage_limit_V", voltage_limit_V, 0.0, 200.0, "V")
        self.current_limit_A = _check("current_limit_A", current_limit_A, 0.0, 1.0, "A")
        if fmt not in (1, 21):
            raise LimitError(f"fmt={fmt!r}: allowed 1 or 21")
        self.fmt = fmt
        self._closed = False
        self._unanswered = False

    @classmethod
    def open(cls, address: str, backend: str | None = None, timeout_s: float = 10.0, **kwargs) -> "B1500":
        """Open ``address`` (e.g. ``GPIB0::17::INSTR``) through pyvisa with FLEX terminators.

        ``backend`` is pyvisa's visa library spec: ``"@ivi"`` (Keysight/NI VISA),
        ``"@py"`` (pyvisa-py), ``"path/to/file.yaml@sim"`` (pyvisa-sim) or None:
        the system VISA when it loads, else pyvisa-py (:mod:`memlab.instruments.visa`).
        """
        import pyvisa

        from memlab.instruments.visa import resource_manager

        from .transport import VisaTransport

        _check("timeout_s", timeout_s, 0.001, 3600.0, "s")
        opened = resource_manager(backend)
        try:
            resource = opened.manager.open_resource(address, read_termination=flex.TERMINATOR,
                                                    write_termination=flex.TERMINATOR)
            resource.timeout = int(timeout_s * 1000)
        except (pyvisa.errors.Error, OSError, ValueError) as exc:
            tried = "" if backend else f" (chosen from {', '.join(opened.tried)})"
            raise InstrumentError(f"cannot open B1500A at {address!r} with VISA library "
                                  f"{opened.library!r}{tried}: {exc}") from exc
        driver = cls(VisaTransport(resource, address, timeout_s=timeout_s), **kwargs)
        driver.visa_library = opened.library
        return driver

    # --- transport ---------------------------------------------------------------
    def _io(self, operation, *args):
        try:
            return operation(*args)
        except InstrumentTimeoutError:
            self._unanswered = True
            raise
        except InstrumentError:
            raise
        except Exception as exc:  # pyvisa.errors.VisaIOError and friends, without importing pyvisa here
            text = f"B1500A {operation.__name__}{args!r} failed: {exc}"
            if "TMO" in str(exc) or "timeout" in str(exc).lower():
                self._unanswered = True
                raise InstrumentTimeoutError(text) from exc
            raise InstrumentError(text) from exc

    def write(self, message: str) -> None:
        """Send one FLEX message."""
        self._io(self.resource.write, message)

    def query(self, message: str) -> str:
        """Send a query and return the reply without terminator."""
        return str(self._io(self.resource.query, message)).strip()

    def read(self) -> str:
        """Read one reply (data after ``XE``)."""
        return str(self._io(self.resource.read)).strip()

    def send(self, message: str) -> None:
        """Send a command that can fail, then drain the error queue (raises on an error)."""
        self.write(message)
        self.check_errors(after=message)

    # --- identification and errors ------------------------------------------------
    def idn(self) -> dict[str, str]:
        """Vendor, model, serial, firmware. (*IDN?)"""
        return flex.parse_idn(self.query("*IDN?"))

    def modules(self) -> list[tuple[str, int]]:
        """(model, revision) of each slot; ('0', 0) is empty. (UNT?)"""
        return flex.parse_unt(self.query("UNT?"))

    def errors(self) -> list[tuple[int, str]]:
        """Drain the error queue. (ERRX? until 0)"""
        found = []
        for _ in range(MAX_ERRORS_DRAINED):
            code, text = flex.parse_errx(self.query("ERRX?"))
            if code == 0:
                return found
            found.append((code, text))
        raise InstrumentError(f"error queue still not empty after {MAX_ERRORS_DRAINED} ERRX? queries: {found[-3:]}")

    def check_errors(self, after: str = "") -> None:
        """Raise InstrumentError for the first queued error (the queue is drained). (ERRX?)"""
        found = self.errors()
        if found:
            code, text = found[0]
            more = f" (+{len(found) - 1} more: {found[1:]})" if len(found) > 1 else ""
            where = f" after {after!r}" if after else ""
            raise InstrumentError(f"B1500A error{where}: {text}{more}", code=code)

    def reset(self) -> None:
        """Reset to the initial settings, outputs off. (*RST)"""
        self.send("*RST")

    # --- outputs ----------------------------------------------------------------------
    def _channels(self, channels: Iterable[int]) -> list[int]:
        result = [int(_check("channel", c, 1, 10, "(slot)")) for c in channels]
        return result

    def enable(self, channels: Sequence[int] = ()) -> None:
        """Connect outputs (all if none given). (CN)"""
        self.send(flex.channels_command("CN", self._channels(channels)))

    def disable(self, channels: Sequence[int] = ()) -> None:
        """Disconnect outputs (all if none given). (CL)"""
        self.send(flex.channels_command("CL", self._channels(channels)))

    def zero(self, channels: Sequence[int] = ()) -> None:
        """Force 0 V on the outputs, keeping their settings. (DZ)"""
        self.send(flex.channels_command("DZ", self._channels(channels)))

    def set_format(self, fmt: int = 1, mode: int = 0) -> None:
        """Data output format (1 or 21) and mode. (FMT)"""
        if fmt not in (1, 21):
            raise LimitError(f"fmt={fmt!r}: allowed 1 or 21")
        self.send(flex.command("FMT", fmt, mode))
        self.fmt = fmt

    def set_filter(self, on: bool, channels: Sequence[int] = ()) -> None:
        """Output filter on or off. (FL)"""
        self.send(flex.command("FL", int(bool(on)), *self._channels(channels)))

    def set_averaging(self, samples: int, mode: int = 0) -> None:
        """High-speed ADC averaging: samples 1..1023 (negative: PLC cycles). (AV)"""
        _check("samples", samples, -100, 1023, "")
        self.send(flex.command("AV", int(samples), int(mode)))

    def set_integration(self, adc: int, mode: int, factor: float) -> None:
        """ADC integration: adc 0 high-speed / 1 high-resolution, mode 0 auto / 1 manual / 2 PLC. (AIT)"""
        if adc not in (0, 1, 2) or mode not in (0, 1, 2, 3):
            raise LimitError(f"AIT adc={adc!r}, mode={mode!r}: allowed adc 0..2, mode 0..3")
        self.send(flex.command("AIT", adc, mode, factor))

    def set_adc(self, channel: int, adc: int) -> None:
        """Which ADC a channel uses (0 high-speed, 1 high-resolution). (AAD)"""
        self.send(flex.command("AAD", self._channels([channel])[0], int(adc)))

    def set_current_range(self, channel: int, i_range: int) -> None:
        """Current measurement range (0 auto, >0 limited auto, <0 fixed). (RI)"""
        self.send(flex.command("RI", self._channels([channel])[0], int(i_range)))

    def set_voltage_range(self, channel: int, v_range: int) -> None:
        """Voltage measurement range (0 auto, >0 limited auto, <0 fixed). (RV)"""
        self.send(flex.command("RV", self._channels([channel])[0], int(v_range)))

    def _voltage(self, field: str, value: float) -> float:
        return _check(field, value, -self.voltage_limit_V, self.voltage_limit_V, "V")

    def _compliance_A(self, value: float) -> float:
        value = _check("compliance_A", value, -self.current_limit_A, self.current_limit_A, "A")
        if value == 0:
            raise LimitError("compliance_A=0: a current compliance must be non-zero")
        return value

    def force_voltage(self, channel: int, voltage_V: float, compliance_A: float, v_range: int = 0) -> None:
        """Force a DC voltage with a current compliance. (DV)"""
        ch = self._channels([channel])[0]
        self.send(flex.dv(ch, int(v_range), self._voltage("voltage_V", voltage_V), self._compliance_A(compliance_A)))

    def force_current(self, channel: int, current_A: float, compliance_V: float, i_range: int = 0) -> None:
        """Force a DC current with a voltage compliance. (DI)"""
        ch = self._channels([channel])[0]
        current_A = _check("current_A", current_A, -self.current_limit_A, self.current_limit_A, "A")
        self.send(flex.di(ch, int(i_range), current_A, self._voltage("compliance_V", compliance_V)))

    # --- measurements ---------------------------------------------------------------
    def _one_point(self, message: str) -> FlexPoint:
        reply = self.query(message)
        points = flex.parse_data(reply, self.fmt)
        if len(points) != 1:
            raise InstrumentError(f"{message!r}: expected one value, got {len(points)} in {reply!r}")
        self.check_errors(after=message)
        return points[0]

    def measure_current(self, channel: int, i_range: int | None = None) -> FlexPoint:
        """Spot current measurement (A). (TI)"""
        return self._one_point(flex.command("TI", self._channels([channel])[0], i_range))

    def measure_voltage(self, channel: int, v_range: int | None = None) -> FlexPoint:
        """Spot voltage measurement (V). (TV)"""
        return self._one_point(flex.command("TV", self._channels([channel])[0], v_range))

    def staircase_sweep(self, channel: int, start_V: float, stop_V: float, steps: int, compliance_A: float,
                        *, two_way: bool = False, v_range: int = 0, hold_s: float = 0.0,
                        delay_s: float = 0.0) -> list[FlexPoint]:
        """Staircase voltage sweep measuring the current of ``channel``. (WT, WV, MM 2, XE)

        Returns one point per step (twice as many for ``two_way``), each with
        its status (COMPLIANCE when the compliance clipped it).
        """
        ch = self._channels([channel])[0]
        start_V, stop_V = self._voltage("start_V", start_V), self._voltage("stop_V", stop_V)
        if isinstance(steps, bool) or int(steps) != steps or not 1 <= steps <= MAX_SWEEP_STEPS:
            raise LimitError(f"steps={steps!r}: allowed 1 .. {MAX_SWEEP_STEPS}")
        hold_s = _check("hold_s", hold_s, 0.0, MAX_HOLD_S, "s")
        delay_s = _check("delay_s", delay_s, 0.0, MAX_DELAY_S, "s")
        mode = flex.SWEEP_MODES["linear_two_way" if two_way else "linear"]
        self.send(flex.wt(hold_s, delay_s))
        self.send(flex.wv(ch, mode, int(v_range), start_V, stop_V, int(steps), self._compliance_A(compliance_A)))
        self.send(flex.mm(flex.MEASURE_MODES["staircase"], [ch]))
        expected = int(steps) * (2 if two_way else 1)
        with self._reply_allowance(hold_s + expected * (delay_s + POINT_ALLOWANCE_S)):
            self.write("XE")
            reply = self.read()
        points = flex.parse_data(reply, self.fmt)
        if len(points) != expected:
            raise InstrumentError(f"sweep on channel {ch}: expected {expected} values, got {len(points)}")
        self.check_errors(after="XE")
        return points

    @contextlib.contextmanager
    def _reply_allowance(self, extra_s: float):
        """The transport's timeout lengthened by ``extra_s`` (a measurement's own duration) inside the block."""
        base = getattr(self.resource, "timeout_s", None)
        if base is None:  # a script or the simulated instrument: replies are immediate
            yield
            return
        self.resource.timeout_s = base + extra_s
        try:
            yield
        finally:
            self.resource.timeout_s = base

    # --- safety -------------------------------------------------------------------
    SAFE_START_ACTION = "DZ (every output 0 V), then CL (every output disconnected)"

    def outputs_on(self) -> list[int]:
        """Channels whose output switch is on. (*LRN? 0)"""
        return flex.parse_lrn_outputs(self.query("*LRN? 0"))

    def outputs_found(self) -> dict:
        """What the outputs are now: the switches that are on (FLEX reads no forced values back). (*LRN? 0)"""
        on = self.outputs_on()
        return {"live": bool(on), "channels": {str(c): {"connected": True} for c in on}}

    def safe_start(self, address: str = "") -> dict:
        """Before anything else: read which outputs are on, force 0 V on all, disconnect all. (*LRN? 0, DZ, CL)

        A controlling process that died leaves the SMU outputs as they were;
        every new connection starts here. Returns the record of what was found
        and done (:func:`~memlab.instruments.output_state.safe_record`); an
        unreadable reply still gets DZ and CL, with the state recorded unknown.
        """
        from memlab.instruments.output_state import safe_record

        try:
            found = self.outputs_found()
        except InstrumentError as exc:
            found = {"live": True, "note": f"state unknown ({exc})"}
        self.send("DZ")
        self.send("CL")
        return safe_record(type(self).__name__, address, found, self.SAFE_START_ACTION)

    def close(self) -> None:
        """(Device clear if a reply never came,) 0 V on every output, disconnect every output; close. (DZ, CL)

        Both commands are sent even if the first fails; the first failure is raised.
        """
        if self._closed:
            return
        first = None
        clear = getattr(self.resource, "clear", None)
        if self._unanswered and clear is not None:
            try:
                clear()
            except Exception as exc:  # noqa: BLE001 - DZ and CL are still sent
                first = exc
        for message in ("DZ", "CL"):
            try:
                self.write(message)
            except Exception as exc:  # keep going: the outputs must be disconnected
                first = first or exc
        try:
            self.errors()
        except Exception as exc:
            first = first or exc
        self._closed = True
        closer = getattr(self.resource, "close", None)
        if closer is not None:
            try:
                closer()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first


    def snapshot(self) -> dict:
        """Driver settings for the run archive."""
        return {"backend": type(self).__name__, "fmt": self.fmt, "voltage_limit_V": self.voltage_limit_V,
                "current_limit_A": self.current_limit_A}
