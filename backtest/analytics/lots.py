"""Tax lots from a run's fills: which lots each sell closes, and what it realized.

Pure functions, no I/O. The input is `RunResult.fills`: every slice's trade in
execution order (`date, window, slice, ticker, shares, price, amount, reason`,
`shares` signed: + bought, - sold). Lots are kept **per slice** (per path),
like the account's holdings: a ticker held in two pies has two separate sets
of lots, and selling one slice never closes the other's lots, even when the
window's netted trade for that ticker is a buy.

- Every buy opens a lot: slice, ticker, open date, shares, cost per share =
  the fill price (so its cost is exactly the fill's amount).
- Every sell closes lots of its slice, in an order set by the lot method, and
  only lots that exist before it in execution order (a buy later in the same
  window is not there yet). A partial close splits a lot; the lot's remaining
  shares are rounded to the share grid (`share_decimals`), and a lot with less
  than half a grid step left is closed (float dust, not shares).
- Each closed piece realizes `shares x (sell price - cost per share)`.

**Holding period** (`is_long_term`): a lot is long-term when it was held more
than one year, that is sold strictly *after* the one-year anniversary of its
buy date. Bought 2023-03-15: sold 2024-03-15 is short-term, sold 2024-03-16
or later is long-term. A lot bought on February 29 has its anniversary on
February 28 of the next year (so it is long-term from March 1).

**Lot methods** (`LOT_METHODS`):

- `brokerage` (the account's fixed order, which users cannot change), by the
  gain per share `g = sell price - cost per share` and the term at the sale:
  1. short-term losses, largest loss first (most negative `g` first);
  2. long-term losses, largest loss first;
  3. short-term lots at no gain or loss;
  4. long-term lots at no gain or loss;
  5. long-term gains, smallest gain first;
  6. short-term gains, smallest gain first.
  "Largest" and "smallest" compare the gain **per share**, not per lot (a big
  lot with a small loss per share comes after a small lot with a larger loss
  per share). A gain per share within `ZERO_GAIN` dollars of 0 counts as no
  gain or loss.
- `fifo`: oldest lot first.
- `hifo`: highest cost per share first.

Ties are broken by the older lot first (open date, then execution order).

**Two paths, one result.** `LotBook` steps the fills one by one (any input;
the reference). A run's fills (on the share grid, in date order) go through
`replay`'s array path instead: lots of different (slice, ticker) never meet,
so each key is replayed on its own in whole grid units (the remainders the
book rounds to the grid are exact integers), and the pieces are put back in
execution order. Both give the same pieces and open lots to the bit
(tests/analytics/test_lots_columns.py); the tax tables are built from the
columns without a `Piece` or `Lot` object per row.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

LOT_METHODS = ("brokerage", "fifo", "hifo")
ZERO_GAIN = 1e-9  # dollars per share: below this a gain is "no gain or loss"

LOT_COLUMNS = ["slice", "ticker", "open_date", "shares", "cost_per_share", "cost",
               "close_price", "value", "unrealized_gain", "term"]
REALIZED_COLUMNS = ["slice", "ticker", "open_date", "close_date", "shares", "proceeds",
                    "cost", "gain", "term", "reason"]


@dataclass
class Lot:
    """One open lot (mutable: a partial close reduces `shares`)."""

    slice: str
    ticker: str
    open_date: dt.date
    shares: float
    cost_per_share: float
    seq: int  # the buy's position in execution order (tie-break)
    long_after: int = field(init=False)  # ordinal of the anniversary (see is_long_term)

    def __post_init__(self) -> None:
        self.long_after = anniversary(self.open_date).toordinal()


class Piece(NamedTuple):
    """A closed lot, or the closed part of a split lot (a named tuple: a run closes
    thousands, and a frozen dataclass costs several times more to build)."""

    slice: str
    ticker: str
    open_date: dt.date
    close_date: dt.date
    shares: float
    proceeds: float
    cost: float
    gain: float
    term: str  # "short" | "long"
    reason: str


@functools.lru_cache(maxsize=65536)  # a run's lots open on a few thousand days at most
def anniversary(day: dt.date) -> dt.date:
    """The one-year anniversary of `day` (February 29 -> February 28)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # February 29
        return day.replace(year=day.year + 1, day=28)


