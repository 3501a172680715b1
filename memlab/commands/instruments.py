"""``memlab instruments``: what this PC can reach: VISA resources, their ``*IDN?``, the WGFMU library."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    @cli.command("instruments")
    @click.option("--visa-library", default=None,
                  help="pyvisa backend: @ivi (Keysight/NI VISA), @py (pyvisa-py), FILE.yaml@sim, or a VISA library "
                       "path [default: memlab.toml's, else the system VISA, else @py].")
    @click.option("--identify", is_flag=True, help="Ask each resource for *IDN? (2 s timeout each).")
    @click.option("--wgfmu-library", type=click.Path(dir_okay=False), default=None,
                  help="Path of Keysight's wgfmu.dll to try [default: the system location].")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
    def instruments_cmd(visa_library, identify, wgfmu_library, as_json) -> None:
        """List the VISA resources this PC sees and whether the WGFMU library loads.

        Exit 0 when the listing ran, even if no resource or library was found
        (each is reported); exit 2 for a bad --visa-library.
        """
        from memlab.config import load_settings
        from memlab.instruments.inventory import format_inventory, inventory

        setting = load_settings({"visa_library": visa_library})["visa_library"]
        report = inventory(setting.value, identify=identify, wgfmu_library=wgfmu_library,
                           library_origin=setting.origin)
        click.echo(json.dumps(report, sort_keys=True) if as_json else format_inventory(report))
