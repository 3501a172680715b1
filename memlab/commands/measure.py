"""``memlab measure``: run a protocol file into a run archive."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command("measure")
    @click.option("--protocol", "protocol", type=click.Path(dir_okay=False), default=None,
                  help="Protocol file (TOML); optional with --resume (the archive stores it).")
    @click.option("--backend", type=click.Choice(["sim", "wgfmu", "b1500"]), required=True,
                  help="sim: simulated instruments and virtual device; wgfmu: Keysight WGFMU library; "
                       "b1500: B1500A SMU over VISA (I-V sweeps).")
    @click.option("--address", default=None, help="VISA address of the B1500A [default: GPIB0::17::INSTR].")
    @click.option("--device-seed", type=int, default=0, show_default=True,
                  help="Virtual device of the population (sim; 0 = nominal device).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Noise seed (sim).")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="Run archive to write (HDF5).")
    @click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
    @click.option("--sample", default=None, help="Sample identifier (stored in the archive).")
    @click.option("--device", default=None, help="Device identifier (stored in the archive).")
    @click.option("--operator", default=None, help="Operator name (stored in the archive).")
    @click.option("--wgfmu-library", type=click.Path(dir_okay=False), default=None,
                  help="Path of Keysight's wgfmu.dll (wgfmu backend) [default: the system location].")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def measure_cmd(protocol, backend, address, device_seed, seed, out, resume, sample, device, operator,
                    wgfmu_library, quiet) -> None:
        """Run a measurement protocol and record it in a run archive."""
        from memlab.protocols.measure import measure

        result = measure(protocol, backend=backend, out=out, address=address, device_seed=device_seed, seed=seed,
                         resume=resume, sample=sample, device=device, operator=operator, progress=not quiet,
                         wgfmu_library=wgfmu_library)
        click.echo(f"{out}: {result.status}, {result.cycles_completed} "
                   f"{'cycles' if result.unit == 'cycle' else result.unit + 's'} in {result.elapsed_s:.1f} s")
