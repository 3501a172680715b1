"""Figures as papers show them: written by analyze, and the fixed legends."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")

from memlab.analysis import figures  # noqa: E402
from memlab.analysis.paper_figures import write_energy_per_pulse  # noqa: E402
from memlab.analysis.pipeline import AnalyzeOptions, analyze  # noqa: E402
from memlab.protocols.archive import read_run  # noqa: E402

RUNS = pathlib.Path(__file__).resolve().parents[2] / "sample_data" / "runs"


def test_analyze_writes_state_cdfs_and_legends_say_which_is_which(tmp_path):
    result = analyze([RUNS / "paper-tailored-sim.h5", RUNS / "retention-sim.h5"], tmp_path / "d.json",
                     tmp_path / "fig", AnalyzeOptions(n_boot=0))
    assert (tmp_path / "fig" / "states_cdf.png").stat().st_size > 10_000
    ex = result.extraction
    fig = figures.fig_retention(ex)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == ex.drift.nu.size and all(lbl.startswith("state ") and "G₀" in lbl for lbl in labels)
    fig = figures.fig_sigma(ex)  # nearly equal BW/k limits of the two branches: one line, both values named
    bw = [lbl.get_text() for lbl in fig.axes[0].get_legend().get_texts() if lbl.get_text().startswith("BW/")]
    assert len(bw) == 1 and "up" in bw[0] and "down" in bw[0]
    fig = figures.fig_energy(ex)
    assert fig.axes[0].get_legend() is None and "nJ" in fig.axes[0].get_title()


def test_energy_per_pulse_from_the_raw_waveforms(tmp_path):
    paths = write_energy_per_pulse(read_run(RUNS / "paper-tailored-sim.h5").pulses, tmp_path)
    assert [p.name for p in paths] == ["energy_per_pulse.png", "energy_per_pulse.svg"]
    assert write_energy_per_pulse(read_run(RUNS / "paper-tailored-sim.h5", waveforms=False).pulses, tmp_path) == []


def test_accuracy_bars_start_at_zero_with_labels_above_the_error_bars(tmp_path, monkeypatch):
    import memlab.simulation.figures as sf

    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen[path.name] = (ax.get_ylim(), [t.get_position()[1] for t in ax.texts])
        return str(path)

    monkeypatch.setattr(sf, "save_figure", keep)
    results = {"task": "digits", "digital_accuracy": 0.97,
               "analog_accuracy": {"mean": 0.95, "std": 0.01, "repeats": [0.94, 0.95, 0.96]},
               "accuracy_vs_time": [], "d2d_sweep": {"d2d_fraction": [0.1], "accuracy": [{"mean": 0.9, "std": 0.01}]},
               "config": {"options": {"drift": "none"}}}
    sf.write_figures(results, tmp_path)
    (low, high), label_y = seen["digits_accuracy.png"]
    assert low == 0 and high >= 100
    assert label_y[0] > 97 and label_y[1] > 95 + 1  # above the digital bar and the analog error bar


def test_analyze_in_blocks_draws_energy_per_pulse_from_its_moments(tmp_path):
    import numpy as np

    from memlab.analysis.energy import pulse_energy

    run = read_run(RUNS / "paper-tailored-sim.h5")
    result = analyze([RUNS / "paper-tailored-sim.h5"], tmp_path / "d.json", tmp_path / "fig",
                     AnalyzeOptions(n_boot=0, chunk_cycles=7))
    assert (tmp_path / "fig" / "energy_per_pulse.png").stat().st_size > 10_000
    assert result.extraction.energy.per_pulse_J is None  # nothing of the size of the waveforms kept
    p = run.pulses
    w = p.waveform
    whole = pulse_energy(w.time_s, w.voltage_V, w.current_A, w.pulse_index, p.pulses_per_cycle, w.measured)
    for got, ref in zip(result.extraction.energy.by_pulse_J, whole.by_pulse_J):
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    np.testing.assert_allclose(whole.by_pulse_J[1], np.nanstd(whole.per_pulse_J, axis=0, ddof=1), rtol=1e-12)
