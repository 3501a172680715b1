"""`measure --dry-run` (plan, warnings, waveform PNG, no instrument) and `--resume` identity checks."""

from __future__ import annotations

import pathlib

import pytest

from memlab.cli import main
from memlab.protocols.archive import read_run
from memlab.protocols.dryrun import plan_run, plausibility_warnings
from memlab.protocols.loader import load_protocol

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTOCOLS = ROOT / "sample_data" / "protocols"
PAPER = PROTOCOLS / "paper-tailored.toml"


def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def short(tmp_path, cycles=3, **replace) -> pathlib.Path:
    text = PAPER.read_text().replace("cycles = 100", f"cycles = {cycles}")
    for old, new in replace.items():
        text = text.replace(old.replace("__", " = "), new)
    path = tmp_path / f"p{cycles}-{len(replace)}.toml"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- dry run


def test_dry_run_prints_the_plan_draws_the_first_cycle_and_touches_nothing(tmp_path, capsys, monkeypatch):
    import memlab.instruments.wgfmu.simulated as sim

    def no_instrument(*a, **k):
        raise AssertionError("a dry run created an instrument")

    monkeypatch.setattr(sim, "SimulatedWGFMU", no_instrument)
    out, png = tmp_path / "run.h5", tmp_path / "wave.png"
    rc, text, err = run(capsys, "measure", "--protocol", PAPER, "--dry-run", "--out", out, "--waveform-png", png)
    assert rc == 0, err
    assert not out.exists() and png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plan = plan_run(load_protocol(PAPER))
    # 100 cycles of 40 pulses: every number the user reads is the plan's
    assert plan.pulses == 4000 and plan.reads == 4000 and plan.units == 100
    assert "4,000 programming pulses, 4,000 reads" in text and f"{plan.instrument_time_s:,.6g} s" in text
    assert "MB for the archive" in text and "for the readout" in text and "warning" not in err


@pytest.mark.parametrize("protocol, archive", [
    ("paper-tailored", "paper-tailored-sim"), ("paper-tailored-population", "population-device1-sim"),
    ("retention", "retention-sim"), ("iv-sweep", "iv-sweep-sim"),
])
def test_dry_run_disk_figure_is_the_size_of_the_archive_the_run_writes(protocol, archive):
    """The sample archives were recorded from these protocols: the planned disk is their size, within 2x."""
    plan = plan_run(load_protocol(PROTOCOLS / f"{protocol}.toml"))
    size = (ROOT / "sample_data" / "runs" / f"{archive}.h5").stat().st_size
    assert size / 2 <= plan.disk_B <= size * 2, (plan.disk_B, size)


def test_dry_run_instrument_time_is_the_sequencer_time_of_the_run(tmp_path):
    from memlab.instruments.virtual_device import VirtualMemristor
    from memlab.instruments.wgfmu.simulated import SimulatedWGFMU
    from memlab.protocols.runner import Channels, load_patterns, plan_cycle

    protocol = load_protocol(short(tmp_path, cycles=4))
    plan = plan_run(protocol)
    w = SimulatedWGFMU(VirtualMemristor())
    load_patterns(w, plan_cycle(protocol).patterns, Channels(), 4)
    w.openSession("GPIB0::17::INSTR")
    for ch in (101, 102):
        w.connect(ch)
    w.execute()
    assert w.getStatus().total_s == pytest.approx(plan.instrument_time_s, rel=1e-9)
    w.close()


def test_dry_run_warns_about_a_long_run_and_a_read_that_could_switch(tmp_path, capsys):
    slow = short(tmp_path, 100, **{"width_s__30e-6": "width_s = 30", "amplitude_V__-0.1": "amplitude_V = -0.8"})
    rc, _, err = run(capsys, "measure", "--protocol", slow, "--dry-run", "--waveform-png", tmp_path / "w.png")
    assert rc == 0
    assert "of instrument time" in err and "h)" in err
    assert "read.amplitude_V = -0.8 V" in err and "0.7 V" in err


def test_measure_prints_the_same_warnings_before_a_real_run(tmp_path, capsys):
    strong = short(tmp_path, 2, **{"amplitude_V__-0.1": "amplitude_V = -0.75"})
    rc, _, err = run(capsys, "measure", "--protocol", strong, "--backend", "sim", "--out", tmp_path / "r.h5",
                     "--quiet")
    assert rc == 0 and "memlab: warning: read.amplitude_V = -0.75 V" in err


