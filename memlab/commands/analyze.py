"""``memlab analyze``: run archives → device file (+ figures)."""

from __future__ import annotations

import pathlib

import click


ANALYZE_FLAGS = {"n_boot": "--bootstrap", "k_sigma": "--k-sigma", "r2_min": "--r2-min",
                 "pulses_per_state": "--pulses-per-state", "window potentiation": "--window up=",
                 "window depression": "--window down="}
"""Internal field -> the flag that sets it, so errors name what the user typed."""


# size: click declares the analyze command's options as decorators of the command function this
# registers (28 of these lines); the command itself (43 lines, docstring included) is under the limit
def register(cli: click.Group) -> None:
    @cli.command("analyze")
    @click.argument("runs", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Device file to write (JSON).")
    @click.option("--figures", "figures", type=click.Path(file_okay=False), default=None,
                  help="Folder for the figures (PNG + SVG).")
    @click.option("--window", "window", default=None, metavar="up=A:B,down=C:D",
                  help="Fix the linear windows (pulse indices within each branch, end exclusive).")
    @click.option("--k-sigma", "k_sigma", type=float, default=2.0, show_default=True,
                  help="Neighbouring states/bins must differ by more than k times their sigma.")
    @click.option("--r2-min", "r2_min", type=float, default=None,
                  help="Lowest R^2 of a window's linear fit [default: 0.99].")
    @click.option("--pulses-per-state", "m", type=int, default=None,
                  help="Fix m, the pulses per state (default: chosen for the most states).")
    @click.option("--bootstrap", "n_boot", type=int, default=1000, show_default=True,
                  help="Bootstrap resamples over cycles for the confidence intervals (0 = none).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
    @click.option("--compare-paper", is_flag=True, help="Print the reference paper's numbers beside ours.")
    @click.option("--cycles", "cycles", default=None, metavar="A:B",
                  help="Analyse only cycles A..B-1 of each run (0-based, B exclusive; A: to the end).")
    @click.option("--every", "every", type=int, default=None, metavar="N",
                  help="Repeat the --cycles window every N cycles (without --cycles: windows of N cycles) and "
                       "analyse each on its own: bins, sigma and energy against cycle number.")
    @click.option("--wear", "wear_out", type=click.Path(dir_okay=False), default=None,
                  help="Where --every writes the per-window series (JSON) [default: OUT with .wear.json].")
    @click.option("--workers", type=int, default=None,
                  help="Read the runs on a Dask LocalCluster of N worker processes (a population of devices); "
                       "unreadable archives are then reported and skipped.")
    @click.option("--scheduler", default=None, metavar="ADDRESS", help="A running Dask scheduler instead.")
    def analyze_cmd(runs, out, figures, window, k_sigma, r2_min, m, n_boot, seed, compare_paper, cycles, every,
                    wear_out, workers, scheduler) -> None:
        """Extract the device file from one or more run archives (RUN.h5 ...)."""
        from memlab.analysis.pipeline import AnalyzeOptions, analyze, format_table, parse_windows
        from memlab.analysis.wear import analyze_selection, format_wear, parse_cycles
        from memlab.analysis.window import DEFAULT_R2_MIN

        from memlab.files import prepare_output
        from memlab.flags import flag_errors

        with flag_errors(ANALYZE_FLAGS):
            options = AnalyzeOptions(k_sigma=k_sigma, r2_min=DEFAULT_R2_MIN if r2_min is None else r2_min,
                                     pulses_per_state=m, windows=parse_windows(window), n_boot=n_boot, seed=seed)
        selection = parse_cycles(cycles)
        prepare_output(out, "--out")
        if figures is not None:
            prepare_output(figures, "--figures", folder=True)
        # what the analysis finds wrong with a value the user gave is said with the user's flag
        given = {k: v for k, v in ANALYZE_FLAGS.items()
                 if (k != "pulses_per_state" or m is not None) and (not k.startswith("window") or window)}
        points = None
        with flag_errors(given):
            if workers is not None or scheduler is not None:
                if cycles is not None or every is not None:
                    raise click.UsageError("--workers/--scheduler analyse whole runs: leave out --cycles/--every")
                from memlab.cluster import dask_client, run_mapper

                with dask_client(workers or 2, scheduler) as client:
                    result = analyze(list(runs), out, figures, options, map_runs=run_mapper(client, progress=True))
            elif cycles is None and every is None:
                result = analyze(list(runs), out, figures, options)
            else:
                wear_out = wear_out or str(pathlib.Path(out).with_suffix(".wear.json"))
                if every is not None:
                    prepare_output(wear_out, "--wear")
                result, points = analyze_selection(list(runs), out, figures, options, selection, every, wear_out)
        if points:
            click.echo(format_wear(points))
            click.echo(f"per-window series: {wear_out}")
        click.echo(format_table(result.device, compare_paper=compare_paper))
        for note in result.notes:
            click.echo(f"note: {note}")
        click.echo(f"device file: {out}" + (f"; figures: {figures}" if figures else ""))
