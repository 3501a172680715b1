"""IR drop in ``memlab simulate``: the crossbar hooks of ``analog.freeze``.

:func:`memlab.simulation.analog.freeze` turns a programmed and drifted
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

The CLI's options (``--ir-drop``, ``--wire-resistance-ohm`` ...) live with the CLI,
in ``memlab.commands._ir_drop``; they call :func:`ir_drop_transform`.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

import torch

from memlab.errors import ConfigError
from memlab.simulation.crossbar import ProgrammedTile
from memlab.simulation.ir_fast import IRDropConfig, effective_conductances


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
