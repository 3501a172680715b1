"""Exact effective matrix of a crossbar with wire resistance, by nested dissection.

The circuit is :mod:`memlab.simulation.ir_reference`'s (drivers at the left
ends of the rows, virtual-ground sense at the bottom ends of the columns, one
wire segment of ``r`` per cell, open far ends). Its nodal matrix is a sparse
SPD matrix on a 2-D grid; ``W_eff[i, j]`` is the current into sense ``j`` per
volt on driver ``i``: one block of the inverse, between the ``n`` driver and
the ``m`` sense nodes. A row-by-row elimination (block Thomas) needs a dense
(m × m) inverse per row, O(n·m³); the sparse LU of the whole grid needs one
solve per input line. Nested dissection needs neither.

Every wire segment is cut at its midpoint, so each cell owns two row-wire
halves (conductance ``2/r`` each, left port L and right port R) and two
column-wire halves (top port T, bottom port B) around its two nodes (row wire
``u``, column wire ``c``, joined by the device ``G``). A *domain* is a
rectangle of cells; its Schur complement onto its boundary ports (L and R down
its left and right edges, T and B along its top and bottom) is everything the
rest of the array sees of it. A single cell's is a closed form
(:func:`_leaf`); two neighbours merge by adding their complements at the ports
they share and eliminating those (one Cholesky of the shared ports, one
triangular solve, one product: :func:`_merge`). Merging alternately across
columns and rows keeps the domains square, so the shared ports of a merge
number at most one edge of the result: O((n·m)^1.5) work, dominated by the
last merges' dense products (what CPUs and GPUs do fastest), all domains of a
level in one batched call, all arrays of a stack together. The ports on the
far (open) ends carry no current: the half segments there are left out, so
those ports never exist. At the end only the driver ports (the L ports of the
first column) and the sense ports (B of the last row) remain, with the
driver/sense resistances (and the outer wire halves) as conductances to their
sources; one last elimination gives the block of the inverse.

Arrays are padded to power-of-two sides with open cells (G = 0) beyond the
far ends (above the first row, right of the last column): wires that end
open carry no current there, so the result is exact, at up to ~4x the work of
the unpadded size in the worst case (an array a little over a power of two).
Exact to float64 rounding (no iteration, no tolerance): ``tests/ir_drop``
pins it against the sparse LU reference and ngspice.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch

# Port sides of a domain, in their order in its Schur complement: L and R (one port
# per row, top to bottom), T and B (one per column, left to right).
_SIDES = ("L", "R", "T", "B")


def _layout(h: int, w: int, has_t: bool, has_r: bool) -> dict[str, range]:
    """Index ranges of each side's ports in a domain of h rows × w columns (absent sides: empty)."""
    sizes = {"L": h, "R": h if has_r else 0, "T": w if has_t else 0, "B": w}
    out, start = {}, 0
    for side in _SIDES:
        out[side] = range(start, start + sizes[side])
        start += sizes[side]
    return out


def _leaf(g: torch.Tensor, gw: float) -> torch.Tensor:
    """Schur complements (..., rows, cols, 4, 4) of single cells onto ports [L, R, T, B].

    Each cell: u joined to L and R, c to T and B, by half segments ``2 gw``;
    u to c by the device ``g``. The right half of the last column and the top
    half of the first row end open: conductance 0 (their ports are dropped later).
    """
    a = torch.full(g.shape + (4,), 2 * gw, dtype=g.dtype, device=g.device)
    a[..., :, -1, 1] = 0.0  # R of the last column
    a[..., 0, :, 2] = 0.0  # T of the first row
    su, sc = a[..., 0] + a[..., 1], a[..., 2] + a[..., 3]
    det = su * sc + g * (su + sc)
    # K⁻¹ of the two inner nodes (u, c): [[sc + g, g], [g, su + g]] / det
    k_uu, k_cc, k_uc = (sc + g) / det, (su + g) / det, g / det
    on_u = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=g.dtype, device=g.device)
    on_c = 1.0 - on_u
    # S = diag(a) − P K⁻¹ Pᵀ with P[port] = −a[port] on its inner node
    k = (k_uu[..., None, None] * (on_u[:, None] * on_u[None, :])
         + k_cc[..., None, None] * (on_c[:, None] * on_c[None, :])
         + k_uc[..., None, None] * (on_u[:, None] * on_c[None, :] + on_c[:, None] * on_u[None, :]))
    s = -(a[..., :, None] * a[..., None, :]) * k
    return s + torch.diag_embed(a)


