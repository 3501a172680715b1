"""Archives that prove their integrity: Fletcher-32 on every dataset (schema 2), ``memlab verify``,
the v1 reader, refusal of links and data outside the file, and ``running`` vs ``interrupted``."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from memlab.cli import main
from memlab.errors import DamagedDataError, SchemaError
from memlab.protocols.archive import SCHEMA_VERSION, read_run
from memlab.protocols.verify import verify_archive

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE_RUNS = ROOT / "sample_data" / "runs"
V1 = pathlib.Path(__file__).resolve().parent / "data"
SAMPLES = sorted(SAMPLE_RUNS.glob("*.h5"))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def datasets(path: pathlib.Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append(obj.name) if isinstance(obj, h5py.Dataset) else None)
    return names


def flip_in_chunk(path: pathlib.Path, dataset: str, chunk: int = 0, at: float = 0.5, bit: int = 3) -> None:
    """Flip one bit inside the stored data of ``dataset``'s ``chunk`` (not its checksum)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    offset = info.byte_offset + int((info.size - 4) * at)  # the last 4 bytes are the checksum
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ (1 << bit)]))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_archives_are_v2_with_a_checksum_on_every_dataset_and_verify_intact(path, capsys):
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION >= 2  # checksums since version 2
        unprotected = [n for n in datasets(path) if not f[n].fletcher32]
    assert unprotected == []
    rc, out, _ = cli(capsys, "verify", str(path))
    assert rc == 0 and "intact" in out and "Fletcher-32" in out


def test_a_bit_flip_in_a_committed_sample_archive_is_detected_naming_the_dataset(tmp_path, capsys):
    path = tmp_path / "paper.h5"
    shutil.copy(SAMPLE_RUNS / "paper-tailored-sim.h5", path)
    with h5py.File(path, "r") as f:
        rows = f["pulses/read_current_A"].chunks[0]
    flip_in_chunk(path, "/pulses/read_current_A", chunk=0)
    rc, out, err = cli(capsys, "verify", str(path))
    assert rc == 2
    assert f"/pulses/read_current_A: checksum mismatch in cycles 0..{rows - 1}" in out
    assert "damaged" in err and "/pulses/read_current_A" in err and len(err.strip().splitlines()) == 1
    # the other datasets still verify: only the one hit is named
    assert out.count("checksum mismatch") == 1


def test_analyze_refuses_a_damaged_dataset_by_name_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "paper.h5"
    shutil.copy(SAMPLE_RUNS / "paper-tailored-sim.h5", path)
    flip_in_chunk(path, "/pulses/read_voltage_V", chunk=0)
    out = tmp_path / "device.json"
    rc, _, err = cli(capsys, "analyze", str(path), "--out", str(out), "--bootstrap", "0")
    assert rc == 2 and "dataset /pulses/read_voltage_V is damaged" in err and not out.exists()
    with pytest.raises(DamagedDataError, match="read_voltage_V"):
        read_run(path).pulses  # read_run reads no bulk data: the reads are refused when loaded


def test_a_flip_in_a_waveform_chunk_names_the_cycle_and_the_reader_refuses_the_waveform(tmp_path, capsys):
    path = tmp_path / "paper.h5"
    shutil.copy(SAMPLE_RUNS / "paper-tailored-sim.h5", path)
    with h5py.File(path, "r") as f:
        ds = f["pulses/waveform/current_A"]
        rows, n, cycles = ds.chunks[0], ds.id.get_num_chunks(), ds.shape[0]
    flip_in_chunk(path, "/pulses/waveform/current_A", chunk=n - 1)
    report = verify_archive(path)
    (damage,) = report.damage
    assert damage.where == "/pulses/waveform/current_A" and damage.what.startswith("checksum mismatch in cycles ")
    first, last = (n - 1) * rows, cycles - 1  # the last chunk holds the last cycles
    assert damage.what.endswith(f"{first}" if first == last else f"{first}..{last}")
    assert read_run(path, waveforms=False).pulses.n_cycles == cycles  # the reads are intact ...
    with pytest.raises(DamagedDataError, match="waveform/current_A"):
        read_run(path).pulses  # ... the waveform is refused when it is loaded
    rc, out, _ = cli(capsys, "info", str(path))
    assert rc == 0 and "DAMAGED: /pulses/waveform/current_A" in out


