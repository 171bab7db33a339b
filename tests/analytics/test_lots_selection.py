"""Lot selection by hand: the brokerage's six classes, fifo, hifo, splits,
same-window washes, the one-year boundary and per-slice separation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from backtest.analytics.lots import (
    LotBook,
    anniversary,
    is_long_term,
    lot_class,
    lots_frame,
    realized_frame,
    replay_fills,
)

D = dt.date


def fills(*rows) -> pd.DataFrame:
    """rows: (date, slice, shares, price[, reason]); ticker = the path's last part."""
    out = []
    for r in rows:
        day, path, shares, price = r[:4]
        reason = r[4] if len(r) > 4 else ("auto_invest" if shares > 0 else "withdrawal")
        out.append((pd.Timestamp(day), "morning", path, path.split("/")[-1], shares, price,
                    shares * price, reason))
    return pd.DataFrame(out, columns=["date", "window", "slice", "ticker", "shares", "price",
                                      "amount", "reason"])


def closed(book: LotBook) -> list[tuple[dt.date, float, float]]:
    """(open date, shares, cost per share) of each closed piece, in closing order."""
    return [(p.open_date, round(p.shares, 5), round(p.cost / p.shares, 6)) for p in book.closed]


SELL_DAY = D(2024, 6, 3)
# Six lots of one slice, one per class for a sell at 100 on SELL_DAY.
# Long-term: bought before 2023-06-03; short-term: after.
SIX = [
    (D(2022, 1, 3), "A", 1.0, 120.0),   # LT loss  -20/share  -> class 2
    (D(2022, 2, 1), "A", 1.0, 100.0),   # LT zero             -> class 4
    (D(2022, 3, 1), "A", 1.0, 60.0),    # LT gain  +40/share  -> class 5
    (D(2024, 1, 2), "A", 1.0, 110.0),   # ST loss  -10/share  -> class 1
    (D(2024, 2, 1), "A", 1.0, 100.0),   # ST zero             -> class 3
    (D(2024, 3, 1), "A", 1.0, 90.0),    # ST gain  +10/share  -> class 6
]


def test_the_six_classes_close_in_the_brokerage_order():
    book = replay_fills(fills(*SIX, (SELL_DAY, "A", -6.0, 100.0)))
    assert closed(book) == [
        (D(2024, 1, 2), 1.0, 110.0),  # 1 short-term loss
        (D(2022, 1, 3), 1.0, 120.0),  # 2 long-term loss
        (D(2024, 2, 1), 1.0, 100.0),  # 3 short-term, no gain
        (D(2022, 2, 1), 1.0, 100.0),  # 4 long-term, no gain
        (D(2022, 3, 1), 1.0, 60.0),   # 5 long-term gain
        (D(2024, 3, 1), 1.0, 90.0),   # 6 short-term gain
    ]
    assert [p.term for p in book.closed] == ["short", "long", "short", "long", "long", "short"]
    assert [p.gain for p in book.closed] == [-10.0, -20.0, 0.0, 0.0, 40.0, 10.0]
    assert not book.open_lots()


@pytest.mark.parametrize("n, first_left", [(1, D(2022, 1, 3)), (2, D(2024, 2, 1)),
                                           (3, D(2022, 2, 1)), (4, D(2022, 3, 1)),
                                           (5, D(2024, 3, 1))])
def test_each_class_goes_before_the_next(n, first_left):
    """Selling n shares closes exactly the first n classes; the next one stays."""
    book = replay_fills(fills(*SIX, (SELL_DAY, "A", -float(n), 100.0)))
    assert len(book.closed) == n
    left = book.open_lots()
    assert len(left) == 6 - n
    assert first_left in {lot.open_date for lot in left}


def test_largest_loss_per_share_first_within_a_class():
    """Short-term losses: -30/share (small lot) before -5/share (big lot)."""
    book = replay_fills(fills(
        (D(2024, 1, 2), "A", 100.0, 105.0),  # -5/share, loss 500 in all
        (D(2024, 1, 3), "A", 1.0, 130.0),    # -30/share, loss 30 in all
        (D(2024, 1, 4), "A", 2.0, 110.0),    # -10/share
        (SELL_DAY, "A", -3.0, 100.0),
    ))
    assert closed(book) == [(D(2024, 1, 3), 1.0, 130.0), (D(2024, 1, 4), 2.0, 110.0)]


