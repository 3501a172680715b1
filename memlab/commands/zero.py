"""``memlab zero``: drive a bench in an unknown state to 0 V, every output disconnected."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    @cli.command("zero")
    @click.option("--backend", type=click.Choice(["sim", "wgfmu", "b1500"]), required=True,
                  help="sim: the simulated WGFMU and SMUs (their state kept across processes); wgfmu: Keysight's "
                       "WGFMU library; b1500: the B1500A's SMUs over VISA.")
    @click.option("--address", default=None,
                  help="VISA address of the B1500A [default: memlab.toml's address, else GPIB0::17::INSTR].")
    @click.option("--visa-library", default=None,
                  help="pyvisa backend for the B1500A (b1500) [default: memlab.toml's, else the system VISA, "
                       "else @py].")
    @click.option("--wgfmu-library", type=click.Path(dir_okay=False), default=None,
                  help="Path of Keysight's wgfmu.dll (wgfmu) [default: the system location].")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object per instrument (for scripts).")
    def zero_cmd(backend, address, visa_library, wgfmu_library, as_json) -> None:
        """Connect, say what the outputs were left at, drive every one to 0 V and disconnect it.

        For a bench found in an unknown state (after a crash, or another
        program): the same first step every `memlab measure` takes. Exit 0 when
        the outputs are safe, 2 when the instrument cannot be reached.
        """
        from memlab.config import load_settings
        from memlab.instruments.zero import format_record, zero_outputs

        settings = load_settings({"address": address, "visa_library": visa_library})
        records = zero_outputs(backend, settings["address"].value, wgfmu_library=wgfmu_library,
                               visa_library=settings["visa_library"].value)
        for record in records:
            click.echo(json.dumps(record, sort_keys=True) if as_json else format_record(record))
