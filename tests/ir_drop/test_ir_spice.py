"""The reference solver against ngspice, an independent circuit simulator."""

import numpy as np
import pytest

from memlab.errors import SpiceError
from memlab.simulation import ir_reference, ir_spice
from memlab.simulation.ir_reference import CrossbarWires
from ir_drop_helpers import PAPER_G_IDLE_S, random_pattern, trained_like_pair

needs_ngspice = pytest.mark.skipif(ir_spice.find_ngspice() is None, reason="ngspice not installed (apt-get install ngspice)")


def test_netlist_names_every_element_once():
    g = np.array([[1e-3, 0.0], [2e-3, 4e-3]])
    text = ir_spice.crossbar_netlist(np.array([0.1, -0.2]), g, CrossbarWires(0.5, 10.0, 2.0))
    names = [line.split()[0] for line in text.splitlines() if line and line[0] in "rv"]
    assert len(names) == len(set(names))
    # 2 sources + 2 drivers + 2 row segs + 2 col segs + 2 sense R + 2 sense V + 3 devices (one absent)
    assert len(names) == 15
    assert "rdrv_0 src_0 r_0_0 10.5" in text and "rdev_1_1 r_1_1 c_1_1 250.0" in text


def test_parse_currents_from_ngspice_text():
    text = "No. of Data Rows : 1\ni(vsense_1) = -2.5e-05\ni(vsense_0) = 1.619344298345402e-04\n"
    np.testing.assert_array_equal(ir_spice.parse_currents(text, 2), [1.619344298345402e-04, -2.5e-05])
    with pytest.raises(SpiceError, match="column"):
        ir_spice.parse_currents(text, 3)


@needs_ngspice
@pytest.mark.parametrize(
    "n, m, wires, kind",
    [
        (3, 4, CrossbarWires(1.0), "random"),
        (16, 16, CrossbarWires(2.5, 50.0, 20.0), "random"),
        (32, 32, CrossbarWires(0.5, 0.0, 10.0), "random"),
        (32, 32, CrossbarWires(1.0), "trained"),
    ],
)
def test_reference_agrees_with_ngspice(n, m, wires, kind):
    if kind == "random":
        g = random_pattern(n, m, 1e-6, 1e-3, seed=n)
        g[0, 0] = 0.0  # an absent device
    else:
        g = trained_like_pair(n, m, PAPER_G_IDLE_S, 81.077e-6, 16, seed=1)[0]
    v = np.random.default_rng(m).uniform(-0.2, 0.2, (2, n))
    ref = ir_reference.column_currents(v, g, wires)
    spice = ir_spice.column_currents(v, g, wires)
    assert np.max(np.abs(ref - spice)) <= 1e-6 * np.max(np.abs(spice))
    # the case is not trivial: IR drop moves the currents well beyond the tolerance
    assert np.max(np.abs(ref - v @ g)) > 1e-3 * np.max(np.abs(ref))
