"""The lab PC's setup: VISA library choice, `memlab instruments`, the memlab.toml config, `memlab config`."""

from __future__ import annotations

import json
import pathlib

import pytest

from memlab.cli import main
from memlab.config import load_settings
from memlab.errors import ConfigError, InstrumentError
from memlab.instruments import visa
from memlab.instruments.b1500 import SIM_YAML, B1500

SIM = f"{SIM_YAML}@sim"
ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = ROOT / "sample_data" / "protocols" / "paper-tailored.toml"


def run(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- VISA library


def test_default_visa_tries_the_system_visa_then_pyvisa_py(monkeypatch):
    import pyvisa

    tried = []
    real = pyvisa.ResourceManager

    def fake(spec):
        tried.append(spec)
        if spec == "@ivi":
            raise OSError("Could not open VISA library")
        return real("@py")

    monkeypatch.setattr(pyvisa, "ResourceManager", fake)
    opened = visa.resource_manager(None)
    assert tried == ["@ivi", "@py"] and opened.library == "@py" and opened.tried == ("@ivi", "@py")


def test_no_visa_library_error_names_each_library_tried(monkeypatch):
    import pyvisa

    def broken(spec):
        raise OSError(f"{spec} missing")

    monkeypatch.setattr(pyvisa, "ResourceManager", broken)
    with pytest.raises(InstrumentError) as err:
        visa.resource_manager(None)
    assert "@ivi: @ivi missing" in str(err.value) and "@py: @py missing" in str(err.value)


def test_b1500_opens_through_the_chosen_visa_library_and_says_which_failed():
    with B1500.open("GPIB0::17::INSTR", backend=SIM) as b:
        assert b.visa_library == SIM and b.idn()["model"] == "B1500A"
    with pytest.raises(InstrumentError, match="NOT-A-RESOURCE.*VISA library"):
        B1500.open("NOT-A-RESOURCE", backend=SIM)


@pytest.mark.parametrize("bad", ["@nope", "", "   "])
def test_bad_visa_library_is_refused_naming_the_flag(bad):
    with pytest.raises(ConfigError, match="--visa-library"):
        visa.check_library(bad)


def test_measure_b1500_uses_the_visa_library_flag(tmp_path, capsys):
    out = tmp_path / "iv.h5"
    rc, _, err = run(capsys, "measure", "--protocol", str(ROOT / "sample_data/protocols/iv-sweep.toml"), "--backend", "b1500",
                     "--visa-library", "@nope", "--out", str(out))
    assert rc == 2 and "--visa-library @nope" in err and err.count("\n") == 1 and not out.exists()


# --------------------------------------------------------------------------- memlab instruments


def test_instruments_lists_and_identifies_resources(capsys):
    rc, out, _ = run(capsys, "instruments", "--visa-library", SIM, "--identify", "--json")
    assert rc == 0
    report = json.loads(out)
    assert report["visa_library"] == SIM and report["visa_library_origin"] == "--visa-library"
    by_address = {r["address"]: r for r in report["resources"]}
    assert "GPIB0::17::INSTR" in by_address
    assert by_address["GPIB0::17::INSTR"]["idn"].startswith("Keysight Technologies,B1500A")
    assert report["wgfmu_library"]["loads"] in (True, False) and ("error" in report["wgfmu_library"])


def test_instruments_text_reports_the_wgfmu_library_and_no_idn_without_identify(capsys):
    rc, out, _ = run(capsys, "instruments", "--visa-library", SIM)
    assert rc == 0 and "GPIB0::17::INSTR" in out and "B1500A,SIM00001" not in out
    assert "WGFMU library:" in out


def test_instruments_reports_a_visa_library_that_does_not_open(monkeypatch, capsys):
    import pyvisa

    def broken(spec):
        raise OSError("no such library")

    monkeypatch.setattr(pyvisa, "ResourceManager", broken)
    rc, out, _ = run(capsys, "instruments")
    assert rc == 0 and "VISA: none opened" in out and "@ivi" in out and "@py" in out


# --------------------------------------------------------------------------- memlab.toml


@pytest.fixture
def bench(tmp_path, monkeypatch):
    """A working folder and an empty user config folder."""
    work, home = tmp_path / "work", tmp_path / "xdg"
    work.mkdir(), home.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("APPDATA", raising=False)
    return work, home / "memlab"


def test_config_values_come_from_flag_then_working_folder_then_user_folder(bench):
    work, user = bench
    user.mkdir()
    (user / "memlab.toml").write_text('operator = "user-op"\naddress = "GPIB1::5::INSTR"\n')
    (work / "memlab.toml").write_text('operator = "bench-op"\n')
    s = load_settings()
    assert (s["operator"].value, s["operator"].origin) == ("bench-op", str(work / "memlab.toml"))
    assert (s["address"].value, s["address"].origin) == ("GPIB1::5::INSTR", str(user / "memlab.toml"))
    assert (s["visa_library"].value, s["visa_library"].origin) == (None, "default")
    s = load_settings({"operator": "flag-op"})
    assert (s["operator"].value, s["operator"].origin) == ("flag-op", "--operator")


def test_config_refuses_unknown_keys_and_non_strings(bench, capsys):
    work, _ = bench
    (work / "memlab.toml").write_text('opertor = "x"\n')
    rc, _, err = run(capsys, "config")
    assert rc == 2 and "unknown key 'opertor'" in err and "memlab.toml" in err
    (work / "memlab.toml").write_text("address = 17\n")
    rc, _, err = run(capsys, "config")
    assert rc == 2 and "address = 17" in err


def test_memlab_config_shows_each_origin(bench, capsys):
    work, _ = bench
    (work / "memlab.toml").write_text('visa_library = "@py"\n')
    rc, out, _ = run(capsys, "config", "--json")
    settings = json.loads(out)["settings"]
    assert rc == 0 and settings["visa_library"] == {"value": "@py", "origin": str(work / "memlab.toml"),
                                                   "flag": "--visa-library"}
    assert settings["address"]["origin"] == "default" and settings["address"]["value"] == "GPIB0::17::INSTR"
    rc, out, _ = run(capsys, "config")
    assert rc == 0 and "@py" in out and str(work / "memlab.toml") in out


def test_measure_takes_operator_and_output_folder_from_the_config(bench, capsys):
    from memlab.protocols.archive import read_run

    work, _ = bench
    (work / "memlab.toml").write_text('operator = "bench-op"\noutput_folder = "runs/today"\n')
    protocol = work / "p.toml"
    protocol.write_text(PAPER.read_text().replace("cycles = 100", "cycles = 2"))
    rc, out, err = run(capsys, "measure", "--protocol", str(protocol), "--backend", "sim", "--out", "a.h5", "--quiet")
    assert rc == 0, err
    run_ = read_run(work / "runs" / "today" / "a.h5")
    assert run_.attrs["operator"] == "bench-op"
    rc, _, err = run(capsys, "measure", "--protocol", str(protocol), "--backend", "sim", "--out", "b.h5", "--quiet",
                     "--operator", "flag-op", "--output-folder", str(work / "elsewhere"))
    assert rc == 0, err
    assert read_run(work / "elsewhere" / "b.h5").attrs["operator"] == "flag-op"
