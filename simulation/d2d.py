"""Device-to-device spread for the simulation, measured or assumed.

The simulation draws each device's step size and reachable range from
``N(1, spread)`` (aihwkit's ``dw_min_dtod`` / ``w_max_dtod``, see
:mod:`memlab.simulation.analog`). The paper assumes 30 % for both, from
the literature. When a device file was analyzed from several devices' runs its
``d2d`` block holds their spread, and :func:`measured_d2d` maps it onto those
two numbers:

* step size: std / |mean| over devices of the branch's fitted slope
  (``branches.<b>.slope_S_per_pulse``, S per pulse);
* reachable range: std / mean over devices of ``g_range_S`` (each device's
  ``g_max_S - g_min_S``); older device files without it fall back to
  √(std(g_max)² + std(g_min)²) / (mean g_max - mean g_min), which treats the two ends as
  independent (an upper bound when they move together).

Pure: a device file in, a frozen :class:`D2DSpread` out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from memlab import reference as ref
from memlab.analysis.device_file import BRANCH_NAMES, DeviceFile
from memlab.errors import ConfigError

ASSUMED_FRACTION = ref.D2D_ASSUMED.si
"""The paper's assumed device-to-device spread (shared/reference/paper.txt, section 3, from refs 24-25)."""


@dataclass(frozen=True)
class D2DSpread:
    """Relative device-to-device σ of step size and range, and where they come from."""

    step_fraction: float
    range_fraction: float
    source: str  # "assumed" or "measured"
    n_devices: int | None = None  # devices behind a measured spread
    basis: str = ""  # how it was computed, for the results

    def as_dict(self) -> dict:
        return {"step_fraction": self.step_fraction, "range_fraction": self.range_fraction, "source": self.source,
                "n_devices": self.n_devices, "basis": self.basis}


def assumed_d2d(fraction: float = ASSUMED_FRACTION) -> D2DSpread:
    """One assumed spread for both step size and range (the paper's 30 % by default)."""
    return D2DSpread(float(fraction), float(fraction), "assumed", None, "given (--d2d FRACTION)")


def measured_d2d(device: DeviceFile, branch: str = "potentiation", name: str = "device file") -> D2DSpread:
    """The spread of step size and range measured over the devices behind ``device``.

    Raises :class:`ConfigError` naming ``name`` when the file holds no device-to-device statistics.
    """
    if branch not in BRANCH_NAMES:
        raise ConfigError(f"branch {branch!r}: allowed {', '.join(BRANCH_NAMES)}")
    if device.d2d is None or device.d2d.n_devices < 2:
        raise ConfigError(f"--d2d measured: {name} holds no device-to-device statistics (d2d is null); analyze "
                          "the runs of two or more devices together (e.g. sample_data/devices/"
                          "virtual-hfs2-population.json) or give --d2d FRACTION")
    q = device.d2d.quantities
    slope_key = f"branches.{branch}.slope_S_per_pulse"
    if slope_key not in q or q[slope_key].mean == 0:
        raise ConfigError(f"--d2d measured: {name} has no d2d statistics of {slope_key}")
    step = q[slope_key].std / abs(q[slope_key].mean)
    if "g_range_S" in q and q["g_range_S"].mean > 0:
        rng = q["g_range_S"].std / q["g_range_S"].mean
        basis = f"std/mean over {device.d2d.n_devices} devices of {slope_key} (step) and g_range_S (range)"
    else:
        span = q["g_max_S"].mean - q["g_min_S"].mean
        if span <= 0:
            raise ConfigError(f"--d2d measured: {name} has a non-positive mean range in its d2d statistics")
        rng = math.hypot(q["g_max_S"].std, q["g_min_S"].std) / span
        basis = (f"std/mean over {device.d2d.n_devices} devices of {slope_key} (step); g_max_S and g_min_S "
                 "spreads combined as independent (range)")
    return D2DSpread(float(step), float(rng), "measured", int(device.d2d.n_devices), basis)
