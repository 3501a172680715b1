"""Regression tests, one per defect the reliability suite found (see the issue-9 note).

Each reproduces the defect in the smallest way, in-process; the broad
hostile-input and fault cases live in the other test files.
"""

from __future__ import annotations

import json
import pathlib

import h5py
import numpy as np
import pytest

from memlab.analysis.device_file import load_device_file
from memlab.analysis.importers import ImportSpec, read_pulse_files
from memlab.errors import ConfigError, ImportDataError, LimitError, SchemaError
from memlab.protocols.archive import ArchiveWriter, read_run
from memlab.protocols.info import run_summary
from memlab.protocols.loader import load_protocol, protocol_from_dict
from memlab.protocols.measure import measure

from .cases import PAPER, hostile_archives, memory_cap, protocol_file

SPEC = ImportSpec("rows", "conductance")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("small")
    out = folder / "run.h5"
    measure(protocol_file(folder, 3), backend="sim", out=out, progress=False)
    return out


def copy_of(run: pathlib.Path, folder: pathlib.Path, name: str = "copy.h5") -> pathlib.Path:
    path = folder / name
    path.write_bytes(run.read_bytes())
    return path


# --------------------------------------------------------------------------- importers (analysis)


def test_a_first_row_mixing_numbers_and_text_is_refused_not_dropped_as_a_header(tmp_path):
    # Was: "1e-3,2e-3x" made row 1 a header, silently losing a cycle of data.
    (tmp_path / "up.csv").write_text("1e-3,2e-3x\n2e-3,3e-3\n")
    (tmp_path / "down.csv").write_text("3e-3,2e-3\n")
    with pytest.raises(ImportDataError, match=r"up.csv: row 1, column 2: '2e-3x' is not a number"):
        read_pulse_files(SPEC, up=tmp_path / "up.csv", down=tmp_path / "down.csv")


def test_a_header_of_names_is_still_a_header(tmp_path):
    (tmp_path / "up.csv").write_text("c1,c2\n1e-3,2e-3\n")
    (tmp_path / "down.csv").write_text("3e-3,2e-3\n")
    pulses, _ = read_pulse_files(SPEC, up=tmp_path / "up.csv", down=tmp_path / "down.csv")
    assert pulses.n_cycles == 1 and pulses.n_up == 2


def test_long_csv_with_absurd_pulse_numbers_is_refused_without_allocating(tmp_path):
    # Was: a grid of 10**12 pulses was allocated (MemoryError, exit 1).
    f = tmp_path / "long.csv"
    f.write_text("cycle,pulse,value,branch\n1,1,1e-3,up\n1,1000000000000,2e-3,up\n1,1,1e-3,down\n1,2,1e-3,down\n")
    with pytest.raises(ImportDataError, match=r"long.csv: pulses numbered 1 .. 1000000000000 for only 2 values"):
        read_pulse_files(ImportSpec("long", "conductance"), file=f)


def test_a_one_pulse_branch_refusal_names_the_files(tmp_path):
    (tmp_path / "up.csv").write_text("1e-3\n2e-3\n")
    (tmp_path / "down.csv").write_text("3e-3,2e-3\n")
    with pytest.raises(ImportDataError, match=r"up.csv / .*down.csv: potentiation: need at least one cycle"):
        read_pulse_files(SPEC, up=tmp_path / "up.csv", down=tmp_path / "down.csv")


# --------------------------------------------------------------------------- device file (analysis)


def test_a_deeply_nested_device_file_is_a_schema_error(tmp_path):
    # Was: RecursionError out of json.loads (exit 1 with "unexpected error").
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SchemaError, match="deep.json: JSON nested too deeply"):
        load_device_file(f)


# --------------------------------------------------------------------------- archive reader (protocols)


def _edit(path, change):
    with h5py.File(path, "r+", locking=False) as f:
        change(f)


