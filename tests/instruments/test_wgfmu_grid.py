"""The 10 ns grid helper: nearest, up and down, with float error not costing a tick."""

import pytest

from memlab.instruments.wgfmu import grid


def test_nearest_up_and_down():
    assert grid.to_ticks(34e-9) == 3 and grid.to_ticks(36e-9) == 4
    assert grid.ticks_up(31e-9) == 4 and grid.ticks_down(39e-9) == 3
    assert grid.snap(1.234567e-6) == pytest.approx(1.23e-6) and grid.up(1.2301e-6) == pytest.approx(1.24e-6)
    assert grid.down(1.2399e-6) == pytest.approx(1.23e-6)


def test_float_error_of_grid_sums_does_not_move_a_tick():
    t = 0.1e-6 + 0.2e-6  # 3.0000000000000004e-07: 30 ticks, not 31
    assert grid.ticks_up(t) == 30 and grid.ticks_down(3e-7 - 1e-22) == 30
    assert grid.is_on_grid(t) and not grid.is_on_grid(t + 1e-9)


def test_limits_use_the_same_grid():
    from memlab.instruments.wgfmu import limits

    assert limits.TIME_GRID_S == grid.TIME_GRID_S == 10e-9 and limits.to_ticks is grid.to_ticks
    assert limits.on_grid("x", 34e-9, 10e-9, 1.0) == pytest.approx(30e-9)
