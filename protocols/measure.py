"""``measure()``: a protocol file + a backend -> a run archive (what ``memlab measure`` calls).

Backends: ``sim`` (simulated WGFMU / B1500A on a :class:`VirtualMemristor`
with ``device_seed`` and ``seed``), ``wgfmu`` (Keysight's WGFMU library
through ctypes; Windows only, fails with the library's clear error
elsewhere) and ``b1500`` (B1500A SMU over VISA, for I-V sweeps).

Everything that can be refused is refused before the archive is created: the
protocol, the backend choice, an existing output file, the library's presence.
"""

from __future__ import annotations

import os
import pathlib
import platform
from typing import Any

from memlab import __version__
from memlab.errors import ConfigError, DataNotFoundError

from .archive import ArchiveWriter, read_run
from .loader import load_protocol, protocol_from_dict, protocol_to_dict
from .protocol import IVSweepProtocol, Protocol, RetentionProtocol
from .runner import Channels, RunResult, channel_settings, run_pulse_cycling

BACKENDS = ("sim", "wgfmu", "b1500")
DEFAULT_ADDRESS = "GPIB0::17::INSTR"


def _wgfmu_backend(backend: str, device_seed: int, seed: int, sim_options: dict | None,
                   library_path: str | None = None):
    """The WGFMU session object and its snapshot extras for ``backend``."""
    if backend == "sim":
        from memlab.instruments.virtual_device import VirtualMemristor
        from memlab.instruments.wgfmu.simulated import SimulatedWGFMU

        device = VirtualMemristor(device_seed=device_seed, seed=seed)
        return SimulatedWGFMU(device, seed=seed, **(sim_options or {})), {"virtual_device": device.snapshot()}
    if backend == "wgfmu":
        from memlab.instruments.wgfmu.library import WGFMULibrary, load_library

        load_library(library_path)  # fail now, with the library's own message, not after creating the archive
        return WGFMULibrary(library_path), {"wgfmu_library": library_path or "system wgfmu.dll"}
    raise ConfigError(f"--backend {backend}: pulse protocols need the WGFMU (use --backend sim or wgfmu)")


def _smu_backend(backend: str, address: str, device_seed: int, seed: int, sim_options: dict | None):
    """The B1500A driver and its snapshot extras for ``backend`` (I-V sweeps)."""
    from memlab.instruments.b1500 import B1500, SimulatedB1500

    if backend == "sim":
        from memlab.instruments.virtual_device import VirtualMemristor

        device = VirtualMemristor(device_seed=device_seed, seed=seed)
        return SimulatedB1500(device, seed=seed, **(sim_options or {})), {"virtual_device": device.snapshot()}
    if backend == "b1500":
        return B1500.open(address), {}
    raise ConfigError("--backend wgfmu: I-V sweeps run on a B1500A SMU (use --backend sim or b1500)")


def _snapshot(backend: str, session: Any, extras: dict, settings: dict, address: str) -> dict:
    """The instrument snapshot stored in the archive's ``instrument`` attribute.

    ``idn``/``modules`` come from FLEX ``*IDN?``/``UNT?`` for SMU runs; a WGFMU run
    talks to the mainframe only through Keysight's library, which has no such
    query, so they stay None there (a second VISA session on the same address
    while the library holds it is not something to do mid-run).
    """
    return {
        "backend": backend,
        "backend_class": type(session).__name__,
        "backend_version": __version__ if backend == "sim" else "wgfmu.dll (see the library installer)",
        "address": address,
        "idn": None,
        "modules": None,
        "session": session.snapshot(),
        "channels": settings,
        "host": {"platform": platform.platform(), "python": platform.python_version()},
        **extras,
    }


