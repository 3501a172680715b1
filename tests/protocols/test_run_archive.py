"""The run archive: write -> read is the identity, for every group and attribute."""

from __future__ import annotations

import json
import pathlib
import uuid

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from memlab.errors import ArchiveLockedError, ConfigError, DataNotFoundError, SchemaError
from memlab.protocols.archive import (
    IN_PROGRESS_REASON,
    SCHEMA_VERSION,
    ArchiveWriter,
    IVData,
    PulseData,
    RetentionData,
    WaveformData,
    check_units,
    read_run,
    write_archive,
    write_pulse_archive,
)

# HDF5 strings end at NUL and are UTF-8: no NUL, no lone surrogates (not encodable text)
chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
text = st.text(alphabet=chars, max_size=20)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
json_scalars = st.one_of(text, st.integers(-2**53, 2**53), finite, st.booleans(), st.none())
keys = st.text(alphabet=chars, max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(keys, inner, max_size=3)),
                           max_leaves=8)
attr_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda k: k not in {"format", "schema_version", "kind", "uuid", "status", "protocol_json", "json_attrs",
                        "start_utc", "end_utc", "memlab_version", "status_reason"})
attrs_strategy = st.dictionaries(attr_keys, st.one_of(text, st.integers(-2**62, 2**62), finite,
                                                      st.booleans(), json_values), max_size=6)


def arr(shape, dtype=np.float64, elements=floats):
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def pulse_data(draw):
    n_up, n_down = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n, cycles = n_up + n_down, draw(st.integers(0, 5))
    waveform = None
    if draw(st.booleans()):
        samples = draw(st.integers(1, 12))
        waveform = WaveformData(time_s=draw(arr((samples,), elements=finite)), voltage_V=draw(arr((cycles, samples))),
                                current_A=draw(arr((cycles, samples))),
                                pulse_index=draw(arr((samples,), np.int32, st.integers(-1, n - 1))),
                                measured=draw(st.booleans()))
    conductance = draw(arr((cycles, n))) if draw(st.booleans()) else None
    return PulseData(n_up=n_up, n_down=n_down, pulse_amplitude_V=draw(arr((n,), elements=finite)),
                     pulse_width_s=draw(arr((n,), elements=finite)), read_time_s=draw(arr((cycles, n), elements=finite)),
                     read_voltage_V=draw(arr((cycles, n))), read_current_A=draw(arr((cycles, n))),
                     read_status=draw(arr((cycles, n), np.uint16, st.integers(0, 127))),
                     read_conductance_S=conductance, waveform=waveform)


def same(a, b):
    assert a.dtype.kind == np.asarray(b).dtype.kind
    np.testing.assert_array_equal(a, b)


def assert_pulses_equal(got: PulseData, want: PulseData):
    assert (got.n_up, got.n_down) == (want.n_up, want.n_down)
    for name in ("pulse_amplitude_V", "pulse_width_s", "read_time_s", "read_voltage_V", "read_current_A", "read_status"):
        same(getattr(got, name), getattr(want, name))
    assert got.read_status.dtype == np.uint16
    assert (got.read_conductance_S is None) == (want.read_conductance_S is None)
    if want.read_conductance_S is not None:
        same(got.read_conductance_S, want.read_conductance_S)
    assert (got.waveform is None) == (want.waveform is None)
    if want.waveform is not None:
        for name in ("time_s", "voltage_V", "current_A", "pulse_index"):
            same(getattr(got.waveform, name), getattr(want.waveform, name))
        assert got.waveform.measured == want.waveform.measured


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pulses=pulse_data(), attrs=attrs_strategy, protocol=st.dictionaries(keys, json_values, max_size=4),
       status=st.sampled_from(["complete", "interrupted", "failed"]), reason=text)