def test_a_huge_declared_shape_is_refused_before_anything_is_allocated(small_run, tmp_path):
    # Was: MemoryError (298 GiB) from a 100 kB file whose dataset declares 10**9 cycles.
    path = copy_of(small_run, tmp_path)

    def huge(f):
        del f["pulses/read_current_A"]
        f.create_dataset("pulses/read_current_A", shape=(10**9, 40), dtype="f8", chunks=(1, 40), maxshape=(None, 40))
    _edit(path, huge)
    with pytest.raises(SchemaError, match=r"copy.h5: dataset /pulses/read_current_A declares shape \(1000000000, 40\)"):
        read_run(path)


@pytest.mark.parametrize("name, data, match", [
    ("pulses/read_current_A", np.array([[b"x"] * 40] * 3), "has dtype |S1, expected floating point"),
    ("pulses/read_status", np.full((3, 40), 0.5), "has dtype float64, expected unsigned integer"),
    ("pulses/read_time_s", np.zeros(120), r"has shape \(120,\), expected 2 dimension"),
    ("pulses/read_voltage_V", np.zeros((3, 41)), r"disagree in width \(\[40, 41\]\)"),
    ("pulses/pulse_amplitude_V", np.zeros(7), r"pulse_amplitude_V has shape \(7,\), expected \(40,\)"),
    ("pulses/waveform/time_s", np.zeros(5), "has 1220 samples per cycle, time_s 5"),
    ("pulses/waveform/pulse_index", np.full(1220, 0.5), "expected integer"),
])
def test_datasets_of_the_wrong_dtype_or_shape_are_refused(small_run, tmp_path, name, data, match):
    # Was: read (or half-read) and crashed later in analysis with a TypeError or a wrong number.
    path = copy_of(small_run, tmp_path)

    def change(f):
        del f[name]
        f.create_dataset(name, data=data)
    _edit(path, change)
    with pytest.raises(SchemaError, match=match) as err:
        read_run(path, waveforms=False)
    assert str(path) in str(err.value)


def test_waveform_pulse_index_out_of_range_is_refused_when_loaded(small_run, tmp_path):
    path = copy_of(small_run, tmp_path)
    _edit(path, lambda f: f["pulses/waveform/pulse_index"].__setitem__(0, 40))
    with pytest.raises(SchemaError, match=r"pulse_index holds -?\d+ .. 40, allowed -1 .. 39"):
        read_run(path).pulses


@pytest.mark.parametrize("key, value, match", [
    ("protocol_json", "[1, 2]", "'protocol_json' is not a JSON object"),
    ("protocol_json", '{"cycles": NaN}', "'protocol_json' holds NaN"),
])
def test_a_stored_protocol_that_is_not_a_json_object_is_refused(small_run, tmp_path, key, value, match):
    # Was: `memlab info` failed with AttributeError ('list' object has no attribute 'get').
    path = copy_of(small_run, tmp_path)
    _edit(path, lambda f: f.attrs.__setitem__(key, value))
    with pytest.raises(SchemaError, match=match):
        read_run(path)


@pytest.mark.parametrize("attr, value", [("n_up", "twenty"), ("n_up", -5), ("cycles_planned", 2.5)])
def test_count_attributes_must_be_whole_numbers(small_run, tmp_path, attr, value):
    path = copy_of(small_run, tmp_path)
    _edit(path, lambda f: f["pulses"].attrs.__setitem__(attr, value))
    with pytest.raises(SchemaError, match=f"attribute /pulses/@{attr} is"):
        read_run(path)


def test_damaged_hdf5_metadata_is_a_schema_error_naming_the_file(small_run, tmp_path):
    # Was: RuntimeError/OSError from h5py ("bad symbol table node version" ...), exit 1.
    refused = 0
    for name, (path, _) in hostile_archives(small_run, tmp_path, n_flips=24).items():
        if not name.startswith("bitflip"):
            continue
        try:
            run = read_run(path)
            run.attrs, run.pulses  # the lazy parts too
        except SchemaError as exc:
            assert str(path) in str(exc)
            refused += 1
    assert refused, "no bit flip hit the metadata: the test proves nothing"


def test_info_shows_an_archive_whose_instrument_attribute_is_not_an_object(small_run, tmp_path):
    # Was: AttributeError in `memlab info`.
    path = copy_of(small_run, tmp_path)
    _edit(path, lambda f: f.attrs.__setitem__("instrument", "[1]"))
    assert "instrument" not in run_summary(path)


