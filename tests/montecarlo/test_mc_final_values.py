"""`batch_final_values` is `batch_values`' last column, bit for bit, on odd inputs.

The accounts need only a book's leaf columns and share scale for valuation, so
plain stand-ins do; the inputs cover what a Monte Carlo path never has but the
function must still get right: missing closes (carried forward, 0 before the
first), an infinite price, cash never recorded, two trees in one batch, leaves
added after a snapshot and no snapshot at all.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from backtest.engine.batch import BatchState, batch_final_values, batch_values


def _account(columns, decimals=5):
    return SimpleNamespace(book=SimpleNamespace(leaf_columns=np.asarray(columns, dtype=np.int64),
                                                scale=10 ** decimals))


@pytest.mark.parametrize("seed", range(8))
def test_final_values_are_the_last_close_of_the_daily_values(seed):
    rng = np.random.default_rng(seed)
    A, n, t = 6, 30, 4
    close = rng.random((A, n, t)) * 100
    if seed % 2:
        close[rng.random(close.shape) < 0.1] = np.nan  # gaps, some at the end
    if seed in (3, 6):  # an infinite last close, with gaps elsewhere (3) and without (6)
        close[2, -1, 1] = np.inf
    cash = np.where(rng.random((A, n)) < 0.4, rng.random((A, n)) * 50, np.nan)
    cash[0] = np.nan  # an account whose cash was never written: 0
    sims = [_account([0, 1, 2]), _account([0, 1, 2]), _account([3, 1]),
            _account([0, 1, 2], 2), _account([]), _account([3, 1])]
    snaps = [] if seed == 4 else [
        (int(i), rng.integers(0, 10**7, (A, w)))
        for i, w in zip(sorted(rng.choice(n, 3, replace=False)), (2, 3, 3), strict=True)]
    # account 2 holds under one share a leaf: inf x shares is inf, but the largest float
    # (what a gap anywhere makes the valuation turn inf into) x shares is finite
    for _, units in snaps:
        units[2] %= 50_000
    state = BatchState(cash, snaps)
    daily, _ = batch_values(sims, state, close)
    assert np.array_equal(batch_final_values(sims, state, close), daily[:, -1],
                          equal_nan=True)