def test_pulse_archive_round_trip(tmp_path_factory, pulses, attrs, protocol, status, reason):
    path = tmp_path_factory.mktemp("rt") / "run.h5"
    uid = write_pulse_archive(path, pulses, protocol, attrs, status, reason=reason)
    run = read_run(path)
    assert run.uuid == uid and uuid.UUID(uid)
    assert (run.status, run.kind, run.protocol, run.schema_version) == (status, "imported_pulse_cycling", protocol,
                                                                       SCHEMA_VERSION)
    assert {k: run.attrs[k] for k in attrs} == attrs
    assert run.status_reason == reason
    assert run.attrs["start_utc"].endswith("Z") and run.attrs["end_utc"] >= run.attrs["start_utc"]
    assert_pulses_equal(run.pulses, pulses)
    assert run.retention is None and run.iv is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=st.integers(0, 4), points=st.integers(1, 8), sweeps=st.integers(0, 4), ivpoints=st.integers(1, 9),
       data=st.data())
def test_retention_and_iv_round_trip(tmp_path_factory, states, points, sweeps, ivpoints, data):
    ret = RetentionData(target_pulses=data.draw(arr((states,), np.int64, st.integers(0, 100))),
                        time_s=data.draw(arr((states, points), elements=finite)),
                        voltage_V=data.draw(arr((states, points))), current_A=data.draw(arr((states, points))),
                        status=data.draw(arr((states, points), np.uint16, st.integers(0, 127))))
    iv = IVData(voltage_V=data.draw(arr((sweeps, ivpoints), elements=finite)),
                current_A=data.draw(arr((sweeps, ivpoints))),
                status=data.draw(arr((sweeps, ivpoints), np.uint16, st.integers(0, 127))))
    path = tmp_path_factory.mktemp("rt") / "run.h5"
    write_archive(path, kind="retention", protocol={"kind": "retention"}, retention=ret, iv=iv)
    run = read_run(path)
    for name in ("target_pulses", "time_s", "voltage_V", "current_A", "status"):
        same(getattr(run.retention, name), getattr(ret, name))
    for name in ("voltage_V", "current_A", "status"):
        same(getattr(run.iv, name), getattr(iv, name))
    assert run.pulses is None


def small_pulses(cycles=3, waveform=True) -> PulseData:
    rng = np.random.default_rng(0)
    wf = WaveformData(time_s=np.arange(6) * 1e-8, voltage_V=rng.normal(size=(cycles, 6)),
                      current_A=rng.normal(size=(cycles, 6)), pulse_index=np.array([0, 0, -1, 1, 1, 1]),
                      measured=True) if waveform else None
    return PulseData(n_up=1, n_down=1, pulse_amplitude_V=np.array([0.8, -0.8]), pulse_width_s=np.array([1e-7, 1e-7]),
                     read_time_s=np.arange(cycles * 2, dtype=float).reshape(cycles, 2),
                     read_voltage_V=np.full((cycles, 2), -0.1), read_current_A=rng.normal(size=(cycles, 2)),
                     read_status=np.zeros((cycles, 2), np.uint16), waveform=wf)


def test_every_numeric_dataset_has_units_and_opens_in_plain_h5py(tmp_path):
    path = tmp_path / "run.h5"
    p = small_pulses()
    write_archive(path, kind="pulse_cycling", protocol={"a": 1}, pulses=p,
                  retention=RetentionData(np.array([1]), np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2)),
                                          np.zeros((1, 2), np.uint16)),
                  iv=IVData(np.ones((1, 3)), np.ones((1, 3)), np.zeros((1, 3), np.uint16)))
    seen = []
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION and json.loads(f.attrs["protocol_json"]) == {"a": 1}
        f.visititems(lambda name, obj: seen.append((name, obj.attrs.get("units")))
                     if isinstance(obj, h5py.Dataset) else None)
        assert f["pulses/read_status"].attrs["flag_meanings"].startswith("COMPLIANCE")
    assert len(seen) == 24 and all(units for _, units in seen), seen


