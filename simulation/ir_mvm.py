"""IR drop in ``memlab simulate``: the crossbar hooks of ``device_model.freeze``.

:func:`memlab.simulation.device_model.freeze` turns a programmed and drifted
analog network into :class:`~memlab.simulation.crossbar.ProgrammedLayer`
objects whose tiles meet their inputs in one function, ``mvm(x_levels,
tile)``, and each tile passes once through ``tile_transform(tile)``.
:class:`IRDropTransform` (the one the CLI uses) is such a transform: it reads
the tile's conductances (G+, G−) in siemens, computes the effective
conductance of its crossbar(s) with
:func:`memlab.simulation.ir_fast.effective_conductance` and returns the tile
with that effective weight, so every batch costs one matrix product, exactly
as the ideal crossbar does. :class:`IRDropMvm` does the same through the
``mvm`` hook (solved at a tile's first batch, cached). Because ``freeze`` runs
after programming and drift, IR drop acts on the conductances the chip has at
that time. A tile larger than ``array_size`` is split into physical arrays
whose currents are added before the ADC; set the tile size equal to the array
size for one ADC per array.

The CLI side: :func:`ir_drop_options` adds ``--ir-drop``,
``--wire-resistance-ohm``, ``--array-size``, ``--driver-resistance-ohm``,
``--sense-resistance-ohm`` and ``--ir-method`` to a click command and hands the command one
``tile_transform`` argument (None when ``--ir-drop`` is absent).
"""

from __future__ import annotations

import functools
import json
import weakref
from typing import Any, Callable

import click
import torch

from memlab.errors import ConfigError
from memlab.simulation.crossbar import ProgrammedTile
from memlab.simulation.ir_fast import METHODS, IRDropConfig, effective_conductances


def effective_weight(tile: ProgrammedTile, config: IRDropConfig) -> torch.Tensor:
    """The tile's normalised weight (out, in) as its crossbar with IR drop realises it."""
    return effective_weights([tile], config)[0]


def effective_weights(tiles: list[ProgrammedTile], config: IRDropConfig) -> list[torch.Tensor]:
    """:func:`effective_weight` of several tiles, their crossbars computed as one stack."""
    with torch.no_grad():
        pairs = [tuple(g.T for g in tile.conductances_S()) for tile in tiles]  # crossbar rows are the inputs
        return [((tile.g_direction / tile.g_per_weight_S) * g_eff.T).to(tile.weight.dtype)
                for tile, g_eff in zip(tiles, effective_conductances(pairs, config))]


class _Settings:
    config: IRDropConfig

    def as_dict(self) -> dict[str, Any]:
        """The settings, JSON-ready, for the results file."""
        return {"ir_drop": True, **self.config.as_dict()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self.as_dict(), sort_keys=True)})"


class IRDropTransform(_Settings):
    """``tile_transform(tile) -> tile`` hook of ``freeze``: the tile with its IR-drop weight.

    Runs once per programmed (and drifted) state, on the tile's device.
    """

    def __init__(self, config: IRDropConfig) -> None:
        self.config = config

    def __call__(self, tile: ProgrammedTile) -> ProgrammedTile:
        return tile.with_weight(effective_weight(tile, self.config))

    def transform_tiles(self, tiles: list[ProgrammedTile]) -> list[ProgrammedTile]:
        """All tiles of a layer at once (what ``freeze`` calls): one stack of crossbars."""
        return [tile.with_weight(w) for tile, w in zip(tiles, effective_weights(tiles, self.config))]


class IRDropMvm(_Settings):
    """``mvm(x_levels, tile) -> ADC codes`` hook: the same model, solved at a tile's first batch."""

    def __init__(self, config: IRDropConfig) -> None:
        self.config = config
        # Tiles are frozen and rebuilt by every freeze(); a weak cache drops a
        # tile's matrix together with the frozen network that owned it.
        self._codes: "weakref.WeakKeyDictionary[ProgrammedTile, torch.Tensor]" = weakref.WeakKeyDictionary()

    def codes_T(self, tile: ProgrammedTile) -> torch.Tensor:
        """(in, out) matrix from DAC codes to ADC codes (cached per tile)."""
        codes = self._codes.get(tile)
        if codes is None:
            codes = (effective_weight(tile, self.config) * (tile.dac_step / tile.adc_step)).T.contiguous()
            self._codes[tile] = codes
        return codes

    def __call__(self, x_levels: torch.Tensor, tile: ProgrammedTile) -> torch.Tensor:
        return x_levels @ self.codes_T(tile)


def ir_drop_transform(
    ir_drop: bool,
    wire_resistance_ohm: float | None,
    array_size: int,
    driver_resistance_ohm: float = 0.0,
    sense_resistance_ohm: float = 0.0,
    method: str = "auto",
) -> IRDropTransform | None:
    """The tile transform for the CLI settings: None (ideal crossbar) unless ``ir_drop``."""
    if not ir_drop:
        if wire_resistance_ohm is not None:
            raise ConfigError("--wire-resistance-ohm given without --ir-drop")
        return None
    if wire_resistance_ohm is None:
        raise ConfigError("--ir-drop needs --wire-resistance-ohm (e.g. 1.0 ohm per cell)")
    return IRDropTransform(IRDropConfig(
        wire_resistance_ohm=wire_resistance_ohm, array_size=array_size,
        driver_resistance_ohm=driver_resistance_ohm, sense_resistance_ohm=sense_resistance_ohm, method=method,
    ))


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
