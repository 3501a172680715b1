"""``memlab info``: summarise a run archive."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    @cli.command("info")
    @click.argument("run", type=click.Path(dir_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
    def info_cmd(run: str, as_json: bool) -> None:
        """Summarise a run archive RUN.h5: protocol, status, cycles, time span, provenance."""
        from memlab.protocols.info import format_summary, run_summary

        summary = run_summary(run)
        click.echo(json.dumps(summary, sort_keys=True) if as_json else format_summary(summary))
