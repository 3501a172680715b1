"""The Python API: the README's "From Python" section and every docstring example run here."""

from __future__ import annotations

import doctest
import os
import pathlib
import sys

import pytest

import memlab
from memlab import api

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.fixture()
def lab(tmp_path, monkeypatch):
    """A folder with sample_data/ in it, as the examples assume (they write their outputs there)."""
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(test: doctest.DocTest) -> doctest.TestResults:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=sys.stdout.write)
    return runner.summarize(verbose=False)


def test_readme_from_python_section_runs(lab):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    test = doctest.DocTestParser().get_doctest(section, {}, "README: From Python", "README.md", 0)
    result = _run(test)
    assert result.attempted >= 10 and result.failed == 0
    assert (lab / "run.parquet").is_file() and (lab / "device.json").is_file()


def test_every_api_function_has_a_docstring_example_that_runs(lab):
    finder = doctest.DocTestFinder()
    tests = {t.name.rsplit(".", 1)[1]: t for t in finder.find(api, globs={"memlab": memlab}) if t.examples}
    assert set(tests) >= set(api.TOP_LEVEL), set(api.TOP_LEVEL) - set(tests)
    for name in sorted(tests, key=lambda n: n != "measure"):
        result = _run(tests[name])
        assert result.failed == 0, name


def test_import_memlab_exposes_the_api_lazily_and_the_cli_functions_behind_it():
    import subprocess

    code = ("import sys, memlab; names = [n for n in memlab._API if callable(getattr(memlab, n))]; "
            "print(len(names), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert done.stdout.split() == [str(len(api.TOP_LEVEL)), "False"], done.stderr
    assert tuple(memlab._API) == api.TOP_LEVEL
    with pytest.raises(AttributeError):
        memlab.no_such_function  # noqa: B018
