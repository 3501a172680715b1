"""The CLI's exit-status convention: 0 ok, 2 bad input (one line, no traceback), 1 unexpected."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from memlab import __version__
from memlab.cli import cli, main
from memlab.errors import ConfigError


@pytest.fixture()
def probe_command():
    @click.command("probe-errors")
    @click.option("--kind", default="ok")
    def probe(kind: str) -> None:
        if kind == "config":
            raise ConfigError("amplitude_V=1.2: must lie in [-10, 10] V\nsecond line")
        if kind == "bug":
            raise RuntimeError("boom")
        click.echo("fine")

    cli.add_command(probe)
    yield
    cli.commands.pop("probe-errors")


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"memlab {__version__}"
    assert main(["--help"]) == 0
    assert "Usage: memlab" in capsys.readouterr().out


def test_memlab_error_gives_exit_2_and_one_line(probe_command, capsys):
    assert main(["probe-errors", "--kind", "config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "amplitude_V=1.2" in err and "Traceback" not in err


def test_unexpected_error_gives_exit_1_traceback_only_with_debug(probe_command, capsys):
    assert main(["probe-errors", "--kind", "bug"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "probe-errors", "--kind", "bug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_usage_error_gives_exit_2(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_console_script_runs_as_a_process():
    done = subprocess.run([sys.executable, "-m", "memlab.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and __version__ in done.stdout
