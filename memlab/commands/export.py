"""``memlab export``: a run archive to CSV / netCDF / Parquet, a device file to an aihwkit config."""

from __future__ import annotations

import click

_RUN_FORMATS = ("csv", "netcdf", "parquet")


def register(cli: click.Group) -> None:
    @cli.command("export")
    @click.argument("source", type=click.Path(dir_okay=False))
    @click.option("--to", "fmt", required=True, type=click.Choice([*_RUN_FORMATS, "aihwkit"]),
                  help="csv, netcdf, parquet: a run archive (RUN.h5); aihwkit: a device file (DEVICE.json).")
    @click.option("--out", default=None, type=click.Path(dir_okay=False),
                  help="File to write [default: SOURCE with the format's suffix; aihwkit: DEVICE.aihwkit.json; "
                       "an --out ending in .py writes a Python snippet].")
    @click.option("--group", type=click.Choice(["pulses", "retention", "iv"]), default=None,
                  help="Data group of the archive [default: the run's own].")
    @click.option("--overwrite", is_flag=True, help="Replace existing output files.")
    def export_cmd(source, fmt, out, group, overwrite) -> None:
        """Write SOURCE in a format other tools read: reads, status flags and metadata of a run
        archive (csv, netcdf, parquet), or the closest aihwkit pulsed device of a device file."""
        from memlab.errors import ConfigError
        from memlab.files import prepare_output

        if out is not None:
            prepare_output(out, "--out")

        if fmt == "aihwkit":
            from memlab.simulation.aihwkit_export import export_aihwkit

            if group is not None:
                raise ConfigError("--group applies to run archives, not to --to aihwkit")
            written = [export_aihwkit(source, out, overwrite=overwrite)]
        else:
            from memlab.protocols.export import export_run

            if source.lower().endswith(".json"):
                raise ConfigError(f"{source}: --to {fmt} exports a run archive (.h5); a device file exports "
                                  "with --to aihwkit")
            written = export_run(source, fmt, out, group=group, overwrite=overwrite)
        click.echo("wrote " + ", ".join(str(p) for p in written))
