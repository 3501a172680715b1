"""Shared setup for the simulated-WGFMU tests: a configured session and the tailored cycle."""

from __future__ import annotations

import numpy as np

from memlab.instruments.wgfmu import (
    MeasureCurrentRange,
    MeasureEventData,
    MeasureMode,
    OperationMode,
)

TOP, BOTTOM = 101, 102
READ_V = -0.1


def open_session(w, current_range=MeasureCurrentRange.RANGE_1MA):
    """Open, initialize, Fast IV on both channels, bottom measures current, both connected."""
    w.openSession("GPIB0::17::INSTR")
    w.initialize()
    for channel in (TOP, BOTTOM):
        w.setOperationMode(channel, OperationMode.FASTIV)
    w.setMeasureMode(BOTTOM, MeasureMode.CURRENT)
    w.setMeasureCurrentRange(BOTTOM, current_range)
    w.connect(TOP)
    w.connect(BOTTOM)


def tailored_cycle(w, *, n_up=20, n_down=20, raw=False, read_s=30e-6):
    """The paper's tailored cycle as patterns 'cycle' (top) and 'ground' (bottom).

    Potentiation 0.7 -> 0.995 V and 160 -> 350 ns, depression the negatives,
    each pulse followed by a read at -0.1 V for ``read_s`` with one averaged
    value ('read<k>') on both channels; ``raw`` adds a 10 ns capture of each pulse.
    Returns the pattern duration (s).
    """
    amplitudes = np.concatenate([np.linspace(0.7, 0.995, n_up), -np.linspace(0.7, 0.995, n_down)])
    widths = np.concatenate([np.linspace(160e-9, 350e-9, n_up), np.linspace(160e-9, 350e-9, n_down)])
    w.createPattern("cycle", 0.0)
    w.createPattern("ground", 0.0)
    t = 0.0

    def vector(dt, v):
        nonlocal t
        w.addVector("cycle", dt, v)
        t += round(dt / 10e-9) * 10e-9

    for k, (amplitude, width) in enumerate(zip(amplitudes, widths)):
        vector(1e-6, 0.0)
        pulse_start = t
        vector(20e-9, amplitude)
        vector(width, amplitude)
        vector(20e-9, 0.0)
        if raw:
            points = int(round((t - pulse_start) / 10e-9))
            for pattern in ("cycle", "ground"):
                w.setMeasureEvent(pattern, f"pulse{k}", pulse_start, points, 10e-9, 0.0, MeasureEventData.RAW)
        vector(1e-6, 0.0)
        vector(100e-9, READ_V)
        read_start = t
        vector(read_s, READ_V)
        for pattern in ("cycle", "ground"):
            w.setMeasureEvent(pattern, f"read{k}", read_start + 2e-6, 1, read_s - 4e-6, read_s - 4e-6,
                              MeasureEventData.AVERAGED)
        vector(100e-9, 0.0)
    w.addVector("ground", t, 0.0)
    return t
