"""memlab sweep on Dask: plans, derived devices, a LocalCluster equal to a serial run, kills and resumes."""

from __future__ import annotations

import json
import os
import pathlib
import signal

import pytest

from memlab.analysis.device_file import load_device_file, save_device_file
from memlab.cli import main
from memlab.errors import ConfigError
from memlab.simulation import sweep

ROOT = pathlib.Path(__file__).parents[2]
DEVICE = ROOT / "sample_data" / "devices" / "virtual-hfs2.json"
PLAN = f"""
task = "digits"
devices = ["{DEVICE}"]
repeats = 1
drift = "measured"
times_s = [1.0, 86400.0]
epochs = 2
hwat_epochs = 1
[axes]
sigma_scale = [1.0, 2.0]
hwat = [true, false]
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(PLAN)
    return sweep.load_plan(path)


@pytest.fixture(scope="module")
def serial(plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    outcome = sweep.run_sweep(plan, out, workers=0, progress=False)
    outcome.folder = out
    return outcome


def _accuracies(outcome):
    return {r["key"]: (r["analog_accuracy"]["repeats"], [a["repeats"] for a in r["accuracy_vs_time"]["accuracy"]])
            for r in outcome.results}


def test_plans_refuse_unknown_keys_and_values(tmp_path):
    bad = tmp_path / "bad.toml"
    for text, match in (("wokers = 2\n" + PLAN, "unknown key.*wokers"),
                        (PLAN.replace("hwat = [true, false]", "states = [4]"), "unknown axis states"),
                        (PLAN.replace("sigma_scale = [1.0, 2.0]", "sigma_scale = [-1.0]"), "sigma_scale value -1.0"),
                        ("task = 'digits'\n", "'devices' is missing")):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=match):
            sweep.load_plan(bad)


def test_a_derived_device_is_requantised_scaled_and_recorded_as_derived(tmp_path):
    measured = load_device_file(DEVICE)
    d = sweep.derive_device(measured, states=4, sigma_scale=2.0)
    b, m = d.branches.potentiation, measured.branches.potentiation
    assert d.states_per_branch == 4 and len(b.state_mean_S) == 4 and d.n_bins == 7
    assert b.state_mean_S[0] == m.state_mean_S[0] and b.state_mean_S[-1] == m.state_mean_S[-1]
    assert b.slope_S_per_pulse == pytest.approx(m.slope_S_per_pulse * 5)  # 15 steps become 3
    assert d.sigma_mean_S == pytest.approx(2 * measured.sigma_mean_S)
    save_device_file(d, tmp_path / "d.json")  # a valid device file
    p = sweep.Point(str(DEVICE), 4, 2.0, 0.3, 8, 8, None, True, 0)
    _, sha, lineage = sweep.device_for(p, tmp_path)
    (path,) = [f for f in (tmp_path / "devices").glob("derived-*.json") if not f.name.endswith(".lineage.json")]
    assert load_device_file(path).states_per_branch == 4
    assert json.loads(path.with_suffix(".lineage.json").read_text())["note"].endswith("not measured")
    assert lineage["derived_from"] == DEVICE.name and sha != sweep._file_sha(str(DEVICE))


def test_shared_training_and_the_serial_results(serial, plan):
    assert serial.computed == 4 and not serial.failed
    # every row carries its lineage: derived points name the measured file they came from
    df = sweep.table(serial.results)
    assert len(df) == 8 and set(df["derived_from"].dropna()) == {DEVICE.name}
    assert (df[df["sigma_scale"] == 1.0]["derived_from"].isna()).all()
    # one digital training for the seed, one HWAT per distinct training noise (sigma 1 and 2; the
    # digital stage also leaves its 0-epoch start), shared by the points that need them
    ckpt = serial.folder / "checkpoints"
    assert len(list(ckpt.glob("digits-digital-*.pt"))) == 1 and len(list(ckpt.glob("digits-hwat-*.pt"))) == 3


def test_a_local_cluster_equals_the_serial_run_and_a_rerun_computes_nothing(serial, plan, tmp_path):
    first = sweep.run_sweep(plan, tmp_path, workers=2, progress=False)
    assert first.computed == 4 and _accuracies(first) == _accuracies(serial)
    assert first.dashboard and first.dashboard.startswith("http")
    again = sweep.run_sweep(plan, tmp_path, workers=2, progress=False)
    assert again.computed == 0 and _accuracies(again) == _accuracies(serial)


def test_a_worker_killed_mid_sweep_leaves_a_complete_result_set(serial, plan, tmp_path):
    killed = []

    def kill_one_worker(result, client):
        if not killed:
            pids = client.run(os.getpid)  # worker address -> pid
            busy = [w for w, tasks in client.processing().items() if tasks] or list(pids)
            killed.append(pids[busy[0]])
            os.kill(pids[busy[0]], signal.SIGKILL)

    outcome = sweep.run_sweep(plan, tmp_path, workers=2, progress=False, on_result=kill_one_worker)
    assert killed and not outcome.failed and len(outcome.results) == 4
    assert _accuracies(outcome) == _accuracies(serial)


def test_an_interrupted_run_resumes_and_a_failing_point_is_reported(serial, plan, tmp_path, monkeypatch):
    def stop(result, client):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(plan, tmp_path, workers=0, progress=False, on_result=stop)
    assert len(list((tmp_path / "points").glob("*.json"))) == 1  # the finished point is on disk
    real = sweep.evaluate_point

    def fail_one(trained, plan_, p, out, data_dir):
        if p.sigma_scale == 2.0 and not p.hwat:
            raise RuntimeError("injected failure")
        return real(trained, plan_, p, out, data_dir)

    monkeypatch.setattr(sweep, "evaluate_point", fail_one)
    resumed = sweep.run_sweep(plan, tmp_path, workers=0, progress=False)
    assert resumed.computed == 2 and len(resumed.failed) == 1 and "injected failure" in resumed.failed[0]["reason"]
    monkeypatch.setattr(sweep, "evaluate_point", real)
    final = sweep.run_sweep(plan, tmp_path, workers=0, progress=False)
    assert final.computed == 1 and _accuracies(final) == _accuracies(serial)


def test_the_cli_writes_the_table_heat_map_and_report(plan, tmp_path, capsys):
    path = tmp_path / "plan.toml"
    path.write_text(PLAN)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet"]) in (0, None)
    out = tmp_path / "out"
    assert (out / "results.csv").is_file() and (out / "results.parquet").is_file()
    assert (out / "figures" / "heatmap_sigma_scale_hwat.png").is_file()
    html = (out / "report.html").read_text()
    assert "heatmap_sigma_scale_hwat.png" in html and "not measurements" in html
    assert "4 computed, 0 already on disk, 0 failed" in capsys.readouterr().out


def test_energy_beside_accuracy_in_every_row(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text("energy = true\n" + PLAN.replace("hwat = [true, false]", "hwat = [false]"))
    plan = sweep.load_plan(path)
    df = sweep.table(sweep.run_sweep(plan, tmp_path / "out", workers=0, progress=False).results)
    assert (df["programming_energy_J"] > 0).all() and (df["inference_energy_J_per_image"] > 0).all()
    # sigma does not change the programmed targets' pulse counts much, but every point has its own numbers
    assert df["programming_time_s"].notna().all() and len(df) == 4