def test_every_bulk_dataset_of_every_sample_detects_a_flip_in_any_chunk(tmp_path):
    rng = np.random.default_rng(19)
    for sample in SAMPLES:
        for name in datasets(sample):
            path = tmp_path / sample.name
            shutil.copy(sample, path)
            with h5py.File(path, "r") as f:
                n = f[name].id.get_num_chunks()
            flip_in_chunk(path, name, int(rng.integers(n)), float(rng.uniform(0, 1)), int(rng.integers(8)))
            report = verify_archive(path)
            assert [d.where for d in report.damage] == [name], (sample.name, name, report.damage)


@pytest.mark.parametrize("name", ["v1-pulse-2cycles.h5", "v1-retention.h5", "v1-iv-sweep.h5"])
def test_v1_archives_still_read_and_verify_without_checksums(name, capsys):
    path = V1 / name
    run = read_run(path)
    assert run.schema_version == 1 and run.status == "complete"
    rc, out, _ = cli(capsys, "verify", str(path))
    assert rc == 0 and "no checksums (schema 1" in out
    rc, out, _ = cli(capsys, "info", str(path))
    assert rc == 0 and "schema 1 stores no checksums" in out


def test_the_v1_reader_reads_what_v2_stores_for_the_same_run(tmp_path):
    """The committed v1 file and a v2 file measured now with the same protocol and seeds hold equal data."""
    v1 = read_run(V1 / "v1-pulse-2cycles.h5")
    proto = tmp_path / "p.toml"
    proto.write_text((ROOT / "sample_data/protocols/paper-tailored.toml").read_text()
                     .replace("cycles = 100", "cycles = 2"))
    out = tmp_path / "v2.h5"
    assert main(["measure", "--protocol", str(proto), "--backend", "sim", "--seed", "1", "--out", str(out),
                 "--quiet"]) == 0
    v2 = read_run(out)
    assert v2.schema_version == SCHEMA_VERSION
    with h5py.File(out, "r") as f:
        assert all(f[name].fletcher32 for name in datasets(out))
    for key in ("read_time_s", "read_voltage_V", "read_status", "pulse_amplitude_V"):
        np.testing.assert_array_equal(getattr(v1.pulses, key), getattr(v2.pulses, key))
    # The currents are the virtual device's, which has changed since the v1 file was made (issue #15's
    # variability): the same shapes and types, and the v1 file's currents still read back as stored.
    for key in ("read_current_A",):
        assert getattr(v1.pulses, key).shape == getattr(v2.pulses, key).shape
    assert v1.pulses.waveform.current_A.shape == v2.pulses.waveform.current_A.shape
    with h5py.File(V1 / "v1-pulse-2cycles.h5", "r") as f:
        np.testing.assert_array_equal(f["pulses/read_current_A"][...], v1.pulses.read_current_A)


def _edit(path: pathlib.Path, change) -> None:
    with h5py.File(path, "r+", locking=False) as f:
        change(f)


def _copy(tmp_path: pathlib.Path, name: str = "iv-sweep-sim.h5") -> pathlib.Path:
    path = tmp_path / name
    shutil.copy(SAMPLE_RUNS / name, path)
    return path


def test_verify_checks_consistency_flags_rows_plan_and_attributes(tmp_path):
    cases = {
        "unknown-flag": (lambda f: f["iv/status"].__setitem__((1, 5), 1 << 12), "/iv/status",
                         "status flags outside PointStatus in sweeps 1"),
        "rows-disagree": (lambda f: f["iv/current_A"].resize(2, axis=0), "/iv", "disagree in length"),
        "short-of-plan": (lambda f: [f["iv"][k].resize(2, axis=0) for k in ("status", "current_A", "voltage_V")],
                          "/iv/@sweeps_planned", "holds 2 sweeps of 3"),
        "no-end": (lambda f: f.attrs.__setitem__("end_utc", ""), "/@end_utc", "empty"),
        "no-units": (lambda f: f["iv/current_A"].attrs.__delitem__("units"), "/iv/current_A", "without a 'units'"),
    }
    for label, (change, where, text) in cases.items():
        path = _copy(tmp_path)
        _edit(path, change)
        report = verify_archive(path)
        assert any(d.where == where and text in d.what for d in report.damage), (label, report.damage)


def test_a_v2_dataset_without_its_checksum_is_reported(tmp_path):
    path = _copy(tmp_path)

    def strip(f):
        data = f["iv/current_A"][()]
        attrs = dict(f["iv/current_A"].attrs)
        del f["iv/current_A"]
        ds = f["iv"].create_dataset("current_A", data=data, maxshape=(None, data.shape[1]))
        ds.attrs.update(attrs)
    _edit(path, strip)
    assert [str(d) for d in verify_archive(path).damage] == [
        "/iv/current_A: has no Fletcher-32 checksum (schema 2 stores one on every dataset)"]