def test_writer_flushes_every_cycle_and_a_reader_sees_them_while_it_runs(tmp_path):
    path = tmp_path / "run.h5"
    p = small_pulses(4)
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={}, attrs={"sample_id": "S1"})
    w.begin_pulses(n_up=1, n_down=1, pulse_amplitude_V=p.pulse_amplitude_V, pulse_width_s=p.pulse_width_s,
                   cycles_planned=4, waveform_time_s=p.waveform.time_s, waveform_pulse_index=p.waveform.pulse_index)
    for c in range(2):
        w.append_cycles(p.read_time_s[c], p.read_voltage_V[c], p.read_current_A[c], p.read_status[c],
                        waveform_voltage_V=p.waveform.voltage_V[c], waveform_current_A=p.waveform.current_A[c])
    run = read_run(path)  # its writer holds the lock: running, stored as in progress
    assert run.status == "running" and run.stored_status == "interrupted"
    assert run.status_reason == IN_PROGRESS_REASON
    same(run.pulses.read_current_A, p.read_current_A[:2])
    assert run.cycles_planned == 4
    w.append_cycles(p.read_time_s[2:], p.read_voltage_V[2:], p.read_current_A[2:], p.read_status[2:],
                    waveform_voltage_V=p.waveform.voltage_V[2:], waveform_current_A=p.waveform.current_A[2:])
    w.close()
    run = read_run(path)
    assert run.status == "complete" and run.attrs["sample_id"] == "S1"
    assert_pulses_equal(run.pulses, p)


def test_a_writer_closing_while_a_reader_reads_the_header_is_not_taken_for_a_killed_one(tmp_path, monkeypatch):
    """The race `memlab watch` met under load: the header read while the run was in progress, the
    writer closed (final status, lock released), then the liveness probe: 'interrupted' for a run
    that completed. The probe now comes first, so the reader says 'running' (true when it read)."""
    from memlab.protocols import archive_read

    path = tmp_path / "run.h5"
    p = small_pulses(2)
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={})
    w.begin_pulses(n_up=1, n_down=1, pulse_amplitude_V=p.pulse_amplitude_V, pulse_width_s=p.pulse_width_s,
                   cycles_planned=2)
    w.append_cycles(p.read_time_s, p.read_voltage_V, p.read_current_A, p.read_status)
    real = archive_read._read_header

    def header_then_the_writer_closes(path_, f):
        header = real(path_, f)
        w.close()
        return header

    monkeypatch.setattr(archive_read, "_read_header", header_then_the_writer_closes)
    assert read_run(path).status == "running"
    monkeypatch.setattr(archive_read, "_read_header", real)
    assert read_run(path).status == "complete"


def test_a_second_writer_is_refused_while_the_first_holds_the_archive(tmp_path):
    path = tmp_path / "run.h5"
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={})
    with pytest.raises(ArchiveLockedError, match="another writer"):
        ArchiveWriter.create(path, kind="pulse_cycling", protocol={}, overwrite=True)
    with pytest.raises(ArchiveLockedError):
        ArchiveWriter.resume(path)
    w.close("interrupted", "test")
    ArchiveWriter.resume(path).close()
    assert read_run(path).status == "complete"


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "run.h5"
    write_pulse_archive(path, small_pulses(), {}, {})
    with pytest.raises(ConfigError, match="file exists"):
        write_pulse_archive(path, small_pulses(), {}, {})


def test_context_manager_records_failure_and_interrupt(tmp_path):
    with pytest.raises(RuntimeError):
        with ArchiveWriter.create(tmp_path / "a.h5", kind="pulse_cycling", protocol={}):
            raise RuntimeError("instrument on fire")
    run = read_run(tmp_path / "a.h5")
    assert run.status == "failed" and run.status_reason == "RuntimeError: instrument on fire"
    with pytest.raises(KeyboardInterrupt):
        with ArchiveWriter.create(tmp_path / "b.h5", kind="pulse_cycling", protocol={}):
            raise KeyboardInterrupt
    assert read_run(tmp_path / "b.h5").status == "interrupted"


