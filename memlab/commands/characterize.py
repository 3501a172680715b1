"""``memlab characterize``: I-V sweeps and endurance summaries → the device file's iv / endurance keys."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command("characterize")
    @click.argument("runs", nargs=-1, type=click.Path(dir_okay=False))
    @click.option("--endurance", type=click.Path(dir_okay=False), default=None,
                  help="Keithley 4200 (Clarius) endurance summary CSV (one row per cycle).")
    @click.option("--endurance-read-voltage", "end_v", type=float, default=None,
                  help="Read voltage (V, magnitude) of the summary's LRS/HRS currents (0.2 in Clarius' formulas).")
    @click.option("--read-voltage", "read_v", type=float, default=0.1, show_default=True,
                  help="I-V: voltage magnitude at which HRS/LRS are read on each sweep.")
    @click.option("--min-ratio", type=float, default=10.0, show_default=True,
                  help="Endurance: on/off ratio below which the window counts as closed.")
    @click.option("--device", "device", type=click.Path(dir_okay=False), default=None,
                  help="Add the keys to this device file (rewritten in place).")
    @click.option("--out", type=click.Path(dir_okay=False), default=None,
                  help="Write a characterization file (JSON) instead of / beside --device.")
    @click.option("--figures", type=click.Path(file_okay=False), default=None, help="Folder for the figures.")
    def characterize_cmd(runs, endurance, end_v, read_v, min_ratio, device, out, figures) -> None:
        """V_set / V_reset, HRS / LRS, on/off ratio and forming from I-V archives (RUN.h5 ..., measured or
        imported), and HRS / LRS against cycle with the window's closing from an endurance summary."""
        from memlab.analysis.characterize import add_to_device_file, characterize, write_characterization
        from memlab.errors import ConfigError

        if device is None and out is None:
            raise ConfigError("give --device DEVICE.json (add the keys to it) and/or --out FILE.json")
        result = characterize(list(runs), endurance=endurance, endurance_read_voltage_V=end_v, read_voltage_V=read_v,
                              min_ratio=min_ratio, figures=figures)
        if result.iv_summary is not None:
            s = result.iv_summary

            def fmt(stat, scale=1.0, unit=""):
                return "n/a" if stat is None else f"{stat.mean * scale:.4g} ± {stat.std * scale:.2g}{unit}"

            click.echo(f"I-V: {s.n_sweeps} sweeps; V_set {fmt(s.v_set_V, unit=' V')}, V_reset {fmt(s.v_reset_V, unit=' V')}, "
                       f"LRS {fmt(s.g_lrs_S, 1e6, ' uS')}, HRS {fmt(s.g_hrs_S, 1e6, ' uS')} at {s.read_voltage_V:g} V, "
                       f"on/off {fmt(s.on_off_ratio)}; forming "
                       + ("none detected" if s.forming_V is None else f"at {s.forming_V:.3g} V"))
        if result.endurance_summary is not None:
            e = result.endurance_summary
            click.echo(f"endurance: {e.n_cycles} cycles; on/off {e.on_off_ratio_first:.3g} (first 10 %) -> "
                       f"{e.on_off_ratio_last:.3g} (last 10 %); closing {e.closing_decades_per_decade:+.3f} decades "
                       f"per decade; {e.n_cycles_below_min_ratio} cycles below {e.min_ratio:g}")
        for path in filter(None, (out and write_characterization(result, out), device and add_to_device_file(result, device))):
            click.echo(f"wrote {path}")
