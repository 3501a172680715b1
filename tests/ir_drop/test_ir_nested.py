"""The nested-dissection solve of one crossbar against the sparse LU reference.

Shapes that are not powers of two (padded with open cells), single rows and
columns, stuck-open devices, driver and sense resistance, weak and strong drop.
"""

import numpy as np
import pytest
import torch

from memlab.simulation import ir_nested, ir_reference
from memlab.simulation.ir_reference import CrossbarWires
from ir_drop_helpers import PAPER_G_IDLE_S, PAPER_STATES, PAPER_STEP_S, random_pattern, rel_rms, trained_like_pair


def solve(g: np.ndarray, wires: CrossbarWires) -> np.ndarray:
    out = ir_nested.nested_effective_conductance(torch.tensor(g)[None], wires.wire_resistance_ohm,
                                                 wires.driver_resistance_ohm, wires.sense_resistance_ohm)
    return out[0].numpy()


@pytest.mark.parametrize("n, m", [(1, 1), (1, 9), (9, 1), (2, 3), (5, 7), (17, 12), (12, 17), (33, 64)])
@pytest.mark.parametrize("r, r_drive, r_sense", [(1.0, 0.0, 0.0), (0.5, 20.0, 8.0), (2.0, 0.0, 3.0)])
def test_every_entry_matches_the_reference(n, m, r, r_drive, r_sense):
    g = random_pattern(n, m, 1e-4, 3e-3, seed=n * 100 + m)
    if n * m > 1:
        g[n // 2, m // 2] = 0.0  # a device stuck open
    wires = CrossbarWires(r, r_drive, r_sense)
    ref = ir_reference.effective_conductance(g, wires)
    got = solve(g, wires)
    # measured <= 2e-13 relative; entry by entry, not only on average
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("r", [1e-4, 0.1, 10.0])  # rho ~ 2e-4 (nearly ideal wires) .. ~20
def test_weak_and_strong_drop(r):
    gp, gn = trained_like_pair(40, 24, PAPER_G_IDLE_S, PAPER_STEP_S, PAPER_STATES, seed=7)
    wires = CrossbarWires(r)
    got = solve(gp, wires) - solve(gn, wires)
    ref = ir_reference.effective_conductance(gp, wires) - ir_reference.effective_conductance(gn, wires)
    # the differential output is a small difference of two large currents
    assert rel_rms(got, ref) < 1e-9


def test_a_stack_is_solved_array_by_array():
    g = np.stack([random_pattern(20, 30, 1e-5, 2e-3, seed=s) for s in range(3)])
    wires = CrossbarWires(0.7, 1.0, 2.0)
    got = ir_nested.nested_effective_conductance(torch.tensor(g), 0.7, 1.0, 2.0).numpy()
    for k in range(3):
        np.testing.assert_allclose(got[k], ir_reference.effective_conductance(g[k], wires), rtol=1e-10)


def test_open_cells_beyond_the_far_ends_change_nothing():
    # what the power-of-two padding relies on: rows above the first and columns right of the last
    g = random_pattern(6, 5, 1e-4, 3e-3, seed=3)
    wires = CrossbarWires(1.0, 2.0, 0.5)
    big = np.zeros((9, 8))
    big[3:, :5] = g
    np.testing.assert_allclose(ir_reference.effective_conductance(big, wires)[3:, :5],
                               ir_reference.effective_conductance(g, wires), rtol=1e-12)
    np.testing.assert_allclose(solve(big, wires)[3:, :5], solve(g, wires), rtol=1e-10)


def test_a_solve_leaves_the_callers_torch_threads_as_they_were_and_concurrent_solves_agree():
    import threading

    before = torch.get_num_threads()
    g = torch.tensor(np.stack([random_pattern(24, 24, 1e-4, 3e-3, seed=s) for s in range(2)]))
    try:
        torch.set_num_threads(2)
        expected = ir_nested.nested_effective_conductance(g, 1.0, 0.0, 0.0)
        assert torch.get_num_threads() == 2
        results = []
        workers = [threading.Thread(target=lambda: results.append(ir_nested.nested_effective_conductance(
            g, 1.0, 0.0, 0.0))) for _ in range(3)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        # to rounding: a thread's first torch operation during another's solve may run on 1 thread
        assert len(results) == 3 and all(torch.allclose(r, expected, rtol=1e-12, atol=0) for r in results)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
