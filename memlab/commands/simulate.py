"""`memlab simulate`: device file -> predicted network accuracy (results JSON + figures)."""

from __future__ import annotations

import click

from memlab.commands._ir_drop import ir_drop_options


SIMULATE_FLAGS = {"d2d_fraction": "--d2d", "adc_bits": "--adc-bits", "dac_bits": "--dac-bits",
                  "tile_size": "--tile-size", "stuck_fraction": "--stuck-fraction",
                  "read_noise_fraction": "--read-noise", "hwat_epochs": "--hwat-epochs", "epochs": "--epochs",
                  "repeats": "--repeats"}
"""Internal field -> the flag that sets it, so errors name what the user typed."""


def register(cli: click.Group) -> None:
    cli.add_command(simulate)


@click.command()
@ir_drop_options
@click.argument("device_file", type=click.Path(dir_okay=False))
@click.option("--task", default="mnist", show_default=True,
              help="A task of memlab.simulation.tasks: mnist, digits or cifar10.")
@click.option("--data-dir", default=None, help="Data directory (else $MEMLAB_DATA, ../shared/data, ~/.cache/memlab/data).")
@click.option("--epochs", type=int, default=None, help="Digital training epochs [task default].")
@click.option("--hwat-epochs", type=int, default=None, help="Hardware-aware training epochs [task default].")
@click.option("--repeats", type=int, default=None, help="Programming repeats per point [5; 3 with --quick].")
@click.option("--d2d", default="0.3", show_default=True, metavar="FRACTION|measured",
              help="Device-to-device spread of step size and range: a fraction (the paper's assumed 30 %), "
                   "or 'measured': the spread in the device file's d2d statistics (runs of several devices "
                   "analyzed together, e.g. sample_data/devices/virtual-hfs2-population.json).")
@click.option("--programming", type=click.Choice(["write_verify", "open_loop"]), default="write_verify",
              show_default=True, help="write_verify: program-and-verify each device to its target; "
                                      "open_loop: blind pulse counts (D2D scales every weight).")
@click.option("--drift", type=click.Choice(["measured", "wan2022", "none"]), default=None,
              help="measured: the device file's own retention (memlab's drift law, any time; the default when "
                   "the file has a drift block); wan2022: aihwkit's ReRamWan2022NoiseModel (1 s, 1 day, 2 days; "
                   "the default without one); none.")
@click.option("--wan2022-scaling", type=click.Choice(["absolute", "relative"]), default="absolute", show_default=True,
              help="With --drift wan2022: absolute = aihwkit 1.1's arithmetic (g_max = the device's own range in "
                   "µS: the polynomials' µS land on the device's µS); relative = Wan's 40 µS window (σ as a "
                   "fraction of Wan's range, ~30x larger on a 1.2 mS range).")
