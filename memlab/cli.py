"""The ``memlab`` console script.

Sub-commands live in ``memlab.commands.<name>`` modules, each exposing
``register(cli)`` that adds a ``click.Command`` to the group; they are
discovered here so layers add commands without editing this file.
Convention for every sub-command:

* exit 0 on success;
* exit 2 with a one-line message on stderr (no traceback) for bad input,
  that is any :class:`~memlab.errors.MemlabError` or a usage error;
* exit 1 for unexpected failures, the traceback shown only with ``--debug``.
"""

from __future__ import annotations

import importlib
import pkgutil
import signal
import sys
import traceback

import click

from memlab import __version__, commands
from memlab.errors import MemlabError


@click.group(
    name="memlab",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="memlab", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks for unexpected errors.")
def cli(debug: bool) -> None:
    """memlab: measure a memristor, extract its device file, and predict the
    accuracy of an analog crossbar network built from it.

    Typical path: measure (or import) -> analyze -> simulate; `memlab demo`
    runs all three on the built-in virtual device.
    """


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # a helper of the commands (shared options), not a sub-command
            continue
        importlib.import_module(f"{commands.__name__}.{info.name}").register(cli)


_register_commands()


def usage_line(exc: click.ClickException) -> str:
    """A usage error as one line: what was wrong and where the help is."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "memlab"
    hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) else ""
    return f"{where}: error: {' '.join(exc.format_message().split())}{hint}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 unexpected failure, 2 bad input)."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        # Not cli.main(): click turns KeyboardInterrupt into Abort and drops which signal stopped the run.
        with cli.make_context("memlab", args) as ctx:
            cli.invoke(ctx)
    except MemlabError as exc:
        print(f"memlab: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: bad option values, missing arguments
        print(usage_line(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # A run stopped by SIGTERM/SIGHUP says so and exits 128 + the signal, as the shell would.
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"memlab: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + int(signum)
    except click.exceptions.Abort:
        print("memlab: interrupted by SIGINT", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if debug:
            traceback.print_exc()
        else:
            print(f"memlab: unexpected error: {type(exc).__name__}: {exc} "
                  "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
