"""``memlab verify``: prove that run archives are intact (every checksum, every consistency check)."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    @cli.command("verify")
    @click.argument("archives", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object per archive (for scripts).")
    def verify_cmd(archives: tuple[str, ...], as_json: bool) -> None:
        """Read every chunk of each ARCHIVE.h5, check its checksums and internal consistency.

        Prints what is damaged by dataset and cycle range; exit 0 only when every archive is intact
        (2 otherwise, with the damaged files named on stderr).
        """
        from memlab.errors import DamagedDataError
        from memlab.protocols.verify import verify_archive

        damaged = []
        for path in archives:
            report = verify_archive(path)
            if as_json:
                click.echo(json.dumps(report.as_dict(), sort_keys=True))
            else:
                click.echo(report.summary())
                for d in report.damage:
                    click.echo(f"  {d}")
            if not report.intact:
                damaged.append(f"{path} ({report.damage[0]})")
        if damaged:
            raise DamagedDataError(f"{len(damaged)} of {len(archives)} archive(s) damaged: " + "; ".join(damaged))