def test_resume_of_an_archive_with_an_invalid_stored_protocol_names_the_file(small_run, tmp_path):
    path = copy_of(small_run, tmp_path)
    _edit(path, lambda f: (f.attrs.__setitem__("protocol_json", json.dumps({"name": "x"})),
                           f.attrs.__setitem__("status", "failed")))
    with pytest.raises(ConfigError, match=r"copy.h5: the stored protocol is invalid: kind=None"):
        measure(None, backend="sim", out=path, resume=True, progress=False)


# --------------------------------------------------------------------------- protocol loader (protocols)

def _paper(**changes) -> dict:
    import tomllib

    tree = tomllib.loads(PAPER.read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = tree
        for p in parents:
            node = node[p]
        node[key] = value
    return tree


@pytest.mark.parametrize("changes, match", [
    ({"kind": []}, r"kind=\[\]: allowed"),  # was TypeError: unhashable type
    ({"potentiation.amplitude_V": {"from": "a", "to": 1.0}}, r"potentiation.amplitude_V.from='a': a ramp runs"),
    ({"potentiation.width_s": {"from": 1e-7, "to": None}}, r"potentiation.width_s.to=None"),
    ({"potentiation.count": 10**12, "potentiation.amplitude_V": {"from": 0.7, "to": 0.9}},
     r"potentiation.count=1000000000000: allowed whole numbers 1 .. 4194304"),  # was: built the ramp until OOM
    ({"name": {"a": 1}}, r"name=\{'a': 1\}: must be text"),  # was accepted
    ({"description": ["x"]}, r"description=\['x'\]: must be text"),
    ({"record_waveforms": "yes"}, r"record_waveforms='yes': must be true or false"),  # was accepted as true
])
def test_protocol_loader_refuses_what_it_used_to_crash_on_or_accept(changes, match):
    with memory_cap(), pytest.raises(LimitError if "kind" not in changes else ConfigError, match=match):
        protocol_from_dict(_paper(**changes))


def test_deeply_nested_toml_is_a_config_error(tmp_path):
    # Was: RecursionError out of tomllib.
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="deep.toml: not valid TOML"):
        load_protocol(f)


# --------------------------------------------------------------------------- archive writer (protocols)


def test_an_append_the_disk_cannot_take_is_refused_and_the_archive_stays_readable(tmp_path, monkeypatch):
    # Was: HDF5 half-wrote the append, then segfaulted; the file never opened again (all cycles lost).
    import memlab.protocols.archive as archive

    path = tmp_path / "full.h5"
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={})
    w.begin_pulses(n_up=1, n_down=1, pulse_amplitude_V=[1.0, -1.0], pulse_width_s=[1e-6, 1e-6], cycles_planned=9)
    row = np.ones(2)
    w.append_cycles(row, row, row, np.zeros(2, dtype=np.uint16))
    monkeypatch.setattr(archive, "_room_B", lambda path, size: 1000)
    with pytest.raises(archive.ArchiveFullError, match=r"full.h5: no room for the next 1 row\(s\): 1000 bytes left"):
        w.append_cycles(row * 2, row, row, np.zeros(2, dtype=np.uint16))
    w.close("failed", "disk full")
    run = read_run(path)
    assert run.status == "failed" and run.pulses.n_cycles == 1 and run.pulses.read_time_s[0, 0] == 1.0


def test_analysis_of_non_physical_numbers_names_the_run_not_the_output(small_run, tmp_path, capfd):
    # Was: numpy overflow warnings, then "out.json: key 'energy_per_cycle_J.std' must be finite".
    from memlab.analysis.pipeline import AnalyzeOptions, analyze

    path = copy_of(small_run, tmp_path)
    _edit(path, lambda f: f["pulses/waveform/current_A"].__setitem__((0, slice(None)), 1e300))
    with pytest.raises(SchemaError, match=r"copy.h5: the extracted device file would be invalid .*energy_per_cycle_J"):
        analyze([path], tmp_path / "out.json", options=AnalyzeOptions(n_boot=0))
    assert "RuntimeWarning" not in capfd.readouterr().err
    assert not (tmp_path / "out.json").exists()
