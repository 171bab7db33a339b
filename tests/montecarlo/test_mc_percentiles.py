"""`session_percentiles` against a full sort of every session.

numpy's default percentile method reads ranks lo = floor(h) and lo + 1 of the
sorted values, h = (paths - 1) * pct / 100, and gives low + (high - low) * frac;
the real values' percentiles are those of value / deflator. The oracle sorts each
session's values in full and reads the two ranks; the partial sort (one partition
point per percentile, the next rank as the least value after it) and the threads
must give the same bits.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.montecarlo import results as R


def sorted_oracle(values, deflate):
    paths = values.shape[0]
    h = (paths - 1) * np.asarray(R.PERCENTILES, dtype=float) / 100.0
    lo = np.floor(h).astype(int)
    hi = np.minimum(lo + 1, paths - 1)
    frac = (h - lo)[:, None]
    s = np.sort(values, axis=0)  # NaN sorts last
    s[:, np.isnan(values).any(axis=0)] = np.nan
    low, high = s[lo], s[hi]
    real_low, real_high = low / deflate, high / deflate
    return low + (high - low) * frac, real_low + (real_high - real_low) * frac


@pytest.mark.parametrize("paths", [1, 2, 3, 5, 20, 21, 101, 400])
def test_partial_sort_equals_full_sort(paths):
    rng = np.random.default_rng(paths)
    n = 300
    values = rng.random((paths, n)) * 1000
    values[:, 7] = 5.0  # ties everywhere
    values[:, 8] = np.round(values[:, 8] / 400)  # a few distinct values
    values[rng.random(values.shape) < 0.002] = np.nan
    deflate = R.deflator(n, 0.025)
    want = sorted_oracle(values, deflate)
    got = R.session_percentiles(values, deflate, chunk=64)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w, equal_nan=True)


def test_threads_give_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(7)
    values = rng.random((64, 1000))
    deflate = R.deflator(1000, 0.03)
    monkeypatch.setattr(R, "PARALLEL_CELLS", 1 << 62)
    one = R.session_percentiles(values, deflate, chunk=50)
    monkeypatch.setattr(R, "PARALLEL_CELLS", 1)
    many = R.session_percentiles(values, deflate, chunk=50)
    for a, b in zip(one, many, strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(one, sorted_oracle(values, deflate), strict=True):
        assert np.array_equal(a, b)
