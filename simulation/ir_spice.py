"""Independent cross-check of the IR-drop reference: the crossbar as a SPICE netlist.

The same circuit as :mod:`memlab.simulation.ir_reference` (see its docstring
for the topology) is written element by element as a SPICE netlist and
solved with ngspice's DC operating point in batch mode. Each column's virtual
ground is a 0 V source whose branch current is the column current. ngspice is
a separate program (Debian package ``ngspice``); :func:`find_ngspice` returns
None when it is not installed so callers can skip.

Only for small arrays (a few thousand elements): one ngspice run per input
vector.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from memlab.errors import ConfigError, SpiceError
from memlab.simulation.ir_reference import CrossbarWires, check_conductance

_CURRENT_RE = re.compile(r"^\s*i\(vsense_(\d+)\)\s*=\s*([-+0-9.eE]+)\s*$", re.MULTILINE)


def find_ngspice() -> str | None:
    """Path of the ngspice executable, or None when it is not installed."""
    return shutil.which("ngspice")


def _num(x: float) -> str:
    return repr(float(x))  # shortest exact round-trip of a double


def crossbar_netlist(v_V: np.ndarray, g_S: np.ndarray, wires: CrossbarWires) -> str:
    """SPICE netlist (text) of one crossbar with inputs ``v_V`` (V, shape (rows,)).

    Needs ``wires.wire_resistance_ohm > 0`` (the distributed circuit). Nodes are
    ``r_i_j`` (row wire at cell i,j) and ``c_i_j`` (column wire), sources
    ``vin_i``, sense points ``vsense_j``.
    """
    g = check_conductance(g_S)
    v = np.asarray(v_V, dtype=np.float64)
    n, m = g.shape
    if v.shape != (n,):
        raise ConfigError(f"v_V: shape {v.shape}, expected ({n},)")
    r = wires.wire_resistance_ohm
    if r <= 0:
        raise ConfigError(f"wire_resistance_ohm={r!r}: the netlist needs > 0 ohm")
    lines = ["* memlab crossbar IR-drop cross-check"]
    for i in range(n):
        lines.append(f"vin_{i} src_{i} 0 DC {_num(v[i])}")
        lines.append(f"rdrv_{i} src_{i} r_{i}_0 {_num(wires.driver_resistance_ohm + r)}")
        for j in range(m - 1):
            lines.append(f"rrow_{i}_{j} r_{i}_{j} r_{i}_{j + 1} {_num(r)}")
    for j in range(m):
        for i in range(n - 1):
            lines.append(f"rcol_{i}_{j} c_{i}_{j} c_{i + 1}_{j} {_num(r)}")
        lines.append(f"rsen_{j} c_{n - 1}_{j} gnd_{j} {_num(wires.sense_resistance_ohm + r)}")
        lines.append(f"vsense_{j} gnd_{j} 0 DC 0")
    for i in range(n):
        for j in range(m):
            if g[i, j] > 0:  # an absent device is an open circuit
                lines.append(f"rdev_{i}_{j} r_{i}_{j} c_{i}_{j} {_num(1.0 / g[i, j])}")
    lines += [".control", "set numdgt=15", "op"]
    lines += [f"print i(vsense_{j})" for j in range(m)]
    lines += ["quit", ".endc", ".end", ""]
    return "\n".join(lines)


def parse_currents(text: str, n_columns: int) -> np.ndarray:
    """Column currents (A) from ngspice's printed ``i(vsense_j) = ...`` lines.

    ngspice reports the current flowing into a source's positive node; the
    sense source sits between the column and ground, so it is the column current.
    """
    found = {int(k): float(val) for k, val in _CURRENT_RE.findall(text)}
    missing = [j for j in range(n_columns) if j not in found]
    if missing:
        raise SpiceError(f"ngspice output lacks the current of column(s) {missing[:5]}; output tail: {text[-300:]!r}")
    return np.array([found[j] for j in range(n_columns)])


def column_currents(
    v_V: np.ndarray, g_S: np.ndarray, wires: CrossbarWires, *, ngspice: str | None = None, timeout_s: float = 120.0
) -> np.ndarray:
    """Column currents (A) from ngspice for (rows,) or (batch, rows) inputs (V)."""
    exe = ngspice or find_ngspice()
    if exe is None:
        raise SpiceError("ngspice not found on PATH (install the 'ngspice' package)")
    g = check_conductance(g_S)
    v = np.atleast_2d(np.asarray(v_V, dtype=np.float64))
    out = np.empty((v.shape[0], g.shape[1]))
    with tempfile.TemporaryDirectory(prefix="memlab-spice-") as tmp:
        for b, vb in enumerate(v):
            path = Path(tmp) / f"crossbar_{b}.cir"
            path.write_text(crossbar_netlist(vb, g, wires))
            proc = subprocess.run(
                [exe, "-n", str(path)],  # -n: skip user init files; .control runs op, prints, quits
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
            if proc.returncode != 0:
                raise SpiceError(f"ngspice exit status {proc.returncode}: {proc.stderr[-300:]!r}")
            out[b] = parse_currents(proc.stdout, g.shape[1])
    return out[0] if np.ndim(v_V) == 1 else out
