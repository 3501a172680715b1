"""What a run archive holds, as Python objects: the data classes and the schema constants.

Shared by the writer (:mod:`.archive`) and the reader (:mod:`.archive_read`);
the layout on disk is documented in ``docs/SCHEMA.md``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

FORMAT = "memlab-run-archive"
SCHEMA_VERSION = 3
"""2: every dataset carries a Fletcher-32 checksum per chunk (1: none; still read).
3: HDF5 dimension scales on the axes of every data group (2 and 1: none; still read)."""
CHECKSUMS_SINCE = 2
KINDS = ("pulse_cycling", "retention", "iv_sweep", "imported_pulse_cycling")
STATUSES = ("complete", "interrupted", "failed")
IN_PROGRESS_REASON = "in progress: the writer has not closed the archive (still running, killed or crashed)"
RESERVED_ATTRS = ("format", "schema_version", "kind", "uuid", "status", "protocol_json", "json_attrs")
"""Root attributes the archive itself manages; every other root attribute is provenance."""
ROW_KEYS = {"pulses": "read_time_s", "retention": "time_s", "iv": "voltage_V"}
"""Per data group, the column written last in every append (a torn row never has it)."""


@dataclass(frozen=True, eq=False)
class WaveformData:
    """Raw programming-pulse waveforms on one sample grid shared by every cycle.

    ``time_s`` (samples,) is relative to the cycle start; ``voltage_V`` and
    ``current_A`` are (cycles, samples); ``pulse_index`` (samples,) names the
    programming pulse each sample belongs to, -1 between pulses. ``measured``
    is False when ``voltage_V`` is the programmed waveform, not a measurement.
    """

    time_s: np.ndarray
    voltage_V: np.ndarray
    current_A: np.ndarray
    pulse_index: np.ndarray
    measured: bool = True


@dataclass(frozen=True, eq=False)
class PulseData:
    """Pulse-cycling reads as cycle × pulse arrays (potentiation pulses first).

    ``pulse_amplitude_V`` (signed, V) and ``pulse_width_s`` (s) are per pulse;
    ``read_*`` arrays are (cycles, pulses): time since run start (s), read
    voltage (V), read current (A), :class:`PointStatus` flags (uint16).
    """

    n_up: int
    n_down: int
    pulse_amplitude_V: np.ndarray
    pulse_width_s: np.ndarray
    read_time_s: np.ndarray
    read_voltage_V: np.ndarray
    read_current_A: np.ndarray
    read_status: np.ndarray
    read_conductance_S: np.ndarray | None = None
    waveform: WaveformData | None = None
    first_cycle: int = 0
    """Index in its run of the first cycle held (non-zero for a chunk of :meth:`Run.pulse_chunks`)."""

    @property
    def n_cycles(self) -> int:
        return int(self.read_time_s.shape[0])

    @property
    def pulses_per_cycle(self) -> int:
        return self.n_up + self.n_down


@dataclass(frozen=True, eq=False)
class RetentionData:
    """Retention reads: one row per programmed state.

    ``target_pulses`` (states,) is the number of potentiation pulses applied
    to reach each state; ``time_s`` (s since programming), ``voltage_V``,
    ``current_A`` and ``status`` are (states, points).
    """

    target_pulses: np.ndarray
    time_s: np.ndarray
    voltage_V: np.ndarray
    current_A: np.ndarray
    status: np.ndarray


@dataclass(frozen=True, eq=False)
class IVData:
    """I-V sweeps: ``voltage_V``, ``current_A``, ``status`` are (sweeps, points)."""

    voltage_V: np.ndarray
    current_A: np.ndarray
    status: np.ndarray


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string with a ``Z`` suffix."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")



def complete_rows(key_column: np.ndarray) -> int:
    """Rows up to the last one with any finite value in the key column (torn rows are all fill)."""
    if key_column.shape[0] == 0:
        return 0
    written = np.flatnonzero(~np.all(np.isnan(key_column), axis=1))
    return int(written[-1]) + 1 if written.size else 0
