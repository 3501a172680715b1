"""Fast IR-drop model for networks: each layer's crossbar as one effective matrix.

Design
------
The crossbar of :mod:`memlab.simulation.ir_reference` (drivers on the row
ends, virtual-ground sensing at the column ends, one wire segment of
``wire_resistance_ohm`` per cell) is a *linear* circuit: devices are read as
linear conductances, and wires, drivers and sense inputs are resistors. Its
column currents are therefore ``I = v @ W_eff`` for one (rows × columns)
matrix ``W_eff`` that depends only on the conductances and resistances, not on
the input. So the model solves the circuit once per conductance state (after
programming and drift) for a unit voltage on each row, and inference is then
a plain matrix product: IR drop costs nothing per input, on CPU or CUDA, and
the answer is the same for every batch size. (This stops being exact when the
device I-V is nonlinear over the read range or the ADC saturates inside the
array; neither is modelled by the circuit here.)

The solve. With cell currents ``J`` (n × m for one input vector ``v``), row
node voltages are ``u = v 1ᵀ − J Kr`` and column node voltages ``c = Kc J``,
where ``Kr[j, j'] = R_drv + r (min(j, j') + 1)`` and
``Kc[i, i'] = R_sense + r (min(n−1−i, n−1−i') + 1)`` are the shared path
resistances along a line (symmetric positive definite). Kirchhoff gives
``J = G ∘ (u − c)``; with ``J = √G ∘ y`` this is the SPD system

    (I + S K S) y = S v,   S = diag(√G),  K = Kr (along rows) ⊕ Kc (along columns)

``K`` applied to a tensor is two cumulative sums per axis, so one operator
application costs O(n m) per input vector with no sparse matrix, and all
unit inputs (and chunks of them) are solved together as a batch with
conjugate gradients. The eigenvalues of ``I + S K S`` lie in ``[1, 1 + ρ]``
where ρ ≈ r·G·m²/2 + r·G·n²/2 is the relative voltage drop a first-order
estimate would give; CG needs about ``√(1 + ρ) · ln(2 / rtol) / 2``
iterations: 3–7 at ρ ≲ 4, ~20 at ρ ≈ 50 (measured). The iteration stops
when every system's relative residual is below ``rtol`` (default 1e-5), so
the error is bounded by the solver tolerance, not by an expansion order: it
does not break down when the drop is large (a first-order correction
``G (1 − a − b)`` is useless beyond ρ ≈ 0.3, and its second-order extension
diverges at ρ ≈ 1).

Measured against the sparse reference (``tests/ir_drop/test_ir_fast.py``,
float32 solves, rtol 1e-5), relative RMS error of differential column
currents: ≤ 2e-4 for a 1–40 µS RRAM with random conductances, 64×64 to
256×256, 0.1–10 Ω per segment (ρ up to 15); ≤ 3e-4 for trained-weight-like
patterns on the paper's device (idle 1.9 mS, 81 µS steps) up to 128×128,
and ≤ 3e-3 at 256×256 (ρ 14–140), where each device's idle current is ~20×
its weight current and the difference amplifies the solver's error. The
ideal product is off by roughly ρ/2 to ρ in the same cases. Validity: any
wire, driver and sense resistance ≥ 0 and conductance ≥ 0, linear devices;
cost grows as √(1 + ρ). Zero resistances short-circuit to the exact ideal
product.

Cost: one array costs O(rows² · columns · iterations), about 20 memory
passes over a rows × rows × columns tensor per iteration, and all arrays of
a layer with the same shape are solved as one stack. Measured for the
784-500-10 MNIST network on the paper's device with 256 × 256 arrays: 0.8 s
for every array of the network at 1 Ω (ρ ≈ 60) on an H200; minutes on a
shared 2-core CPU, where ``method='closed_form'`` (``G / (1 + a + b)``,
O(rows · columns)) is the instant alternative, within 1 % only for ρ ≲ 0.3.

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
from memlab.simulation.ir_reference import CrossbarWires

PAIR_LAYOUTS = ("separate", "interleaved")
METHODS = ("solve", "closed_form")
PRECISIONS = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class IRDropConfig:
    """Settings of the IR-drop model of a layer (resistances in ohm).

    wire_resistance_ohm: one wire segment (cell pitch) of a row or column.
    array_size: rows and columns of one physical array (tile size).
    driver_resistance_ohm, sense_resistance_ohm: see :class:`CrossbarWires`.
    pair_layout: 'separate' (G+ and G− in two arrays) or 'interleaved'
        (G+ and G− in adjacent columns of one array).
    method: 'solve' (exact to ``rtol``) or 'closed_form' (O(rows·columns),
        within ~1 % only while the drop strength ρ of :func:`line_drops` ≲ 0.3).
    rtol: relative residual at which the solve stops.
    max_iterations: CG iteration cap (an error is raised if it is reached).
    precision: 'float32' (default: half the memory traffic, and it reached
        rtol 1e-5 in every measured case) or 'float64' for the solves.
    """

    wire_resistance_ohm: float
    array_size: int = 256
    driver_resistance_ohm: float = 0.0
    sense_resistance_ohm: float = 0.0
    pair_layout: str = "separate"
    method: str = "solve"
    rtol: float = 1e-5
    max_iterations: int = 500
    precision: str = "float32"

    def __post_init__(self) -> None:
        self.wires  # validates the resistances
        if not isinstance(self.array_size, int) or self.array_size < 2:
            raise ConfigError(f"array_size={self.array_size!r}: must be an integer >= 2")
        if self.pair_layout not in PAIR_LAYOUTS:
            raise ConfigError(f"pair_layout={self.pair_layout!r}: must be one of {PAIR_LAYOUTS}")
        if self.method not in METHODS:
            raise ConfigError(f"method={self.method!r}: must be one of {METHODS}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision={self.precision!r}: must be one of {tuple(PRECISIONS)}")
        if not 0 < self.rtol < 1:
            raise ConfigError(f"rtol={self.rtol!r}: must lie in (0, 1)")
        if self.max_iterations < 1:
            raise ConfigError(f"max_iterations={self.max_iterations!r}: must be >= 1")

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
            "rtol": self.rtol,
            "precision": self.precision,
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


def solve_crossbar(
    v_V: torch.Tensor, g_S: torch.Tensor, wires: CrossbarWires, *, rtol: float = 1e-5, max_iterations: int = 500
) -> tuple[torch.Tensor, int]:
    """Column currents (A) of one crossbar (or a stack of them) for a batch of inputs, by batched CG.

    ``v_V``: (batch, rows) volts; ``g_S``: (rows, columns) or (arrays, rows,
    columns) siemens, same dtype and device. Returns (currents (batch,
    columns) or (arrays, batch, columns), iterations used). Memory is a few
    arrays × batch × rows × columns tensors: chunk large batches.
    """
    if wires.is_ideal:
        return v_V @ g_S, 0
    r, r_row, r_col = wires.wire_resistance_ohm, wires.driver_resistance_ohm + wires.wire_resistance_ohm, (
        wires.sense_resistance_ohm + wires.wire_resistance_ohm
    )
    s = g_S.clamp_min(0).sqrt()
    if s.ndim == 3:  # a stack of arrays: (arrays, 1, rows, columns) against (batch, rows, 1)
        s = s[:, None]

    def apply(y: torch.Tensor) -> torch.Tensor:
        j = s * y
        out = _path_sum(j, -1, r_row, r, False).add_(_path_sum(j, -2, r_col, r, True))
        return out.mul_(s).add_(y)

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...ij,...ij->...", a, b)

    tiny = torch.finfo(g_S.dtype).tiny
    b = s * v_V[:, :, None]
    y = b.clone()  # start from the ideal currents (a closed-form start saved no iterations)
    res = b - apply(y)
    p = res.clone()
    rr = dot(res, res)
    limit = (rtol**2) * dot(b, b).clamp_min(tiny)
    it = 0
    while bool((rr > limit).any()):
        if it >= max_iterations:
            worst = float((rr / limit).max().sqrt()) * rtol
            raise ConfigError(
                f"IR-drop solve did not reach rtol={rtol} in max_iterations={max_iterations} "
                f"(relative residual {worst:.2e}); raise max_iterations or check the resistances"
            )
        ap = apply(p)
        alpha = (rr / dot(p, ap).clamp_min(tiny))[..., None, None]
        y.addcmul_(alpha, p)
        res.addcmul_(alpha, ap, value=-1)
        rr_new = dot(res, res)
        p.mul_((rr_new / rr.clamp_min(tiny))[..., None, None]).add_(res)
        rr = rr_new
        it += 1
    return (s * y).sum(dim=-2), it


def line_drops(g_S: torch.Tensor, wires: CrossbarWires) -> tuple[torch.Tensor, torch.Tensor]:
    """First-order relative voltage drops ``(a, b)`` (rows, columns), dimensionless.

    ``a[i, j]``: drop on row ``i`` at cell ``j`` per volt on that row when the
    columns are ideal (``G Kr``); ``b[i, j]``: rise of column ``j`` at cell
    ``i`` per volt on row ``i`` alone (``Kc G``). ``max(a + b)`` is the
    strength ρ of the IR drop: the ideal product is ~ρ/2 off, and
    :func:`closed_form_conductance` is within ~1 % up to ρ ≈ 0.3.
    """
    r = wires.wire_resistance_ohm
    a = _path_sum(g_S, -1, wires.driver_resistance_ohm + r, r, reverse=False)
    b = _path_sum(g_S, -2, wires.sense_resistance_ohm + r, r, reverse=True)
    return a, b


def closed_form_conductance(g_S: torch.Tensor, wires: CrossbarWires) -> torch.Tensor:
    """Cheap O(rows·columns) approximation of ``W_eff``: ``G / (1 + a + b)``.

    Each device is put in series with the line resistance it shares with the
    rest of its row and column, weighted by their conductances (the first-order
    expansion ``G (1 − a − b)`` resummed, which keeps it positive and bounded
    at large drops). Measured error: see the module docstring.
    """
    a, b = line_drops(g_S, wires)
    return g_S / (1 + a + b)


def crossbar_effective_conductance(
    g_S: torch.Tensor,
    wires: CrossbarWires,
    *,
    method: str = "solve",
    rtol: float = 1e-5,
    max_iterations: int = 500,
    max_elements: int | None = None,
) -> torch.Tensor:
    """``W_eff`` (rows, columns) of one physical crossbar: ``currents = v @ W_eff`` (S).

    ``g_S`` may be a stack (arrays, rows, columns) of equal-shaped arrays,
    solved together (fewer, larger operations).

    ``method='solve'`` solves the circuit for a unit voltage on each row (in
    chunks of at most ``max_elements`` cell currents) to relative residual
    ``rtol``; ``'closed_form'`` uses :func:`closed_form_conductance`.
    """
    if method not in METHODS:
        raise ConfigError(f"method={method!r}: must be one of {METHODS}")
    if wires.is_ideal:
        return g_S.clone()
    if method == "closed_form":
        return closed_form_conductance(g_S, wires)
    n, m = g_S.shape[-2:]
    eye = torch.eye(n, dtype=g_S.dtype, device=g_S.device)
    if max_elements is None:  # CPU: stay near the caches; GPU: fill the device
        max_elements = 1 << (26 if g_S.is_cuda else 22)
    chunk = max(1, max_elements // g_S.numel())
    parts = [
        solve_crossbar(eye[k : k + chunk], g_S, wires, rtol=rtol, max_iterations=max_iterations)[0]
        for k in range(0, n, chunk)
    ]
    return torch.cat(parts, dim=-2)


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
    _check_pair(g_pos_S, g_neg_S)
    if config.wires.is_ideal:
        return g_pos_S - g_neg_S
    kw = {"method": config.method, "rtol": config.rtol, "max_iterations": config.max_iterations}
    n_in, n_out = g_pos_S.shape
    interleaved = config.pair_layout == "interleaved"
    out_max = config.array_size // 2 if interleaved else config.array_size
    out = torch.empty_like(g_pos_S)
    # The differential output is a small difference of two large currents
    # (an idle device conducts), so the solves run at the configured precision
    # whatever the input's.
    dtype = PRECISIONS[config.precision]
    g_pos, g_neg = g_pos_S.to(dtype), g_neg_S.to(dtype)
    # Every physical array of the layer, grouped by shape and solved as stacks.
    blocks, groups = [], {}
    r0 = 0
    for rows in split_sizes(n_in, config.array_size):
        c0 = 0
        for cols in split_sizes(n_out, out_max):
            sl = (slice(r0, r0 + rows), slice(c0, c0 + cols))
            if interleaved:
                arrays = [torch.stack([g_pos[sl], g_neg[sl]], dim=-1).reshape(rows, 2 * cols)]
            else:
                arrays = [g_pos[sl], g_neg[sl]]
            for g in arrays:
                groups.setdefault(g.shape, []).append((len(blocks), g))
            blocks.append([sl, []])
            c0 += cols
        r0 += rows
    for members in groups.values():
        w = crossbar_effective_conductance(torch.stack([g for _, g in members]), config.wires, **kw)
        for (index, _), w_array in zip(members, w):
            blocks[index][1].append(w_array)
    for sl, w in blocks:
        tile = w[0][:, 0::2] - w[0][:, 1::2] if interleaved else w[0] - w[1]
        out[sl] = tile.to(out.dtype)
    return out


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
