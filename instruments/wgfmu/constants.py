"""The WGFMU instrument library's constants, as enums (values from ``wgfmu.h``).

Each enum keeps the library's integer so it can be passed to ``wgfmu.dll``
unchanged; the names drop the ``WGFMU_<GROUP>_`` prefix
(``WGFMU_MEASURE_CURRENT_RANGE_1MA`` -> ``MeasureCurrentRange.RANGE_1MA``).
"""

from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """Return codes of every library function (0 = success)."""

    NO_ERROR = 0
    PARAMETER_OUT_OF_RANGE = -1
    ILLEGAL_STRING = -2
    CONTEXT = -3
    FUNCTION_NOT_SUPPORTED = -4
    COMMUNICATION = -5
    FW = -6
    LIBRARY = -7
    ERROR = -8
    CHANNEL_NOT_FOUND = -9
    PATTERN_NOT_FOUND = -10
    EVENT_NOT_FOUND = -11
    PATTERN_ALREADY_EXISTS = -12
    SEQUENCER_NOT_RUNNING = -13
    RESULT_NOT_READY = -14
    RESULT_OUT_OF_DATE = -15


class OperationMode(enum.IntEnum):
    """``setOperationMode``: what the channel does."""

    DC = 2000
    FASTIV = 2001  # arbitrary waveform with voltage or current measurement
    PG = 2002  # pulse generator, 50 ohm output, voltage measurement only
    SMU = 2003  # the RSU routes the SMU to the output; the WGFMU is idle


class ForceVoltageRange(enum.IntEnum):
    """``setForceVoltageRange``."""

    AUTO = 3000
    RANGE_3V = 3001  # -3 .. +3 V
    RANGE_5V = 3002  # -5 .. +5 V
    RANGE_10V_NEGATIVE = 3003  # -10 .. 0 V
    RANGE_10V_POSITIVE = 3004  # 0 .. +10 V


class MeasureMode(enum.IntEnum):
    """``setMeasureMode``: a channel measures either voltage or current."""

    VOLTAGE = 4000
    CURRENT = 4001


class MeasureVoltageRange(enum.IntEnum):
    """``setMeasureVoltageRange``."""

    RANGE_5V = 5001
    RANGE_10V = 5002


class MeasureCurrentRange(enum.IntEnum):
    """``setMeasureCurrentRange``."""

    RANGE_1UA = 6001
    RANGE_10UA = 6002
    RANGE_100UA = 6003
    RANGE_1MA = 6004
    RANGE_10MA = 6005


class MeasureEnabled(enum.IntEnum):
    """``setMeasureEnabled``."""

    DISABLE = 7000
    ENABLE = 7001


class Status(enum.IntEnum):
    """``getStatus`` / ``getChannelStatus``."""

    COMPLETED = 10000
    DONE = 10001  # completed and all results read
    RUNNING = 10002
    ABORT_COMPLETED = 10003
    ABORTED = 10004
    RUNNING_ILLEGAL = 10005
    IDLE = 10006


class MeasureEventState(enum.IntEnum):
    """``isMeasureEventCompleted``'s ``completed`` output."""

    NOT_COMPLETED = 11000
    COMPLETED = 11001


class MeasureEventData(enum.IntEnum):
    """``setMeasureEvent``'s ``rawData``: one mean value per event, or every point."""

    AVERAGED = 12000
    RAW = 12001
