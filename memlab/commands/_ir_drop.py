"""The IR-drop options of ``memlab simulate`` (and any command that takes them).

:func:`ir_drop_options` adds ``--ir-drop``, ``--wire-resistance-ohm``, ``--array-size``,
``--driver-resistance-ohm``, ``--sense-resistance-ohm`` and ``--ir-method`` to a click
command and hands the command one ``tile_transform`` argument (None when ``--ir-drop`` is
absent), built by :func:`memlab.simulation.ir_mvm.ir_drop_transform`. A module of
``memlab.commands`` whose name starts with ``_`` is a helper, not a sub-command.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

from memlab.simulation.ir_fast import METHODS
from memlab.simulation.ir_mvm import ir_drop_transform


IR_DROP_FLAGS = {"wire_resistance_ohm": "--wire-resistance-ohm", "array_size": "--array-size",
                 "driver_resistance_ohm": "--driver-resistance-ohm", "sense_resistance_ohm": "--sense-resistance-ohm"}
"""IRDropConfig field -> the flag that sets it, so errors name what the user typed."""


def ir_drop_options(command: Callable) -> Callable:
    """Click decorator: adds the IR-drop options and passes ``tile_transform=...`` instead.

    ``tile_transform`` is None without ``--ir-drop``. ``--array-size``
    defaults to the command's ``tile_size`` argument when it has one (else 256).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        size = kwargs.pop("array_size")
        if size is None:
            size = kwargs.get("tile_size") or 256
        from memlab.flags import flag_errors

        with flag_errors(IR_DROP_FLAGS):
            kwargs["tile_transform"] = ir_drop_transform(
                kwargs.pop("ir_drop"), kwargs.pop("wire_resistance_ohm"), size,
                kwargs.pop("driver_resistance_ohm"), kwargs.pop("sense_resistance_ohm"), kwargs.pop("ir_method"),
            )
        return command(*args, **kwargs)

    options = [
        click.option("--ir-drop", is_flag=True, help="Model wire resistance (IR drop) in every analog layer."),
        click.option("--wire-resistance-ohm", type=float, default=None,
                     help="Resistance of one wire segment (cell pitch), ohm; ~0.1-10 in the literature."),
        click.option("--array-size", type=int, default=None,
                     help="Rows and columns of one physical array [--tile-size, else 256]."),
        click.option("--driver-resistance-ohm", type=float, default=0.0, show_default=True,
                     help="Output resistance of a row driver, ohm."),
        click.option("--sense-resistance-ohm", type=float, default=0.0, show_default=True,
                     help="Input resistance of a column's virtual-ground sense amplifier, ohm."),
        click.option("--ir-method", type=click.Choice(METHODS), default="auto", show_default=True,
                     help="auto: closed_form where the drop is weak (rho <= 0.3), else solve; "
                          "solve: exact circuit (about a second per large layer); "
                          "closed_form: instant, within 1 % only for weak drop."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