def is_long_term(open_date: dt.date, close_date: dt.date) -> bool:
    """Held more than one year: sold strictly after the buy's first anniversary.

    Bought 2023-03-15: sold 2024-03-15 -> short-term; 2024-03-16 -> long-term.
    """
    return close_date > anniversary(open_date)


def term(open_date: dt.date, close_date: dt.date) -> str:
    return "long" if is_long_term(open_date, close_date) else "short"


def close_order(lots: Iterable[Lot], price: float, close_date: dt.date,
                method: str = "brokerage") -> list[Lot]:
    """The lots in the order a sell at `price` on `close_date` closes them."""
    lots = sorted(lots, key=lambda lot: (lot.open_date, lot.seq))
    order = _order([lot.cost_per_share for lot in lots], [lot.long_after for lot in lots],
                   price, close_date.toordinal(), method)
    return [lots[i] for i in order]


def _order(cost: list[float] | np.ndarray, long_after: list[int] | np.ndarray, price: float,
           close_day: int, method: str) -> np.ndarray:
    """Positions of lots (given oldest first) in closing order, as arrays: a
    slice fed every month holds hundreds of lots, and each sell orders them.

    fifo: oldest first. hifo: highest cost first. brokerage: by class (1-6),
    then by gain per share for losses (most negative first) and gains
    (smallest first). Sorts are stable, so ties go to the older lot.
    """
    if method == "fifo":
        return np.arange(len(cost))
    cost_a = np.asarray(cost, dtype=float)
    if method == "hifo":
        return np.argsort(-cost_a, kind="stable")
    if method != "brokerage":
        raise ValueError(f"lot method must be one of {', '.join(LOT_METHODS)}; got {method!r}")
    gain = price - cost_a
    long = close_day > np.asarray(long_after, dtype=np.int64)
    loss = gain < -ZERO_GAIN
    win = gain > ZERO_GAIN
    # class 1-6 as (group, term): losses -1, no gain 0, gains 1; short before long,
    # except among gains (long first): (-1,0)=1 (-1,1)=2 (0,0)=3 (0,1)=4 (1,0)=5 (1,1)=6
    group = win.view(np.int8) - loss.view(np.int8)
    term = long ^ win
    key = np.where(loss | win, gain, 0.0)
    return np.lexsort((key, term, group))


def lot_class(gain_per_share: float, long_term: bool) -> int:
    """The brokerage order's class, 1 to 6 (see the module docstring)."""
    if gain_per_share < -ZERO_GAIN:
        return 2 if long_term else 1
    if gain_per_share <= ZERO_GAIN:
        return 4 if long_term else 3
    return 5 if long_term else 6


class _OpenLots:
    """One slice's open lots of one ticker, oldest first (buys arrive in execution
    order), with their sort keys in arrays that grow in place: a slice fed every
    month holds hundreds of lots, and each sell orders them."""

    def __init__(self) -> None:
        self.lots: list[Lot] = []
        self.opened: list[int] = []
        self._cost = np.empty(16)
        self._long = np.empty(16, dtype=np.int64)

    @property
    def cost(self) -> np.ndarray:
        return self._cost[:len(self.lots)]

    @property
    def long_after(self) -> np.ndarray:
        return self._long[:len(self.lots)]

    def add(self, lot: Lot) -> None:
        """Keep the lots by open date, then execution order (a later buy of the
        same date goes after: its seq is higher)."""
        day = lot.open_date.toordinal()
        n = len(self.lots)
        i = n if not n or self.opened[-1] <= day else bisect.bisect_right(self.opened, day)
        if n == len(self._cost):
            self._cost = np.concatenate([self._cost, np.empty(n)])
            self._long = np.concatenate([self._long, np.empty(n, dtype=np.int64)])
        if i < n:  # an earlier date than the last lot's (not from a run's fills)
            self._cost[i + 1:n + 1] = self._cost[i:n].copy()
            self._long[i + 1:n + 1] = self._long[i:n].copy()
        self._cost[i] = lot.cost_per_share
        self._long[i] = lot.long_after
        self.lots.insert(i, lot)
        self.opened.insert(i, day)

    def drop(self, positions: list[int]) -> None:
        """Forget the lots at `positions` (closed in full)."""
        n = len(self.lots)
        for i in sorted(positions, reverse=True):
            self._cost[i:n - 1] = self._cost[i + 1:n]  # numpy copies overlapping slices safely
            self._long[i:n - 1] = self._long[i + 1:n]
            n -= 1
            del self.lots[i]
            del self.opened[i]


