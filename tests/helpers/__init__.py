"""Helpers shared by memlab's tests (and benchmarks), imported as ``tests.helpers.<name>``.

The repository root is on the path under pytest (``pythonpath`` in pyproject.toml)
and when a benchmark runs as ``python -m benchmarks.NAME`` from the root.

- :mod:`.visa_script`: a VISA resource that replays an ordered (command, reply) script
  and fails on anything unexpected, unsent or unread (the pymeasure pattern);
- :mod:`.sim_device`: device dicts and files for the simulation tests, no file needed;
- :mod:`.child`: ``child_env()``, the environment with which a child process imports
  ``tests.<package>`` (the root on ``PYTHONPATH``; no ``sys.path`` lines in its code);
- :mod:`.shared_data`: the data CI always has (``../shared/data``): required when ``CI`` is set, else skipped;
- :mod:`.simulate_cli`: ``memlab simulate --task digits`` through the CLI with shared checkpoints.
"""
