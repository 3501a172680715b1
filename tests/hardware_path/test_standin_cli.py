"""`memlab measure --backend wgfmu --wgfmu-library libwgfmu_standin.so`: the whole CLI path through C.

The paper protocol recorded through the compiled stand-in (with the virtual
device and the simulated WGFMU's noise behind it as C callbacks) and on the
simulated backend gives the same archive, dataset by dataset, value by value.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from memlab.cli import main
from memlab.instruments.virtual_device import VirtualMemristor
from memlab.instruments.wgfmu import ErrorCode
from memlab.protocols.archive import read_run

PROTOCOLS = Path(__file__).parents[2] / "sample_data" / "protocols"
PAPER = PROTOCOLS / "paper-tailored.toml"
DEVICE_SEED, SEED = 3, 11
_REFERENCES = {"REFERENCE_LIST", "DIMENSION_LIST"}  # HDF5 object references, valid in one file only


def _datasets(path: Path) -> dict[str, tuple[np.ndarray, dict]]:
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                attrs = {k: obj.attrs[k] for k in obj.attrs if k not in _REFERENCES}
                # dimension scales refer to objects of their own file: compare what they name
                attrs["dims"] = [[s.name for s in d.values()] for d in obj.dims]
                found[name] = (obj[()], attrs)
        f.visititems(visit)
    return found


def _measure(out: Path, backend: str, *extra: str) -> int:
    return main(["measure", "--protocol", str(PAPER), "--backend", backend, "--device-seed", str(DEVICE_SEED),
                 "--seed", str(SEED), "--out", str(out), "--quiet", *extra])


def test_the_paper_protocol_through_the_compiled_library_matches_the_simulated_backend(standin, standin_path,
                                                                                       tmp_path):
    standin.set_device(VirtualMemristor(device_seed=DEVICE_SEED, seed=SEED), seed=SEED)
    assert _measure(tmp_path / "standin.h5", "wgfmu", "--wgfmu-library", str(standin_path)) == 0
    assert standin.callbacks.errors == []
    assert not standin.session_open and standin.output(101) == (0.0, False)
    assert _measure(tmp_path / "sim.h5", "sim") == 0

    c_run, sim_run = read_run(tmp_path / "standin.h5"), read_run(tmp_path / "sim.h5")
    assert c_run.status == sim_run.status == "complete"
    assert c_run.attrs["instrument"]["backend_class"] == "WGFMULibrary"
    c_sets, sim_sets = _datasets(tmp_path / "standin.h5"), _datasets(tmp_path / "sim.h5")
    assert sorted(c_sets) == sorted(sim_sets)
    assert {"pulses/read_current_A", "pulses/waveform/current_A"} <= set(c_sets)
    for name, (values, attrs) in sim_sets.items():
        c_values, c_attrs = c_sets[name]
        assert c_values.dtype == values.dtype and c_values.shape == values.shape, name
        assert sorted(c_attrs) == sorted(attrs), name
        for key, value in attrs.items():
            assert np.array_equal(c_attrs[key], value), f"{name}.attrs[{key!r}]"
        np.testing.assert_array_equal(c_values, values, err_msg=name)
    # and the run did program the device: 100 cycles of 40 reads spread over its window
    reads = c_sets["pulses/read_current_A"][0]
    assert reads.shape == (100, 40) and np.ptp(reads[0]) > 1e-5


def test_the_console_script_runs_on_the_stand_in_with_its_built_in_resistor(standin_path, tmp_path):
    """A separate process, as a user runs it: no callbacks, the stand-in's 1 mS resistor answers."""
    protocol = tmp_path / "short.toml"
    protocol.write_text(PAPER.read_text().replace("cycles = 100", "cycles = 3"))
    out = tmp_path / "run.h5"
    done = subprocess.run([sys.executable, "-m", "memlab.cli", "measure", "--protocol", str(protocol),
                           "--backend", "wgfmu", "--wgfmu-library", str(standin_path), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run = read_run(out)
    assert run.status == "complete" and run.pulses.read_current_A.shape == (3, 40)
    # the read is -0.1 V on 1 mS; 2e-3 of the 10 mA range is the instrument noise per point
    np.testing.assert_allclose(run.pulses.read_current_A, -1e-4, atol=1e-4)


def test_an_io_error_mid_run_fails_the_archive_keeps_its_cycles_and_ends_at_0_V(standin, standin_path, tmp_path,
                                                                                capsys):
    standin.set_device(VirtualMemristor(device_seed=DEVICE_SEED, seed=SEED), seed=SEED)
    standin.time_scale(0.05)  # 0.28 s of sequence over ~6 s: the runner reads it in many chunks
    standin.fail_next("getMeasureValues", int(ErrorCode.COMMUNICATION), "VISA: I/O error (connection lost)", skip=3)
    assert _measure(tmp_path / "standin.h5", "wgfmu", "--wgfmu-library", str(standin_path)) == 2
    assert "WGFMU_getMeasureValues failed: COMMUNICATION: " in capsys.readouterr().err
    assert not standin.session_open and standin.output(101) == (0.0, False) and standin.output(102) == (0.0, False)
    run = read_run(tmp_path / "standin.h5")
    assert run.status == "failed" and "connection lost" in run.status_reason
    kept = run.pulses.read_current_A
    assert 0 < kept.shape[0] < 100
    # nothing lost: what was kept is what a full simulated run records for those cycles
    assert _measure(tmp_path / "sim.h5", "sim") == 0
    full = read_run(tmp_path / "sim.h5").pulses.read_current_A
    np.testing.assert_array_equal(kept, full[: kept.shape[0]])


def test_a_device_model_that_raises_stops_the_run_as_a_library_error(standin, standin_path, tmp_path, capsys):
    class Broken(VirtualMemristor):
        def apply_segment(self, v0, v1, dt):
            if self.elapsed_s > 1e-3:
                raise RuntimeError("model exploded")
            super().apply_segment(v0, v1, dt)

    callbacks = standin.set_device(Broken(device_seed=DEVICE_SEED, seed=SEED), seed=SEED)
    assert _measure(tmp_path / "standin.h5", "wgfmu", "--wgfmu-library", str(standin_path)) == 2
    assert "LIBRARY: " in capsys.readouterr().err
    assert [str(e) for e in callbacks.errors] == ["model exploded"]
    assert read_run(tmp_path / "standin.h5").status == "failed"
    assert not standin.session_open


def test_a_library_path_that_does_not_load_is_refused_before_any_archive(tmp_path, capsys):
    """The binding's Linux path: a library path that does not load is a one-line error naming it."""
    bogus = tmp_path / "libwgfmu.so"
    bogus.write_text("not a shared object")
    assert _measure(tmp_path / "x.h5", "wgfmu", "--wgfmu-library", str(bogus)) == 2
    err = capsys.readouterr().err
    assert str(bogus) in err and "Windows-only" in err
    assert not (tmp_path / "x.h5").exists()
