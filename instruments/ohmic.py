"""A fixed resistor with the virtual memristor's API.

The simulated instruments use it when no device is given, and tests use it
where exact currents (I = G V) make the expected values obvious.
"""

from __future__ import annotations

import numpy as np


class OhmicDevice:
    """An ideal resistor of ``conductance_S``; time passes but nothing changes."""

    def __init__(self, conductance_S: float = 1e-3) -> None:
        self.conductance_S = float(conductance_S)
        self.elapsed_s = 0.0
        self.segments = 0

    def current_A(self, voltage_V):
        """I = G V (A), for a scalar or an array of voltages (V)."""
        current = np.asarray(voltage_V, dtype=float) * self.conductance_S
        return float(current) if current.ndim == 0 else current

    def apply_segment(self, v_start_V: float, v_end_V: float, duration_s: float) -> None:
        """A linear ramp over ``duration_s`` (s): only the clock moves."""
        self.elapsed_s += duration_s
        self.segments += 1

    def relax(self, duration_s: float) -> None:
        self.elapsed_s += duration_s

    def snapshot(self) -> dict:
        return {"model": "memlab.instruments.ohmic.OhmicDevice", "conductance_S": self.conductance_S}
