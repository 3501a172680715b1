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
from dataclasses import dataclass
from typing import Any

from memlab import __version__
from memlab.errors import ConfigError, DataNotFoundError
from memlab.instruments.output_state import default_dir as default_state_dir

from .archive import ArchiveWriter, read_run
from .dryrun import RunPlan, check_disk, draw_first_cycle, plan_run, plausibility_warnings
from .loader import load_protocol, protocol_from_dict, protocol_to_dict
from .protocol import IVSweepProtocol, Protocol, RetentionProtocol
from .resume_check import check_mismatches, instrument_mismatches, protocol_hash, resume_mismatches
from .runner import Channels, channel_settings, run_pulse_cycling
from .session import RunResult, record_safe_start
from .signals import deferred, interruption_reason, stop_on_signals

BACKENDS = ("sim", "wgfmu", "b1500")
DEFAULT_ADDRESS = "GPIB0::17::INSTR"


def _wgfmu_backend(backend: str, device_seed: int, seed: int, sim_options: dict | None,
                   library_path: str | None = None, device_params=None):
    """The WGFMU session object and its snapshot extras for ``backend``."""
    if backend == "sim":
        from memlab.instruments.virtual_device import VirtualMemristor
        from memlab.instruments.wgfmu.simulated import SimulatedWGFMU

        device = VirtualMemristor(device_params, device_seed=device_seed, seed=seed)
        options = {"state_dir": default_state_dir(), **(sim_options or {})}  # outputs kept across processes
        return SimulatedWGFMU(device, seed=seed, **options), {"virtual_device": device.snapshot()}
    if backend == "wgfmu":
        from memlab.instruments.wgfmu.library import WGFMULibrary, load_library

        load_library(library_path)  # fail now, with the library's own message, not after creating the archive
        return WGFMULibrary(library_path), {"wgfmu_library": library_path or "system wgfmu.dll"}
    raise ConfigError(f"--backend {backend}: pulse protocols need the WGFMU (use --backend sim or wgfmu)")