@click.option("--branch", type=click.Choice(["potentiation", "depression"]), default="potentiation", show_default=True)
@click.option("--adc-bits", type=int, default=8, show_default=True)
@click.option("--dac-bits", type=int, default=8, show_default=True)
@click.option("--tile-size", type=int, default=512, show_default=True, help="Largest crossbar (rows, columns).")
@click.option("--stuck-fraction", type=float, default=0.0, show_default=True)
@click.option("--read-noise", type=float, default=0.0, show_default=True, help="Read noise σ as a fraction of G.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--quick", is_flag=True, help="Few epochs: a smoke test, not a result.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="RESULTS.json to write.")
@click.option("--figures", default=None, type=click.Path(file_okay=False), help="Folder for the PNG figures.")
@click.option("--checkpoints", default=None, type=click.Path(file_okay=False),
              help="Checkpoint folder [checkpoints/ beside --out]; reruns reuse trained networks.")
@click.option("--digital-weights", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Start from this trained digital network (a *-digital-*.pt checkpoint) instead of training.")
@click.option("--hwat-weights", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Evaluate this HWAT network (a *-hwat-*.pt checkpoint, with --digital-weights) instead of "
                   "hardware-aware training.")
@click.option("--energy", is_flag=True, help="Add what the network costs on the device: programming energy and "
                                             "time, inference energy per image (results 'energy' block).")
@click.option("--energy-run", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Pulse-cycling run archive giving the read pulse and pulse period [the device file's source "
                   "run beside it or in ../runs].")
@click.option("--read-time-s", type=float, default=None, help="Inference read time [the protocol's read width].")
@click.option("--adc-energy-J", "adc_energy_J", type=float, default=None,
              help="ADC energy per conversion [10 fJ/step x 2^bits, Murmann's ADC survey].")
@click.option("--dac-energy-J", "dac_energy_J", type=float, default=None,
              help="DAC energy per conversion [0.1 x the ADC default at its bits: an assumption].")
@click.option("--energy-per-pulse-J", "energy_per_pulse_J", type=float, default=None,
              help="Programming energy per pulse [the device file's energy_per_pulse_J].")
@click.option("--budget", is_flag=True, help="Add the accuracy budget: the points each non-ideality costs, switched "
                                             "on one at a time and cumulatively (results 'budget' block, waterfall).")
@click.option("--budget-time-s", type=float, default=86400.0, show_default=True,
              help="With --budget: evaluation time after programming (the drift stage's time; 0 = at programming).")
@click.option("--budget-network", type=click.Choice(["hwat", "baseline"]), default="hwat", show_default=True,
              help="With --budget: the hardware-aware trained network, or the no-HWAT baseline.")
def simulate(device_file, task, data_dir, epochs, hwat_epochs, repeats, d2d, programming, drift, wan2022_scaling,
             branch, adc_bits, dac_bits, tile_size, stuck_fraction, read_noise, seed, device, quick, out, figures,
             checkpoints, tile_transform, digital_weights, hwat_weights, energy, energy_run, read_time_s,
             adc_energy_J, dac_energy_J, energy_per_pulse_J, budget, budget_time_s, budget_network):
    """Train, program and evaluate a network on crossbars built from DEVICE_FILE.

    With --ir-drop every analog layer's programmed (and drifted) conductances
    are replaced by the effective weights of a crossbar with the given wire
    resistance, split into arrays of --array-size rows/columns.
    """
    from memlab.files import prepare_output
    from memlab.flags import flag_errors
    from memlab.simulation.analog import AnalogOptions
    from memlab.simulation.experiment import run_experiment
    from memlab.simulation.plan import default_plan
    from memlab.simulation.tasks import get_task

    task_obj = get_task(task)  # an unknown name stops here, before anything is written
    prepare_output(out, "--out")
    if figures is not None:
        prepare_output(figures, "--figures", folder=True)
    spread = _d2d_spread(d2d, device_file, branch)
    drift = _drift_mode(drift, device_file, wan2022_scaling)
    with flag_errors(SIMULATE_FLAGS):
        options = AnalogOptions(branch=branch, d2d_fraction=spread.step_fraction,
                                d2d_range_fraction=spread.range_fraction if spread.source == "measured" else None,
                                d2d_source=spread.source, programming=programming, drift=drift,
                                wan2022_scaling=wan2022_scaling,
                                adc_bits=adc_bits, dac_bits=dac_bits, tile_size=tile_size,
                                stuck_fraction=stuck_fraction, read_noise_fraction=read_noise, seed=seed)
    settings = _energy_settings(device_file, energy, energy_run, read_time_s, adc_energy_J, dac_energy_J,
                                energy_per_pulse_J, adc_bits, dac_bits)
    budget_settings = _budget_settings(budget, drift, budget_time_s, budget_network, quick, repeats)
    with flag_errors(SIMULATE_FLAGS):
        plan = default_plan(task_obj, quick=quick, options=options, epochs=epochs, hwat_epochs=hwat_epochs,
                            seed=seed, device=device, repeats=repeats, tile_transform=tile_transform,
                            energy=settings, budget=budget_settings, digital_weights=digital_weights,
                            hwat_weights=hwat_weights)
    results = run_experiment(device_file, plan, task_obj, out=out, figures=figures, data_dir=data_dir,
                             checkpoint_dir=checkpoints, log=click.echo)
    _echo_results(results, task_obj, plan.repeats, out)


def _energy_settings(device_file, energy, energy_run, read_time_s, adc_energy_J, dac_energy_J, energy_per_pulse_J,
                     adc_bits, dac_bits):
    """The energy stage's settings when any energy option is given (checked before any training), else None."""
    if not energy and all(v is None for v in (energy_run, read_time_s, adc_energy_J, dac_energy_J,
                                              energy_per_pulse_J)):
        return None
    from memlab.analysis.device_file import load_device_file
    from memlab.simulation.energy import EnergySettings, converters, pulse_energy, timing_for

    settings = EnergySettings(run=energy_run, read_time_s=read_time_s, adc_energy_J=adc_energy_J,
                              dac_energy_J=dac_energy_J, energy_per_pulse_J=energy_per_pulse_J)
    dev = load_device_file(device_file)  # refuse a missing value before any training
    timing_for(device_file, dev, settings), pulse_energy(dev, energy_per_pulse_J)
    converters(adc_bits, dac_bits, adc_energy_J, dac_energy_J)
    return settings


def _budget_settings(budget, drift, budget_time_s, budget_network, quick, repeats):
    """The accuracy budget's settings with --budget (its time checked against the drift model first), else None."""
    if not budget:
        return None
    from memlab.errors import ConfigError
    from memlab.flags import flag_errors
    from memlab.simulation.analog import check_drift_time
    from memlab.simulation.budget import BudgetSettings

    try:
        check_drift_time(drift, budget_time_s)
    except ConfigError as err:
        raise ConfigError(f"--budget-time-s {budget_time_s:g}: {err}") from None
    with flag_errors({"budget repeats": "--repeats"}):
        return BudgetSettings(t_s=budget_time_s, network=budget_network,
                              repeats=(3 if quick else 5) if repeats is None else repeats)


def _echo_results(results, task, repeats: int, out: str) -> None:
    """The headline numbers, the energy lines and one line per accuracy-against-time curve."""
    s = results.summary
    label = f"{task.label}: " if task.label else ""
    click.echo(f"{label}digital {100 * s['digital_accuracy']:.2f} %, analog {100 * s['analog_accuracy_mean']:.2f} "
               f"± {100 * s['analog_accuracy_std']:.2f} % ({repeats} repeats); "
               f"wall time {results.wall_time_s:.0f} s -> {out}")
    if results.budget:
        from memlab.simulation.budget import budget_table

        for line in budget_table(results.budget):
            click.echo(line)
    if results.energy:
        from memlab.simulation.energy import summary_lines

        for line in summary_lines(results.energy):
            click.echo(line)
    for v in results.accuracy_vs_time:
        row = ", ".join(f"{_time_label(t)} {100 * a['mean']:.2f}±{100 * a['std']:.2f}"
                        for t, a in zip(v["times_s"], v["accuracy"])) or v.get("skipped") or ""
        click.echo(f"  {v['branch']}, {'HWAT' if v['hwat'] else 'no HWAT'}, "
                   f"{'GDC' if v['drift_compensation'] else 'no GDC'}: {row}")


def _time_label(t: float) -> str:
    from memlab.simulation.plan import time_label

    return time_label(t)


def _drift_mode(drift: str | None, device_file: str, scaling: str) -> str:
    """--drift as given, else 'measured' when the device file has a drift block ('wan2022' without); says which."""
    from memlab.analysis.device_file import load_device_file

    device = load_device_file(device_file)
    chosen = drift
    if chosen is None:
        from memlab.simulation.plan import default_drift

        chosen = default_drift(device)
    if chosen == "measured" and device.drift is not None:
        d = device.drift
        how = " (default: the device file has a drift block)" if drift is None else ""
        click.echo(f"drift: measured{how}: {d.law}, t0 {d.t0_s:.3g} s, nu {d.nu_mean:.4f} ± {d.nu_std:.4f} "
                   f"over {len(d.states) or 'unknown'} states")
    elif chosen == "wan2022":
        how = " (default: the device file has no drift block)" if drift is None else ""
        click.echo(f"drift: wan2022{how}: aihwkit's ReRamWan2022NoiseModel, {scaling} scaling")
    return chosen


def _d2d_spread(d2d: str, device_file: str, branch: str):
    """--d2d FRACTION (assumed) or --d2d measured (the device file's d2d statistics)."""
    from memlab.simulation.d2d import assumed_d2d, measured_d2d

    if d2d.strip().lower() == "measured":
        from memlab.analysis.device_file import load_device_file

        spread = measured_d2d(load_device_file(device_file), branch, name=device_file)
        click.echo(f"--d2d measured: step size {100 * spread.step_fraction:.1f} %, range "
                   f"{100 * spread.range_fraction:.1f} % ({spread.basis})")
        return spread
    try:
        return assumed_d2d(float(d2d))
    except ValueError:
        raise click.BadParameter(f"{d2d!r} is neither a fraction nor 'measured'", param_hint="--d2d") from None
