"""``memlab demo``: the whole path on the embedded default, in one folder.

measure (simulated WGFMU driving the virtual memristor, the paper's tailored
protocol, then the retention protocol) -> analyze (device file with its drift
block, figures) -> simulate (MNIST when its files are found, else
scikit-learn's 8x8 digits; drift: the device's measured retention) -> ``index.html``, a static report
in which every number links to the file it came from.
"""

from __future__ import annotations

import json
import pathlib
import time
from dataclasses import dataclass, field

from memlab import reference as ref
from memlab.errors import ConfigError
from memlab.files import sample_data

PAPER_PROTOCOL = ("protocols", "paper-tailored.toml")  # in sample_data, found with memlab.files.sample_data
RETENTION_PROTOCOL = ("protocols", "retention.toml")
# (digital, analog) as the paper reports them (memlab.reference); tasks it does not report are absent
PAPER_ACCURACY = {task: (d.si, a.si) for task, (d, a) in ref.ACCURACY.items()}


@dataclass
class DemoResult:
    """Paths of everything the demo wrote and the steps it ran."""

    out_dir: pathlib.Path
    steps: list[str] = field(default_factory=list)
    files: dict[str, pathlib.Path] = field(default_factory=dict)
    wall_time_s: dict[str, float] = field(default_factory=dict)


def run_demo(out_dir: str | pathlib.Path = "demo-output", *, quick: bool = False, seed: int = 0,
             device_seed: int = 0, data_dir: str | None = None, task: str | None = None,
             progress: bool = True) -> DemoResult:
    """Measure, analyze and simulate the virtual device into ``out_dir``; returns what was written."""
    from memlab.analysis.pipeline import AnalyzeOptions, analyze, format_table
    from memlab.simulation.experiment import default_task, run_simulation, summary

    paper_protocol, retention_protocol = sample_data(*PAPER_PROTOCOL), sample_data(*RETENTION_PROTOCOL)
    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)
    files = result.files

    _measure_step(result, paper_protocol, retention_protocol, device_seed, seed, progress)

    t0 = time.perf_counter()
    files["device"] = out / "device.json"
    files["analysis_figures"] = out / "figures" / "analysis"
    print(f"[2/3] analyze: {files['run'].name} + {files['retention_run'].name} -> {files['device']}")
    analysis = analyze([files["run"], files["retention_run"]], files["device"], files["analysis_figures"],
                       AnalyzeOptions(seed=seed, n_boot=200 if quick else 1000))
    table = format_table(analysis.device, compare_paper=True)
    print(table)
    files["device_table"] = out / "device-table.txt"
    files["device_table"].write_text(table + "\n", encoding="utf-8")
    result.steps.append("analyze")
    result.wall_time_s["analyze"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if task is None:
        task = default_task(data_dir)
        if task != "mnist":
            print("demo: MNIST IDX files not found (see README: where data is looked for); "
                  "using scikit-learn's 8x8 digits instead")
    files["results"] = out / "results.json"
    files["simulation_figures"] = out / "figures" / "simulation"
    print(f"[3/3] simulate: {task}{' (quick)' if quick else ''} from {files['device'].name} -> {files['results']}")
    from memlab.simulation.budget import BudgetSettings
    from memlab.simulation.energy import EnergySettings

    results = run_simulation(files["device"], task, quick=quick, out=files["results"],
                             figures=files["simulation_figures"], data_dir=data_dir, progress=progress,
                             energy=EnergySettings(),  # the run beside the device file gives the read pulse
                             budget=BudgetSettings(repeats=3 if quick else 5))
    result.steps.append(f"simulate ({task})")
    result.wall_time_s["simulate"] = time.perf_counter() - t0
    headline = summary(results)
    print(json.dumps(headline, indent=2))

    files["report"] = out / "index.html"
    files["report"].write_text(_report_html(result, analysis.device, table, results, headline, task),
                               encoding="utf-8")
    print(f"demo: ran {', '.join(result.steps)}; report: {files['report']}")
    return result


def _measure_step(result: DemoResult, paper_protocol: pathlib.Path, retention_protocol: pathlib.Path,
                  device_seed: int, seed: int, progress: bool) -> None:
    """Step 1: the paper's pulse scheme and the retention protocol on the virtual device, fresh runs."""
    from memlab.protocols.measure import measure

    out, files = result.out_dir, result.files
    t0 = time.perf_counter()
    files["run"] = out / "run.h5"
    files["run"].unlink(missing_ok=True)  # a demo always starts a fresh measurement
    print(f"[1/3] measure: {paper_protocol.name} on the simulated WGFMU + virtual memristor -> {files['run']}")
    measure(paper_protocol, backend="sim", out=files["run"], device_seed=device_seed, seed=seed,
            sample="virtual", device=f"virtual-{device_seed}", operator="memlab demo", progress=progress)
    files["retention_run"] = out / "retention.h5"
    files["retention_run"].unlink(missing_ok=True)
    print(f"[1/3] measure: {retention_protocol.name} (retention of 4 states) -> {files['retention_run']}")
    measure(retention_protocol, backend="sim", out=files["retention_run"], device_seed=device_seed, seed=seed,
            sample="virtual", device=f"virtual-{device_seed}", operator="memlab demo", progress=progress)
    result.steps.append("measure")
    result.wall_time_s["measure"] = time.perf_counter() - t0


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _report_html(result: DemoResult, device, table: str, results: dict, headline: dict, task: str) -> str:
    from memlab.protocols.archive import read_run
    from memlab.report import esc, report_html

    root, f = result.out_dir, result.files
    analog = results["analog_accuracy"]
    paper = PAPER_ACCURACY.get(task)
    rows = [
        ("digital accuracy", _pct(headline["digital_accuracy"]), _pct(paper[0]) if paper else ""),
        (f"analog accuracy at programming (mean ± std of {len(analog['repeats'])})",
         f"{_pct(analog['mean'])} ± {100 * analog['std']:.2f}", _pct(paper[1]) if paper else ""),
    ]
    for key in ("hwat_gdc_1day", "hwat_no_gdc_1day", "no_hwat_gdc_1day", "no_hwat_no_gdc_1day"):
        if headline.get(key) is not None:
            rows.append((f"1 day after programming, {key.replace('_1day', '').replace('_', ' ')}",
                         _pct(headline[key]), ""))
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in result.wall_time_s.items())
    run = read_run(f["run"])  # analyze wrote energy_per_pulse from the waveforms' per-pulse moments
    return report_html(root=root, title=f"memlab demo: virtual HfO<sub>x</sub>S<sub>y</sub>/HfS<sub>2</sub> "
                                        f"memristor → {esc(task.upper())}",
                       steps=f"Steps run: {', '.join(result.steps)} ({steps}).", files=f, protocol=run.protocol,
                       table=table, results=results, accuracy_rows=rows, device_drift=device.drift,
                       figure_folders=[f["analysis_figures"], f["simulation_figures"]], task=task,
                       run_attrs=run.attrs)
