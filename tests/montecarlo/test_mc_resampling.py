"""Resampling whole days: blocks stay consecutive, moments and correlation are kept."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.montecarlo.paths import (
    history_from_arrays,
    path_rng,
    prices_from_ratios,
    resample_indices,
    resample_returns,
)


def _correlated_history(days: int = 6000, seed: int = 3):
    rng = np.random.default_rng(seed)
    mu = np.array([0.0006, 0.0002])
    sd = np.array([0.01, 0.015])
    corr = np.array([[1.0, 0.8], [0.8, 1.0]])
    cov = corr * np.outer(sd, sd)
    r = rng.multivariate_normal(mu, cov, size=days)
    close = np.vstack([[50.0, 20.0], np.cumprod(1 + r, axis=0) * [50.0, 20.0]])
    sessions = np.arange(np.datetime64("2000-01-03"), np.datetime64("2000-01-03") + days + 1)
    return history_from_arrays(("A", "B"), sessions, close), r


def test_history_ratios_and_start_prices():
    close = np.array([[10.0, 5.0], [11.0, np.nan], [12.1, 5.5], [13.31, 6.05]])
    open_ = np.array([[10.0, 5.0], [10.5, np.nan], [np.nan, 5.2], [13.0, 6.0]])
    div = np.array([[0, 0], [0, 0], [0.121, 0], [0, 0.0605]])
    sessions = np.array(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-06"],
                        dtype="datetime64[D]")
    h = history_from_arrays(("X", "Y"), sessions, close, open_, div)
    # day 1 (no close for Y) and day 2 (no previous close for Y) cannot be resampled
    assert h.days == 1 and h.dropped_days == 2
    assert h.dates[0] == np.datetime64("2020-01-06")
    np.testing.assert_allclose(h.close_ratio[0], [1.1, 1.1])
    np.testing.assert_allclose(h.open_ratio[0], [13.0 / 12.1, 6.0 / 5.5])
    np.testing.assert_allclose(h.dividend_yield[0], [0.0, 0.0605 / 5.5])
    np.testing.assert_allclose(h.start_close, [13.31, 6.05])
    # a day without an open opens at its close
    h2 = history_from_arrays(("X",), sessions[:3], close[:3, :1], open_[:3, :1])
    np.testing.assert_allclose(h2.open_ratio[:, 0], [10.5 / 10.0, 12.1 / 11.0])


def test_prices_chain_from_start_close():
    start = np.array([100.0])
    cr = np.array([[1.1], [0.9]])
    orr = np.array([[1.05], [1.0]])
    dy = np.array([[0.0], [0.01]])
    o, c, d = prices_from_ratios(start, cr, orr, dy)
    np.testing.assert_allclose(c[:, 0], [110.0, 99.0])
    np.testing.assert_allclose(o[:, 0], [105.0, 110.0])
    np.testing.assert_allclose(d[:, 0], [0.0, 1.1])


@pytest.mark.parametrize("block", [1, 5, 21])
def test_block_bootstrap_keeps_consecutive_days(block):
    rng = np.random.default_rng(0)
    idx = resample_indices(100, 103, rng, "block-bootstrap", block)
    assert len(idx) == 103 and idx.min() >= 0 and idx.max() < 100
    for k in range(0, 103, block):
        chunk = idx[k:k + block]
        np.testing.assert_array_equal(chunk, chunk[0] + np.arange(len(chunk)))


def test_a_paths_first_five_returns_are_five_consecutive_historical_days():
    h, _ = _correlated_history(days=300)
    cr, orr, dy, idx = resample_returns(h, 40, seed=11, path=4, method="block-bootstrap",
                                        block=5)
    d = idx[0]
    np.testing.assert_array_equal(cr[:5], h.close_ratio[d:d + 5])
    np.testing.assert_array_equal(np.diff(h.dates[idx[:5]]).astype(int), 1)


def test_block_longer_than_history_is_the_whole_history():
    idx = resample_indices(7, 10, np.random.default_rng(1), "block-bootstrap", 50)
    np.testing.assert_array_equal(idx[:7], np.arange(7))


def test_path_generator_is_the_spawned_child_of_the_seed():
    children = np.random.SeedSequence(42).spawn(5)
    for i in (0, 3, 4):
        a = path_rng(42, i).integers(0, 1 << 30, 8)
        b = np.random.default_rng(children[i]).integers(0, 1 << 30, 8)
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(path_rng(42, 0).integers(0, 1 << 30, 8),
                              path_rng(42, 1).integers(0, 1 << 30, 8))


@pytest.mark.parametrize("method", ["bootstrap", "block-bootstrap"])
def test_resampled_mean_and_covariance_match_the_history(method):
    h, _ = _correlated_history()
    hist = h.close_ratio - 1.0
    draws = np.vstack([resample_returns(h, 20_000, seed=9, path=p, method=method,
                                        block=21)[0] - 1.0 for p in range(4)])
    n = len(draws)
    se = hist.std(axis=0, ddof=1) / np.sqrt(n)
    # the history is independent from day to day, so blocks of it do not widen the
    # standard error of the mean (deterministic seeds: no flakiness)
    assert np.all(np.abs(draws.mean(axis=0) - hist.mean(axis=0)) < 3 * se)
    c_hist = np.corrcoef(hist.T)[0, 1]
    c_draw = np.corrcoef(draws.T)[0, 1]
    assert abs(c_hist - 0.8) < 0.03
    assert abs(c_draw - c_hist) < 0.05
    np.testing.assert_allclose(draws.std(axis=0, ddof=1), hist.std(axis=0, ddof=1), rtol=0.05)


def test_resampling_is_pure():
    h, _ = _correlated_history(days=200)
    a = resample_returns(h, 50, seed=1, path=2, method="block-bootstrap", block=7)
    b = resample_returns(h, 50, seed=1, path=2, method="block-bootstrap", block=7)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_bad_options():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        resample_indices(10, 5, rng, "jackknife", 5)
    with pytest.raises(ValueError):
        resample_indices(10, 5, rng, "block-bootstrap", 0)
    with pytest.raises(ValueError):
        resample_indices(0, 5, rng, "bootstrap", 5)
