"""What this PC can reach, for ``memlab instruments``: VISA resources, ``*IDN?``, the WGFMU library.

Every probe is reported, never raised: a missing VISA library or DLL is a
line of the report with the reason, so the command works on any machine.
"""

from __future__ import annotations

from typing import Any

from memlab.errors import InstrumentError

from . import visa


def inventory(library: str | None, *, identify: bool = False, wgfmu_library: str | None = None,
              library_origin: str = "default") -> dict[str, Any]:
    """A JSON-ready report: the VISA library used (or why none opened), resources, IDNs, the WGFMU library."""
    if library is not None:
        visa.check_library(library, library_origin)
    report: dict[str, Any] = {"visa_library": None, "visa_library_origin": library_origin,
                              "visa_tried": list(visa.DEFAULT_ORDER if library is None else (library,)),
                              "visa_error": None, "resources": [], "wgfmu_library": wgfmu_status(wgfmu_library)}
    try:
        opened = visa.resource_manager(library)
        report["visa_library"], report["visa_tried"] = opened.library, list(opened.tried)
        addresses = visa.list_resources(opened)
    except InstrumentError as exc:
        report["visa_error"] = str(exc)
        return report
    for address in addresses:
        entry: dict[str, Any] = {"address": address}
        if identify:
            try:
                entry["idn"] = visa.identify(opened, address)
            except InstrumentError as exc:
                entry["idn"], entry["error"] = None, str(exc)
        report["resources"].append(entry)
    return report


def wgfmu_status(path: str | None) -> dict[str, Any]:
    """Whether Keysight's WGFMU library loads (it is Windows-only), and the reason when not."""
    from .wgfmu.library import load_library

    try:
        load_library(path)
    except InstrumentError as exc:
        return {"loads": False, "path": path, "error": str(exc)}
    return {"loads": True, "path": path, "error": None}


def format_inventory(report: dict[str, Any]) -> str:
    """The report as lines of text."""
    lines = []
    if report["visa_library"] is None:
        lines.append(f"VISA: none opened ({report['visa_error']})")
    else:
        via = "" if report["visa_library_origin"] == "default" else f", from {report['visa_library_origin']}"
        lines.append(f"VISA: {report['visa_library']} (tried {', '.join(report['visa_tried'])}{via}); "
                     f"{len(report['resources'])} resource(s)")
    for r in report["resources"]:
        idn = ""
        if "idn" in r:
            idn = f"  {r['idn']}" if r["idn"] is not None else f"  (no answer: {r.get('error')})"
        lines.append(f"  {r['address']}{idn}")
    w = report["wgfmu_library"]
    lines.append("WGFMU library: loads" + (f" from {w['path']}" if w["path"] else "") if w["loads"]
                 else f"WGFMU library: does not load ({w['error']})")
    return "\n".join(lines)
