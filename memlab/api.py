"""The Python API: what a notebook needs, calling the same functions the CLI calls.

``import memlab`` exposes these names (loaded on first use, so ``import memlab``
stays light: torch and aihwkit load only with :func:`simulate`):

================  ==================================================  ======================
function          what                                                the CLI's
================  ==================================================  ======================
open_run          a run archive as an ``xarray.Dataset``              ``memlab export``
measure           a protocol file on a backend → a run archive        ``memlab measure``
analyze           run archives → a device file (+ figures)            ``memlab analyze``
load_device       a device file → a frozen ``DeviceFile``             (``memlab simulate``)
simulate          a device file → network accuracies (``Results``)    ``memlab simulate``
sweep             a design-space plan on Dask → table, heat maps      ``memlab sweep``
characterize      I-V archives / endurance CSV → iv / endurance keys  ``memlab characterize``
export            a run archive to csv / netcdf / parquet             ``memlab export``
watch             live plots of an archive being written              ``memlab watch``
                  (here as ``memlab.api.watch``: ``memlab.watch`` is its module)
================  ==================================================  ======================

Errors are :class:`memlab.errors.MemlabError` subclasses naming the field,
the value and the limit, as on the command line.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

__all__ = ["open_run", "measure", "analyze", "load_device", "simulate", "sweep", "characterize", "export", "watch"]
TOP_LEVEL = tuple(n for n in __all__ if n != "watch")  # memlab.watch is the module of that name


def open_run(path: str | os.PathLike, group: str | None = None):
    """Open a run archive as an :class:`xarray.Dataset` (read through memlab's one reader).

    Pulse-cycling runs have dimensions ``cycle`` × ``pulse`` (coordinates
    ``branch``, ``branch_pulse``, ``pulse_amplitude_V``, ``pulse_width_s``);
    I-V runs ``sweep`` × ``point``, retention runs ``state`` × ``point``.
    Every variable carries ``units``; the run's header and provenance are in
    ``attrs``. ``group`` picks ``pulses``, ``retention`` or ``iv``.

    >>> import memlab
    >>> ds = memlab.open_run("sample_data/runs/paper-tailored-sim.h5")
    >>> dict(ds.sizes), ds["conductance_S"].attrs["units"]
    ({'cycle': 100, 'pulse': 40}, 'S')
    >>> ds.to_dataframe().loc[(0, 0), "branch"]
    'potentiation'
    """
    from memlab.protocols.archive import read_run
    from memlab.protocols.dataset import run_dataset

    return run_dataset(read_run(path, waveforms=False), group)


def measure(protocol: str | os.PathLike, out: str | os.PathLike, *, backend: str = "sim", **options: Any):
    """Run the protocol file on ``backend`` (``sim``, ``wgfmu``, ``b1500``) into the archive ``out``.

    ``options`` as ``memlab measure``: ``device_seed``, ``seed``, ``resume``,
    ``sample``, ``device``, ``operator``, ``address``, ``progress`` ... Returns the
    run's result (``status``, ``cycles_completed``, ``elapsed_s``).

    >>> r = memlab.measure("sample_data/protocols/iv-sweep.toml", "iv.h5", seed=1, progress=False)
    >>> r.status, r.cycles_completed
    ('complete', 3)
    """
    from memlab.protocols.measure import measure as _measure

    return _measure(protocol, backend=backend, out=out, **options)


def analyze(runs, out: str | os.PathLike, figures: str | os.PathLike | None = None, **options: Any):
    """Extract the device file ``out`` from run archives (a path or a list); figures into ``figures``.

    ``options`` are :class:`memlab.analysis.pipeline.AnalyzeOptions` fields
    (``k_sigma``, ``r2_min``, ``pulses_per_state``, ``windows``, ``n_boot``, ``seed``).
    Returns the analysis (``.device`` is the :class:`DeviceFile`, ``.notes`` what to know).

    >>> a = memlab.analyze("sample_data/runs/paper-tailored-sim.h5", "device.json", n_boot=0)
    >>> a.device.states_per_branch, a.device.sigma_source
    (16, 'cycle_to_cycle')
    """
    from memlab.analysis.pipeline import AnalyzeOptions
    from memlab.analysis.pipeline import analyze as _analyze

    paths = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs)
    return _analyze(paths, out, figures, AnalyzeOptions(**options))


def load_device(path: str | os.PathLike):
    """Read and validate a device file (JSON) → frozen :class:`memlab.analysis.device_file.DeviceFile`.

    >>> d = memlab.load_device("sample_data/devices/virtual-hfs2.json")
    >>> d.states_per_branch, d.sigma_source
    (16, 'cycle_to_cycle')
    """
    from memlab.analysis.device_file import load_device_file

    return load_device_file(path)


def simulate(device_file: str | os.PathLike, task: str = "digits", *, quick: bool = False,
             out: str | os.PathLike | None = None, figures: str | os.PathLike | None = None, plan=None,
             data_dir: str | None = None, checkpoint_dir: str | os.PathLike | None = None, progress: bool = True,
             config=None, **plan_fields: Any):
    """Device file → trained, programmed, drifted analog networks → the ``Results`` (fractions in [0, 1]).

    ``task``: ``digits`` (always available), ``mnist``, ``cifar10``; ``quick`` is the
    smoke-test size. ``plan``: an :class:`memlab.simulation.plan.ExperimentPlan` (``config``, its
    old name, too); without one, the task's default plan with the device file's own drift and
    ``plan_fields`` (``repeats``, ``epochs``, ``options`` ...). The function ``memlab simulate``
    calls (:func:`memlab.simulation.experiment.run_experiment`). Writes the results JSON to ``out``
    when given; ``res.to_json()`` is that file's content, ``res["key"]`` one of its keys.

    >>> res = memlab.simulate("sample_data/devices/virtual-hfs2.json", "digits", quick=True, progress=False)
    >>> 0.5 < res.digital_accuracy <= 1 and 0 < res["analog_accuracy"]["mean"] <= 1
    True
    """
    from memlab.analysis.device_file import load_device_file
    from memlab.simulation import analog as dm
    from memlab.simulation.experiment import run_experiment
    from memlab.simulation.plan import default_drift, default_plan
    from memlab.simulation.tasks import get_task

    plan = plan if plan is not None else config
    if plan is None:
        plan_fields.setdefault("options", dm.AnalogOptions(drift=default_drift(load_device_file(device_file))))
        plan = default_plan(get_task(task), quick=quick, **plan_fields)
    elif quick:
        plan = dataclasses.replace(plan, quick=True)
    return run_experiment(device_file, plan, task, out=out, figures=figures, data_dir=data_dir,
                          checkpoint_dir=checkpoint_dir, progress=progress)


def sweep(plan: str | os.PathLike, out: str | os.PathLike, *, workers: int = 2, scheduler: str | None = None,
          **options: Any):
    """A design-space plan (TOML) → accuracy over its axes; ``results.csv``, heat maps and ``report.html``
    in ``out``. ``workers=0`` runs in this process, ``workers=N`` on a Dask LocalCluster,
    ``scheduler`` on a running cluster. Returns the ``SweepOutcome`` (``results``, ``computed``, ``failed``).

    >>> done = memlab.sweep("sample_data/sweeps/tiny-digits.toml", "tiny-sweep", workers=0, progress=False)
    >>> len(done.results), done.computed, [r["point"]["states_per_branch"] for r in done.results]
    (2, 2, [4, 16])
    >>> memlab.sweep("sample_data/sweeps/tiny-digits.toml", "tiny-sweep", workers=0, progress=False).computed
    0
    """
    from memlab.simulation.sweep import load_plan, run_sweep, write_outputs

    p = load_plan(plan)
    outcome = run_sweep(p, out, workers=workers, scheduler=scheduler, **options)
    write_outputs(p, outcome, out)
    return outcome


def characterize(runs=(), *, device: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
                 **options: Any):
    """I-V archives and/or an endurance summary → the ``iv`` / ``endurance`` keys (added to ``device``
    and/or written to ``out``). ``options``: ``endurance``, ``endurance_read_voltage_V``,
    ``read_voltage_V``, ``min_ratio``, ``figures``.

    >>> c = memlab.characterize("sample_data/runs/iv-sweep-sim.h5")
    >>> c.iv_summary.n_sweeps, c.iv_summary.v_set_V.mean > 0
    (3, True)
    """
    from memlab.analysis.characterize import add_to_device_file
    from memlab.analysis.characterize import characterize as _characterize
    from memlab.analysis.characterize import write_characterization

    paths = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs)
    result = _characterize(paths, **options)
    if out is not None:
        write_characterization(result, out)
    if device is not None:
        add_to_device_file(result, device)
    return result


def export(run: str | os.PathLike, to: str, out: str | os.PathLike | None = None, **options: Any) -> list[pathlib.Path]:
    """Write a run archive as ``csv``, ``netcdf`` or ``parquet``; returns the files written.

    >>> [p.name for p in memlab.export("sample_data/runs/iv-sweep-sim.h5", "netcdf", "iv.nc")]
    ['iv.nc']
    """
    from memlab.protocols.export import export_run

    return export_run(run, to, out, **options)


def watch(path: str | os.PathLike, **options: Any):
    """Follow an archive being written (window, or a PNG when headless); see :func:`memlab.watch.watch`."""
    from memlab.watch import watch as _watch

    return _watch(path, **options)
