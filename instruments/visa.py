"""Which VISA library pyvisa uses, and what it can see.

The PC beside a B1500A normally has Keysight IO Libraries or NI-VISA, which
pyvisa reaches through its IVI backend (``@ivi``, the "system VISA"); a Linux
box without them uses pyvisa-py (``@py``); tests use pyvisa-sim
(``path/to/file.yaml@sim``). ``library=None`` picks the system VISA when one
loads and pyvisa-py otherwise; when none loads, the error names every library
tried and why it failed.

Accepted specs: ``@ivi``, ``@py``, ``@sim``, ``FILE.yaml@sim`` and the path of
a VISA shared library (``visa64.dll``, ``libvisa.so``), which pyvisa opens
with its IVI backend.
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.errors import ConfigError, InstrumentError

DEFAULT_ORDER = ("@ivi", "@py")
"""What ``library=None`` tries, in order: the system VISA, then pyvisa-py."""
NAMED = ("@ivi", "@py", "@sim")


def check_library(spec: str, flag: str = "--visa-library") -> str:
    """``spec`` if pyvisa can take it, else ConfigError naming ``flag``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"{flag} {spec!r}: give @ivi (Keysight/NI VISA), @py (pyvisa-py), @sim, "
                          "FILE.yaml@sim or the path of a VISA library")
    spec = spec.strip()
    if spec.startswith("@") and spec not in NAMED:
        raise ConfigError(f"{flag} {spec}: allowed {', '.join(NAMED)}, FILE.yaml@sim or a VISA library path")
    return spec


@dataclass(frozen=True)
class Opened:
    """A pyvisa ResourceManager and the library spec it was opened with."""

    manager: object
    library: str
    tried: tuple[str, ...]


def resource_manager(library: str | None = None) -> Opened:
    """Open pyvisa's ResourceManager on ``library`` (None: the system VISA, else pyvisa-py).

    Raises InstrumentError naming each library tried and its failure.
    """
    import pyvisa

    specs = DEFAULT_ORDER if library is None else (check_library(library),)
    failures = []
    for spec in specs:
        try:
            return Opened(pyvisa.ResourceManager(spec), spec, tuple(specs))
        except (pyvisa.errors.Error, OSError, ValueError) as exc:
            failures.append(f"{spec}: {' '.join(str(exc).split()) or type(exc).__name__}")
    hint = ("install Keysight IO Libraries or NI-VISA for @ivi, or pyvisa-py for @py"
            if library is None else "choose another with --visa-library")
    raise InstrumentError(f"no VISA library could be opened (tried {'; '.join(failures)}); {hint}")


def list_resources(opened: Opened, query: str = "?*::INSTR") -> list[str]:
    """The VISA resource strings ``opened`` can see (InstrumentError if the library fails to list)."""
    import warnings

    import pyvisa

    try:
        with warnings.catch_warnings():  # pyvisa-py's notes on optional discovery packages are not news here
            warnings.simplefilter("ignore", UserWarning)
            return sorted(opened.manager.list_resources(query))
    except (pyvisa.errors.Error, OSError, ValueError) as exc:
        raise InstrumentError(f"VISA library {opened.library}: cannot list resources: {exc}") from exc


def identify(opened: Opened, address: str, timeout_s: float = 2.0,
             termination: str = "\r\n") -> str:
    """The ``*IDN?`` reply of ``address``, or raise InstrumentError with VISA's reason."""
    import pyvisa

    resource = None
    try:
        resource = opened.manager.open_resource(address, read_termination=termination,
                                                write_termination=termination)
        resource.timeout = int(timeout_s * 1000)
        return str(resource.query("*IDN?")).strip()
    except (pyvisa.errors.Error, OSError, ValueError) as exc:
        raise InstrumentError(f"{address}: *IDN? failed: {' '.join(str(exc).split())}") from exc
    finally:
        if resource is not None:
            try:
                resource.close()
            except Exception:  # noqa: BLE001 - identification is done; a failing close changes nothing
                pass