def test_links_virtual_and_external_datasets_are_refused_and_no_other_file_is_read(tmp_path, capsys):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f.create_dataset("current_A", data=np.ones((3, 244)))
    raw = tmp_path / "raw.bin"
    np.ones((3, 244)).tofile(raw)

    def external_link(f):
        del f["iv/current_A"]
        f["iv/current_A"] = h5py.ExternalLink(str(secret), "/current_A")

    def soft_link(f):
        del f["iv/current_A"]
        f["iv/current_A"] = h5py.SoftLink("/iv/voltage_V")

    def virtual(f):
        del f["iv/current_A"]
        layout = h5py.VirtualLayout(shape=(3, 244), dtype="f8")
        layout[:] = h5py.VirtualSource(str(secret), "current_A", shape=(3, 244))
        f["iv"].create_virtual_dataset("current_A", layout, fillvalue=0)

    def external_storage(f):
        del f["iv/current_A"]
        f["iv"].create_dataset("current_A", shape=(3, 244), dtype="f8", external=[(str(raw), 0, h5py.h5f.UNLIMITED)])

    for label, change, text in (("external-link", external_link, "ExternalLink"), ("soft-link", soft_link, "SoftLink"),
                                ("virtual", virtual, "virtual"), ("external-storage", external_storage, "external")):
        path = _copy(tmp_path, "iv-sweep-sim.h5")
        path = path.rename(tmp_path / f"{label}.h5")
        _edit(path, change)
        with pytest.raises(SchemaError, match=text):
            read_run(path)
        rc, out, err = cli(capsys, "verify", str(path))
        assert rc == 2 and "/iv/current_A" in out and label in err, (label, out, err)
        rc, _, err = cli(capsys, "info", str(path))
        assert rc == 2 and f"{label}.h5" in err and text in err and len(err.strip().splitlines()) == 1


def test_the_per_dataset_size_limit_is_the_users_to_raise(tmp_path, monkeypatch, capsys):
    path = SAMPLE_RUNS / "paper-tailored-sim.h5"
    monkeypatch.setenv("MEMLAB_MAX_DATASET_GB", "0.0001")  # 100 kB: the waveforms are ~1 MB each
    with pytest.raises(SchemaError, match=r"waveform/voltage_V declares .* above the 0.0001 GB limit .*"
                                          r"MEMLAB_MAX_DATASET_GB"):
        read_run(path).pulses
    monkeypatch.setenv("MEMLAB_MAX_DATASET_GB", "lots")
    rc, _, err = cli(capsys, "info", str(path))
    assert rc == 2 and "MEMLAB_MAX_DATASET_GB='lots'" in err
    monkeypatch.setenv("MEMLAB_MAX_DATASET_GB", "1")
    assert read_run(path).pulses.waveform is not None


WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from memlab.protocols.archive import ArchiveWriter
    w = ArchiveWriter.create(sys.argv[1], kind="pulse_cycling", protocol={})
    w.begin_pulses(n_up=1, n_down=1, pulse_amplitude_V=[1.0, -1.0], pulse_width_s=[1e-6, 1e-6], cycles_planned=9)
    w.append_cycles([1.0, 2.0], [0.1, 0.1], [1e-4, 1e-4], [0, 0])
    print("ready", flush=True)
    time.sleep(600)
""")


@pytest.mark.skipif(os.name != "posix", reason="the writer-liveness probe uses flock")
def test_a_reader_sees_running_while_the_writer_lives_and_interrupted_once_it_is_killed(tmp_path, capsys):
    path = tmp_path / "live.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        run = read_run(path)
        assert (run.status, run.stored_status, run.pulses.n_cycles) == ("running", "interrupted", 1)
        assert main(["info", str(path), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["status"] == "running" and info["integrity"]["verified"] is False
    finally:
        proc.kill()
        proc.wait()
    run = read_run(path)
    assert (run.status, run.pulses.n_cycles) == ("interrupted", 1)
    assert pathlib.Path(str(path) + ".lock").exists()  # left by the kill, but no longer locked
    rc, out, _ = cli(capsys, "info", str(path))
    assert rc == 0 and "interrupted (in progress" in out and "checksums and consistency verified" in out
