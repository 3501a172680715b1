"""B1530A WGFMU: typed interface, library constants, ctypes binding and simulation.

Naming: methods keep the Keysight WGFMU library's own camelCase names minus the
``WGFMU_`` prefix (``WGFMU_addSequence`` -> ``addSequence``), so code reads like
the B1530A programming guide. Outputs are returned, not written through
pointers; errors raise :class:`memlab.errors.InstrumentError` (code = library
return code); arguments are checked against the hardware limits before sending.
See :mod:`.interface` for the contract and :mod:`.limits` for the limits.

Backends:

* :class:`WGFMULibrary` — ctypes over Keysight's ``wgfmu.dll`` (Windows only);
* :class:`SimulatedWGFMU` — enforces the hardware rules and runs the sequence on
  a virtual memristor (channel ``top`` forces on the top electrode, channel
  ``bottom`` holds the bottom electrode and measures the current).

Typical use::

    with SimulatedWGFMU(VirtualMemristor(seed=1)) as w:
        w.createPattern("cycle", 0.0); w.addVector("cycle", 100e-9, 0.8); ...
        w.setMeasureEvent("cycle", "read", t, 1, 20e-6, 20e-6, MeasureEventData.AVERAGED)
        w.openSession("GPIB0::17::INSTR"); w.initialize()
        w.setOperationMode(101, OperationMode.FASTIV); ...; w.connect(101); w.connect(102)
        w.addSequence(101, "cycle", 100); w.addSequence(102, "ground", 100)
        w.execute()
        while w.getStatus().status is Status.RUNNING:
            measured, total = w.getMeasureValueSize(102)   # read in chunks as they come
        w.waitUntilCompleted()
"""

from .constants import (
    ErrorCode,
    ForceVoltageRange,
    MeasureCurrentRange,
    MeasureEnabled,
    MeasureEventData,
    MeasureEventState,
    MeasureMode,
    MeasureVoltageRange,
    OperationMode,
    Status,
)
from .interface import WGFMU, MeasureEventInfo, RunStatus, error_for_code
from .limits import SettlingWarning, flag_values, settling_time_s
from .library import WGFMULibrary
from .simulated import SimulatedWGFMU

__all__ = [
    "WGFMU", "SimulatedWGFMU", "WGFMULibrary", "MeasureEventInfo", "RunStatus", "error_for_code", "SettlingWarning", "settling_time_s", "flag_values",
    "ErrorCode", "ForceVoltageRange", "MeasureCurrentRange", "MeasureEnabled", "MeasureEventData",
    "MeasureEventState", "MeasureMode", "MeasureVoltageRange", "OperationMode", "Status",
]