class LotBook:
    """Open lots per (slice, ticker) and the pieces closed so far."""

    def __init__(self, method: str = "brokerage", share_decimals: int = 5) -> None:
        if method not in LOT_METHODS:
            raise ValueError(f"lot method must be one of {', '.join(LOT_METHODS)}; "
                             f"got {method!r}")
        self.method = method
        self.decimals = share_decimals
        self.dust = 0.5 / 10**share_decimals
        self.open: dict[tuple[str, str], _OpenLots] = {}
        self.closed: list[Piece] = []
        self._seq = 0

    def buy(self, slice_: str, ticker: str, day: dt.date, shares: float, price: float) -> None:
        held = self.open.get((slice_, ticker))
        if held is None:
            held = self.open[(slice_, ticker)] = _OpenLots()
        held.add(Lot(slice_, ticker, day, float(shares), float(price), self._seq))
        self._seq += 1

    def sell(self, slice_: str, ticker: str, day: dt.date, shares: float, price: float,
             reason: str = "") -> list[Piece]:
        """Close `shares` (> 0) of the slice's lots; returns the closed pieces."""
        held = self.open.get((slice_, ticker)) or _OpenLots()
        left = float(shares)
        pieces: list[Piece] = []
        close_day = day.toordinal()
        order = _order(held.cost, held.long_after, price, close_day,
                       self.method) if held.lots else []
        closed: list[int] = []
        for i in order:
            lot = held.lots[i]
            if left < self.dust:
                break
            take = min(left, lot.shares)
            cost = take * lot.cost_per_share
            proceeds = take * price
            pieces.append(Piece(slice_, ticker, lot.open_date, day, take, proceeds, cost,
                                proceeds - cost,  # `term`, by the ordinals
                                "long" if close_day > lot.long_after else "short", reason))
            lot.shares = round(lot.shares - take, self.decimals)
            left = round(left - take, self.decimals)
            if lot.shares < self.dust:
                closed.append(int(i))
        if left >= self.dust:
            raise ValueError(f"{day}: {slice_} sells {shares} shares of {ticker} but its "
                             f"lots hold {shares - left}")
        held.drop(closed)
        self.closed.extend(pieces)
        self._seq += 1
        return pieces

    def open_lots(self) -> list[Lot]:
        """Every open lot, by slice and ticker, oldest first."""
        out = [lot for key in sorted(self.open) for lot in self.open[key].lots]
        return sorted(out, key=lambda lot: (lot.slice, lot.ticker, lot.open_date, lot.seq))


def grid_decimals(shares: Iterable[float], most: int = 10) -> int:
    """The fewest decimals (at most `most`) on whose grid every share count lies
    (to 1e-9 of a share): the account's `share_decimals` when it is not known."""
    x = np.abs(np.asarray(list(shares), dtype=float))
    for d in range(most + 1):
        if np.all(np.abs(x - np.round(x, d)) < 1e-9):
            return d
    return most


def replay_fills(fills: pd.DataFrame, method: str = "brokerage",
                 share_decimals: int | None = 5) -> LotBook:
    """Every fill through a `LotBook`, in the frame's (execution) order.

    `share_decimals=None` takes the grid from the fills (`grid_decimals`).
    Fills on the share grid in date order (a run's) go through `replay`'s
    array path and fill the book from its columns; others step the book.
    """
    if share_decimals is None:
        share_decimals = _decimals_of(fills)
    cols = _fast_replay(fills, method, share_decimals)
    if cols is None:
        return _step_book(fills, method, share_decimals)
    return _book_of(cols, method, share_decimals)


def _decimals_of(fills: pd.DataFrame | None) -> int:
    has_rows = fills is not None and len(fills) > 0
    return grid_decimals(fills["shares"]) if has_rows else 5


