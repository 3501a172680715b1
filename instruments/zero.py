"""``memlab zero``: connect to a bench in an unknown state and leave every output at 0 V, disconnected.

It does exactly what every run does first (``WGFMU.safe_open``,
``B1500.safe_start``) and then closes the session, so a user who finds a
bench after a crash, or does not know what the last process left, can make it
safe without starting a measurement. Each record says what was found and done
(:mod:`memlab.instruments.output_state`).
"""

from __future__ import annotations

from memlab.errors import ConfigError

from .output_state import default_dir, format_record

BACKENDS = ("sim", "wgfmu", "b1500")
DEFAULT_ADDRESS = "GPIB0::17::INSTR"


def zero_outputs(backend: str, address: str | None = None, *, wgfmu_library: str | None = None,
                 visa_library: str | None = None, state_dir=None) -> list[dict]:
    """Drive the outputs of ``backend`` at ``address`` to 0 V and disconnect them; one record per instrument.

    ``sim`` makes safe both simulated instruments at the address (the WGFMU and
    the B1500A's SMUs, whose state a killed process left in ``state_dir``,
    default :func:`~.output_state.default_dir`); ``wgfmu`` goes through
    Keysight's library, ``b1500`` through VISA (FLEX).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: allowed {', '.join(BACKENDS)}")
    address = address or DEFAULT_ADDRESS
    records = []
    if backend in ("sim", "wgfmu"):
        if backend == "sim":
            from .wgfmu.simulated import SimulatedWGFMU

            wgfmu = SimulatedWGFMU(state_dir=state_dir or default_dir())
        else:
            from .wgfmu.library import WGFMULibrary, load_library

            load_library(wgfmu_library)  # the library's own message when it is missing
            wgfmu = WGFMULibrary(wgfmu_library)
        with wgfmu:
            records.append(wgfmu.safe_open(address))
    if backend in ("sim", "b1500"):
        from .b1500 import B1500, SimulatedB1500

        smu = (SimulatedB1500(state_dir=state_dir or default_dir(), address=address) if backend == "sim"
               else B1500.open(address, backend=visa_library))
        with smu:
            records.append(smu.safe_start(address))
    return records


__all__ = ["zero_outputs", "format_record", "BACKENDS"]
