"""Instrument faults during ``memlab measure``: every kind at every point of a run.

Each case asserts: exit 2 with a one-line message; outputs at 0 V and
disconnected; no voltage beyond the protocol's programmed; the archive valid
and ``failed``; every recorded cycle bit-identical to a clean run with the same
seeds; ``--resume`` completes it without touching those cycles.
"""

from __future__ import annotations

import pytest

from .cases import FAULT_KINDS, FAULT_POINTS, flush_fault, instrument_fault


@pytest.mark.parametrize("point", list(FAULT_POINTS))
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_instrument_fault_is_survived_without_data_loss(tmp_path_factory, kind, point):
    outcome = instrument_fault(tmp_path_factory.mktemp("faults"), kind, point)
    assert outcome.interrupted and outcome.counts, str(outcome)


@pytest.mark.parametrize("at_call", [1, 2, 5])
def test_archive_flush_failure_is_survived_without_data_loss(tmp_path_factory, at_call):
    outcome = flush_fault(tmp_path_factory.mktemp("flush"), at_call)
    assert outcome.interrupted and outcome.counts, str(outcome)
