"""``memlab demo``: measure -> analyze -> simulate on the virtual device, with an HTML report."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command("demo")
    @click.option("--out", "out_dir", default="demo-output", show_default=True, type=click.Path(file_okay=False),
                  help="Folder for the archive, device file, results, figures and index.html.")
    @click.option("--quick", is_flag=True, help="Smoke-test sizes: finishes in about two minutes on 2 cores.")
    @click.option("--task", type=click.Choice(["mnist", "digits"]), default=None,
                  help="Network task [default: mnist when its files are found, else digits].")
    @click.option("--data-dir", default=None, help="Folder holding the datasets (see README: where data is looked for).")
    @click.option("--seed", default=0, show_default=True, help="Seed of the measurement noise, analysis and simulation.")
    @click.option("--device-seed", default=0, show_default=True,
                  help="Which virtual device of the population to measure (0 = the calibrated nominal one).")
    def demo_cmd(out_dir, quick, task, data_dir, seed, device_seed) -> None:
        """Run the whole path on the built-in virtual memristor: measure it with the
        reference paper's tailored pulse scheme, extract its device file, predict
        the accuracy of an analog network, and write an HTML report."""
        from memlab.demo import run_demo

        run_demo(out_dir, quick=quick, seed=seed, device_seed=device_seed, data_dir=data_dir, task=task)