def test_resume_appends_after_the_last_complete_cycle_and_logs_it(tmp_path):
    path = tmp_path / "run.h5"
    p = small_pulses(4, waveform=False)
    w = ArchiveWriter.create(path, kind="pulse_cycling", protocol={"cycles": 4})
    w.begin_pulses(n_up=1, n_down=1, pulse_amplitude_V=p.pulse_amplitude_V, pulse_width_s=p.pulse_width_s,
                   cycles_planned=4)
    w.append_cycles(p.read_time_s[:2], p.read_voltage_V[:2], p.read_current_A[:2], p.read_status[:2])
    # Simulate a torn third cycle (dataspace grown, nothing written), then a crash.
    for name in ("read_time_s", "read_voltage_V", "read_current_A", "read_status"):
        w._f["pulses"][name].resize(3, axis=0)
    w._f.close()
    w._lock.release()
    run = read_run(path)
    assert run.pulses.n_cycles == 2 and run.status == "interrupted"
    w = ArchiveWriter.resume(path)
    assert w.cycles_completed == 2 and w.protocol == {"cycles": 4}
    w.append_cycles(p.read_time_s[2:], p.read_voltage_V[2:], p.read_current_A[2:], p.read_status[2:])
    w.close()
    run = read_run(path)
    assert run.status == "complete" and len(run.attrs["resume_log"]) == 1
    assert_pulses_equal(run.pulses, p)
    with pytest.raises(ConfigError, match="already 'complete'"):
        ArchiveWriter.resume(path)


def test_nan_rows_are_kept_in_a_closed_archive(tmp_path):
    p = small_pulses(2, waveform=False)
    p.read_time_s[1] = np.nan  # an import may not know its read times
    write_pulse_archive(tmp_path / "a.h5", p, {}, {})
    assert read_run(tmp_path / "a.h5").pulses.n_cycles == 2


def test_reader_refuses_foreign_and_future_files_naming_them(tmp_path):
    with pytest.raises(DataNotFoundError):
        read_run(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(SchemaError, match="text.h5: not a readable HDF5"):
        read_run(tmp_path / "text.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(SchemaError, match="foreign.h5: not a memlab run archive"):
        read_run(tmp_path / "foreign.h5")
    write_pulse_archive(tmp_path / "future.h5", small_pulses(), {}, {})
    with h5py.File(tmp_path / "future.h5", "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(SchemaError, match="future.h5: schema_version 99 is not supported"):
        read_run(tmp_path / "future.h5")
    write_pulse_archive(tmp_path / "nounits.h5", small_pulses(), {}, {})
    with h5py.File(tmp_path / "nounits.h5", "r+") as f:
        del f["pulses/read_current_A"].attrs["units"]
    assert check_units(tmp_path / "future.h5") == []
    assert check_units(tmp_path / "nounits.h5") == ["/pulses/read_current_A"]
    with h5py.File(tmp_path / "nounits.h5", "r+") as f:
        del f["pulses/read_voltage_V"]
    with pytest.raises(SchemaError, match="nounits.h5: dataset /pulses/read_voltage_V is missing"):
        read_run(tmp_path / "nounits.h5")


def test_reserved_and_unsupported_attrs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="'uuid' is reserved"):
        write_pulse_archive(tmp_path / "a.h5", small_pulses(), {}, {"uuid": "x"})
    with pytest.raises(ConfigError, match="unsupported type"):
        write_pulse_archive(tmp_path / "b.h5", small_pulses(), {}, {"obj": object()})


def test_sha256_is_of_the_file(tmp_path):
    import hashlib

    write_pulse_archive(tmp_path / "a.h5", small_pulses(), {}, {})
    assert read_run(tmp_path / "a.h5").sha256 == hashlib.sha256((tmp_path / "a.h5").read_bytes()).hexdigest()


SAMPLE_RUNS = pathlib.Path(__file__).resolve().parents[2] / "sample_data" / "runs"


@pytest.mark.parametrize("name,kind", [("paper-tailored-sim.h5", "pulse_cycling"), ("retention-sim.h5", "retention"),
                                       ("iv-sweep-sim.h5", "iv_sweep")])
def test_sample_archives_are_complete_with_units_everywhere(name, kind):
    path = SAMPLE_RUNS / name
    run = read_run(path)
    assert (run.kind, run.status, run.schema_version) == (kind, "complete", SCHEMA_VERSION)
    assert check_units(path) == [] and path.stat().st_size < 3e6
    assert run.attrs["instrument"]["backend"] == "sim" and run.attrs["sample_id"] == "SIM"
    if kind == "pulse_cycling":
        assert run.pulses.read_current_A.shape == (100, 40) and run.pulses.waveform is not None
        assert run.protocol["name"] == "paper-tailored"
