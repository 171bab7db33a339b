"""The array replay (`replay`, grid units per slice and ticker) against the stepped book.

`replay_fills` and the tax tables go through `replay`'s array path when the
fills are a run's (on the share grid, in date order); the stepped `LotBook`
is held to the documented order by test_lots_oracle.py. Over random fills of
several slices and tickers, interleaved, both must close the same pieces in
the same order and leave the same open lots, to the bit, in every lot method;
input the array path does not take (off-grid shares, a sell beyond the lots)
falls back to the book, with its error.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.analytics.lots import (
    LOT_METHODS,
    _columns_of,
    _fast_replay,
    _step_book,
    replay,
    replay_fills,
)

KEYS = [("Core/A", "AAA"), ("Core/B", "BBB"), ("Tilt/A", "AAA")]


@st.composite
def run_fills(draw):
    """A run's fills: date order, whole grid units (2 decimals), three (slice, ticker)
    keys interleaved, no sell beyond what its key holds."""
    day = dt.date(2019, 2, 27)
    held = dict.fromkeys(KEYS, 0)
    rows = []
    for _ in range(draw(st.integers(1, 80))):
        day += dt.timedelta(days=draw(st.sampled_from([0, 0, 1, 30, 365, 366])))
        key = draw(st.sampled_from(KEYS))
        price = draw(st.sampled_from([8.0, 9.5, 10.0, 10.000000001, 11.25, 12.0, 14.5]))
        if held[key] and draw(st.booleans()):
            units = -draw(st.integers(1, held[key]))
        else:
            units = draw(st.integers(1, 500))
        held[key] += units
        rows.append((day, *key, units / 100, price, "rebalance" if units < 0 else "deposit"))
    return frame(rows)


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime([r[0] for r in rows]).astype("datetime64[ns]"),
        "slice": [r[1] for r in rows], "ticker": [r[2] for r in rows],
        "shares": [r[3] for r in rows], "price": [r[4] for r in rows],
        "amount": [r[3] * r[4] for r in rows], "reason": [r[5] for r in rows],
    })


def same(a, b) -> None:
    for part in ("closed", "open"):
        x, y = getattr(a, part), getattr(b, part)
        assert x.keys() == y.keys()
        for k in x:
            assert x[k].tolist() == y[k].tolist(), (part, k)


@settings(max_examples=150, deadline=None)
@given(run_fills(), st.sampled_from(LOT_METHODS))
def test_the_array_replay_equals_the_stepped_book(fills, method) -> None:
    fast = _fast_replay(fills, method, 2)
    assert fast is not None  # a run's fills take the array path
    same(fast, _columns_of(_step_book(fills, method, 2)))


@settings(max_examples=40, deadline=None)
@given(run_fills(), st.sampled_from(LOT_METHODS))
def test_the_book_from_the_arrays_is_the_stepped_book(fills, method) -> None:
    got, want = replay_fills(fills, method, 2), _step_book(fills, method, 2)
    assert got.closed == want.closed
    def lots(book):
        return [(x.slice, x.ticker, x.open_date, x.shares, x.cost_per_share, x.seq)
                for x in book.open_lots()]
    assert lots(got) == lots(want)


def test_off_grid_shares_take_the_stepped_path() -> None:
    d = dt.date(2024, 1, 2)
    fills = frame([(d, "A", "A", 0.123456789, 10.0, "deposit"),
                   (d, "A", "A", -0.1, 11.0, "rebalance")])
    assert _fast_replay(fills, "fifo", 5) is None
    (piece,) = replay(fills, "fifo", 5).closed["shares"]
    assert piece == 0.1  # closed from the one lot; 0.02346 left (rounded to the grid)
    assert replay(fills, "fifo", 5).open["shares"].tolist() == [0.02346]


def test_a_sell_beyond_the_lots_raises_the_books_error() -> None:
    d = dt.date(2024, 1, 2)
    fills = frame([(d, "A", "A", 1.0, 10.0, "deposit"), (d, "A", "A", -2.0, 10.0, "sell")])
    with pytest.raises(ValueError, match="sells 2.0 shares of A but its lots hold 1.0"):
        replay(fills, "brokerage", 5)


def test_lots_of_a_ticker_in_two_slices_stay_apart() -> None:
    # Core/A buys 1 @ 10, Tilt/A buys 1 @ 20; Core/A sells 1 @ 15: gain 5 (its own lot),
    # though Tilt/A's lot would be a loss the brokerage order closes first.
    d = dt.date(2024, 1, 2)
    fills = frame([(d, "Core/A", "AAA", 1.0, 10.0, "deposit"),
                   (d, "Tilt/A", "AAA", 1.0, 20.0, "deposit"),
                   (d, "Core/A", "AAA", -1.0, 15.0, "sell")])
    cols = replay(fills, "brokerage", 5)
    assert cols.closed["gain"].tolist() == [5.0]
    assert cols.open["slice"].tolist() == ["Tilt/A"]
    assert np.array_equal(cols.open["cost_per_share"], [20.0])
