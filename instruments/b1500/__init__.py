"""B1500A SMUs over FLEX: pure message building and parsing, the pyvisa driver, a simulated twin.

* :mod:`.flex` — builders (``dv``, ``wv``, ``command`` ...) and parsers
  (``parse_fmt1``, ``parse_fmt21``, ``parse_errx``, ``parse_unt``, ``parse_idn``);
* :class:`B1500` — the driver; ``B1500.open(address)`` through pyvisa, or
  ``B1500(resource)`` on any object with ``write``/``read``/``query``;
* :class:`SimulatedB1500` — the same driver on a FLEX-speaking simulated
  mainframe whose SMU 1 drives a virtual device (DC I-V sweeps);
* ``SIM_YAML`` — pyvisa-sim description (``B1500.open("GPIB0::17::INSTR",
  backend=f"{SIM_YAML}@sim")``) answering ``*IDN?``, ``UNT?``, ``ERRX?`` and one sweep.
"""

from importlib import resources
from pathlib import Path

from .driver import B1500
from .flex import (
    FlexPoint,
    command,
    dv,
    format_fmt1,
    format_fmt21,
    mm,
    parse_data,
    parse_errx,
    parse_fmt1,
    parse_fmt21,
    parse_idn,
    parse_unt,
    wt,
    wv,
)
from .simulated import SimulatedB1500, SimulatedInstrument

SIM_YAML = Path(str(resources.files(__name__) / "b1500_sim.yaml"))  # package data (pyproject), a real file

__all__ = [
    "B1500", "SimulatedB1500", "SimulatedInstrument", "SIM_YAML", "FlexPoint", "command", "dv", "wv", "wt", "mm",
    "parse_data", "parse_errx", "parse_fmt1", "parse_fmt21", "parse_idn", "parse_unt", "format_fmt1", "format_fmt21",
]