def _step_book(fills: pd.DataFrame, method: str, share_decimals: int) -> LotBook:
    """The fills one by one through a `LotBook` (any input; the reference path)."""
    book = LotBook(method, share_decimals)
    if fills is None or not len(fills):
        return book
    days = _dates(fills["date"])
    reasons = fills["reason"].to_numpy() if "reason" in fills else np.full(len(fills), "")
    rows = zip(days, fills["slice"].to_numpy(), fills["ticker"].to_numpy(),
               fills["shares"].to_numpy(dtype=float), fills["price"].to_numpy(dtype=float),
               reasons, strict=True)
    for day, slice_, ticker, shares, price, reason in rows:
        if shares > 0:
            book.buy(slice_, ticker, day, shares, price)
        elif shares < 0:
            book.sell(slice_, ticker, day, -shares, price, str(reason))
    return book


@dataclass(frozen=True)
class LotColumns:
    """A replay's closed pieces and open lots as columns (what the tables are built
    from; `LotBook` holds the same as objects). Days are date ordinals.

    Closed pieces in execution order (each sell's in its closing order); open
    lots by slice, ticker, open date and execution order, as `open_lots()`.
    """

    closed: dict[str, np.ndarray]  # slice, ticker, open_day, close_day, shares,
    #                                proceeds, cost, gain, long, reason
    open: dict[str, np.ndarray]  # slice, ticker, open_day, shares, cost_per_share,
    #                              long_after, seq


EPOCH = dt.date(1970, 1, 1).toordinal()


def replay(fills: pd.DataFrame, method: str = "brokerage",
           share_decimals: int | None = 5) -> LotColumns:
    """`replay_fills` as columns: the same pieces and lots, bit for bit."""
    if share_decimals is None:
        share_decimals = _decimals_of(fills)
    cols = _fast_replay(fills, method, share_decimals)
    if cols is None:
        cols = _columns_of(_step_book(fills, method, share_decimals))
    return cols


