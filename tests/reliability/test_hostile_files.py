"""Hostile files: damaged, foreign and absurd archives, protocols, CSV/XLSX imports, device files.

Every CLI case runs in one subprocess per consumer with its address space
capped (``RLIMIT_AS``) and a timeout, so unbounded memory or a hang fails the
test instead of the machine. Each file must be refused with exit 2 and one
line naming the file, and a refused command must leave the file as it was;
random bit flips over the whole file may land where nothing is checked, so
those may also read fine, but never crash (flips inside a dataset's data must
be detected: ``test_integrity_faults.py``).
"""

from __future__ import annotations

import os

import pytest

from .cases import (
    hostile_archive_outcomes,
    hostile_device_outcomes,
    hostile_import_outcomes,
    hostile_protocol_outcomes,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="resource limits are POSIX")


def _assert_all_survived(outcomes) -> None:
    failures = [str(o) for o in outcomes if not o.survived or o.lost]
    assert outcomes and not failures, f"{len(failures)} of {len(outcomes)} failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("consumer", ["info", "analyze", "resume"])
def test_hostile_archives_are_refused_naming_the_file(tmp_path_factory, consumer):
    _assert_all_survived(hostile_archive_outcomes(tmp_path_factory.mktemp("archives"), consumer))


def test_hostile_protocol_files_are_refused_naming_the_file(tmp_path):
    _assert_all_survived(hostile_protocol_outcomes(tmp_path))


def test_hostile_imports_are_refused_naming_the_file(tmp_path):
    _assert_all_survived(hostile_import_outcomes(tmp_path))


def test_hostile_device_files_are_refused_naming_the_file(tmp_path):
    _assert_all_survived(hostile_device_outcomes(tmp_path))
