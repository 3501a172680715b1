"""Retention and I-V protocols on the simulated instruments, and the measure/info CLI."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from memlab.cli import main
from memlab.errors import ConfigError, InstrumentError
from memlab.instruments.b1500 import SimulatedB1500
from memlab.instruments.virtual_device import VirtualMemristor
from memlab.protocols.archive import SCHEMA_VERSION, ArchiveWriter, read_run
from memlab.protocols.iv import run_iv
from memlab.protocols.loader import load_protocol, protocol_to_dict
from memlab.protocols.measure import measure
from memlab.protocols.retention import plan_state

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "sample_data" / "protocols"


def test_retention_reads_each_state_at_log_spaced_times(tmp_path):
    out = tmp_path / "ret.h5"
    result = measure(SAMPLES / "retention.toml", backend="sim", out=out, seed=2, progress=False)
    assert (result.status, result.cycles_completed, result.unit) == ("complete", 4, "state")
    run = read_run(out)
    r = run.retention
    protocol = load_protocol(SAMPLES / "retention.toml")
    assert run.kind == "retention" and r.time_s.shape == (4, 31) and list(r.target_pulses) == [0, 5, 10, 20]
    # Measured times follow the programmed log spacing (plus the settling offset of each read).
    np.testing.assert_allclose(r.time_s[0], protocol.read_times_s(), rtol=1e-3, atol=1e-6)
    g = r.current_A / r.voltage_V
    assert np.all(np.diff(g[:, 0]) > 0), "more programming pulses, higher conductance"
    drift = g[:, -1] / g[:, 0] - 1
    assert np.all(drift < 0) and np.all(drift > -0.03), "relaxes by less than 3 % (paper)"
    assert not r.status.any()


def test_retention_state_pattern_programs_then_waits_at_0V():
    protocol = load_protocol(SAMPLES / "retention.toml")
    pattern, programmed_s = plan_state(protocol, 2)
    volts = np.array(pattern.top_voltages_V)
    assert (volts < -0.5).sum() == 2 * 20 and (volts > 0.5).sum() == 2 * 10  # reset train, 10 program pulses
    assert pattern.duration_s > protocol.duration_s + programmed_s
    assert len(pattern.events) == protocol.points


def test_iv_double_sweep_records_every_loop_with_status(tmp_path):
    out = tmp_path / "iv.h5"
    measure(SAMPLES / "iv-sweep.toml", backend="sim", out=out, progress=False)
    run = read_run(out)
    iv = run.iv
    protocol = load_protocol(SAMPLES / "iv-sweep.toml")
    assert run.kind == "iv_sweep" and iv.voltage_V.shape == (3, protocol.points_per_sweep)
    assert iv.voltage_V.max() == pytest.approx(1.2) and iv.voltage_V.min() == pytest.approx(-1.2)
    assert np.all(np.sign(iv.current_A[iv.voltage_V > 0.1]) > 0)
    assert run.attrs["instrument"]["idn"]["model"] == "B1500A"
    assert ["B1530A", 0] in run.attrs["instrument"]["modules"]


def test_iv_compliance_is_flagged_per_point(tmp_path):
    protocol = load_protocol(SAMPLES / "iv-sweep.toml")
    low = type(protocol)(**{**protocol.__dict__, "compliance_A": 1e-3, "sweeps": 1})
    writer = ArchiveWriter.create(tmp_path / "c.h5", kind="iv_sweep", protocol=protocol_to_dict(low))
    run_iv(low, SimulatedB1500(VirtualMemristor(seed=1)), writer, progress=False)
    iv = read_run(tmp_path / "c.h5").iv
    flagged = iv.status[0] == 1  # PointStatus.COMPLIANCE
    assert flagged.any() and np.all(np.abs(iv.current_A[0][flagged]) == pytest.approx(1e-3, rel=1e-3))


def test_smu_failure_mid_run_closes_the_archive_as_failed(tmp_path):
    protocol = load_protocol(SAMPLES / "iv-sweep.toml")
    smu = SimulatedB1500(VirtualMemristor(seed=1), fail_at={"XE": 3})
    writer = ArchiveWriter.create(tmp_path / "f.h5", kind="iv_sweep", protocol=protocol_to_dict(protocol))
    with pytest.raises(InstrumentError):
        run_iv(protocol, smu, writer, progress=False)
    run = read_run(tmp_path / "f.h5")
    assert run.status == "failed" and run.iv.voltage_V.shape[0] == 1
    assert smu.instrument.enabled == set() and all(v == 0 for v in smu.instrument.output_V.values())


def test_backend_mismatch_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="pulse protocols need the WGFMU"):
        measure(SAMPLES / "paper-tailored.toml", backend="b1500", out=tmp_path / "a.h5", progress=False)
    with pytest.raises(ConfigError, match="I-V sweeps run on a B1500A SMU"):
        measure(SAMPLES / "iv-sweep.toml", backend="wgfmu", out=tmp_path / "b.h5", progress=False)


def test_cli_measure_then_info(tmp_path, capsys):
    proto = tmp_path / "p.toml"
    proto.write_text((SAMPLES / "paper-tailored.toml").read_text().replace("cycles = 100", "cycles = 4"))
    out = tmp_path / "run.h5"
    assert main(["measure", "--protocol", str(proto), "--backend", "sim", "--out", str(out), "--quiet",
                 "--sample", "S9", "--device", "D1", "--operator", "me", "--device-seed", "2"]) == 0
    assert "complete, 4 cycles" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {k: info[k] for k in ("status", "cycles_planned", "cycles_completed", "reads_per_cycle",
                                 "schema_version", "sample_id")} == {
        "status": "complete", "cycles_planned": 4, "cycles_completed": 4, "reads_per_cycle": 40,
        "schema_version": SCHEMA_VERSION, "sample_id": "S9"}
    assert info["uuid"] == read_run(out).uuid
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 of 4, 40 reads each" in text and "paper-tailored" in text and "sample_id S9" in text
    assert main(["measure", "--protocol", str(proto), "--backend", "sim", "--out", str(out)]) == 2
    assert "file exists" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing.h5")]) == 2


@pytest.mark.parametrize("name,fault,rows", [("retention", {"execute": 2}, 1), ("iv-sweep", {"XE": 3}, 1)])
def test_failed_retention_and_iv_runs_resume_to_completion(tmp_path, name, fault, rows):
    out = tmp_path / f"{name}.h5"
    with pytest.raises(InstrumentError):
        measure(SAMPLES / f"{name}.toml", backend="sim", out=out, progress=False, sim_options={"fail_at": fault})
    run = read_run(out)
    data = run.retention if name == "retention" else run.iv
    assert run.status == "failed" and data.current_A.shape[0] == rows
    first = data.current_A[0].copy()
    measure(None, backend="sim", out=out, resume=True, progress=False)
    run = read_run(out)
    data = run.retention if name == "retention" else run.iv
    assert run.status == "complete" and data.current_A.shape[0] == (4 if name == "retention" else 3)
    np.testing.assert_array_equal(data.current_A[0], first)
    assert run.attrs["resume_log"][0]["previous_status"] == "failed"
