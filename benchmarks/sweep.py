"""Sweep engine: the same 8-point digits plan serial (this process) and on a LocalCluster of 2 workers.

Both sides do the same work from an empty output folder (one digital training, HWAT per distinct
noise, 8 points), one torch thread per task; the cluster side includes starting and closing the
cluster. Scheduling overhead per task = (2 x cluster wall - serial wall) / tasks: the worker time
the cluster spent beyond the work itself (the serial run's wall time), per task of the graph.

    .venv/bin/python benchmarks/sweep.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLAN = f"""
task = "digits"
devices = ["{ROOT / 'sample_data' / 'devices' / 'virtual-hfs2.json'}"]
repeats = 3
drift = "measured"
times_s = [1.0, 86400.0]
epochs = 10
hwat_epochs = 3
[axes]
sigma_scale = [0.5, 1.0, 2.0, 4.0]
adc_bits = [6, 8]
"""


def main() -> None:
    from memlab.simulation.sweep import load_plan, run_sweep

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=2, help="best of N for each side")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "plan.toml").write_text(PLAN)
        plan = load_plan(tmp / "plan.toml")
        serial, cluster, tasks = [], [], 0
        for i in range(args.repeat):
            t = time.perf_counter()
            s = run_sweep(plan, tmp / f"serial-{i}", workers=0, progress=False)
            serial.append(time.perf_counter() - t)
            t = time.perf_counter()
            c = run_sweep(plan, tmp / f"cluster-{i}", workers=2, progress=False)
            cluster.append(time.perf_counter() - t)
            assert [r["analog_accuracy"] for r in s.results] == [r["analog_accuracy"] for r in c.results]
            tasks = len(c.results) + 1 + len({(r["point"]["sigma_scale"], r["point"]["adc_bits"]) for r in c.results})
    best_s, best_c = min(serial), min(cluster)
    overhead = (2 * best_c - best_s) / tasks
    print(f"serial {best_s:.2f} s, 2 workers {best_c:.2f} s (best of {args.repeat}; {tasks} tasks)", file=sys.stderr)
    print(f"RESULT sweep_speedup={best_s / best_c:.3f} serial_s={best_s:.3f} cluster_s={best_c:.3f} "
          f"overhead_per_task_s={overhead:.3f} points=8 tasks={tasks}")


if __name__ == "__main__":
    main()
