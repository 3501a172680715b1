"""``memlab import``: foreign measurement files → a run archive."""

from __future__ import annotations

import click

_LAYOUTS = ("columns", "rows", "long", "branch-columns", "keithley-xlsx")


def register(cli: click.Group) -> None:
    @cli.command("import")
    @click.argument("file", required=False, type=click.Path(dir_okay=False))
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="Run archive to write (.h5).")
    @click.option("--layout", type=click.Choice(_LAYOUTS), default="columns", show_default=True,
                  help="columns: one column per cycle; rows: one row per cycle; long: cycle,pulse,value[,branch]; "
                       "branch-columns: two columns up,down (one cycle); keithley-xlsx: Clarius I-V export.")
    @click.option("--up", type=click.Path(dir_okay=False), help="Potentiation file (columns/rows/long layouts).")
    @click.option("--down", type=click.Path(dir_okay=False), help="Depression file (columns/rows/long layouts).")
    @click.option("--quantity", type=click.Choice(["current", "conductance", "resistance", "unitless"]),
                  default="current", show_default=True, help="What the numbers are.")
    @click.option("--unit", default=None, help="Unit of the numbers: A mA uA nA pA | S mS uS nS | ohm kohm Mohm Gohm "
                                                "[default: the SI unit].")
    @click.option("--read-voltage", "read_voltage_V", type=float, default=None,
                  help="Read voltage in V (needed for current; sign as applied).")
    @click.option("--scale-S", "scale_S", type=float, default=None,
                  help="Unitless data only: G = offset + scale * value (S).")
    @click.option("--offset-S", "offset_S", type=float, default=0.0, show_default=True,
                  help="Unitless data only: offset in S.")
    @click.option("--current-column", default="AI", show_default=True, help="keithley-xlsx: current column.")
    @click.option("--voltage-column", default="AV", show_default=True, help="keithley-xlsx: voltage column.")
    @click.option("--device-id", default=None, help="Device identifier stored in the archive (groups runs).")
    @click.option("--overwrite", is_flag=True, help="Replace an existing archive at --out.")
    def import_cmd(file, out, layout, up, down, quantity, unit, read_voltage_V, scale_S, offset_S,
                   current_column, voltage_column, device_id, overwrite) -> None:
        """Import foreign data (CSV, Keithley 4200 XLSX) into a memlab run archive."""
        import pathlib

        from memlab.analysis import importers
        from memlab.errors import ConfigError
        from memlab.files import prepare_output
        from memlab.protocols.dryrun import mv_warning

        if pathlib.Path(out).exists() and not pathlib.Path(out).is_dir() and not overwrite:
            raise ConfigError(f"--out {out}: file exists (add --overwrite to replace it, or choose another name)")
        prepare_output(out, "--out")
        warning = mv_warning(read_voltage_V) if quantity == "current" else None
        if warning:
            click.echo(f"memlab: warning: {warning}", err=True)

        if layout == "keithley-xlsx":
            if file is None:
                raise ConfigError("keithley-xlsx: pass the XLSX file as FILE")
            uid = importers.import_keithley_xlsx(file, out, current_column=current_column,
                                                 voltage_column=voltage_column, device_id=device_id,
                                                 overwrite=overwrite)
        else:
            spec = importers.ImportSpec(layout=layout, quantity=quantity, unit=unit, read_voltage_V=read_voltage_V,
                                        scale_S=scale_S, offset_S=offset_S)
            uid = importers.import_pulses(spec, out, up=up, down=down, file=file, device_id=device_id,
                                          overwrite=overwrite)
        click.echo(f"imported into {out} (run {uid})")
