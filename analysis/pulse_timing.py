"""The read pulse and programming-pulse period of a device's source run (for the energy estimate).

Here, in analysis, because it reads run archives (through the protocols' reader):
simulation reads device files only, and :mod:`memlab.simulation.energy` takes a
:class:`PulseTiming` from here.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from memlab.errors import ConfigError


@dataclass(frozen=True)
class PulseTiming:
    """The protocol's read pulse and programming pulse period (from a run archive's protocol)."""

    read_voltage_V: float  # magnitude of the read pulse
    read_time_s: float  # integration time of one read (the read pulse's width)
    pulse_period_s: float  # one programming pulse with its verify read and gaps, mean over pulses
    source: str


def pulse_timing_from_protocol(protocol: dict[str, Any], source: str) -> PulseTiming:
    """Read pulse and pulse period of a pulse-cycling protocol (the dict a run archive stores)."""
    try:
        read = protocol["read"]
        widths = [w for b in ("potentiation", "depression") for w in protocol[b]["width_s"]]
        edges = float(protocol.get("rise_s", 0.0)) + float(protocol.get("fall_s", 0.0))
        per_pulse = edges + float(read["delay_s"]) + float(read["width_s"]) + float(read["gap_s"])
        period = float(np.mean(widths)) + per_pulse
        return PulseTiming(abs(float(read["amplitude_V"])), float(read["width_s"]), period, source)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: not a pulse-cycling protocol with a read pulse ({exc!r} missing or wrong)") \
            from None


def pulse_timing_from_run(path: str | pathlib.Path) -> PulseTiming:
    from memlab.protocols.archive import read_run

    run = read_run(path, waveforms=False)
    return pulse_timing_from_protocol(run.protocol, f"protocol of run archive {pathlib.Path(path).name}")


def find_source_run(device_path: str | pathlib.Path, device: Any) -> Optional[pathlib.Path]:
    """The device file's pulse-cycling source run beside it (``.`` or ``../runs``), matched by SHA-256."""
    from memlab.files import sha256_file

    folder = pathlib.Path(device_path).parent
    for run in device.source_runs:
        for candidate in (folder / run.file, folder.parent / "runs" / run.file):
            if candidate.is_file() and sha256_file(candidate) == run.sha256:
                from memlab.protocols.archive import read_run

                if read_run(candidate, waveforms=False).pulse_counts is not None:
                    return candidate
    return None
