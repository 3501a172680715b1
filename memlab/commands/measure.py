"""``memlab measure``: run a protocol file into a run archive (or plan it with ``--dry-run``)."""

from __future__ import annotations

import contextlib
import pathlib
import warnings

import click


def _warn(text: str) -> None:
    click.echo(f"memlab: warning: {' '.join(text.split())}", err=True)


# size: click declares the measure command's options as decorators of the command function this
# registers (38 of these lines); the command itself (41 lines, docstring included) is under the limit
def register(cli: click.Group) -> None:
    @cli.command("measure")
    @click.option("--protocol", "protocol", type=click.Path(dir_okay=False), default=None,
                  help="Protocol file (TOML); optional with --resume (the archive stores it).")
    @click.option("--backend", type=click.Choice(["sim", "wgfmu", "b1500"]), default=None,
                  help="sim: simulated instruments and virtual device; wgfmu: Keysight WGFMU library; "
                       "b1500: B1500A SMU over VISA (I-V sweeps). Required, except with --dry-run (default sim).")
    @click.option("--address", default=None,
                  help="VISA address of the B1500A [default: memlab.toml's address, else GPIB0::17::INSTR].")
    @click.option("--visa-library", default=None,
                  help="pyvisa backend for the B1500A: @ivi (Keysight/NI VISA), @py (pyvisa-py), FILE.yaml@sim, "
                       "or a VISA library path [default: memlab.toml's, else the system VISA, else @py].")
    @click.option("--visa-timeout", "visa_timeout_s", type=click.FloatRange(min=0.001, max=3600.0), default=10.0,
                  show_default=True, help="Seconds the B1500A may take to answer (a sweep gets its own duration on "
                                          "top of it).")
    @click.option("--device-seed", type=int, default=None,
                  help="Virtual device of the population (sim; 0 = nominal device) [default: 0, or the archive's "
                       "with --resume].")
    @click.option("--seed", type=int, default=None, help="Noise seed (sim) [default: 0, or the archive's with --resume].")
    @click.option("--out", default=None, type=click.Path(dir_okay=False),
                  help="Run archive to write (HDF5); a relative path goes into the output folder. "
                       "Missing folders are created.")
    @click.option("--output-folder", default=None, type=click.Path(file_okay=False),
                  help="Folder for a relative --out [default: memlab.toml's output_folder, else the working folder].")
    @click.option("--resume", is_flag=True, help="Continue an interrupted run in --out (same backend, device, "
                                                 "protocol and channel settings).")
    @click.option("--force-resume", is_flag=True, help="Resume even where this session differs from the archive "
                                                       "(the differences are logged in resume_log).")
    @click.option("--dry-run", is_flag=True, help="Check everything and print the instrument time, counts, memory "
                                                  "and disk; draw the first cycle; touch no instrument.")
    @click.option("--waveform-png", type=click.Path(dir_okay=False), default=None,
                  help="--dry-run: PNG of the first cycle [default: PROTOCOL-first-cycle.png in the output folder].")
    @click.option("--sample", default=None, help="Sample identifier (stored in the archive).")
    @click.option("--device", default=None, help="Device identifier (stored in the archive).")
    @click.option("--operator", default=None, help="Operator name (stored in the archive) [default: memlab.toml's].")
    @click.option("--wgfmu-library", type=click.Path(dir_okay=False), default=None,
                  help="Path of Keysight's wgfmu.dll (wgfmu backend) [default: the system location].")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @click.option("--live", is_flag=True, help="Open `memlab watch` beside the run (a PNG when headless).")
    def measure_cmd(protocol, backend, address, visa_library, visa_timeout_s, device_seed, seed, out, output_folder, resume,
                    force_resume, dry_run, waveform_png, sample, device, operator, wgfmu_library, quiet,
                    live) -> None:
        """Run a measurement protocol and record it in a run archive.

        SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a run cleanly: the sequence is
        aborted, the outputs go to 0 V and the archive is closed as interrupted.
        """
        from memlab.config import load_settings, resolve_out
        from memlab.errors import ConfigError
        from memlab.files import prepare_output

        settings = load_settings({"operator": operator, "address": address, "visa_library": visa_library,
                                  "output_folder": output_folder})
        if settings["visa_library"].value is not None:
            from memlab.instruments.visa import check_library

            check_library(settings["visa_library"].value, settings["visa_library"].origin)
        folder = settings["output_folder"]
        if dry_run:
            _dry_run(protocol, backend or "sim", out, folder, resume or force_resume, waveform_png)
            return
        if backend is None:
            raise ConfigError("--backend is required: sim, wgfmu or b1500")
        if out is None:
            raise ConfigError("--out is required: the run archive to write")
        out = prepare_output(resolve_out(out, folder), "--out")
        from memlab.protocols.measure import measure, preflight_warnings

        for text in preflight_warnings(protocol, out, resume or force_resume):
            _warn(text)
        from memlab.watch import live_beside

        with live_beside(out, live), _one_line_warnings():
            result = measure(protocol, backend=backend, out=out, address=settings["address"].value,
                             device_seed=device_seed, seed=seed, resume=resume, sample=sample, device=device,
                             operator=settings["operator"].value, progress=not quiet, wgfmu_library=wgfmu_library,
                             visa_library=settings["visa_library"].value, visa_timeout_s=visa_timeout_s,
                             force_resume=force_resume)
        click.echo(f"{out}: {result.status}, {result.cycles_completed} "
                   f"{'cycles' if result.unit == 'cycle' else result.unit + 's'} in {result.elapsed_s:.1f} s")


@contextlib.contextmanager
def _one_line_warnings():
    """Instrument-state warnings (outputs found live and made safe) as ``memlab: warning:`` lines."""
    from memlab.instruments.output_state import InstrumentLeftLiveWarning

    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, InstrumentLeftLiveWarning):
            _warn(str(message))
        else:
            original(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", InstrumentLeftLiveWarning)
        warnings.showwarning = show
        yield


def _dry_run(protocol, backend, out, folder, resume, waveform_png) -> None:
    from memlab.config import resolve_out
    from memlab.files import prepare_output
    from memlab.protocols.dryrun import format_plan
    from memlab.protocols.measure import dry_run

    target = None if out is None else resolve_out(out, folder)
    if waveform_png is None:
        stem = pathlib.Path(protocol).stem if protocol else (target.stem if target else "run")
        waveform_png = resolve_out(f"{stem}-first-cycle.png", folder)
    png = prepare_output(waveform_png, "--waveform-png")
    result = dry_run(protocol, backend=backend, out=target, resume=resume, png=png)
    click.echo(format_plan(result.protocol, result.plan))
    click.echo(f"{'waveform':<15}  first {result.plan.unit} drawn to {result.png}")
    for text in result.warnings:
        _warn(text)
    click.echo("dry run: nothing was sent to an instrument" + (f"; {target} not created" if target else ""))