def _drop(s: torch.Tensor, keep: list[int]) -> torch.Tensor:
    idx = torch.tensor(keep, device=s.device)
    return s[..., idx[:, None], idx[None, :]]


def _merge(sa: torch.Tensor, sb: torch.Tensor, la: dict, lb: dict, horizontal: bool) -> torch.Tensor:
    """Schur complement of two neighbouring domains (``sa`` left of / above ``sb``) onto the merged ports.

    The shared ports (A's R and B's L across columns; A's B and B's T across
    rows) are eliminated; the rest are ordered as the merged domain's layout:
    across columns L = A.L, R = B.R, T = A.T + B.T, B = A.B + B.B; across rows
    L = A.L + B.L, R = A.R + B.R, T = A.T, B = B.B.
    """
    if horizontal:
        shared_a, shared_b = la["R"], lb["L"]
        order = [("a", "L"), ("b", "R"), ("a", "T"), ("b", "T"), ("a", "B"), ("b", "B")]
    else:
        shared_a, shared_b = la["B"], lb["T"]
        order = [("a", "L"), ("b", "L"), ("a", "R"), ("b", "R"), ("a", "T"), ("b", "B")]
    blocks = []  # (A or B's matrix, its port range, the range in the merged layout)
    n_keep = 0
    for who, side in order:
        ports = (la if who == "a" else lb)[side]
        if len(ports):
            blocks.append((sa if who == "a" else sb, slice(ports.start, ports.stop), slice(n_keep, n_keep + len(ports))))
            n_keep += len(ports)
    ia, ib = slice(shared_a.start, shared_a.stop), slice(shared_b.start, shared_b.stop)
    s_ii = sa[..., ia, ia] + sb[..., ib, ib]
    s_ik = sa.new_empty(sa.shape[:-2] + (len(shared_a), n_keep))
    for s, src, dst in blocks:
        s_ik[..., dst] = s[..., ia if s is sa else ib, src]
    y = torch.linalg.solve_triangular(torch.linalg.cholesky(s_ii), s_ik, upper=False)
    out = (y.transpose(-1, -2) @ y).neg_()
    for s1, src1, dst1 in blocks:  # A and B are coupled only through the shared ports
        for s2, src2, dst2 in blocks:
            if s2 is s1:
                out[..., dst1, dst2] += s1[..., src1, src2]
    return out


class _Level:
    """The domains of one level, in four groups by whether their T and R sides exist.

    A domain in the first row of domains has no T ports (the columns' open
    ends), one in the last column no R ports (the rows' open ends). Each group
    is a tensor (..., domain rows, domain columns, P, P); all domains have
    ``h`` rows and ``w`` columns of cells. Keys: (first row?, last column?).
    """

    def __init__(self, groups: dict, h: int, w: int) -> None:
        self.groups, self.h, self.w = groups, h, w

    def layout(self, key: tuple[bool, bool]) -> dict[str, range]:
        first_row, last_col = key
        return _layout(self.h, self.w, not first_row, not last_col)

    @classmethod
    def of_cells(cls, g: torch.Tensor, gw: float) -> "_Level":
        s = _leaf(g, gw)
        groups = {}
        for first_row, rows in ((True, slice(0, 1)), (False, slice(1, None))):
            for last_col, cols in ((True, slice(-1, None)), (False, slice(0, -1))):
                part = s[..., rows, cols, :, :]
                if part.shape[-4] and part.shape[-3]:
                    keep = [p for p in range(4) if not (first_row and p == 2) and not (last_col and p == 1)]
                    groups[(first_row, last_col)] = _drop(part, keep)
        return cls(groups, 1, 1)

    def merged(self, horizontal: bool) -> "_Level":
        """The next level: pairs of neighbouring domains merged across columns or rows."""
        out = {}
        for key, sa_all in self.groups.items():
            first_row, last_col = key
            if horizontal and not last_col:  # A: this group's even columns; B: the odd ones or the last column
                n = sa_all.shape[-3]
                if n > 1:
                    b_pairs = sa_all[..., :, 1:n - 1:2, :, :]
                    out[key] = _merge(sa_all[..., :, 0:n - 1:2, :, :], b_pairs, self.layout(key),
                                      self.layout(key), True)
                last = (first_row, True)
                out[last] = _merge(sa_all[..., :, n - 1:n, :, :], self.groups[last], self.layout(key),
                                   self.layout(last), True)
            elif not horizontal and first_row:  # A: the first row or this group's odd rows; B: the next ones
                below = (False, last_col)
                sb_all = self.groups[below]
                out[key] = _merge(sa_all, sb_all[..., 0:1, :, :, :], self.layout(key), self.layout(below), False)
                n = sb_all.shape[-4]
                if n > 1:
                    out[below] = _merge(sb_all[..., 1:n - 1:2, :, :, :], sb_all[..., 2:n:2, :, :, :],
                                        self.layout(below), self.layout(below), False)
        h, w = (self.h, 2 * self.w) if horizontal else (2 * self.h, self.w)
        return _Level(out, h, w)


