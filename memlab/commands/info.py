"""``memlab info``: summarise a run archive."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    @cli.command("info")
    @click.argument("run", type=click.Path(dir_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
    @click.option("--verify/--no-verify", default=True, show_default=True,
                  help="Read every chunk and check checksums and consistency (memlab verify) for the summary.")
    def info_cmd(run: str, as_json: bool, verify: bool) -> None:
        """Summarise a run archive RUN.h5: protocol, status, cycles, time span, provenance, integrity."""
        from memlab.protocols.info import format_summary, run_summary

        summary = run_summary(run, verify=verify)
        click.echo(json.dumps(summary, sort_keys=True, allow_nan=False) if as_json else format_summary(summary))
