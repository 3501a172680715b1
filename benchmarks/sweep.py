"""Sweep engine: the same 8-point digits plan serial (this process) and on a LocalCluster of 2 workers.

Both sides do the same work from an empty output folder each time (one digital training, one HWAT
per distinct noise: 4, the 8 points), one torch thread per task, best of N. Both are warm: the
serial side has imported torch/aihwkit in this process, the cluster is started once and its
workers import the same modules before timing (the cold figure, cluster start and imports
included, is printed apart). Scheduling overhead per task = (2 x warm cluster wall - serial wall)
/ tasks: the worker time the cluster spends beyond the work itself, per task of the graph.

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
repeats = 10
drift = "measured"
times_s = [1.0, 86400.0]
epochs = 40
hwat_epochs = 15
[axes]
sigma_scale = [0.5, 1.0, 2.0, 4.0]
hwat = [true, false]
"""


def _warm() -> None:
    import aihwkit.nn  # noqa: F401
    import torch  # noqa: F401

    import memlab.simulation.experiment  # noqa: F401
    import memlab.simulation.sweep  # noqa: F401


def main() -> None:
    from memlab.cluster import dask_client
    from memlab.simulation.sweep import load_plan, run_sweep

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=2, help="best of N for each side")
    args = p.parse_args()
    _warm()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "plan.toml").write_text(PLAN)
        plan = load_plan(tmp / "plan.toml")
        t = time.perf_counter()
        cold = run_sweep(plan, tmp / "cold", workers=2, progress=False)
        cold_s = time.perf_counter() - t
        tasks = len(cold.results) + 1 + len({r["point"]["sigma_scale"] for r in cold.results})
        serial, cluster = [], []
        with dask_client(2) as client:
            client.run(_warm)
            address = client.scheduler.address
            for i in range(args.repeat):
                t = time.perf_counter()
                s = run_sweep(plan, tmp / f"serial-{i}", workers=0, progress=False)
                serial.append(time.perf_counter() - t)
                t = time.perf_counter()
                c = run_sweep(plan, tmp / f"cluster-{i}", scheduler=address, progress=False)
                cluster.append(time.perf_counter() - t)
                assert [r["analog_accuracy"] for r in s.results] == [r["analog_accuracy"] for r in c.results]
    best_s, best_c = min(serial), min(cluster)
    overhead = (2 * best_c - best_s) / tasks
    print(f"serial {best_s:.2f} s, 2 warm workers {best_c:.2f} s, cold cluster (start + imports) {cold_s:.2f} s "
          f"(best of {args.repeat}; {tasks} tasks)", file=sys.stderr)
    print(f"RESULT sweep_speedup={best_s / best_c:.3f} serial_s={best_s:.3f} cluster_s={best_c:.3f} "
          f"cold_cluster_s={cold_s:.3f} cold_speedup={best_s / cold_s:.3f} overhead_per_task_s={overhead:.3f} "
          f"points=8 tasks={tasks}")


if __name__ == "__main__":
    main()