def test_long_term_losses_largest_first_and_gains_smallest_first():
    book = replay_fills(fills(
        (D(2021, 1, 4), "A", 1.0, 105.0),   # LT loss -5
        (D(2021, 2, 1), "A", 1.0, 125.0),   # LT loss -25
        (D(2021, 3, 1), "A", 1.0, 50.0),    # LT gain +50
        (D(2021, 4, 1), "A", 1.0, 95.0),    # LT gain +5
        (D(2024, 4, 1), "A", 1.0, 70.0),    # ST gain +30
        (D(2024, 4, 2), "A", 1.0, 99.0),    # ST gain +1: smaller, but short-term goes last
        (SELL_DAY, "A", -6.0, 100.0),
    ))
    assert [c[2] for c in closed(book)] == [125.0, 105.0, 95.0, 50.0, 99.0, 70.0]


def test_ties_close_the_older_lot_first():
    book = replay_fills(fills(
        (D(2024, 2, 1), "A", 1.0, 90.0),
        (D(2024, 1, 2), "A", 1.0, 90.0),   # same gain, older date
        (D(2024, 1, 2), "A", 2.0, 90.0),   # same date, bought later in execution order
        (SELL_DAY, "A", -1.5, 100.0),
    ))
    assert closed(book) == [(D(2024, 1, 2), 1.0, 90.0), (D(2024, 1, 2), 0.5, 90.0)]
    assert [(lot.open_date, lot.shares) for lot in book.open_lots()] == [
        (D(2024, 1, 2), 1.5), (D(2024, 2, 1), 1.0)]


def test_a_sell_spanning_several_lots_splits_the_last_one():
    book = replay_fills(fills(
        (D(2024, 1, 2), "A", 1.25, 80.0),
        (D(2024, 1, 3), "A", 2.5, 90.0),
        (D(2024, 1, 4), "A", 3.0, 95.0),
        (SELL_DAY, "A", -4.0, 100.0),
    ))
    # all short-term gains: smallest gain first = highest cost first
    assert closed(book) == [(D(2024, 1, 4), 3.0, 95.0), (D(2024, 1, 3), 1.0, 90.0)]
    assert [p.proceeds for p in book.closed] == [300.0, 100.0]
    assert [p.cost for p in book.closed] == [285.0, 90.0]
    assert [(lot.open_date, lot.shares) for lot in book.open_lots()] == [
        (D(2024, 1, 2), 1.25), (D(2024, 1, 3), 1.5)]


def test_fifo_and_hifo():
    rows = [(D(2022, 1, 3), "A", 1.0, 80.0), (D(2023, 1, 3), "A", 1.0, 150.0),
            (D(2024, 1, 2), "A", 1.0, 120.0), (D(2024, 2, 1), "A", 1.0, 60.0),
            (SELL_DAY, "A", -3.0, 100.0)]
    fifo = replay_fills(fills(*rows), method="fifo")
    assert [c[2] for c in closed(fifo)] == [80.0, 150.0, 120.0]
    hifo = replay_fills(fills(*rows), method="hifo")
    assert [c[2] for c in closed(hifo)] == [150.0, 120.0, 80.0]
    brokerage = replay_fills(fills(*rows))
    # ST loss -20, LT loss -50, then LT gain +20 (short-term +40 would be last)
    assert [c[2] for c in closed(brokerage)] == [120.0, 150.0, 80.0]


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="lot method"):
        LotBook("lifo")


def test_a_wash_in_one_window_only_closes_lots_that_existed_before_the_sell():
    day = D(2024, 3, 1)
    book = replay_fills(fills(
        (D(2024, 1, 2), "A", 2.0, 120.0),    # an existing lot at a loss
        (day, "A", 5.0, 100.0),              # bought in the window, before the sell
        (day, "A", -3.0, 100.0),             # the sell: loss lot first, then the zero lot
        (day, "A", 4.0, 100.0),              # bought after the sell: untouched
    ))
    assert closed(book) == [(D(2024, 1, 2), 2.0, 120.0), (day, 1.0, 100.0)]
    assert [(lot.open_date, lot.shares) for lot in book.open_lots()] == [(day, 4.0), (day, 4.0)]
    # a sell of more than existed before it is an error, not a close of the later buy
    with pytest.raises(ValueError, match="sells"):
        replay_fills(fills((day, "A", -1.0, 100.0), (day, "A", 1.0, 100.0)))


def test_same_day_buy_and_sell_is_short_term_at_the_price_difference():
    day = D(2024, 3, 1)
    book = replay_fills(fills((day, "A", 2.0, 100.0), (day, "A", -2.0, 101.5)))
    (p,) = book.closed
    assert (p.term, p.gain, p.open_date, p.close_date) == ("short", 3.0, day, day)


@pytest.mark.parametrize("sold, long_", [(D(2024, 3, 14), False), (D(2024, 3, 15), False),
                                         (D(2024, 3, 16), True), (D(2025, 1, 2), True)])
