"""Instrument left safe: after the controlling process is SIGKILLed, the next connection (memlab zero or the
next run) finds the outputs as the crash left them, drives them to 0 V first and records it (see safe_cases)."""

from __future__ import annotations

import json
import os

import pytest

from memlab.instruments.b1500 import SIM_YAML, SimulatedB1500
from memlab.instruments.wgfmu import OperationMode, SimulatedWGFMU

from .cases import cli
from .safe_cases import next_run_after_kill, zero_after_kill

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


@pytest.mark.parametrize("kind", ["pulse", "iv"])
def test_memlab_zero_finds_what_a_killed_run_left_and_makes_it_safe(tmp_path, kind):
    outcome = zero_after_kill(tmp_path, kind)
    assert outcome.survived, str(outcome)


@pytest.mark.parametrize("kind", ["pulse", "iv"])
def test_the_next_run_makes_a_bench_left_live_safe_first_and_records_it(tmp_path, kind):
    outcome = next_run_after_kill(tmp_path, kind)
    assert outcome.survived, str(outcome)


def test_simulated_wgfmu_outputs_outlive_the_object_and_safe_open_zeroes_them_first(tmp_path):
    first = SimulatedWGFMU(state_dir=tmp_path)
    first.openSession("GPIB0::17::INSTR")
    first.setOperationMode(101, OperationMode.DC)
    first.connect(101)
    first.connect(102)
    first.dcforceVoltage(101, -0.1)  # then the process "dies": no close
    state = json.loads((tmp_path / "wgfmu-GPIB0_17_INSTR.json").read_text())
    assert state["channels"]["101"] == {"connected": True, "mode": "DC", "output_V": -0.1}
    second = SimulatedWGFMU(state_dir=tmp_path)
    record = second.safe_open("GPIB0::17::INSTR")
    assert record["live"] is True and record["found"]["channels"]["101"]["output_V"] == -0.1
    assert all(second.output_V(c) == 0.0 and not second.is_connected(c) for c in (101, 102))
    state = json.loads((tmp_path / "wgfmu-GPIB0_17_INSTR.json").read_text())
    assert not any(c["connected"] or c["output_V"] for c in state["channels"].values())
    other = SimulatedWGFMU(state_dir=tmp_path).safe_open("GPIB0::18::INSTR")  # another bench: its own state
    assert other["live"] is False


def test_simulated_b1500_outputs_outlive_the_object(tmp_path):
    first = SimulatedB1500(state_dir=tmp_path)
    first.enable([1])
    first.force_voltage(1, 0.5, 1e-3)
    second = SimulatedB1500(state_dir=tmp_path)
    assert second.instrument.output_V[1] == 0.5 and 1 in second.instrument.enabled
    record = second.safe_start("GPIB0::17::INSTR")
    assert record["live"] is True and record["found"]["channels"]["1"]["output_V"] == 0.5
    assert second.instrument.enabled == set() and second.instrument.output_V[1] == 0.0


def test_memlab_zero_over_real_pyvisa_on_a_safe_bench(tmp_path):
    rc, out, err = cli("zero", "--backend", "b1500", "--visa-library", f"{SIM_YAML}@sim")
    assert rc == 0 and "B1500 at GPIB0::17::INSTR: outputs already safe; DZ" in out, (out, err)
    rc, out, err = cli("zero", "--backend", "wgfmu", "--wgfmu-library", str(tmp_path / "missing.dll"))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "missing.dll" in err
