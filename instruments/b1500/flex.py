"""B1500A FLEX messages and replies as pure functions (no I/O).

Builders return the command string without terminator (the VISA resource adds
``\\r\\n``). Parsers take the reply text and return typed values; anything
malformed raises :class:`~memlab.errors.InstrumentError` quoting the reply,
never an IndexError or ValueError.

Data formats kept: FMT1 (``NAI+000.005E-09``: status letter, channel letter,
type letter, 12-character value) and FMT21 (``000AI+1.23456E-06``: 3-digit
status, channel, type, 13-character value). Every point keeps its value,
status, channel and type; an overflow becomes NaN with the OVERFLOW flag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable

from memlab.errors import InstrumentError
from memlab.status import PointStatus

TERMINATOR = "\r\n"
OVERFLOW_VALUE = 199.999e99  # dummy value the B1500A sends on overflow
CHANNEL_LETTERS = "ABCDEFGHIJ"  # slot 1..10
FMT1_STATUS = {
    "N": PointStatus.OK,
    "T": PointStatus.OTHER_COMPLIANCE,
    "C": PointStatus.COMPLIANCE,
    "V": PointStatus.OVERFLOW,
    "X": PointStatus.OSCILLATION,
    "F": PointStatus.FORCE_SATURATION,
    "G": PointStatus.OK,  # search target not found (search measurements, unused)
    "S": PointStatus.OK,  # search stopped (search measurements, unused)
    "W": PointStatus.OK,  # first or intermediate sweep step
    "E": PointStatus.OK,  # last sweep step
}
FMT21_BITS = {
    1: PointStatus.OVERFLOW,  # A/D converter overflow
    2: PointStatus.OSCILLATION,  # oscillation or force saturation
    4: PointStatus.OTHER_COMPLIANCE,
    8: PointStatus.COMPLIANCE,
    64: PointStatus.MISSING,  # invalid data
}
DATA_TYPES = "VITZF"  # voltage, current, time, invalid, frequency
_VALUE = r"[+-]\d+(?:\.\d*)?(?:E[+-]\d{1,3})?"
_FMT1 = re.compile(rf"([A-Z])([A-J]|Z)([{DATA_TYPES}])({_VALUE})")
_FMT21 = re.compile(rf"(\d{{3}})([A-J]|Z)([{DATA_TYPES}])({_VALUE})")
_ERRX = re.compile(r'\s*([+-]?\d+)\s*,\s*"(.*)"\s*')
SWEEP_MODES = {"linear": 1, "log": 2, "linear_two_way": 3, "log_two_way": 4}
MEASURE_MODES = {"spot": 1, "staircase": 2, "sampling": 10}


@dataclass(frozen=True)
class FlexPoint:
    """One value of a FLEX data reply.

    ``value`` in V, A or s (NaN on overflow); ``channel`` is the slot (1..10,
    0 for none); ``kind`` the type letter (V, I, T, Z, F); ``raw_status`` the
    status as sent.
    """

    value: float
    status: PointStatus
    channel: int
    kind: str
    raw_status: str


def number(value: float | int) -> str:
    """A number as FLEX takes it: integers plain, floats with up to 10 digits and 'E'."""
    if isinstance(value, bool):
        raise InstrumentError(f"number {value!r}: a bool is not a FLEX number")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise InstrumentError(f"number {value!r}: must be finite")
    text = f"{value:.10G}"
    return "0" if text in ("-0", "0") else text


def command(mnemonic: str, *args: float | int | None) -> str:
    """``mnemonic`` followed by its arguments, trailing ``None`` (optional) ones dropped."""
    args = list(args)
    while args and args[-1] is None:
        args.pop()
    if any(a is None for a in args):
        raise InstrumentError(f"{mnemonic}: an optional argument is missing before a given one: {args!r}")
    return mnemonic if not args else f"{mnemonic} " + ",".join(number(a) for a in args)


def channels_command(mnemonic: str, channels: Iterable[int]) -> str:
    """CN, CL, DZ, ... with an optional channel list (empty = all channels)."""
    return command(mnemonic, *[int(c) for c in channels])


def dv(channel: int, v_range: int, voltage_V: float, compliance_A: float | None = None,
       polarity: int | None = None, i_range: int | None = None) -> str:
    """Force DC voltage. (DV)"""
    return command("DV", channel, v_range, voltage_V, compliance_A, polarity, i_range)


def di(channel: int, i_range: int, current_A: float, compliance_V: float | None = None,
       polarity: int | None = None, v_range: int | None = None) -> str:
    """Force DC current. (DI)"""
    return command("DI", channel, i_range, current_A, compliance_V, polarity, v_range)


def wv(channel: int, mode: int, v_range: int, start_V: float, stop_V: float, steps: int,
       compliance_A: float | None = None) -> str:
    """Staircase voltage sweep source. (WV)"""
    return command("WV", channel, mode, v_range, start_V, stop_V, steps, compliance_A)


def wt(hold_s: float, delay_s: float) -> str:
    """Sweep hold and step delay times. (WT)"""
    return command("WT", hold_s, delay_s)


def mm(mode: int, channels: Iterable[int]) -> str:
    """Measurement mode and channels. (MM)"""
    return command("MM", mode, *[int(c) for c in channels])


def parse_errx(reply: str) -> tuple[int, str]:
    """``ERRX?`` reply -> (code, text); code 0 means the queue is empty."""
    match = _ERRX.fullmatch(reply or "")
    if not match:
        raise InstrumentError(f"malformed ERRX? reply {reply!r}: expected code,\"text\"")
    return int(match.group(1)), match.group(2)


def parse_lrn_outputs(reply: str) -> list[int]:
    """``*LRN? 0`` reply (output switch status) -> channels whose output is on: ``CN1,2`` -> [1, 2], ``CL`` -> []."""
    text = (reply or "").strip()
    if text.upper() == "CL":
        return []
    match = re.fullmatch(r"CN\s*(\d+(?:\s*,\s*\d+)*)", text, flags=re.IGNORECASE)
    if not match:
        raise InstrumentError(f"malformed *LRN? 0 reply {reply!r}: expected CN<channels> or CL")
    return [int(c) for c in match.group(1).split(",")]


def parse_idn(reply: str) -> dict[str, str]:
    """``*IDN?`` reply -> vendor, model, serial, firmware."""
    parts = [p.strip() for p in (reply or "").strip().split(",")]
    if len(parts) != 4 or not parts[1]:
        raise InstrumentError(f"malformed *IDN? reply {reply!r}: expected vendor,model,serial,firmware")
    return dict(zip(("vendor", "model", "serial", "firmware"), parts))


def parse_unt(reply: str) -> list[tuple[str, int]]:
    """``UNT?`` reply -> (model, revision) per slot; an empty slot is ('0', 0)."""
    slots = []
    for item in (reply or "").strip().split(";"):
        parts = item.split(",")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip().isdigit():
            raise InstrumentError(f"malformed UNT? reply {reply!r}: bad slot entry {item!r}")
        slots.append((parts[0].strip(), int(parts[1])))
    return slots


def _point(value_text: str, status: PointStatus, channel_letter: str, kind: str, raw_status: str) -> FlexPoint:
    value = float(value_text)
    if status & PointStatus.OVERFLOW or abs(value) >= OVERFLOW_VALUE:
        value, status = math.nan, status | PointStatus.OVERFLOW
    channel = 0 if channel_letter == "Z" else CHANNEL_LETTERS.index(channel_letter) + 1
    return FlexPoint(value, status, channel, kind, raw_status)


def _tokens(reply: str) -> list[str]:
    if not isinstance(reply, str):
        raise InstrumentError(f"data reply {reply!r}: expected text")
    tokens = [t.strip() for t in re.split(r"[,\r\n]+", reply)]
    tokens = [t for t in tokens if t]
    if not tokens:
        raise InstrumentError(f"empty data reply {reply!r}")
    return tokens


def parse_fmt1(reply: str) -> list[FlexPoint]:
    """FMT1 data reply -> points, e.g. ``"NAI+000.005E-09,CAI+100.000E-06"``."""
    points = []
    for position, token in enumerate(_tokens(reply)):
        match = _FMT1.fullmatch(token)
        if not match or match.group(1) not in FMT1_STATUS:
            raise InstrumentError(f"malformed FMT1 value {token!r} at position {position} of reply {reply[:80]!r}")
        status_letter, channel_letter, kind, value = match.groups()
        points.append(_point(value, FMT1_STATUS[status_letter], channel_letter, kind, status_letter))
    return points


def fmt21_status(code: int) -> PointStatus:
    """The flags of an FMT21 3-digit status (a sum of bit weights)."""
    status = PointStatus.OK
    for bit, flag in FMT21_BITS.items():
        if code & bit:
            status |= flag
    return status


def parse_fmt21(reply: str) -> list[FlexPoint]:
    """FMT21 data reply -> points, e.g. ``"000AI+1.23456E-06,008AI+1.00000E-04"``."""
    points = []
    for position, token in enumerate(_tokens(reply)):
        match = _FMT21.fullmatch(token)
        if not match:
            raise InstrumentError(f"malformed FMT21 value {token!r} at position {position} of reply {reply[:80]!r}")
        code_text, channel_letter, kind, value = match.groups()
        points.append(_point(value, fmt21_status(int(code_text)), channel_letter, kind, code_text))
    return points


def parse_data(reply: str, fmt: int) -> list[FlexPoint]:
    """Parse a data reply in output format ``fmt`` (1 or 21)."""
    if fmt == 1:
        return parse_fmt1(reply)
    if fmt == 21:
        return parse_fmt21(reply)
    raise InstrumentError(f"output format FMT {fmt!r} is not parsed (use 1 or 21)")


def format_fmt1(point: FlexPoint) -> str:
    """One point in FMT1 (used by the simulated B1500A): e.g. ``NAI+000.005E-09``."""
    letter = next((k for k, v in FMT1_STATUS.items() if v == point.status), None)
    if letter is None:  # several flags: FMT1 shows one letter, the most severe
        letter = "V" if point.status & PointStatus.OVERFLOW else "C" if point.status & PointStatus.COMPLIANCE else "T"
    if math.isnan(point.value):
        return f"{letter}{_channel_letter(point.channel)}{point.kind}+199.999E+99"
    mantissa, exponent = f"{point.value:+.3E}".split("E")
    exp = int(exponent)
    # FMT1 prints 3 integer digits: shift the exponent to a multiple of 3 (engineering form)
    shift = exp % 3
    body = f"{float(mantissa) * 10**shift:+08.3f}E{exp - shift:+03d}"
    return f"{letter}{_channel_letter(point.channel)}{point.kind}{body}"


def format_fmt21(point: FlexPoint) -> str:
    """One point in FMT21: 3-digit status, channel, type, 13-character value."""
    code = sum(bit for bit, flag in FMT21_BITS.items() if point.status & flag)
    body = "+199.999E+99" if math.isnan(point.value) else f"{point.value:+.5E}"
    return f"{code:03d}{_channel_letter(point.channel)}{point.kind}{body}"


def _channel_letter(channel: int) -> str:
    return "Z" if channel == 0 else CHANNEL_LETTERS[channel - 1]
