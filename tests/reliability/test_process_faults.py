"""Process faults: SIGKILL and SIGINT at seeded random moments, a file-size limit, two writers.

Real ``memlab measure`` subprocesses. Each case asserts the archive left
behind is valid (``interrupted``/``failed``), every recorded cycle is
bit-identical to a clean in-process run with the same seeds, and ``--resume``
completes it; SIGINT additionally exits 130 with one line and releases the lock.
"""

from __future__ import annotations

import os
import signal

import pytest

from .cases import disk_full_case, signal_case, two_writers_case

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and resource limits")
REPS = 6


@pytest.mark.parametrize("rep", range(REPS))
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_signal_at_a_random_moment_loses_no_cycle(tmp_path_factory, sig, rep):
    outcome = signal_case(tmp_path_factory.mktemp("signals"), sig, rep)
    assert outcome.interrupted, f"after {outcome.attempts} attempts the signal never hit a running run: {outcome}"
    assert outcome.counts, str(outcome)


@pytest.mark.parametrize("limit_B", [300_000, 1_200_000])
def test_file_size_limit_while_writing_fails_cleanly_and_resumes(tmp_path_factory, limit_B):
    outcome = disk_full_case(tmp_path_factory.mktemp("fsize"), limit_B)
    assert outcome.interrupted and outcome.counts, str(outcome)


def test_a_second_writer_is_refused_and_the_first_run_is_intact(tmp_path_factory):
    outcome = two_writers_case(tmp_path_factory.mktemp("writers"))
    assert outcome.survived and outcome.lost == 0, str(outcome)