_THREADS_LOCK = threading.Lock()


def nested_effective_conductance(g_S: torch.Tensor, r: float, r_drive: float, r_sense: float) -> torch.Tensor:
    """Exact ``W_eff`` (..., rows, columns) for wire resistance ``r > 0`` (ohm); ``g_S`` float64 (S).

    On the CPU the arrays are solved one per thread, on ``torch.get_num_threads()``
    threads, each running torch single-threaded meanwhile (the setting is restored
    after): the lowest levels are thousands of small operations over ~16 values a
    cell, bound by memory traffic and by the synchronisation of torch's parallel
    regions, which on a busy machine cost far more than they gain (measured
    2026-12-03 on 2 shared cores under a load of ~7: one 256 x 256 pair 6.4 s on
    torch's 2 threads, 1.0-1.4 s array by array). The setting is process-wide:
    torch work in other threads runs single-threaded meanwhile, and a thread whose
    first torch operation falls inside a solve keeps torch's 1 thread (torch sets
    a thread's count from the process-wide one at its first use); concurrent
    solves take turns, and the caller's count is restored.
    """
    flat = g_S.reshape((-1,) + g_S.shape[-2:])
    if flat.shape[0] == 0:
        return g_S.clone()
    arrays = [flat[k:k + 1] for k in range(flat.shape[0])]
    workers = min(len(arrays), torch.get_num_threads())
    if flat.is_cuda or workers <= 1:
        parts = [_solve(a, r, r_drive, r_sense) for a in arrays]
    else:
        with _THREADS_LOCK:  # one solve at a time sets and restores the process-wide setting
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(workers) as pool:
                    parts = list(pool.map(lambda a: _solve(a, r, r_drive, r_sense), arrays))
            finally:
                torch.set_num_threads(threads)
    return torch.cat(parts).reshape(g_S.shape)


def _solve(g_S: torch.Tensor, r: float, r_drive: float, r_sense: float) -> torch.Tensor:
    n, m = g_S.shape[-2:]
    big_n, big_m = 1 << (n - 1).bit_length(), 1 << (m - 1).bit_length()
    # open cells above the first row (the columns' far end) and right of the last column
    g = torch.nn.functional.pad(g_S, (0, big_m - m, big_n - n, 0))
    gw = 1.0 / r
    level = _Level.of_cells(g, gw)
    rows, cols = big_n, big_m  # domains per side
    while rows > 1 or cols > 1:
        horizontal = cols > 1 and (level.w <= level.h or rows == 1)
        level = level.merged(horizontal)
        if horizontal:
            cols //= 2
        else:
            rows //= 2
    s = level.groups[(True, True)][..., 0, 0, :, :]  # ports [drivers (big_n), sense (big_m)]
    # the outer half segment and the driver / sense resistance in series, to the source / virtual ground
    g_drive, g_sense = 1.0 / (r / 2 + r_drive), 1.0 / (r / 2 + r_sense)
    s.diagonal(dim1=-2, dim2=-1)[..., :big_n] += g_drive
    s.diagonal(dim1=-2, dim2=-1)[..., big_n:] += g_sense
    # block of the inverse between drivers (D) and sense (Q): −S_DD⁻¹ S_DQ (S_QQ − S_QD S_DD⁻¹ S_DQ)⁻¹
    s_dd, s_dq, s_qq = s[..., :big_n, :big_n], s[..., :big_n, big_n:], s[..., big_n:, big_n:]
    l_dd = torch.linalg.cholesky(s_dd)
    y = torch.linalg.solve_triangular(l_dd, s_dq, upper=False)
    l_c = torch.linalg.cholesky(s_qq - y.transpose(-1, -2) @ y)
    x = torch.cholesky_solve(s_dq, l_dd)  # S_DD⁻¹ S_DQ
    inv_c = torch.cholesky_inverse(l_c)
    w = -(g_drive * g_sense) * (x @ inv_c)
    return w[..., big_n - n:, :m]
