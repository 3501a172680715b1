"""The sparse nodal reference solver against circuits solvable by hand."""

import numpy as np
import pytest

from memlab.errors import ConfigError
from memlab.simulation.ir_reference import CrossbarWires, column_currents, effective_conductance
from ir_drop_helpers import random_pattern, rel_rms


def test_single_cell_is_a_series_circuit():
    # driver + edge row segment + device + edge column segment + sense, in series
    g, r, rd, rs = 2e-3, 0.7, 11.0, 5.0
    i = column_currents(np.array([0.3]), np.array([[g]]), CrossbarWires(r, rd, rs))
    assert i[0] == pytest.approx(0.3 / (rd + r + 1 / g + r + rs), rel=1e-12)


def test_one_row_ladder_by_hand():
    # 1 x 2, ideal driver and sense: source -r- node1 -r- node2; each device
    # reaches its virtual ground through the column's edge segment r
    g1, g2, r = 1e-2, 2e-2, 3.0
    y1, y2 = 1 / (1 / g1 + r), 1 / (1 / g2 + r)
    z2 = r + 1 / y2  # node 2's branch seen from node 1
    z_node1 = 1 / (y1 + 1 / z2)
    u1 = z_node1 / (r + z_node1)
    got = column_currents(np.array([1.0]), np.array([[g1, g2]]), CrossbarWires(r))
    np.testing.assert_allclose(got, [u1 * y1, u1 / z2], rtol=1e-12)


def test_zero_resistance_is_the_ideal_product():
    g = random_pattern(7, 5, 1e-6, 1e-3, seed=1)
    v = np.random.default_rng(2).normal(size=(3, 7))
    np.testing.assert_array_equal(column_currents(v, g, CrossbarWires(0.0)), v @ g)


@pytest.mark.parametrize("rd, rs", [(0.0, 4.0), (3.0, 0.0), (2.0, 5.0)])
def test_lumped_case_is_the_limit_of_small_wire_resistance(rd, rs):
    g = random_pattern(6, 4, 1e-5, 2e-3, seed=3)
    v = np.random.default_rng(4).normal(size=(2, 6))
    lumped = column_currents(v, g, CrossbarWires(0.0, rd, rs))
    # the distributed solution differs by O(r): two decades of r, two decades of difference
    d1 = rel_rms(column_currents(v, g, CrossbarWires(1e-4, rd, rs)), lumped)
    d2 = rel_rms(column_currents(v, g, CrossbarWires(1e-6, rd, rs)), lumped)
    assert d1 < 1e-3 and d2 < d1 / 50


def test_linear_in_the_input_and_effective_matrix_matches():
    g = random_pattern(12, 9, 1e-5, 1e-3, seed=5)
    wires = CrossbarWires(2.0, 10.0, 3.0)
    v = np.random.default_rng(6).normal(size=(4, 12))
    w = effective_conductance(g, wires)
    np.testing.assert_allclose(column_currents(v, g, wires), v @ w, rtol=1e-10, atol=1e-16)
    # IR drop only ever loses current for a positive input on positive conductances
    assert np.all(w.sum(axis=0) < g.sum(axis=0))


def test_absent_devices_and_bad_input():
    g = random_pattern(4, 4, 1e-5, 1e-3, seed=7)
    g[:, 2] = 0.0
    i = column_currents(np.ones(4), g, CrossbarWires(1.0))
    assert i[2] == pytest.approx(0.0, abs=1e-18)
    with pytest.raises(ConfigError, match="wire_resistance_ohm"):
        CrossbarWires(-1.0)
    with pytest.raises(ConfigError, match="g_S"):
        column_currents(np.ones(2), -g, CrossbarWires(1.0))
    with pytest.raises(ConfigError, match="v_V"):
        column_currents(np.ones(3), g, CrossbarWires(1.0))
