"""A chunk boundary inside a cycle or a state changes nothing.

The reader's blocks are whole cycles, but the archive's HDF5 storage chunks need
not be: a file rewritten with chunks of 3 cycles × 7 reads (waveforms 2 × 97
samples) puts a storage boundary inside every cycle and inside states of m = 2
pulses, and the analysis read in blocks of 7 cycles (boundaries inside storage
chunks) must give the device file of the contiguous original.
"""

from __future__ import annotations

import pathlib

import h5py
import numpy as np
import pytest

from memlab.analysis.pipeline import AnalyzeOptions, analyze_runs
from memlab.protocols.archive import read_run, write_pulse_archive

import analysis_synth as synth
from test_streaming import _assert_same

SKIP_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid", "_Netcdf4Coordinates"}


def _rechunk(src: pathlib.Path, dst: pathlib.Path) -> list[tuple[str, tuple]]:
    """``src`` copied to ``dst`` with row datasets chunked across cycles and states (no dimension scales)."""
    chunks = []
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        def copy(group_a, group_b):
            for k, v in group_a.attrs.items():
                if k not in SKIP_ATTRS:
                    group_b.attrs[k] = v
            for name, obj in group_a.items():
                if isinstance(obj, h5py.Group):
                    copy(obj, group_b.create_group(name))
                    continue
                if obj.ndim == 2 and obj.maxshape[0] is None:
                    c = (2, 97) if obj.shape[1] > 100 else (3, 7)
                    new = group_b.create_dataset(name, data=obj[()], maxshape=(None, obj.shape[1]), chunks=c,
                                                 fletcher32=True)
                    chunks.append((new.name, new.chunks))
                else:
                    new = group_b.create_dataset(name, data=obj[()])
                for k, v in obj.attrs.items():
                    if k not in SKIP_ATTRS:
                        new.attrs[k] = v
        copy(a, b)
    return chunks


@pytest.mark.parametrize("m", [None, 2])
def test_storage_chunks_split_across_cycles_and_states_change_nothing(tmp_path, m):
    _, pd = synth.pulse_data(cycles=90, seed=7, samples_per_pulse=20, flag_every=53)
    write_pulse_archive(tmp_path / "a.h5", pd, {"name": "synthetic"}, kind="pulse_cycling")
    chunks = _rechunk(tmp_path / "a.h5", tmp_path / "b.h5")
    assert ("/pulses/read_current_A", (3, 7)) in chunks and ("/pulses/waveform/current_A", (2, 97)) in chunks
    np.testing.assert_array_equal(read_run(tmp_path / "b.h5").pulses.read_current_A, pd.read_current_A)
    contiguous = analyze_runs([tmp_path / "a.h5"], AnalyzeOptions(n_boot=200, seed=1, pulses_per_state=m))
    for chunk in (7, 1, 0):
        split = analyze_runs([tmp_path / "b.h5"], AnalyzeOptions(n_boot=200, seed=1, pulses_per_state=m,
                                                                 chunk_cycles=chunk))
        _assert_same(split.device, contiguous.device)
    if m == 2:  # states of two pulses each: storage chunks of 7 reads split some of them
        assert contiguous.device.pulses_per_state == 2