def _fast_replay(fills: pd.DataFrame | None, method: str,
                 decimals: int) -> LotColumns | None:
    """The replay on arrays, one (slice, ticker) at a time (their lots never meet).

    Shares are whole grid units (int64), so a lot's and a sell's remainder are
    exact: `round(x - take, decimals)` of the step path is the float of the
    integer difference, and "less than half a step" is zero units. A sell
    orders the lots bought before it (a prefix of its key's buys; closed lots
    hold zero units and take nothing) and closes them along the cumulative
    units. None when the input is not a run's (off-grid shares, dates out of
    order within a key, a sell beyond the lots): the step path handles those
    and raises its own error.
    """
    if method not in LOT_METHODS:
        raise ValueError(f"lot method must be one of {', '.join(LOT_METHODS)}; "
                         f"got {method!r}")
    if fills is None or not len(fills):
        return _columns_of(LotBook(method, decimals))
    scale = 10.0**decimals
    shares = fills["shares"].to_numpy(dtype=float)
    units_f = np.round(shares * scale)
    if not np.all(np.abs(units_f) < 2.0**62) or not np.array_equal(units_f / scale, shares):
        return None
    units = units_f.astype(np.int64)
    day = (pd.to_datetime(fills["date"]).to_numpy().astype("datetime64[D]")
           .astype(np.int64) + EPOCH)
    price = fills["price"].to_numpy(dtype=float)
    s_code, s_names = pd.factorize(fills["slice"])  # (Arrow strings: no objects per row)
    t_code, t_names = pd.factorize(fills["ticker"])
    if (s_code < 0).any() or (t_code < 0).any():
        return None
    live = np.flatnonzero(units != 0)
    seq_of = np.cumsum(units != 0) - 1  # LotBook's counter (one per buy or sell)
    key = s_code[live].astype(np.int64) * len(t_names) + t_code[live]
    order = live[np.argsort(key, kind="stable")]
    bounds = np.flatnonzero(np.diff(key[np.argsort(key, kind="stable")])) + 1
    lot_rows: list[np.ndarray] = []  # fill rows of each key's buys
    lot_rems: list[np.ndarray] = []
    p_lot: list[int] = []  # global lot number of each piece
    p_take: list[int] = []  # and the units it closes
    p_sell: list[int] = []  # fill row of each sell
    p_count: list[int] = []  # and its pieces
    n_lots = 0
    uniq_day, day_pos = np.unique(day, return_inverse=True)
    long_day = np.array([anniversary(dt.date.fromordinal(int(d))).toordinal()
                         for d in uniq_day], dtype=np.int64)[day_pos.ravel()]
    for rows in np.split(order, bounds):
        u = units[rows]
        is_buy = u > 0
        buys = rows[is_buy]
        if len(buys) > 1 and (np.diff(day[buys]) < 0).any():
            return None
        units_l = units[buys].tolist()
        cost = price[buys]
        long_after = long_day[buys]
        before = np.cumsum(is_buy).tolist()  # buys up to and including each row
        # The key's open lots, in buy order: sort keys in arrays, units and lot
        # numbers in lists (a sell closes a few lots; Python walks them faster).
        a_cost, a_long = cost[:0], long_after[:0]
        a_rem: list[int] = []
        a_id: list[int] = []
        seen = dead = 0
        for j in np.flatnonzero(~is_buy).tolist():
            n = before[j]
            row = int(rows[j])
            left = -int(u[j])
            if n > seen:  # the buys since the last sell
                a_cost = np.concatenate((a_cost, cost[seen:n]))
                a_long = np.concatenate((a_long, long_after[seen:n]))
                a_rem.extend(units_l[seen:n])
                a_id.extend(range(n_lots + seen, n_lots + n))
                seen = n
            if len(a_rem) == dead:
                return None
            pos = (range(len(a_rem)) if method == "fifo" else
                   _order(a_cost, a_long, float(price[row]), int(day[row]), method).tolist())
            count = 0
            for q in pos:
                r = a_rem[q]
                if not r:  # closed earlier, not yet dropped
                    continue
                count += 1
                p_lot.append(a_id[q])
                if r >= left:  # the sell ends in this lot
                    p_take.append(left)
                    a_rem[q] = r - left
                    dead += r == left
                    left = 0
                    break
                p_take.append(r)
                a_rem[q] = 0
                dead += 1
                left -= r
            if left:
                return None
            if 2 * dead > len(a_rem):  # drop the closed lots now and then, not every sell
                keep = np.array(a_rem, dtype=np.int64) > 0
                a_cost, a_long = a_cost[keep], a_long[keep]
                a_id = [i for i, r in zip(a_id, a_rem, strict=True) if r]
                a_rem = [r for r in a_rem if r]
                dead = 0
            p_sell.append(row)
            p_count.append(count)
        rem = np.zeros(len(buys), dtype=np.int64)
        rem[seen:] = units_l[seen:]  # bought after the last sell
        if a_id:  # (a closed lot's 0 among them)
            rem[np.array(a_id, dtype=np.int64) - n_lots] = a_rem
        lot_rows.append(buys)
        lot_rems.append(rem)
        n_lots += len(buys)
    reasons = (fills["reason"].to_numpy(dtype=object) if "reason" in fills
               else np.full(len(fills), "", dtype=object))
    all_lots = np.concatenate(lot_rows) if lot_rows else np.zeros(0, dtype=np.int64)
    all_rem = np.concatenate(lot_rems) if lot_rems else np.zeros(0, dtype=np.int64)
    s_names = np.array(list(s_names), dtype=object)
    t_names = np.array(list(t_names), dtype=object)
    if p_lot:
        lot = np.array(p_lot, dtype=np.int64)
        sell = np.repeat(np.array(p_sell, dtype=np.int64), p_count)
        take = np.array(p_take, dtype=np.int64)
        by = np.argsort(sell, kind="stable")
        lot, sell, take = lot[by], sell[by], take[by]
    else:
        lot = sell = take = np.zeros(0, dtype=np.int64)
    buy_row = all_lots[lot]
    n_shares = take / scale
    proceeds = n_shares * price[sell]
    p_cost = n_shares * price[buy_row]
    closed = {
        "slice": s_names[s_code[sell]], "ticker": t_names[t_code[sell]],
        "open_day": day[buy_row], "close_day": day[sell], "shares": n_shares,
        "proceeds": proceeds, "cost": p_cost, "gain": proceeds - p_cost,
        "long": day[sell] > long_day[buy_row],
        "reason": np.array([str(r) for r in reasons[sell]], dtype=object),
    }
    still = all_rem > 0
    rows_o = all_lots[still]
    s_rank = np.argsort(np.argsort(s_names))  # by name, as sorted() orders the keys
    t_rank = np.argsort(np.argsort(t_names))
    by = np.lexsort((seq_of[rows_o], day[rows_o], t_rank[t_code[rows_o]],
                     s_rank[s_code[rows_o]]))
    rows_o = rows_o[by]
    open_ = {
        "slice": s_names[s_code[rows_o]], "ticker": t_names[t_code[rows_o]],
        "open_day": day[rows_o], "shares": all_rem[still][by] / scale,
        "cost_per_share": price[rows_o], "long_after": long_day[rows_o],
        "seq": seq_of[rows_o],
    }
    return LotColumns(closed, open_)