def test_the_one_year_boundary(sold, long_):
    assert is_long_term(D(2023, 3, 15), sold) is long_
    book = replay_fills(fills((D(2023, 3, 15), "A", 1.0, 50.0), (sold, "A", -1.0, 60.0)))
    assert book.closed[0].term == ("long" if long_ else "short")


def test_the_boundary_decides_the_class():
    """Bought 2023-03-15 at a gain: on 2024-03-15 it is a short-term gain (last),
    on 2024-03-16 a long-term gain (before a short-term gain)."""
    rows = [(D(2023, 3, 15), "A", 1.0, 50.0), (D(2024, 1, 2), "A", 1.0, 55.0)]
    on = replay_fills(fills(*rows, (D(2024, 3, 15), "A", -1.0, 60.0)))
    after = replay_fills(fills(*rows, (D(2024, 3, 16), "A", -1.0, 60.0)))
    assert on.closed[0].cost == 55.0   # both short-term: smaller gain (+5) first
    assert after.closed[0].cost == 50.0  # long-term gain before short-term gain


def test_february_29_anniversary():
    assert anniversary(D(2024, 2, 29)) == D(2025, 2, 28)
    assert not is_long_term(D(2024, 2, 29), D(2025, 2, 28))
    assert is_long_term(D(2024, 2, 29), D(2025, 3, 1))


def test_lot_class_numbers():
    assert [lot_class(g, lt) for g, lt in [(-1, False), (-1, True), (0, False), (0, True),
                                           (1, True), (1, False)]] == [1, 2, 3, 4, 5, 6]


def test_slices_keep_separate_lots():
    """The same ticker in two pies: selling one slice never closes the other's lots,
    even where the other slice has the lot the method would prefer."""
    book = replay_fills(fills(
        (D(2024, 1, 2), "Value/XYZ", 1.0, 150.0),   # a big loss, in the other slice
        (D(2024, 1, 3), "Growth/XYZ", 2.0, 90.0),
        (SELL_DAY, "Growth/XYZ", -1.0, 100.0),
    ))
    assert [(p.slice, p.cost) for p in book.closed] == [("Growth/XYZ", 90.0)]
    assert [(lot.slice, lot.shares) for lot in book.open_lots()] == [
        ("Growth/XYZ", 1.0), ("Value/XYZ", 1.0)]
    with pytest.raises(ValueError):  # Growth cannot sell Value's share
        replay_fills(fills((D(2024, 1, 2), "Value/XYZ", 1.0, 150.0),
                           (SELL_DAY, "Growth/XYZ", -1.0, 100.0)))


def test_residual_shares_stay_on_the_grid():
    book = replay_fills(fills((D(2024, 1, 2), "A", 0.3, 10.0), (D(2024, 1, 3), "A", 0.1, 10.0),
                              (SELL_DAY, "A", -0.1, 10.0), (SELL_DAY, "A", -0.2, 10.0),
                              (SELL_DAY, "A", -0.00001, 10.0)))
    (lot,) = book.open_lots()
    assert lot.shares == 0.09999  # exactly on the grid, not 0.09999000000000001
    book = replay_fills(fills((D(2024, 1, 2), "A", 0.3, 10.0),
                              (SELL_DAY, "A", -(0.1 + 0.2), 10.0)))  # 0.30000000000000004
    assert not book.open_lots() and len(book.closed) == 1


def test_frames_have_the_documented_columns():
    book = replay_fills(fills((D(2023, 1, 3), "P/A", 2.0, 10.0), (D(2024, 2, 1), "P/A", 1.0, 12.0),
                              (SELL_DAY, "P/A", -1.5, 11.0, "rebalance")))
    real = realized_frame(book.closed)
    assert list(real.columns) == ["slice", "ticker", "open_date", "close_date", "shares",
                                  "proceeds", "cost", "gain", "term", "reason"]
    # ST loss (12 -> 11) first, then the long-term gain lot
    assert real[["shares", "gain", "term", "reason"]].values.tolist() == [
        [1.0, -1.0, "short", "rebalance"], [0.5, 0.5, "long", "rebalance"]]
    lots = lots_frame(book.open_lots(), D(2024, 6, 28), {"A": 15.0})
    assert list(lots.columns) == ["slice", "ticker", "open_date", "shares", "cost_per_share",
                                  "cost", "close_price", "value", "unrealized_gain", "term"]
    assert lots[["shares", "cost", "value", "unrealized_gain", "term"]].values.tolist() == [
        [1.5, 15.0, 22.5, 7.5, "long"]]
    assert lots_frame([], None).empty and realized_frame([]).empty
