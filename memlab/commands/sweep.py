"""``memlab sweep``: a design-space plan on Dask (simulation/sweep.py)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command("sweep")
    @click.argument("plan", type=click.Path(dir_okay=False))
    @click.option("--out", required=True, type=click.Path(file_okay=False),
                  help="Folder for points/, results.csv, figures/ and report.html (a rerun skips finished points).")
    @click.option("--workers", type=int, default=2, show_default=True,
                  help="Worker processes of a LocalCluster (one thread each); 0 runs in this process.")
    @click.option("--scheduler", default=None, metavar="ADDRESS",
                  help="A running Dask scheduler (e.g. tcp://head:8786) instead of a LocalCluster.")
    @click.option("--memory-limit", default="4GiB", show_default=True, help="Per LocalCluster worker.")
    @click.option("--data-dir", default=None, help="Data directory (as memlab simulate).")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def sweep_cmd(plan, out, workers, scheduler, memory_limit, data_dir, quiet):
        """Accuracy over the axes of PLAN.toml (states per branch, sigma scale, D2D, converter bits,
        wire resistance, HWAT, seeds) at its drift times; one digital training per seed, one HWAT per
        distinct training noise, points content-addressed and written as they finish."""
        from memlab.files import prepare_output
        from memlab.simulation.sweep import load_plan, points, run_sweep, write_outputs

        p = load_plan(plan)
        prepare_output(out, "--out", folder=True)
        engine = ("this process" if workers == 0 and scheduler is None else
                  f"scheduler {scheduler}" if scheduler else f"LocalCluster of {workers} worker processes")
        click.echo(f"sweep: {len(points(p))} points of {p.task} on {engine} -> {out}")
        outcome = run_sweep(p, out, workers=workers, scheduler=scheduler, memory_limit=memory_limit,
                            data_dir=data_dir, progress=not quiet)
        if outcome.dashboard:
            click.echo(f"dashboard was at {outcome.dashboard}")
        paths = write_outputs(p, outcome, out)
        click.echo(f"{outcome.computed} computed, {len(outcome.results) - outcome.computed} already on disk, "
                   f"{len(outcome.failed)} failed, {outcome.wall_s:.0f} s -> {paths['csv']}, {paths['report']}")
        if outcome.failed:
            from memlab.errors import ConfigError

            raise ConfigError(f"{len(outcome.failed)} point(s) failed (reasons in {out}/failed.json): "
                              + outcome.failed[0]["reason"][:200])
