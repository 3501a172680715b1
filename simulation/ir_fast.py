"""Fast IR-drop model for networks: each layer's crossbar as one effective matrix.

Design
------
The crossbar of :mod:`memlab.simulation.ir_reference` (drivers on the row
ends, virtual-ground sensing at the column ends, one wire segment of
``wire_resistance_ohm`` per cell) is a *linear* circuit: devices are read as
linear conductances, and wires, drivers and sense inputs are resistors. Its
column currents are therefore ``I = v @ W_eff`` for one (rows × columns)
matrix ``W_eff`` that depends only on the conductances and resistances, not on
the input. So the model computes ``W_eff`` once per conductance state (after
programming and drift), and inference is then a plain matrix product: IR drop
costs nothing per input, on CPU or CUDA, and the answer is the same for every
batch size. (This stops being exact when the device I-V is nonlinear over the
read range or the ADC saturates inside the array; neither is modelled here.)

The exact solve (``method='solve'``): nested dissection
(:mod:`memlab.simulation.ir_nested`): the array is cut into square domains,
each domain's Schur complement onto its boundary ports computed and merged
with its neighbour's (one Cholesky of the shared ports, one triangular solve,
one matrix product), so the work is O((rows·columns)^1.5), dominated by dense
products, with no iteration count and no tolerance. It is exact to float64
rounding (≤ 1e-10 relative against the sparse reference, ``tests/ir_drop``)
whatever the drop strength. It replaced (2026-12-03) a row-by-row block
elimination that needed one dense (columns × columns) inverse per row,
O(rows · columns³): 0.98 s per 256 × 256 tile of the paper's device on 2 cores
(``benchmarks/ir_drop.py``), which in turn had replaced a conjugate-gradient
solve (2026-11-27) that needed √(1 + ρ)-many iterations and stopped at a 1e-5
residual.

The closed form (``method='closed_form'``): ``G / (1 + a + b)``, with ``a``,
``b`` the first-order relative drops along the device's row and column
(:func:`line_drops`); O(rows · columns). Measured against the reference, the
relative RMS error of differential column currents is ≤ 1 % while the drop
strength ``ρ = max(a + b)`` is ≤ 0.3 (0.09 % at ρ 0.10 .. 1.1 % at ρ 0.37 for a
1-40 µS RRAM; 0.6 % at ρ 0.22 .. 1.2 % at ρ 0.36 for the paper's device),
and it grows to ~10 % at ρ ≈ 1.5 (a model that solves every row and column
line exactly but neglects the loops through other lines did little better:
0.9 % at ρ 0.37, 6 % at ρ 1.5; not kept). ``method='auto'`` (default) takes
the closed form for a layer's arrays when all have ρ ≤ ``CLOSED_FORM_MAX_RHO``
and the exact solve otherwise.

Measured: ``benchmarks/ir_drop.py`` (the strong-drop tile, the 784-500-10
network, the warm evaluation against the ideal one). Once computed, every
batch costs the ideal product.

Tiles: a layer larger than the physical array is split as aihwkit's
``TileModuleArray`` splits it (rows into ``ceil(rows / array_size)`` near-equal
tiles, columns likewise); each tile sits in the corner of its physical
array nearest the drivers and sense amplifiers, so unused cells carry no
current and do not matter, and the partial sums are added digitally. A
differential pair is two arrays (``pair_layout='separate'``) or adjacent
columns of one array (``'interleaved'``, which doubles the row length).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from memlab.errors import ConfigError
from memlab.simulation.ir_nested import nested_effective_conductance
from memlab.simulation.ir_reference import CrossbarWires

PAIR_LAYOUTS = ("separate", "interleaved")
METHODS = ("auto", "solve", "closed_form")
# Largest drop strength rho (see line_drops) at which the closed form G / (1 + a + b) stayed within 1 %
# relative RMS of the differential column currents in every measured case (tests/ir_drop).
CLOSED_FORM_MAX_RHO = 0.3


@dataclass(frozen=True)
class IRDropConfig:
    """Settings of the IR-drop model of a layer (resistances in ohm).

    wire_resistance_ohm: one wire segment (cell pitch) of a row or column.
    array_size: rows and columns of one physical array (tile size).
    driver_resistance_ohm, sense_resistance_ohm: see :class:`CrossbarWires`.
    pair_layout: 'separate' (G+ and G− in two arrays) or 'interleaved'
        (G+ and G− in adjacent columns of one array).
    method: 'auto' (default: 'closed_form' for a layer's arrays when all their
        drop strength ρ of :func:`line_drops` is at most ``CLOSED_FORM_MAX_RHO`` = 0.3,
        where it is within 1 %, else 'solve'), 'solve' (exact, float64) or 'closed_form'
        (O(rows·columns) for every array, however strong the drop).
    """

    wire_resistance_ohm: float
    array_size: int = 256
    driver_resistance_ohm: float = 0.0
    sense_resistance_ohm: float = 0.0
    pair_layout: str = "separate"
    method: str = "auto"

    def __post_init__(self) -> None:
        self.wires  # validates the resistances
        if not isinstance(self.array_size, int) or self.array_size < 2:
            raise ConfigError(f"array_size={self.array_size!r}: must be an integer >= 2")
        if self.pair_layout not in PAIR_LAYOUTS:
            raise ConfigError(f"pair_layout={self.pair_layout!r}: must be one of {PAIR_LAYOUTS}")
        if self.method not in METHODS:
            raise ConfigError(f"method={self.method!r}: must be one of {METHODS}")

    @property
    def wires(self) -> CrossbarWires:
        return CrossbarWires(self.wire_resistance_ohm, self.driver_resistance_ohm, self.sense_resistance_ohm)

    def as_dict(self) -> dict:
        """JSON-ready settings for a results file."""
        return {
            "model": "memlab.simulation.ir_fast",
            "wire_resistance_ohm": self.wire_resistance_ohm,
            "array_size": self.array_size,
            "driver_resistance_ohm": self.driver_resistance_ohm,
            "sense_resistance_ohm": self.sense_resistance_ohm,
            "pair_layout": self.pair_layout,
            "method": self.method,
        }


def split_sizes(size: int, max_size: int) -> list[int]:
    """Near-equal split of ``size`` into parts of at most ``max_size`` (aihwkit's rule)."""
    n_parts = (size + max_size - 1) // max_size
    base, extra = divmod(size, n_parts)
    return [base + (i < extra) for i in range(n_parts)]


def _path_sum(x: torch.Tensor, dim: int, r_edge: float, r: float, reverse: bool) -> torch.Tensor:
    """``Σ_k x_k (r_edge + r·shared(j, k))`` along ``dim``: the voltage drop on a line.

    ``x`` are the currents the cells draw from (rows) or push into (columns)
    the line. With ``reverse=False`` the line's source is at index 0 (rows:
    driver on the left); with ``reverse=True`` at the last index (columns:
    sense at the bottom). The shared path of nodes j and k is the edge
    segment plus min(j, k) segments counted from the source end. This is the
    hot loop of the solver: two cumulative sums and three passes, no flips.
    """
    total = x.sum(dim=dim, keepdim=True)
    if r == 0:
        return (r_edge * total).expand_as(x)
    cs = x.cumsum(dim)
    css = cs.cumsum(dim)
    out = cs.sub_(css)
    if not reverse:
        # segment s (1 <= s <= j) carries total − cs[s−1]; summed: j·total − css[j] + cs[j]
        pos = torch.arange(x.shape[dim], dtype=x.dtype, device=x.device) + r_edge / r
        pos = pos.view([-1 if d == dim % x.ndim else 1 for d in range(x.ndim)])
        out.addcmul_(total, pos)
    else:
        # segments i..n−2 towards the sense carry cs[t]: css[n−2] − css[i−1] = css[-1] − total − css[i] + cs[i]
        out.add_(css.narrow(dim, css.shape[dim] - 1, 1) + (r_edge / r - 1) * total)
    return out.mul_(r)


def _lumped_solve(g_S: torch.Tensor, r_drive: float, r_sense: float) -> torch.Tensor:
    """Exact ``W_eff`` without wire resistance: one node per line, driver and sense resistances."""
    if r_drive == 0:  # rows held at their inputs; each column node divides against the sense
        return g_S / (1 + r_sense * g_S.sum(-2, keepdim=True))
    if r_sense == 0:  # columns held at 0 V; each row node divides against its driver
        return g_S / (1 + r_drive * g_S.sum(-1, keepdim=True))
    # rows eliminated: (diag(gs + colsum) − Gᵀ D G) c = Gᵀ diag(gd / (gd + rowsum)) v
    gd, gs = 1.0 / r_drive, 1.0 / r_sense
    row = 1.0 / (gd + g_S.sum(-1))  # (..., n)
    gt = g_S.transpose(-1, -2)
    system = torch.diag_embed(gs + g_S.sum(-2)) - gt @ (row[..., :, None] * g_S)
    c = torch.cholesky_solve(gt * (gd * row)[..., None, :], torch.linalg.cholesky(system))
    return gs * c.transpose(-1, -2)


def exact_effective_conductance(g_S: torch.Tensor, wires: CrossbarWires) -> torch.Tensor:
    """Exact ``W_eff`` (..., rows, columns) of one crossbar or a stack of equal-shaped ones (S),
    computed in float64 and returned in ``g_S``'s dtype."""
    g = g_S.to(torch.float64)
    r, r_d, r_s = wires.wire_resistance_ohm, wires.driver_resistance_ohm, wires.sense_resistance_ohm
    if r == 0:
        out = _lumped_solve(g, r_d, r_s)
    else:
        out = nested_effective_conductance(g, r, r_d, r_s)
    return out.to(g_S.dtype)


def line_drops(g_S: torch.Tensor, wires: CrossbarWires) -> tuple[torch.Tensor, torch.Tensor]:
    """First-order relative voltage drops ``(a, b)`` (rows, columns), dimensionless.

    ``a[i, j]``: drop on row ``i`` at cell ``j`` per volt on that row when the
    columns are ideal (``G Kr``); ``b[i, j]``: rise of column ``j`` at cell
    ``i`` per volt on row ``i`` alone (``Kc G``). ``max(a + b)`` is the
    strength ρ of the IR drop: the ideal product is ~ρ/2 off, and
    the closed form ``G / (1 + a + b)`` is within ~1 % up to ρ ≈ 0.3.
    """
    r = wires.wire_resistance_ohm
    a = _path_sum(g_S, -1, wires.driver_resistance_ohm + r, r, reverse=False)
    b = _path_sum(g_S, -2, wires.sense_resistance_ohm + r, r, reverse=True)
    return a, b


def crossbar_effective_conductance(g_S: torch.Tensor, wires: CrossbarWires, *, method: str = "auto") -> torch.Tensor:
    """``W_eff`` (rows, columns) of one physical crossbar: ``currents = v @ W_eff`` (S).

    ``g_S`` may be a stack (arrays, rows, columns) of equal-shaped arrays,
    computed together. ``method``: see :class:`IRDropConfig` (``'auto'``
    decides once for the whole stack, so a pair's two arrays never mix methods).
    """
    if method not in METHODS:
        raise ConfigError(f"method={method!r}: must be one of {METHODS}")
    if wires.is_ideal:
        return g_S.clone()
    if method != "solve" and wires.wire_resistance_ohm > 0:
        a, b = line_drops(g_S, wires)
        if method == "closed_form" or float((a + b).max()) <= CLOSED_FORM_MAX_RHO:
            # each device in series with the line resistance it shares with the rest of its
            # row and column: the first-order G (1 - a - b) resummed, positive at any drop
            return g_S / (1 + a + b)
    return exact_effective_conductance(g_S, wires)


def _check_pair(g_pos_S: torch.Tensor, g_neg_S: torch.Tensor) -> None:
    if g_pos_S.ndim != 2 or g_pos_S.shape != g_neg_S.shape:
        raise ConfigError(f"g_pos_S {tuple(g_pos_S.shape)} and g_neg_S {tuple(g_neg_S.shape)}: need equal (rows, columns)")
    if bool((g_pos_S < 0).any()) or bool((g_neg_S < 0).any()) or not bool(
        torch.isfinite(g_pos_S).all() and torch.isfinite(g_neg_S).all()
    ):
        raise ConfigError("g_pos_S/g_neg_S: conductances must be finite and >= 0 S")


def effective_conductance(g_pos_S: torch.Tensor, g_neg_S: torch.Tensor, config: IRDropConfig) -> torch.Tensor:
    """Differential effective conductance (inputs, outputs) of a layer with IR drop (S).

    ``g_pos_S``/``g_neg_S`` are (inputs, outputs) conductance matrices of the
    layer's differential pairs. The result ``W`` gives the digitally summed
    column currents ``v @ W`` of all tiles; it equals ``g_pos_S − g_neg_S``
    exactly when every resistance is zero.
    """
    return effective_conductances([(g_pos_S, g_neg_S)], config)[0]


def effective_conductances(pairs: list[tuple[torch.Tensor, torch.Tensor]], config: IRDropConfig) -> list[torch.Tensor]:
    """:func:`effective_conductance` of several (G+, G−) matrices (e.g. one layer's tiles) at once.

    Every physical array of every pair goes into one stack, computed together
    (and, with ``method='auto'``, on one decision): arrays smaller than the
    largest are padded with open cells (G = 0) on the far side of their rows
    (right) and columns (top), which carry no current and so change nothing.
    """
    for g_pos_S, g_neg_S in pairs:
        _check_pair(g_pos_S, g_neg_S)
    if config.wires.is_ideal:
        return [g_pos_S - g_neg_S for g_pos_S, g_neg_S in pairs]
    interleaved = config.pair_layout == "interleaved"
    out_max = config.array_size // 2 if interleaved else config.array_size
    width = 2 if interleaved else 1
    spans = []  # (pair index, slice of the pair, first stack index, padding on top, rows, cols)
    for p, (g_pos_S, _) in enumerate(pairs):
        r0 = 0
        for rows in split_sizes(g_pos_S.shape[0], config.array_size):
            c0 = 0
            for cols in split_sizes(g_pos_S.shape[1], out_max):
                spans.append((p, (slice(r0, r0 + rows), slice(c0, c0 + cols)), rows, cols))
                c0 += cols
            r0 += rows
    n_rows = max(rows for *_, rows, _ in spans)
    n_cols = max(cols for *_, cols in spans)
    # The differential output is a small difference of two large currents
    # (an idle device conducts): the arrays are computed in float64.
    stack = torch.zeros((len(spans) * 2 // width, n_rows, width * n_cols), dtype=torch.float64,
                        device=pairs[0][0].device)
    for k, (p, sl, rows, cols) in enumerate(spans):
        g_pos, g_neg = (g[sl].to(torch.float64) for g in pairs[p])
        top = n_rows - rows
        if interleaved:
            stack[k, top:, : 2 * cols] = torch.stack([g_pos, g_neg], dim=-1).reshape(rows, 2 * cols)
        else:
            stack[2 * k, top:, :cols], stack[2 * k + 1, top:, :cols] = g_pos, g_neg
    w = crossbar_effective_conductance(stack, config.wires, method=config.method)
    outs = [torch.empty_like(g_pos_S) for g_pos_S, _ in pairs]
    for k, (p, sl, rows, cols) in enumerate(spans):
        top = n_rows - rows
        if interleaved:
            tile = w[k, top:, 0 : 2 * cols : 2] - w[k, top:, 1 : 2 * cols : 2]
        else:
            tile = w[2 * k, top:, :cols] - w[2 * k + 1, top:, :cols]
        outs[p][sl] = tile.to(outs[p].dtype)
    return outs


def column_currents(
    v_V: torch.Tensor, g_pos_S: torch.Tensor, g_neg_S: torch.Tensor, config: IRDropConfig
) -> torch.Tensor:
    """Digitally summed differential column currents (A) for inputs ``v_V`` (batch, inputs) in V."""
    return v_V @ effective_conductance(g_pos_S, g_neg_S, config)


class IRDropCrossbar(torch.nn.Module):
    """A layer's crossbars with IR drop: ``forward(v_V) -> currents (A)``.

    The effective conductance is computed once here (call again after
    reprogramming or drift); the forward pass is one matrix product.
    """

    def __init__(self, g_pos_S: torch.Tensor, g_neg_S: torch.Tensor, config: IRDropConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("g_eff_S", effective_conductance(g_pos_S, g_neg_S, config))

    def forward(self, v_V: torch.Tensor) -> torch.Tensor:
        return v_V @ self.g_eff_S
