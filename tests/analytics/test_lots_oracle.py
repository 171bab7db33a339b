"""The lot book against a plain oracle: the documented closing order, written with sorted().

`LotBook` keeps its sort keys in arrays that grow in place and orders lots with
numpy; the oracle below keeps plain lists and sorts each sell's lots by the
rule of the module docstring (class 1-6, then the gain per share for losses
and gains, then the older lot). Over random buys and sells of a few slices,
in all three lot methods, both must close the same pieces (to the bit) and
leave the same open lots.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.analytics.lots import LotBook, is_long_term, lot_class


def oracle(ops, method: str, decimals: int = 5):
    """(closed pieces, open lots) by the documented rules, lists and sorted() only."""
    open_: dict[str, list[list]] = {}  # slice -> [open_date, seq, shares, cost per share]
    pieces = []
    dust = 0.5 / 10**decimals
    for seq, (day, slice_, shares, price) in enumerate(ops):
        if shares > 0:
            open_.setdefault(slice_, []).append([day, seq, float(shares), float(price)])
            continue
        lots = open_.get(slice_, [])

        def rank(lot, price=price, day=day):
            gain = price - lot[3]
            cls = lot_class(gain, is_long_term(lot[0], day))
            if method == "fifo":
                return (lot[0], lot[1])
            if method == "hifo":
                return (-lot[3], lot[0], lot[1])
            return (cls, 0.0 if cls in (3, 4) else gain, lot[0], lot[1])

        left = -float(shares)
        for lot in sorted(lots, key=rank):
            if left < dust:
                break
            take = min(left, lot[2])
            proceeds, cost = take * price, take * lot[3]
            pieces.append((slice_, lot[0], day, take, proceeds, cost, proceeds - cost,
                           "long" if is_long_term(lot[0], day) else "short"))
            lot[2] = round(lot[2] - take, decimals)
            left = round(left - take, decimals)
        open_[slice_] = [lot for lot in lots if lot[2] >= dust]
    still = sorted((s, lot[0], lot[1], lot[2], lot[3]) for s, lots in open_.items()
                   for lot in lots)
    return pieces, [(s, d, n, c) for s, d, _, n, c in still]


@st.composite
def operations(draw):
    """Buys and sells of two slices over three years, in date order; a sell never
    exceeds what the slice holds."""
    day = dt.date(2020, 1, 2)
    held = {"A": 0, "B": 0}
    ops = []
    for _ in range(draw(st.integers(1, 60))):
        day += dt.timedelta(days=draw(st.sampled_from([0, 1, 30, 120, 366])))
        slice_ = draw(st.sampled_from(["A", "B"]))
        price = draw(st.sampled_from([8.0, 9.5, 10.0, 10.000000001, 11.25, 12.0, 14.5]))
        if held[slice_] and draw(st.booleans()):
            units = draw(st.integers(1, held[slice_]))
            held[slice_] -= units
            ops.append((day, slice_, -units / 100, price))
        else:
            units = draw(st.integers(1, 500))
            held[slice_] += units
            ops.append((day, slice_, units / 100, price))
    return ops


@settings(max_examples=200, deadline=None)
@given(operations(), st.sampled_from(["brokerage", "fifo", "hifo"]))
def test_the_book_closes_what_the_documented_order_closes(ops, method) -> None:
    book = LotBook(method, 5)
    for day, slice_, shares, price in ops:
        if shares > 0:
            book.buy(slice_, slice_, day, shares, price)
        else:
            book.sell(slice_, slice_, day, -shares, price)
    want_pieces, want_open = oracle(ops, method)
    got = [(p.slice, p.open_date, p.close_date, p.shares, p.proceeds, p.cost, p.gain, p.term)
           for p in book.closed]
    assert got == want_pieces
    assert [(lot.slice, lot.open_date, lot.shares, lot.cost_per_share)
            for lot in book.open_lots()] == want_open