def _columns_of(book: LotBook) -> LotColumns:
    """A stepped book's pieces and open lots as columns."""
    ps = book.closed
    lots = book.open_lots()
    closed = {
        "slice": np.array([p.slice for p in ps], dtype=object),
        "ticker": np.array([p.ticker for p in ps], dtype=object),
        "open_day": np.array([p.open_date.toordinal() for p in ps], dtype=np.int64),
        "close_day": np.array([p.close_date.toordinal() for p in ps], dtype=np.int64),
        **{c: np.array([getattr(p, c) for p in ps], dtype=float)
           for c in ("shares", "proceeds", "cost", "gain")},
        "long": np.array([p.term == "long" for p in ps], dtype=bool),
        "reason": np.array([p.reason for p in ps], dtype=object),
    }
    open_ = {
        "slice": np.array([lot.slice for lot in lots], dtype=object),
        "ticker": np.array([lot.ticker for lot in lots], dtype=object),
        "open_day": np.array([lot.open_date.toordinal() for lot in lots], dtype=np.int64),
        "shares": np.array([lot.shares for lot in lots], dtype=float),
        "cost_per_share": np.array([lot.cost_per_share for lot in lots], dtype=float),
        "long_after": np.array([lot.long_after for lot in lots], dtype=np.int64),
        "seq": np.array([lot.seq for lot in lots], dtype=np.int64),
    }
    return LotColumns(closed, open_)


def _book_of(cols: LotColumns, method: str, decimals: int) -> LotBook:
    """A `LotBook` holding a replay's pieces and open lots (as objects)."""
    book = LotBook(method, decimals)
    c = cols.closed
    day = functools.lru_cache(maxsize=None)(dt.date.fromordinal)
    book.closed = [
        Piece(s, t, day(int(o)), day(int(cd)), float(n), float(pr), float(co), float(g),
              "long" if lg else "short", r)
        for s, t, o, cd, n, pr, co, g, lg, r in zip(
            c["slice"], c["ticker"], c["open_day"], c["close_day"], c["shares"],
            c["proceeds"], c["cost"], c["gain"], c["long"], c["reason"], strict=True)]
    o = cols.open
    for s, t, od, n, cps, seq in zip(o["slice"], o["ticker"], o["open_day"], o["shares"],
                                     o["cost_per_share"], o["seq"], strict=True):
        held = book.open.get((s, t))
        if held is None:
            held = book.open[(s, t)] = _OpenLots()
        held.add(Lot(s, t, day(int(od)), float(n), float(cps), int(seq)))
    book._seq = len(c["shares"])  # not used once replayed
    return book


def _dates(column: pd.Series) -> np.ndarray:
    """`datetime.date` objects of a date column, built once per distinct day."""
    d = pd.to_datetime(column).to_numpy().astype("datetime64[D]")
    distinct, where = np.unique(d, return_inverse=True)
    return distinct.astype(object)[where.ravel()]


def _date_column(days: list[dt.date]) -> np.ndarray:
    """datetime64[ns] from `datetime.date` objects (by their ordinals: no parsing)."""
    epoch = dt.date(1970, 1, 1).toordinal()
    return (np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
            - epoch).astype("datetime64[D]").astype("datetime64[ns]")


