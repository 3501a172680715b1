"""``python -m tests.reliability.kill_child PHASE ARGS...``: ``memlab ARGS`` that SIGKILLs itself in PHASE.

The child of :func:`.kill_cases.run_killed`: the hooks are installed before the CLI
is imported, as in a user's process.
"""

from __future__ import annotations

import sys

from tests.reliability import kill_hooks


def main(argv: list[str]) -> int:
    kill_hooks.install(argv[0])
    from memlab.cli import main as cli

    return cli(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