def _smu_backend(backend: str, address: str, device_seed: int, seed: int, sim_options: dict | None,
                 visa_library: str | None = None, device_params=None, visa_timeout_s: float = 10.0):
    """The B1500A driver and its snapshot extras for ``backend`` (I-V sweeps)."""
    from memlab.instruments.b1500 import B1500, SimulatedB1500

    if backend == "sim":
        from memlab.instruments.virtual_device import VirtualMemristor

        device = VirtualMemristor(device_params, device_seed=device_seed, seed=seed)
        options = {"state_dir": default_state_dir(), "address": address, **(sim_options or {})}
        return SimulatedB1500(device, seed=seed, **options), {"virtual_device": device.snapshot()}
    if backend == "b1500":
        smu = B1500.open(address, backend=visa_library, timeout_s=visa_timeout_s)
        return smu, {"visa_library": smu.visa_library}
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
            address: str | None = None, device_seed: int | None = None, seed: int | None = None,
            resume: bool = False,
            sample: str | None = None, device: str | None = None, operator: str | None = None,
            progress: bool = True, sim_options: dict | None = None,
            wgfmu_library: str | None = None, visa_library: str | None = None,
            force_resume: bool = False, device_params=None, visa_timeout_s: float = 10.0) -> RunResult:
    """Run a protocol file on ``backend`` into the archive ``out``.

    With ``resume`` the protocol comes from the archive (``protocol_path``, if
    given, must match it) and the run continues after its last complete cycle.
    ``sim_options`` go to the simulated instrument's constructor (fault injection in tests).
    ``wgfmu_library`` is the path of ``wgfmu.dll`` when it is not in the system location;
    ``visa_library`` pyvisa's backend for the B1500A (None: system VISA, else pyvisa-py);
    ``visa_timeout_s`` how long the B1500A may take to answer (a sweep's duration is added).
    A resume must match the archive's backend, device identity (sample, device,
    simulated device seed), protocol and channel settings
    (:mod:`.resume_check`); ``force_resume`` continues despite a mismatch and logs it.
    ``device_seed``/``seed`` None take the archive's values on resume (0 otherwise).
    ``device_params`` (a ``VirtualDeviceParams``, sim only) replaces the virtual device's
    defaults (the calibration fit measures candidate devices through this same path).
    Returns the :class:`RunResult`; an instrument failure or Ctrl-C closes the
    archive as ``failed``/``interrupted`` and re-raises.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: allowed {', '.join(BACKENDS)}")
    out = pathlib.Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give a file name")
    address = address or DEFAULT_ADDRESS
    resume = resume or force_resume
    protocol, device_seed, seed, mismatches = _protocol_to_run(protocol_path, out, resume, force_resume, backend,
                                                               device_seed, seed, sample, device)
    # cycles x points beyond the disk: refused now, not when the disk fills hours in
    check_disk(protocol, out, str(out if resume else protocol_path), _done_units(out) if resume else 0)
    device_seed = 0 if device_seed is None else device_seed
    seed = 0 if seed is None else seed
    ids = _ids(sample, device, operator)
    if isinstance(protocol, IVSweepProtocol):
        return _measure_iv(protocol, out, backend=backend, address=address, device_seed=device_seed, seed=seed,
                           resume=resume, ids=ids, mismatches=mismatches, force_resume=force_resume,
                           progress=progress, sim_options=sim_options, visa_library=visa_library,
                           device_params=device_params, visa_timeout_s=visa_timeout_s)
    return _measure_wgfmu(protocol, out, backend=backend, address=address, device_seed=device_seed, seed=seed,
                          resume=resume, ids=ids, mismatches=mismatches, force_resume=force_resume,
                          progress=progress, sim_options=sim_options, wgfmu_library=wgfmu_library,
                          device_params=device_params)

def _protocol_to_run(protocol_path, out: pathlib.Path, resume: bool, force_resume: bool, backend: str,
                     device_seed: int | None, seed: int | None, sample: str | None, device: str | None):
    """(protocol, device_seed, seed, mismatches): from the protocol file for a new run; from the archive
    on resume, with the stored seeds where none are given and what differs from the archive (refused
    unless ``force_resume``)."""
    mismatches: list[str] = []
    if resume:
        protocol = _resumed_protocol(out, protocol_path)
        stored = read_run(out).attrs
        device_seed = stored.get("device_seed", 0) if device_seed is None else device_seed
        seed = stored.get("seed", 0) if seed is None else seed
        mismatches = resume_mismatches(stored, protocol, backend=backend, device_seed=device_seed, seed=seed,
                                       sample=sample, device=device)
        check_mismatches(out, mismatches, force_resume)
    elif protocol_path is None:
        raise ConfigError("--protocol is required (except with --resume)")
    else:
        protocol = load_protocol(protocol_path)
        if out.exists():
            raise ConfigError(f"--out {out}: file exists (use --resume to continue it, or choose another name)")
    return protocol, device_seed, seed, mismatches


def _measure_wgfmu(protocol, out: pathlib.Path, *, backend: str, address: str, device_seed: int, seed: int,
                   resume: bool, ids: dict, mismatches: list[str], force_resume: bool, progress: bool,
                   sim_options: dict | None, wgfmu_library: str | None, device_params) -> RunResult:
    """:func:`measure` of a pulse-cycling or retention protocol on the WGFMU (real or simulated)."""
    session, extras = _wgfmu_backend(backend, device_seed, seed, sim_options, wgfmu_library, device_params)
    snapshot = _snapshot(backend, session, extras, channel_settings(protocol, Channels()), address)
    if resume:
        mismatches += instrument_mismatches(read_run(out).attrs, snapshot)
        check_mismatches(out, mismatches, force_resume)
    # The simulation advances only when polled, so waiting between polls would only waste time.
    poll = {"poll_s": 0.0} if backend == "sim" else {}
    with stop_on_signals():  # from the archive's creation on, a stop signal closes it as interrupted
        writer = _open_writer(out, protocol, resume, ids, backend, device_seed, seed, snapshot, mismatches)
        try:
            if isinstance(protocol, RetentionProtocol):
                from .retention import run_retention

                return run_retention(protocol, session, writer, address=address, progress=progress, **poll)
            return run_pulse_cycling(protocol, session, writer, address=address,
                                     start_cycle=writer.cycles_completed, progress=progress, **poll)
        except BaseException as exc:
            _close_if_open(writer, session, exc)
            raise


def _measure_iv(protocol: IVSweepProtocol, out: pathlib.Path, *, backend: str, address: str, device_seed: int,
                seed: int, resume: bool, ids: dict, mismatches: list[str], force_resume: bool, progress: bool,
                sim_options: dict | None, visa_library: str | None, device_params, visa_timeout_s: float
                ) -> RunResult:
    """:func:`measure` of an I-V sweep protocol on the B1500A (real or simulated)."""
    from .iv import run_iv

    smu, extras = _smu_backend(backend, address, device_seed, seed, sim_options, visa_library, device_params,
                               visa_timeout_s)
    try:  # identify the mainframe before the archive exists: a wrong address fails cleanly
        safe = smu.safe_start(address)  # before anything else: outputs a dead process left go to 0 V
        extras.update(idn=smu.idn(), modules=smu.modules())
        snapshot = _snapshot(backend, smu, extras, {str(protocol.smu_channel): "staircase sweeps"}, address)
        if resume:
            mismatches += instrument_mismatches(read_run(out).attrs, snapshot)
            check_mismatches(out, mismatches, force_resume)
        with stop_on_signals():
            writer = _open_writer(out, protocol, resume, ids, backend, device_seed, seed, snapshot, mismatches)
            try:
                record_safe_start(writer, safe)
                return run_iv(protocol, smu, writer, progress=progress)
            except BaseException as exc:
                _close_if_open(writer, smu, exc)
                raise
    except BaseException:
        smu.close()
        raise


def _close_if_open(writer: ArchiveWriter, session: Any, exc: BaseException) -> None:
    """A stop or error before the runner took over: outputs safe, then the archive closed as the runner would."""
    if writer.closed:
        return
    with deferred():
        try:
            session.close()
        finally:
            if isinstance(exc, KeyboardInterrupt):
                writer.close("interrupted", interruption_reason(exc))
            else:
                writer.close("failed", f"{type(exc).__name__}: {exc}")


def _done_units(out: pathlib.Path) -> int:
    run = read_run(out, waveforms=False)
    if run.pulse_counts is not None:
        return run.n_cycles
    rows = run.retention if run.retention is not None else run.iv
    return 0 if rows is None else int(rows.voltage_V.shape[0])


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
                 device_seed: int, seed: int, snapshot: dict, forced: list[str] = ()) -> ArchiveWriter:
    """A new archive with the run's provenance, or the resumed one with this session logged."""
    session = {"backend": backend, "device_seed": device_seed, "seed": seed}
    if resume:
        writer = ArchiveWriter.resume(out)
        # The original snapshot stays; each resume logs its own (a resumed simulated
        # device restarts from its initial state, with the seeds given here).
        log = writer.attr("resume_log")
        log[-1].update({**session, **{k: v for k, v in ids.items() if v}, "instrument": snapshot})
        if forced:
            log[-1]["forced_mismatches"] = list(forced)
        writer.set_attrs({"resume_log": log})
        return writer
    return ArchiveWriter.create(out, kind=protocol.kind, protocol=protocol_to_dict(protocol),
                                attrs={**ids, **session, "instrument": snapshot,
                                       "protocol_sha256": protocol_hash(protocol_to_dict(protocol))})