def realized_frame(pieces: Iterable[Piece]) -> pd.DataFrame:
    """One row per closed lot piece (REALIZED_COLUMNS); dates as datetime64."""
    pieces = list(pieces)
    if not pieces:
        return _realized_rows([])
    cols = dict(zip(REALIZED_COLUMNS, zip(*[
        (p.slice, p.ticker, p.open_date, p.close_date, p.shares, p.proceeds, p.cost, p.gain,
         p.term, p.reason) for p in pieces], strict=True), strict=True))
    def text(name: str) -> pd.Series:  # plain objects, as the rows' frame has them
        return pd.Series(np.array(cols[name], dtype=object), dtype=object)

    return pd.DataFrame({
        "slice": text("slice"), "ticker": text("ticker"),
        "open_date": _date_column(cols["open_date"]),
        "close_date": _date_column(cols["close_date"]),
        **{c: np.array(cols[c], dtype=float) for c in ("shares", "proceeds", "cost", "gain")},
        "term": text("term"), "reason": text("reason"),
    })


def _day_column(ordinals: np.ndarray) -> np.ndarray:
    """datetime64[ns] from date ordinals."""
    return (np.asarray(ordinals, dtype=np.int64) - EPOCH).astype("datetime64[D]") \
        .astype("datetime64[ns]")


def realized_table(cols: LotColumns) -> pd.DataFrame:
    """`realized_frame` of a replay's columns (the same frame)."""
    c = cols.closed
    if not len(c["shares"]):
        return _realized_rows([])

    def text(values: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=object), dtype=object)

    return pd.DataFrame({
        "slice": text(c["slice"]), "ticker": text(c["ticker"]),
        "open_date": _day_column(c["open_day"]), "close_date": _day_column(c["close_day"]),
        **{k: np.asarray(c[k], dtype=float) for k in ("shares", "proceeds", "cost", "gain")},
        "term": text(np.where(c["long"], "long", "short").astype(object)),
        "reason": text(c["reason"]),
    })


def lots_table(cols: LotColumns, end: dt.date | None = None,
               close: Mapping[str, float] | None = None) -> pd.DataFrame:
    """`lots_frame` of a replay's open lots (the same frame)."""
    o = cols.open
    if not len(o["shares"]):
        return lots_frame([], end, close)
    close = close or {}
    px = np.array([float(close.get(t, np.nan)) for t in o["ticker"]], dtype=float)
    shares, cps = o["shares"], o["cost_per_share"]
    cost = shares * cps
    value = shares * px
    term_ = (np.where(end.toordinal() > o["long_after"], "long", "short").astype(object)
             if end is not None else np.full(len(shares), None, dtype=object))
    return pd.DataFrame({
        "slice": pd.Series(o["slice"], dtype=object),
        "ticker": pd.Series(o["ticker"], dtype=object),
        "open_date": _day_column(o["open_day"]),
        "shares": shares.astype(float), "cost_per_share": cps.astype(float),
        "cost": cost, "close_price": px, "value": value, "unrealized_gain": value - cost,
        "term": pd.Series(term_, dtype=object),
    })


def _realized_rows(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=REALIZED_COLUMNS)
    for col in ("open_date", "close_date"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    return frame.astype({"shares": float, "proceeds": float, "cost": float, "gain": float,
                         "slice": object, "ticker": object, "term": object, "reason": object})


def lots_frame(lots: Iterable[Lot], end: dt.date | None = None,
               close: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Open lots at the end (LOT_COLUMNS).

    `close` maps a ticker to its last close (value and unrealized gain are NaN
    for a ticker it lacks); `term` is the term the lot would have if sold on
    `end` (None when `end` is not given).
    """
    close = close or {}
    rows = []
    for lot in lots:
        px = float(close.get(lot.ticker, np.nan))
        cost = lot.shares * lot.cost_per_share
        value = lot.shares * px
        rows.append((lot.slice, lot.ticker, lot.open_date, lot.shares, lot.cost_per_share,
                     cost, px, value, value - cost,
                     term(lot.open_date, end) if end is not None else None))
    frame = pd.DataFrame(rows, columns=LOT_COLUMNS)
    frame["open_date"] = pd.to_datetime(frame["open_date"]).astype("datetime64[ns]")
    return frame.astype({"shares": float, "cost_per_share": float, "cost": float,
                         "close_price": float, "value": float, "unrealized_gain": float,
                         "slice": object, "ticker": object, "term": object})
