"""``memlab watch``: follow a run archive while it is written (window, or a PNG when headless)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command("watch")
    @click.argument("run", type=click.Path(dir_okay=False))
    @click.option("--interval", "interval_s", type=float, default=2.0, show_default=True,
                  help="Seconds between refreshes.")
    @click.option("--png", type=click.Path(dir_okay=False), default=None,
                  help="Rewrite this PNG at every refresh instead of opening a window "
                       "[default when headless: RUN.live.png].")
    @click.option("--last", "last_cycles", type=int, default=5, show_default=True, help="Cycles (sweeps) overlaid.")
    @click.option("--until-done", is_flag=True, help="Stop once the run is no longer being written.")
    @click.option("--wait", "wait_s", type=float, default=60.0, show_default=True,
                  help="Seconds to wait for the archive to appear.")
    def watch_cmd(run, interval_s, png, last_cycles, until_done, wait_s) -> None:
        """Live plots of RUN.h5 as cycles land: conductance against pulse for the last cycles, the
        states building up, the cycle counter. Never holds a lock the writer needs."""
        from memlab.files import prepare_output
        from memlab.watch import watch

        if png is not None:
            prepare_output(png, "--png")

        result = watch(run, interval_s=interval_s, png=png, last_cycles=last_cycles, until_done=until_done,
                       wait_s=wait_s)
        where = f"; last picture: {result.png}" if result.png else ""
        click.echo(f"{run}: {result.status or 'not readable'}, {result.cycles} rows seen in {result.frames} "
                   f"frames{where}")