def measure(protocol_path: str | os.PathLike | None, *, backend: str, out: str | os.PathLike,
            address: str | None = None, device_seed: int = 0, seed: int = 0, resume: bool = False,
            sample: str | None = None, device: str | None = None, operator: str | None = None,
            progress: bool = True, sim_options: dict | None = None,
            wgfmu_library: str | None = None) -> RunResult:
    """Run a protocol file on ``backend`` into the archive ``out``.

    With ``resume`` the protocol comes from the archive (``protocol_path``, if
    given, must match it) and the run continues after its last complete cycle.
    ``sim_options`` go to the simulated instrument's constructor (fault injection in tests).
    ``wgfmu_library`` is the path of ``wgfmu.dll`` when it is not in the system location.
    Returns the :class:`RunResult`; an instrument failure or Ctrl-C closes the
    archive as ``failed``/``interrupted`` and re-raises.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: allowed {', '.join(BACKENDS)}")
    out = pathlib.Path(out)
    address = address or DEFAULT_ADDRESS
    if resume:
        protocol = _resumed_protocol(out, protocol_path)
    elif protocol_path is None:
        raise ConfigError("--protocol is required (except with --resume)")
    else:
        protocol = load_protocol(protocol_path)
        if out.exists():
            raise ConfigError(f"--out {out}: file exists (use --resume to continue it, or choose another name)")
    ids = _ids(sample, device, operator)
    if isinstance(protocol, IVSweepProtocol):
        from .iv import run_iv

        smu, extras = _smu_backend(backend, address, device_seed, seed, sim_options)
        try:  # identify the mainframe before the archive exists: a wrong address fails cleanly
            extras.update(idn=smu.idn(), modules=smu.modules())
            snapshot = _snapshot(backend, smu, extras, {str(protocol.smu_channel): "staircase sweeps"}, address)
            writer = _open_writer(out, protocol, resume, ids, backend, device_seed, seed, snapshot)
        except BaseException:
            smu.close()
            raise
        return run_iv(protocol, smu, writer, progress=progress)
    session, extras = _wgfmu_backend(backend, device_seed, seed, sim_options, wgfmu_library)
    snapshot = _snapshot(backend, session, extras, channel_settings(protocol, Channels()), address)
    writer = _open_writer(out, protocol, resume, ids, backend, device_seed, seed, snapshot)
    # The simulation advances only when polled, so waiting between polls would only waste time.
    poll = {"poll_s": 0.0} if backend == "sim" else {}
    if isinstance(protocol, RetentionProtocol):
        from .retention import run_retention

        return run_retention(protocol, session, writer, address=address, progress=progress, **poll)
    return run_pulse_cycling(protocol, session, writer, address=address, start_cycle=writer.cycles_completed,
                             progress=progress, **poll)


def _ids(sample: str | None, device: str | None, operator: str | None) -> dict[str, str]:
    return {"sample_id": sample or "", "device_id": device or "", "operator": operator or ""}


def _resumed_protocol(out: pathlib.Path, protocol_path: str | os.PathLike | None) -> Protocol:
    if not out.exists():
        raise DataNotFoundError(f"--out {out}: no archive to resume")
    run = read_run(out)
    try:
        stored = protocol_from_dict(run.protocol)
    except ConfigError as exc:  # a damaged or foreign archive: say which file holds it
        raise type(exc)(f"{out}: the stored protocol is invalid: {exc}") from exc
    if protocol_path is not None:
        given = load_protocol(protocol_path)
        if protocol_to_dict(given) != protocol_to_dict(stored):
            raise ConfigError(f"--protocol {protocol_path}: differs from the protocol stored in {out}; "
                              "resume without --protocol to use the stored one")
    return stored


def _open_writer(out: pathlib.Path, protocol: Protocol, resume: bool, ids: dict, backend: str,
                 device_seed: int, seed: int, snapshot: dict) -> ArchiveWriter:
    """A new archive with the run's provenance, or the resumed one with this session logged."""
    session = {"backend": backend, "device_seed": device_seed, "seed": seed}
    if resume:
        writer = ArchiveWriter.resume(out)
        # The original snapshot stays; each resume logs its own (a resumed simulated
        # device restarts from its initial state, with the seeds given here).
        log = writer.attr("resume_log")
        log[-1].update({**session, **{k: v for k, v in ids.items() if v}, "instrument": snapshot})
        writer.set_attrs({"resume_log": log})
        return writer
    return ArchiveWriter.create(out, kind=protocol.kind, protocol=protocol_to_dict(protocol),
                                attrs={**ids, **session, "instrument": snapshot})

