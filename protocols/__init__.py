"""memlab.protocols: what is applied and recorded, and the HDF5 run archive.

* :mod:`.protocol` / :mod:`.loader` — protocol dataclasses (pulse cycling,
  retention, I-V) validated against the instruments' limits; TOML files;
* :mod:`.patterns` — a pulse-cycling protocol as WGFMU patterns (pure);
* :mod:`.runner`, :mod:`.retention`, :mod:`.iv` — the runners;
* :mod:`.archive` — the run archive's writer and reader (``read_run``), schema
  in ``docs/SCHEMA.md``;
* :mod:`.measure` — ``measure()``, what ``memlab measure`` calls;
  :mod:`.info` — ``run_summary()``, what ``memlab info`` prints.
"""

from .archive import ArchiveWriter, read_run, write_archive, write_pulse_archive
from .loader import load_protocol

__all__ = ["ArchiveWriter", "read_run", "write_archive", "write_pulse_archive", "load_protocol"]
