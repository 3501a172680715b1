"""``memlab watch``: follows an archive another process is writing, never blocks that writer."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from memlab.cli import main
from memlab.watch import watch

ROOT = pathlib.Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from memlab.protocols.archive import ArchiveWriter
    path, cycles, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    n_up = n_down = 8
    amp = np.concatenate([np.full(n_up, 0.8), np.full(n_down, -0.9)])
    time.sleep(pause)
    with ArchiveWriter.create(path, kind="pulse_cycling", protocol={"name": "slow"}) as w:
        w.begin_pulses(n_up=n_up, n_down=n_down, pulse_amplitude_V=amp, pulse_width_s=np.full(16, 2e-7),
                       cycles_planned=cycles)
        ramp = np.concatenate([np.linspace(1e-3, 2e-3, n_up), np.linspace(2e-3, 1e-3, n_down)])
        for c in range(cycles):
            v = np.full(16, -0.1)
            w.append_cycles(np.arange(16) * 1e-5 + c, v, v * ramp, np.zeros(16, np.uint16))
            time.sleep(pause)
    print("writer done")
""")


def test_watch_follows_a_run_written_by_another_process_and_never_blocks_it(tmp_path):
    run, png = tmp_path / "slow.h5", tmp_path / "live.png"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run), "12", "0.6"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        result = watch(run, interval_s=0.1, png=png, until_done=True, wait_s=60)
    finally:
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0 and "writer done" in out, err  # never refused by the watcher's probes
    assert result.status == "complete" and result.cycles == 12, result
    assert result.frames >= 3, result  # it refreshed while cycles landed, not just once at the end
    with Image.open(png) as im:
        assert im.size[0] > 800 and im.size[1] > 300


def test_watch_of_the_sample_runs_writes_a_png_per_kind(tmp_path):
    for name in ("paper-tailored-sim.h5", "iv-sweep-sim.h5", "retention-sim.h5"):
        png = tmp_path / f"{name}.png"
        result = watch(ROOT / "sample_data" / "runs" / name, png=png, until_done=True, interval_s=0.1)
        assert result.status == "complete" and result.frames == 1 and png.stat().st_size > 10_000


def test_watch_refuses_bad_options_and_missing_files(tmp_path, capsys):
    assert main(["watch", str(tmp_path / "none.h5"), "--wait", "0.2", "--png", str(tmp_path / "x.png")]) == 2
    assert "no run archive appeared" in capsys.readouterr().err
    assert main(["watch", str(tmp_path / "none.h5"), "--interval", "0"]) == 2


def test_measure_live_leaves_the_last_picture(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    proto = tmp_path / "p.toml"
    proto.write_text((ROOT / "sample_data" / "protocols" / "paper-tailored.toml").read_text()
                     .replace("cycles = 100", "cycles = 5"))
    out = tmp_path / "run.h5"
    done = subprocess.run([sys.executable, "-m", "memlab.cli", "measure", "--protocol", str(proto), "--backend",
                           "sim", "--out", str(out), "--quiet", "--live"], capture_output=True, text=True,
                          timeout=300, env={k: v for k, v in __import__("os").environ.items()
                                            if k not in ("DISPLAY", "WAYLAND_DISPLAY")})
    assert done.returncode == 0, done.stderr
    assert "complete, 5 rows seen" in done.stdout and (tmp_path / "run.live.png").stat().st_size > 10_000