def check_backend(protocol: Protocol, backend: str) -> None:
    """Refuse a backend that cannot run ``protocol`` (what the run would refuse, without opening anything)."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: allowed {', '.join(BACKENDS)}")
    if isinstance(protocol, IVSweepProtocol) and backend == "wgfmu":
        raise ConfigError("--backend wgfmu: I-V sweeps run on a B1500A SMU (use --backend sim or b1500)")
    if not isinstance(protocol, IVSweepProtocol) and backend == "b1500":
        raise ConfigError("--backend b1500: pulse protocols need the WGFMU (use --backend sim or wgfmu)")


@dataclass(frozen=True)
class DryRun:
    """What ``measure --dry-run`` found: the protocol, its plan, warnings and the waveform PNG."""

    protocol: Protocol
    plan: RunPlan
    warnings: tuple[str, ...]
    png: pathlib.Path | None


def dry_run(protocol_path: str | os.PathLike | None, *, backend: str = "sim", out: str | os.PathLike | None = None,
            resume: bool = False, png: str | os.PathLike | None = None) -> DryRun:
    """Everything ``measure`` checks before it opens an instrument, and the plan of the run; touches no instrument.

    ``out`` (optional) must not exist, or with ``resume`` must hold a resumable
    archive whose stored protocol is used. ``png`` receives the first cycle's waveform.
    """
    if resume:
        if out is None:
            raise ConfigError("--dry-run --resume: give the archive with --out")
        protocol = _resumed_protocol(pathlib.Path(out), protocol_path)
    elif protocol_path is None:
        raise ConfigError("--protocol is required (except with --resume)")
    else:
        protocol = load_protocol(protocol_path)
        if out is not None and pathlib.Path(out).exists():
            raise ConfigError(f"--out {out}: file exists (use --resume to continue it, or choose another name)")
    check_backend(protocol, backend)
    plan = plan_run(protocol)
    if out is not None:
        check_disk(protocol, out, str(out if resume else protocol_path),
                   _done_units(pathlib.Path(out)) if resume else 0, plan)
    warnings = tuple(protocol.warnings) + tuple(plausibility_warnings(protocol, plan))
    drawn = draw_first_cycle(protocol, png) if png is not None else None
    return DryRun(protocol, plan, warnings, drawn)


def preflight_warnings(protocol_path: str | os.PathLike | None, out: pathlib.Path, resume: bool) -> list[str]:
    """Plausibility warnings for the protocol a run is about to use (printed before it starts)."""
    if resume:
        if not out.exists():
            return []
        protocol = _resumed_protocol(out, protocol_path)
        check_disk(protocol, out, str(out), _done_units(out))  # a refusal comes before any warning
        return plausibility_warnings(protocol)
    if protocol_path is None:
        return []
    protocol = load_protocol(protocol_path)
    check_disk(protocol, out, str(protocol_path))
    return plausibility_warnings(protocol)
