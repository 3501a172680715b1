"""SIGKILL in every phase of a run's life (creating, first append, resuming, closing, device file, import):
what it leaves is explained by ``memlab info``, holds only clean cycles, and recovers (see kill_cases)."""

from __future__ import annotations

import os

import pytest

from .kill_cases import PHASES, kill_phase_case

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_kill_in_this_phase_leaves_what_info_explains_and_recovers(tmp_path_factory, phase):
    outcome = kill_phase_case(tmp_path_factory.mktemp("kill"), phase)
    assert outcome.interrupted and outcome.counts, str(outcome)


def test_write_archive_leaves_no_partial_file_when_it_fails(tmp_path):
    import numpy as np

    from memlab.errors import ConfigError
    from memlab.protocols.archive import PulseData, write_pulse_archive

    bad = PulseData(n_up=1, n_down=1, pulse_amplitude_V=np.array([1.0, -1.0]), pulse_width_s=np.ones(2),
                    read_time_s=np.zeros((2, 2)), read_voltage_V=np.zeros((2, 2)), read_current_A=np.zeros((2, 3)),
                    read_status=np.zeros((2, 2), dtype=np.uint16))
    out = tmp_path / "x.h5"
    with pytest.raises(ConfigError):
        write_pulse_archive(out, bad, {"imported": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    out.write_bytes(b"old")
    with pytest.raises(ConfigError):
        write_pulse_archive(out, bad, {"imported": True}, overwrite=True)
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]
