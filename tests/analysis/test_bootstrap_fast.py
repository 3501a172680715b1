"""The vectorised bootstrap and bin counter against straightforward per-resample references."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.analysis import bootstrap
from memlab.analysis.bins import count_bins_batch, differential_bins
from memlab.analysis.bootstrap import bootstrap_headline, resample_weights


def _reference_headline(up, down, k_sigma, energy, n_boot, level, seed):
    """One resample at a time: index the cycles, take nanmean / nanstd(ddof=1) per state,
    fit, walk the ladder with :func:`differential_bins`, then percentile intervals."""
    n = up.shape[0]
    draws = np.random.default_rng(seed).integers(0, n, (n_boot, n), dtype=np.int64)
    samples: dict[str, list[float]] = {}

    def add(key, value):
        samples.setdefault(key, []).append(value)

    for idx in draws:
        stats = {}
        for name, g in (("potentiation", up[idx]), ("depression", down[idx])):
            mean = np.nanmean(g, axis=0)
            sigma = np.nanstd(g, axis=0, ddof=1)
            stats[name] = (mean, sigma)
            add(f"branches.{name}.bin_width_S", np.mean(np.abs(np.diff(mean))))
            add(f"branches.{name}.r_squared", np.corrcoef(np.arange(mean.size), mean)[0, 1] ** 2)
        add("sigma_mean_S", np.nanmean(np.concatenate([stats["potentiation"][1], stats["depression"][1]])))
        add("n_bins", differential_bins(*stats["potentiation"], *stats["depression"], k_sigma).n_bins)
        if energy is not None:
            add("energy_per_cycle_J.mean", np.nanmean(energy[idx]))
    out = {}
    for key, s in samples.items():
        s = np.asarray(s, dtype=float)
        s = s[np.isfinite(s)]
        out[key] = tuple(np.percentile(s, [100 * (1 - level) / 2, 100 * (1 + level) / 2]))
    return out


def _small_device(seed, cycles=30, states=6, sigma=3.5e-6, step=10e-6):
    rng = np.random.default_rng(seed)
    up = 1e-3 + step * np.arange(states) + rng.normal(0, sigma, (cycles, states))
    down = 1.06e-3 - step * np.arange(states) + rng.normal(0, sigma, (cycles, states))
    energy = rng.normal(24e-9, 1.3e-9, cycles)
    return up, down, energy


@pytest.mark.parametrize("missing", [False, True])
def test_fast_bootstrap_matches_reference(missing):
    # levels 10 uS apart, k * sigma of a level ~ 2 * sqrt(2) * 3.5 uS: the count varies between resamples
    up, down, energy = _small_device(11)
    if missing:  # the weighted-count path: lost reads and a cycle without energy
        up[3, 2] = up[17, 0] = np.nan
        down[5, 4] = np.nan
        energy[8] = np.nan
    fast = bootstrap_headline(up, down, 2.0, energy, n_boot=300, level=0.9, seed=5)
    ref = _reference_headline(up, down, 2.0, energy, 300, 0.9, 5)
    assert set(fast) == set(ref)
    for key, (lo, hi) in ref.items():
        assert fast[key].low == pytest.approx(lo, rel=1e-9, abs=1e-15), key
        assert fast[key].high == pytest.approx(hi, rel=1e-9, abs=1e-15), key
        assert fast[key].level == 0.9
    assert fast["n_bins"].low < fast["n_bins"].high  # the case does exercise the bin walk


def test_weight_blocks_are_the_one_big_draw():
    for n_cycles, n_boot in ((7, 1), (50, 129), (1000, 300)):
        w = resample_weights(n_cycles, n_boot, 4)
        blocks = list(bootstrap._weight_blocks(n_cycles, n_boot, 4))
        assert [a for a, _ in blocks] == list(range(0, n_boot, bootstrap._RESAMPLES_PER_BLOCK))
        assert np.array_equal(np.vstack([b for _, b in blocks]), w)
        assert np.all(w.sum(axis=1) == n_cycles)


def test_long_runs_draw_the_same_resamples_in_smaller_blocks(monkeypatch):
    # a long run's blocks hold fewer resamples (bounded memory); the rows drawn must not change
    w = resample_weights(300, 40, 9)
    monkeypatch.setattr(bootstrap, "_BLOCK_ELEMENTS", 300 * 3)
    blocks = list(bootstrap._weight_blocks(300, 40, 9))
    assert [a for a, _ in blocks] == list(range(0, 40, 3))
    assert np.array_equal(np.vstack([b for _, b in blocks]), w)


def _reference_counts(um, us, dm, ds, k):
    return [differential_bins(um[b], us[b], dm[b], ds[b], k).n_bins for b in range(um.shape[0])]


def test_batch_bins_match_the_walk_with_ties_and_many_blocks():
    rng = np.random.default_rng(9)
    n, s = 1100, 7  # more than one block of ladders (_ROWS_PER_BLOCK)
    step = 40e-6
    # quantised means: exact ties between levels, which the fast sort must order like a stable one
    um = np.round((1e-3 + step * np.arange(s) + rng.normal(0, 8e-6, (n, s))) / 1e-5) * 1e-5
    dm = np.round((1.3e-3 - step * np.arange(s) + rng.normal(0, 8e-6, (n, s))) / 1e-5) * 1e-5
    us, ds = rng.uniform(2e-6, 2e-5, (2, n, s))
    # ties and per-level sigmas differ, so a tie ordered differently would change some counts
    assert count_bins_batch(um, us, dm, ds, 2.0).tolist() == _reference_counts(um, us, dm, ds, 2.0)
    assert count_bins_batch(um, us * 0, dm, ds * 0, 2.0).tolist() == _reference_counts(um, us * 0, dm, ds * 0, 2.0)
    # near-coincident (not equal) levels of two linear ladders, as in the paper's device
    lin_u = 1e-3 + 81e-6 * np.arange(16) + rng.normal(0, 1e-7, (300, 16))
    lin_d = 2.2e-3 - 80.5e-6 * np.arange(16) + rng.normal(0, 1e-7, (300, 16))
    sig = rng.uniform(15e-6, 30e-6, (2, 300, 16))
    assert count_bins_batch(lin_u, sig[0], lin_d, sig[1], 2.0).tolist() == _reference_counts(lin_u, sig[0], lin_d, sig[1], 2.0)


def test_batch_bins_nan_sigma_level_is_never_kept():
    # a state with < 2 reads in a resample has sigma NaN: no level built on it separates
    um = np.array([[1.0e-3, 1.1e-3]])
    dm = np.array([[1.0e-3, 0.9e-3]])
    s = np.full((1, 2), 1e-6)
    assert count_bins_batch(um, s, dm, s, 2.0).tolist() == [3]
    nan_top = s.copy()
    nan_top[0, 1] = np.nan  # the up state at 1.1 mS: levels 0.1 and 0.2 mS lose their sigma
    assert count_bins_batch(um, nan_top, dm, s, 2.0).tolist() == [2]


def test_prefix_sum_lattice_equals_the_membership_product():
    # the O(n) prefix-sum grouping against the group-membership product it replaced (kept for rows
    # with a missing state or sigma); uneven ladders of unequal lengths, batched and not
    from memlab.analysis.bins import _lattice_levels_masked, lattice_levels

    rng = np.random.default_rng(3)
    for shape_up, n_dn in (((16,), 16), ((40, 5), 7), ((2, 3, 9), 4)):
        um = np.sort(rng.uniform(1e-4, 1e-3, shape_up), axis=-1)
        dm = np.sort(rng.uniform(1e-4, 1e-3, (*shape_up[:-1], n_dn)), axis=-1)[..., ::-1]
        us, ds = rng.uniform(1e-6, 3e-5, um.shape), rng.uniform(1e-6, 3e-5, dm.shape)
        fast, ref = lattice_levels(um, us, dm, ds), _lattice_levels_masked(um, us, dm, ds)
        assert fast[0].shape == ref[0].shape == (*shape_up[:-1], shape_up[-1] + n_dn - 1)
        np.testing.assert_allclose(fast[0], ref[0], rtol=0, atol=1e-17)
        np.testing.assert_allclose(fast[1], ref[1], rtol=1e-12)
    us[0, 0, 2], um[1, 2, 0] = np.nan, np.nan  # rows with a missing sigma / state: the masked path, exactly
    fast, ref = lattice_levels(um, us, dm, ds), _lattice_levels_masked(um, us, dm, ds)
    assert np.array_equal(fast[0][0, 0], ref[0][0, 0]) and np.array_equal(fast[1][0, 0], ref[1][0, 0], equal_nan=True)
    assert np.isnan(fast[0][1, 2]).all()  # a missing state: its row's levels are unknown, as before


@pytest.mark.parametrize("missing", [False, True])
def test_prefetched_resamples_give_the_same_intervals(missing):
    # drawn ahead in a thread and multiplied in two threads: the same numbers, exactly
    up, down, energy = _small_device(4, cycles=300)
    if missing:
        up[3, 2] = np.nan
        energy[7] = np.nan
    plain = bootstrap_headline(up, down, 2.0, energy, n_boot=700, seed=8)
    ahead = bootstrap.PrefetchedWeights.start(300, 700, 8)
    assert ahead is not None
    assert isinstance(ahead.blocks(300, 700, 8), list) and len(ahead.blocks(300, 700, 8)) > 1
    assert bootstrap_headline(up, down, 2.0, energy, n_boot=700, seed=8, prefetched=ahead) == plain
    other = bootstrap.PrefetchedWeights(300, 700, 9)  # drawn for another seed: drawn afresh, same result
    assert not isinstance(other.blocks(300, 700, 8), list)
    assert bootstrap_headline(up, down, 2.0, energy, n_boot=700, seed=8, prefetched=other) == plain


def test_an_error_in_the_second_product_thread_is_raised():
    blocks = list(bootstrap._weight_blocks(50, 300, 1))
    x = np.ones((50, 3))
    with pytest.raises(ValueError):
        bootstrap._products(blocks, x, np.empty((300, 2)))  # wrong width: both threads' matmuls refuse it
    blocks[1] = (blocks[1][0], np.ones((blocks[1][1].shape[0], 49)))  # only the second thread's block is bad
    with pytest.raises(ValueError):
        bootstrap._products(blocks, x, np.empty((300, 3)))
