"""Regenerate the sample device files from the committed sample runs, with memlab's own commands.

    .venv/bin/python sample_data/regenerate.py           # device files from the committed runs
    .venv/bin/python sample_data/regenerate.py --runs    # first re-measure the runs (new UUIDs and times)
    .venv/bin/python sample_data/regenerate.py --check   # exit 1 if a committed device file would change

(or ``make sample-data``). Every device file here is ``memlab analyze`` of the
runs listed in ``DEVICE_FILES``; the analysis is deterministic (seeded
bootstrap), so regenerating from the same runs gives the same file apart from
``created_utc``. The runs are ``memlab measure`` of the protocol files in
``protocols/`` on the simulated backend (the virtual device); re-measuring
gives new UUIDs, timestamps and hashes, so the device files then change in
``source_runs`` (and nothing else, the noise being seeded).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
RUNS_DIR = HERE / "runs"
DEVICES_DIR = HERE / "devices"
SIM = ["--backend", "sim", "--seed", "1", "--sample", "SIM", "--operator", "memlab", "--quiet"]
POPULATION_SEEDS = (1, 2, 3, 4, 5, 6)

# run file -> (protocol file, extra measure arguments)
RUNS: dict[str, tuple[str, list[str]]] = {
    "paper-tailored-sim.h5": ("paper-tailored.toml", ["--device-seed", "0", "--device", "nominal"]),
    "retention-sim.h5": ("retention.toml", ["--device-seed", "0", "--device", "nominal"]),
    "iv-sweep-sim.h5": ("iv-sweep.toml", ["--device-seed", "0", "--device", "nominal"]),
    **{f"population-device{s}-sim.h5": ("paper-tailored-population.toml",
                                        ["--device-seed", str(s), "--device", f"virtual-{s}"])
       for s in POPULATION_SEEDS},
}

# device file -> the runs it is analyzed from
DEVICE_FILES: dict[str, list[str]] = {
    "virtual-hfs2.json": ["paper-tailored-sim.h5", "retention-sim.h5"],
    "virtual-hfs2-population.json": ["paper-tailored-sim.h5", "retention-sim.h5",
                                     *(f"population-device{s}-sim.h5" for s in POPULATION_SEEDS)],
}


def _memlab(args: list[str]) -> None:
    from memlab.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(args)
    if rc != 0:
        raise SystemExit(f"memlab {' '.join(args)}: exit status {rc}")


def measure_runs(runs_dir: pathlib.Path = RUNS_DIR) -> None:
    """Re-measure every sample run (overwrites them)."""
    for name, (protocol, extra) in RUNS.items():
        out = runs_dir / name
        out.unlink(missing_ok=True)
        _memlab(["measure", "--protocol", str(HERE / "protocols" / protocol), *SIM, *extra, "--out", str(out)])


def derive_device_files(out_dir: pathlib.Path = DEVICES_DIR, runs_dir: pathlib.Path = RUNS_DIR) -> list[pathlib.Path]:
    """``memlab analyze`` of the sample runs into ``out_dir``; returns the files written."""
    written = []
    for name, runs in DEVICE_FILES.items():
        out = out_dir / name
        _memlab(["analyze", *(str(runs_dir / r) for r in runs), "--out", str(out)])
        written.append(out)
    return written


def comparable(path: pathlib.Path) -> dict:
    """A device file's content without what legitimately changes on regeneration (the time)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("created_utc", None)
    return data


def check() -> list[str]:
    """Names of the committed device files that regenerating would change."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = derive_device_files(pathlib.Path(tmp))
        return [f.name for f in fresh if not (DEVICES_DIR / f.name).is_file()
                or comparable(f) != comparable(DEVICES_DIR / f.name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", action="store_true", help="re-measure the sample runs first")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a file would change")
    args = parser.parse_args(argv)
    if args.check:
        changed = check()
        print("sample device files up to date" if not changed else f"would change: {', '.join(changed)}")
        return 1 if changed else 0
    if args.runs:
        measure_runs()
    for path in derive_device_files():
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