def test_no_warning_for_the_sample_protocols():
    for name in ("paper-tailored", "constant", "retention", "iv-sweep"):
        assert plausibility_warnings(load_protocol(PROTOCOLS / f"{name}.toml")) == [], name


def test_dry_run_refuses_what_the_run_would_refuse(tmp_path, capsys):
    existing = tmp_path / "x.h5"
    existing.write_bytes(b"")
    rc, _, err = run(capsys, "measure", "--protocol", PAPER, "--dry-run", "--out", existing,
                     "--waveform-png", tmp_path / "w.png")
    assert rc == 2 and "file exists" in err
    rc, _, err = run(capsys, "measure", "--protocol", PROTOCOLS / "iv-sweep.toml", "--dry-run", "--backend", "wgfmu",
                     "--waveform-png", tmp_path / "w.png")
    assert rc == 2 and "--backend wgfmu" in err


# --------------------------------------------------------------------------- resume identity


@pytest.fixture
def interrupted(tmp_path, capsys):
    """A 3-cycle archive cut back to 'interrupted' after its run, for resuming."""
    import h5py

    out = tmp_path / "int.h5"
    rc, _, err = run(capsys, "measure", "--protocol", short(tmp_path), "--backend", "sim", "--device-seed", "0",
                     "--sample", "S1", "--device", "D7", "--out", out, "--quiet")
    assert rc == 0, err
    with h5py.File(out, "r+") as f:
        for name in list(f["pulses"]):
            ds = f["pulses"][name]
            if isinstance(ds, h5py.Dataset) and ds.maxshape[0] is None:
                ds.resize(1, axis=0)
        for name in list(f["pulses/waveform"]):
            ds = f["pulses/waveform"][name]
            if ds.maxshape[0] is None:
                ds.resize(1, axis=0)
        f.attrs["status"] = "interrupted"
        f.attrs["status_reason"] = "stopped by SIGTERM"
    return out


@pytest.mark.parametrize("args, named", [
    (["--device-seed", "3"], "--device-seed 3 (archive: 0)"),
    (["--sample", "S2"], "--sample S2 (archive: S1)"),
    (["--device", "D8"], "--device D8 (archive: D7)"),
])
def test_resume_refuses_another_device_by_name(interrupted, capsys, args, named):
    rc, _, err = run(capsys, "measure", "--backend", "sim", "--out", interrupted, "--resume", "--quiet", *args)
    assert rc == 2 and named in err and "--force-resume" in err and err.count("\n") == 1
    assert read_run(interrupted).pulses.n_cycles == 1 and read_run(interrupted).status == "interrupted"


def test_resume_refuses_changed_channel_settings_and_a_changed_protocol(interrupted, capsys, monkeypatch):
    import h5py

    import memlab.protocols.measure as m

    real = m.channel_settings

    def other_range(protocol, channels):
        s = real(protocol, channels)
        s["102"] = {**s["102"], "measure_current_range": "RANGE_1MA"}
        return s

    monkeypatch.setattr(m, "channel_settings", other_range)
    rc, _, err = run(capsys, "measure", "--backend", "sim", "--out", interrupted, "--resume", "--quiet")
    assert rc == 2 and "channel settings of 102" in err
    monkeypatch.undo()
    with h5py.File(interrupted, "r+") as f:
        f.attrs["protocol_sha256"] = "0" * 64
    rc, _, err = run(capsys, "measure", "--backend", "sim", "--out", interrupted, "--resume", "--quiet")
    assert rc == 2 and "stored protocol" in err


def test_resume_refuses_another_backend(interrupted, capsys):
    rc, _, err = run(capsys, "measure", "--backend", "wgfmu", "--out", interrupted, "--resume", "--quiet")
    assert rc == 2 and "--backend wgfmu (archive: sim)" in err


def test_matching_resume_continues_and_force_resume_logs_the_difference(interrupted, capsys):
    rc, _, err = run(capsys, "measure", "--backend", "sim", "--out", interrupted, "--force-resume", "--quiet",
                     "--device-seed", "3")
    assert rc == 0, err
    done = read_run(interrupted)
    assert done.status == "complete" and done.pulses.n_cycles == 3
    assert done.attrs["resume_log"][-1]["forced_mismatches"] == ["--device-seed 3 (archive: 0)"]


def test_resume_without_seeds_takes_the_archives(interrupted, capsys):
    rc, _, err = run(capsys, "measure", "--backend", "sim", "--out", interrupted, "--resume", "--quiet")
    assert rc == 0, err
    log = read_run(interrupted).attrs["resume_log"][-1]
    assert log["device_seed"] == 0 and "forced_mismatches" not in log
