"""Child processes of the tests: the environment that lets them import ``tests.<package>``.

A child started with ``python -m tests.reliability.kill_child`` (or ``-c`` code that
imports ``tests.hardware_path.flex_server``) finds the repository root through
``PYTHONPATH``, the one path a child inherits, instead of ``sys.path`` lines written
into the code it runs.
"""

from __future__ import annotations

import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with the repository root first on ``PYTHONPATH``."""
    env = dict(os.environ if env is None else env)
    rest = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) if not rest else os.pathsep.join([str(ROOT), rest])
    return env
