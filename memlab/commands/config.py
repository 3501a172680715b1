"""``memlab config``: the bench settings in effect and where each came from."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    @cli.command("config")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
    def config_cmd(as_json: bool) -> None:
        """Show the bench settings (operator, address, VISA library, output folder) and their origin.

        Read from memlab.toml in the working folder, then in the user's config
        folder; a command's own flag overrides either. Keys and format: `memlab
        config --help` and docs/CONFIG.md.
        """
        from memlab.config import KEYS, config_files, load_settings

        settings = load_settings()
        if as_json:
            click.echo(json.dumps({"files": [str(p) for p in config_files()],
                                   "settings": {k: {"value": s.value, "origin": s.origin, "flag": KEYS[k][0]}
                                                for k, s in settings.items()}}, sort_keys=True))
            return
        click.echo("looked for: " + ", ".join(f"{p}{'' if p.is_file() else ' (absent)'}" for p in config_files()))
        width = max(len(k) for k in settings)
        for key, s in settings.items():
            value = "-" if s.value is None else s.value
            click.echo(f"{key:<{width}}  {value:<20}  {s.origin}  (flag {KEYS[key][0]}: {KEYS[key][2]})")
