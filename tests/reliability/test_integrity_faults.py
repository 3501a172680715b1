"""Bit flips inside every dataset's data are detected (verify names the dataset, the reader and
analyze refuse it); datasets pointing outside the file are refused and never followed."""

from __future__ import annotations

from .integrity_cases import data_flip_outcomes, outside_file_outcomes


def _assert_all(outcomes) -> None:
    failures = [str(o) for o in outcomes if not o.survived or o.lost or o.detected is False]
    assert outcomes and not failures, f"{len(failures)} of {len(outcomes)} failed:\n" + "\n".join(failures)


def test_every_flip_inside_a_datasets_data_is_detected(tmp_path):
    outcomes = data_flip_outcomes(tmp_path, reps=2)
    assert len(outcomes) == 2 * 2 * 12  # two archives of twelve datasets each (ten + two dimension scales)
    _assert_all(outcomes)


def test_datasets_pointing_outside_the_file_are_refused(tmp_path):
    _assert_all(outside_file_outcomes(tmp_path))
