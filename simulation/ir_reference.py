"""Exact DC solution of a resistive crossbar with wire resistance (IR drop).

The ground truth for :mod:`memlab.simulation.ir_fast`, cross-checked against
ngspice by :mod:`memlab.simulation.ir_spice`.

Circuit (one physical array of ``n`` rows × ``m`` columns, all values SI):

* Row ``i`` is driven at its left end by an ideal source ``v_V[i]`` through the
  driver resistance ``driver_resistance_ohm``; column ``j`` is read at its
  bottom end (row ``n-1``) by a virtual-ground sense amplifier through
  ``sense_resistance_ohm``. The far ends of rows and columns are open.
* Every line has one wire segment of ``wire_resistance_ohm`` per cell,
  including the segment from the array edge to the first cell, so the
  resistance from the source to row node ``(i, j)`` is
  ``R_drv + r (j + 1)`` and from column node ``(i, j)`` to the virtual ground
  ``R_sense + r (n - i)``.
* The device at crosspoint ``(i, j)`` is a linear conductance ``G[i, j]``
  between row node ``(i, j)`` and column node ``(i, j)``.
* The output is the current into each virtual ground (positive when current
  flows from a positively driven row into the column). With all resistances
  zero it is the ideal product ``v_V @ G``.

The nodal equations (2 n m unknowns) are assembled as a sparse symmetric
positive-definite matrix, factorised once (SuperLU) and solved for every
input vector. With ``wire_resistance_ohm = 0`` each line is one node, and
lines with zero series resistance are held at their source voltage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from memlab.errors import ConfigError


@dataclass(frozen=True)
class CrossbarWires:
    """Parasitic resistances of one crossbar (ohm).

    wire_resistance_ohm: resistance of one wire segment (one cell pitch) of a
        row or column line; literature values are ~0.1–10 Ω.
    driver_resistance_ohm: output resistance of each row driver (DAC).
    sense_resistance_ohm: input resistance of each column's virtual-ground
        sense amplifier (ADC/TIA).
    """

    wire_resistance_ohm: float
    driver_resistance_ohm: float = 0.0
    sense_resistance_ohm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("wire_resistance_ohm", "driver_resistance_ohm", "sense_resistance_ohm"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"{name}={value!r}: must be a finite resistance >= 0 ohm")

    @property
    def is_ideal(self) -> bool:
        """True when every parasitic resistance is zero (the ideal product)."""
        return self.wire_resistance_ohm == 0 and self.driver_resistance_ohm == 0 and self.sense_resistance_ohm == 0


def check_conductance(g_S: np.ndarray, name: str = "g_S") -> np.ndarray:
    """Return ``g_S`` as a float64 2-D array, or raise ConfigError naming the problem."""
    g = np.asarray(g_S, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] == 0:
        raise ConfigError(f"{name}: shape {g.shape}, expected a non-empty (rows, columns) matrix")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ConfigError(f"{name}: conductances must be finite and >= 0 S (min {np.nanmin(g)!r})")
    return g


def _as_inputs(v_V: np.ndarray, n_rows: int) -> tuple[np.ndarray, bool]:
    v = np.asarray(v_V, dtype=np.float64)
    single = v.ndim == 1
    v = np.atleast_2d(v)
    if v.ndim != 2 or v.shape[1] != n_rows:
        raise ConfigError(f"v_V: shape {np.shape(v_V)}, expected (..., {n_rows}) input voltages")
    return v, single


def _nodal_matrix(g: np.ndarray, wires: CrossbarWires) -> sp.csc_matrix:
    """Sparse nodal conductance matrix of the distributed crossbar (r > 0)."""
    n, m = g.shape
    r = wires.wire_resistance_ohm
    idx_u = np.arange(n * m).reshape(n, m)  # row-wire nodes
    idx_c = idx_u + n * m  # column-wire nodes
    a_list, b_list, g_list = [], [], []

    def branch(a: np.ndarray, b: np.ndarray, cond: np.ndarray | float) -> None:
        a_list.append(a.ravel())
        b_list.append(b.ravel())
        g_list.append(np.broadcast_to(cond, a.shape).ravel())

    branch(idx_u[:, :-1], idx_u[:, 1:], 1.0 / r)  # row segments
    branch(idx_c[:-1, :], idx_c[1:, :], 1.0 / r)  # column segments
    branch(idx_u, idx_c, g)  # devices
    a = np.concatenate(a_list)
    b = np.concatenate(b_list)
    cond = np.concatenate(g_list)
    size = 2 * n * m
    diag = np.bincount(a, cond, size) + np.bincount(b, cond, size)
    diag[idx_u[:, 0]] += 1.0 / (wires.driver_resistance_ohm + r)  # edge segment + driver
    diag[idx_c[-1, :]] += 1.0 / (wires.sense_resistance_ohm + r)  # edge segment + sense
    rows = np.concatenate([a, b, np.arange(size)])
    cols = np.concatenate([b, a, np.arange(size)])
    vals = np.concatenate([-cond, -cond, diag])
    return sp.csc_matrix((vals, (rows, cols)), shape=(size, size))


def _lumped_currents(v: np.ndarray, g: np.ndarray, wires: CrossbarWires) -> np.ndarray:
    """Column currents when each line is a single node (zero wire resistance)."""
    n, m = g.shape
    r_d, r_s = wires.driver_resistance_ohm, wires.sense_resistance_ohm
    if r_d == 0 and r_s == 0:
        return v @ g
    if r_d == 0:  # rows held at the source; each column node is a divider
        c = (v @ g) / (g.sum(axis=0) + 1.0 / r_s)
        return c / r_s
    if r_s == 0:  # columns held at 0 V; each row node is a divider
        u = v / r_d / (g.sum(axis=1) + 1.0 / r_d)
        return u @ g
    # both ends resistive: a (n + m) nodal system, dense is fine at lumped size
    a = np.zeros((n + m, n + m))
    a[:n, :n] = np.diag(g.sum(axis=1) + 1.0 / r_d)
    a[n:, n:] = np.diag(g.sum(axis=0) + 1.0 / r_s)
    a[:n, n:] = -g
    a[n:, :n] = -g.T
    rhs = np.zeros((n + m, v.shape[0]))
    rhs[:n] = v.T / r_d
    x = np.linalg.solve(a, rhs)
    return x[n:].T / r_s


def column_currents(v_V: np.ndarray, g_S: np.ndarray, wires: CrossbarWires) -> np.ndarray:
    """Exact column currents (A) of one crossbar for input voltages ``v_V`` (V).

    ``v_V`` is (rows,) or (batch, rows); ``g_S`` is (rows, columns) in siemens.
    Returns (columns,) or (batch, columns). Exact to the precision of a sparse
    LU solve (~1e-12 relative).
    """
    g = check_conductance(g_S)
    v, single = _as_inputs(v_V, g.shape[0])
    if wires.wire_resistance_ohm == 0:
        out = _lumped_currents(v, g, wires)
    else:
        n, m = g.shape
        r = wires.wire_resistance_ohm
        lu = spla.splu(_nodal_matrix(g, wires))
        rhs = np.zeros((2 * n * m, v.shape[0]))
        rhs[np.arange(n) * m] = v.T / (wires.driver_resistance_ohm + r)
        x = lu.solve(rhs)
        out = (x[n * m + (n - 1) * m : 2 * n * m].T) / (wires.sense_resistance_ohm + r)
    return out[0] if single else out


def effective_conductance(g_S: np.ndarray, wires: CrossbarWires) -> np.ndarray:
    """The (rows, columns) matrix ``W`` with ``column_currents(v) == v @ W`` (S).

    The crossbar is a linear circuit, so its whole effect is one matrix: the
    response to a unit voltage on each row in turn.
    """
    g = check_conductance(g_S)
    return column_currents(np.eye(g.shape[0]), g, wires)


def differential_currents(
    v_V: np.ndarray, g_pos_S: np.ndarray, g_neg_S: np.ndarray, wires: CrossbarWires
) -> np.ndarray:
    """Column currents ``I+ − I−`` (A) of a differential pair stored in two separate arrays."""
    return column_currents(v_V, g_pos_S, wires) - column_currents(v_V, g_neg_S, wires)
