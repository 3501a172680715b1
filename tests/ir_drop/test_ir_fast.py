"""The fast IR-drop model against the sparse reference solver."""

import numpy as np
import pytest
import torch

from memlab.errors import ConfigError
from memlab.simulation import ir_fast, ir_reference
from memlab.simulation.ir_fast import IRDropConfig, IRDropCrossbar, effective_conductance
from memlab.simulation.ir_reference import CrossbarWires
from ir_drop_helpers import (
    PAPER_G_IDLE_S, PAPER_STATES, PAPER_STEP_S, RRAM_G_MAX_S, RRAM_G_MIN_S, random_pattern, rel_rms, trained_like_pair,
)

T = torch.tensor


def pair(kind: str, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "rram_random":
        return (random_pattern(n, m, RRAM_G_MIN_S, RRAM_G_MAX_S, seed),
                random_pattern(n, m, RRAM_G_MIN_S, RRAM_G_MAX_S, seed + 1))
    return trained_like_pair(n, m, PAPER_G_IDLE_S, PAPER_STEP_S, PAPER_STATES, seed)


def dense_k(size: int, r_edge: float, r: float, reverse: bool) -> np.ndarray:
    idx = np.arange(size)
    if reverse:
        idx = size - 1 - idx
    return r_edge + r * np.minimum.outer(idx, idx)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("r", [0.0, 0.3])
def test_path_sum_is_the_shared_path_resistance_product(reverse, r):
    x = torch.randn(3, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = ir_fast._path_sum(x, -1, 2.0, r, reverse)
    np.testing.assert_allclose(got.numpy(), x.numpy() @ dense_k(6, 2.0, r, reverse), rtol=1e-12)
    got = ir_fast._path_sum(x, -2, 2.0, r, reverse)
    np.testing.assert_allclose(got.numpy(), np.einsum("ik,bkj->bij", dense_k(5, 2.0, r, reverse), x.numpy()), rtol=1e-12)


def test_zero_resistance_gives_exactly_the_ideal_product():
    gp, gn = (T(a, dtype=torch.float32) for a in pair("paper", 300, 40, 0))
    cfg = IRDropConfig(0.0, array_size=128)
    assert torch.equal(effective_conductance(gp, gn, cfg), gp - gn)
    v = torch.rand(7, 300, generator=torch.Generator().manual_seed(1))
    assert torch.equal(IRDropCrossbar(gp, gn, cfg)(v), v @ (gp - gn))


@pytest.mark.parametrize("n, m", [(32, 48), (48, 32), (1, 7), (7, 1), (1, 1)])
@pytest.mark.parametrize("r, r_drive, r_sense", [(0.5, 20.0, 8.0), (0.5, 0.0, 0.0), (0.0, 20.0, 8.0),
                                                 (0.0, 20.0, 0.0), (0.0, 0.0, 8.0)])
def test_exact_solve_matches_the_reference(n, m, r, r_drive, r_sense):
    g = random_pattern(n, m, 1e-6, 1e-3, seed=2)
    if n * m > 1:
        g[0, 0] = 0.0  # a device stuck open
    wires = CrossbarWires(r, r_drive, r_sense)
    ref = ir_reference.effective_conductance(g, wires)
    fast = ir_fast.crossbar_effective_conductance(T(g), wires, method="solve")
    # measured ~1e-13: a direct solve (wide arrays through the transposed circuit)
    assert rel_rms(fast.numpy(), ref) < 1e-10
    if n * m > 100 and r > 0:
        assert rel_rms(g, ref) > 0.05  # and the IR drop is far from negligible


# The paper's device conducts ~2 mS even idle: at 128 x 128 and 1 ohm the ideal
# product is off by >1000 % (drop strength rho ~ 35), so it is tested on smaller arrays.
@pytest.mark.parametrize("kind, r, n", [
    ("paper_trained", 0.1, 64), ("paper_trained", 1.0, 64), ("paper_trained", 0.1, 128),
    ("rram_random", 0.1, 128), ("rram_random", 1.0, 128), ("rram_random", 10.0, 128),
])
def test_layer_matches_the_reference(kind, r, n):
    gp, gn = pair(kind, n, n, seed=n)
    wires = CrossbarWires(r)
    v = np.random.default_rng(0).uniform(0, 0.2, (8, n))
    ref = ir_reference.differential_currents(v, gp, gn, wires)
    w = effective_conductance(T(gp), T(gn), IRDropConfig(r, array_size=n, method="solve"))
    assert rel_rms((T(v) @ w).numpy(), ref) < 1e-9  # measured ~1e-11
    # float32 conductances in, float32 out: rounding of G (1e-7), amplified by the differential
    w32 = effective_conductance(T(gp, dtype=torch.float32), T(gn, dtype=torch.float32),
                                IRDropConfig(r, array_size=n, method="solve"))
    assert w32.dtype == torch.float32
    assert rel_rms((T(v) @ w32.double()).numpy(), ref) < 1e-4


@pytest.mark.parametrize("kind, r", [("rram_random", 1.0), ("paper_trained", 1.0)])
def test_256_by_256_stacked_solve_matches_the_reference(kind, r):
    gp, gn = pair(kind, 256, 256, seed=5)
    wires = CrossbarWires(r)
    v = np.random.default_rng(1).uniform(0, 0.2, (4, 256))
    ref = ir_reference.differential_currents(v, gp, gn, wires)
    w = ir_fast.crossbar_effective_conductance(torch.stack([T(gp), T(gn)]), wires, method="solve")
    assert rel_rms(v @ (w[0] - w[1]).numpy(), ref) < 1e-9  # measured ~4e-12 (paper: rho 140)
    assert rel_rms(v @ (gp - gn), ref) > 0.1


def test_tiles_are_split_like_aihwkit_and_summed_digitally():
    assert ir_fast.split_sizes(784, 256) == [196, 196, 196, 196]
    assert ir_fast.split_sizes(500, 256) == [250, 250]
    gp, gn = pair("rram_random", 70, 50, seed=9)
    wires = CrossbarWires(2.0, 5.0, 5.0)
    cfg = IRDropConfig(2.0, array_size=32, driver_resistance_ohm=5.0, sense_resistance_ohm=5.0, method="solve")
    expected = np.zeros((70, 50))
    r0 = 0
    for rows in ir_fast.split_sizes(70, 32):
        c0 = 0
        for cols in ir_fast.split_sizes(50, 32):
            sl = np.s_[r0:r0 + rows, c0:c0 + cols]
            expected[sl] = ir_reference.effective_conductance(gp[sl], wires) - ir_reference.effective_conductance(gn[sl], wires)
            c0 += cols
        r0 += rows
    got = effective_conductance(T(gp), T(gn), cfg).numpy()
    assert rel_rms(got, expected) < 1e-6


def test_interleaved_pairs_share_the_row_wires():
    gp, gn = pair("rram_random", 20, 12, seed=11)
    wires = CrossbarWires(5.0)
    both = np.stack([gp, gn], axis=-1).reshape(20, 24)
    w = ir_reference.effective_conductance(both, wires)
    got = effective_conductance(T(gp), T(gn), IRDropConfig(5.0, array_size=32, pair_layout="interleaved", method="solve"))
    assert rel_rms(got.numpy(), w[:, 0::2] - w[:, 1::2]) < 1e-6
    separate = effective_conductance(T(gp), T(gn), IRDropConfig(5.0, array_size=32, method="solve"))
    assert rel_rms(got.numpy(), separate.numpy()) > 1e-3  # the layout matters


# measured: RRAM 0.09 % (rho 0.10) .. 1.1 % (rho 0.37); paper device 0.6 % (rho 0.22) .. 1.2 % (rho 0.36)
@pytest.mark.parametrize("kind, n, r, inside", [
    ("rram_random", 64, 1.0, True), ("rram_random", 128, 0.1, True), ("rram_random", 128, 1.0, False),
    ("paper_trained", 32, 0.1, True), ("paper_trained", 128, 0.01, False),
])
def test_closed_form_is_valid_only_for_weak_drop(kind, n, r, inside):
    gp, gn = pair(kind, n, n, seed=3)
    wires = CrossbarWires(r)
    rho = float((sum(ir_fast.line_drops(T(gp), wires))).max())
    v = np.random.default_rng(2).uniform(0, 0.2, (8, n))
    ref = ir_reference.differential_currents(v, gp, gn, wires)
    w = effective_conductance(T(gp), T(gn), IRDropConfig(r, array_size=n, method="closed_form"))
    err = rel_rms(v @ w.numpy(), ref)
    assert (rho <= ir_fast.CLOSED_FORM_MAX_RHO) == inside
    assert (err <= 0.01) == inside


@pytest.mark.parametrize("r, weak", [(1.0, True), (10.0, False)])  # rho 0.10, 1.0
def test_auto_takes_the_closed_form_only_where_it_is_valid(r, weak):
    gp, gn = (T(a) for a in pair("rram_random", 64, 64, seed=4))
    cfg = IRDropConfig(r, array_size=64)
    auto = effective_conductance(gp, gn, cfg)
    closed = effective_conductance(gp, gn, IRDropConfig(r, array_size=64, method="closed_form"))
    solved = effective_conductance(gp, gn, IRDropConfig(r, array_size=64, method="solve"))
    assert cfg.method == "auto"
    assert torch.equal(auto, closed if weak else solved)
    assert rel_rms(auto.numpy(), solved.numpy()) < (1e-2 if weak else 1e-12)


def test_bad_settings_raise():
    with pytest.raises(ConfigError, match="array_size"):
        IRDropConfig(1.0, array_size=1)
    with pytest.raises(ConfigError, match="pair_layout"):
        IRDropConfig(1.0, pair_layout="diagonal")
    with pytest.raises(ConfigError, match="method"):
        IRDropConfig(1.0, method="magic")
    with pytest.raises(ConfigError, match="g_pos_S"):
        effective_conductance(torch.ones(3, 2), torch.ones(2, 3), IRDropConfig(1.0))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    gp, gn = (T(a) for a in pair("rram_random", 200, 120, seed=4))
    cfg = IRDropConfig(1.0, array_size=128, method="solve")
    cpu = effective_conductance(gp, gn, cfg)
    gpu = effective_conductance(gp.cuda(), gn.cuda(), cfg)
    assert gpu.device.type == "cuda"
    assert rel_rms(gpu.cpu().numpy(), cpu.numpy()) < 1e-10
