"""The day loop (trading-model.md, "The day"), one session at a time.

`Simulation.sessions()` yields a `SessionReport` per session, for replay;
`Simulation.run()` is the same loop to the end, jumping over sessions where
nothing can happen (no flow, dividend, request, halt, rebalance, or waiting
cash), and leaves valuation to array work in `backtest.engine.result`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter

import numpy as np

from backtest.domain.halts import Halt
from backtest.domain.pie import ROOT
from backtest.domain.strategy import (
    AddSlice,
    Order,
    RebalanceRequest,
    RemoveSlice,
    SetTargets,
    Strategy,
)
from backtest.engine.book import Book
from backtest.engine.ledger import EventKind, EventRecord, Ledger, WindowRecord
from backtest.engine.market import Market
from backtest.engine.requests import DividendBuy, Leaving, Request, Withdrawal
from backtest.engine.restrictions import Restrictions
from backtest.engine.schedule import cashflow_sessions, new_period_sessions, session_of
from backtest.engine.sums import sum_last
from backtest.engine.weights import first_breach, membership, slice_weights
from backtest.engine.window import Window, WindowPrices, reaches

WINDOW_START = {"morning": 9 * 60 + 30, "afternoon": 15 * 60}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class SessionReport:
    """What happened on one session (for replay and notebooks)."""

    index: int
    date: dt.date
    cash: float
    deposits: float
    dividends: float
    withdrawals: float
    windows: list[WindowRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    shares: np.ndarray | None = None  # per leaf id, after the session
    value: float = 0.0  # cash + holdings at the close
    payouts: list[tuple[float, float]] = field(default_factory=list)  # (V_w, W) per window


def _in_ledger(name: str) -> property:
    """An attribute of the simulation that is the ledger's record `name`."""
    return property(attrgetter(f"ledger.{name}"),  # read in C: the day loop reads them
                    lambda self, value: setattr(self.ledger, name, value),
                    doc=f"`Ledger.{name}`")


class Simulation:
    """Drives a strategy over a market, session by session. No I/O."""

    def __init__(self, strategy: Strategy, market: Market,
                 like: Simulation | None = None) -> None:
        """`like`: a simulation of the same strategy on the same calendar whose
        schedule this one may share (the paths of a Monte Carlo batch)."""
        self.strategy = strategy
        self.market = market
        self.settings = strategy.account
        self.n = len(market.sessions)
        tix = {t: i for i, t in enumerate(market.tickers)}
        self.book = Book(strategy.portfolio, tix, strategy.account.share_decimals)
        self.cash = 0.0
        self.queue: list[Request] = []
        self.ledger = Ledger.for_sessions(self.n)
        self.next_session = 0
        close = market.close
        self._close_ffill = _ffill(close) if np.isnan(close).any() else close  # read only
        self._schedule(like)
        if like is not None and like.strategy is strategy:  # the same starting tree
            self.shapes = [like.shapes[0]]
            self._member0 = like._member0
        else:
            self.shapes = [(0, self.book.shape())]
            self._member0 = membership(self.shapes[0][1], len(self.book.leaf_paths))
        self._member = self._member0
        self._drift_rebalance_at: int | None = None

    # ---- the ledger's records under the names the batch engine uses ---------------
    # (it rebinds the per-session arrays to rows of its own arrays)
    deposits = _in_ledger("deposits")
    dividends = _in_ledger("dividends")
    withdrawals = _in_ledger("withdrawals")
    payouts = _in_ledger("payouts")
    cash_at = _in_ledger("cash_at")
    share_snapshots = _in_ledger("snapshots")
    shapes = _in_ledger("trees")

    # ---- precomputed schedule ----------------------------------------------------
    def _schedule(self, like: Simulation | None = None) -> None:
        if (like is not None and like.strategy is self.strategy
                and like.market.sessions is self.market.sessions
                and like.market.halts is self.market.halts):
            # The same strategy on the same calendar (a batch of Monte Carlo paths):
            # the same dated flows, requests, periodic rebalances and halts.
            self.deposit_in = like.deposit_in.copy()
            self.requests_at, self.periodic = like.requests_at, like.periodic
            self.halts_at = like.halts_at
            self._activity(like)
            return
        self._calendar()
        self._activity()

    def _calendar(self) -> None:
        """The strategy's dated flows and requests, periodic rebalances and halts."""
        sessions = self.market.sessions
        self.deposit_in = np.zeros(self.n)
        self.requests_at: dict[int, list[object]] = defaultdict(list)
        from backtest.engine.schedule import cashflow_values  # indexed, or a percent

        for flow in self.strategy.cashflows:
            for i, (amount, fraction) in zip(cashflow_sessions(flow, sessions),
                                             cashflow_values(flow, sessions), strict=True):
                if flow.kind == "deposit":
                    self.deposit_in[i] += amount
                else:
                    self.requests_at[i].append(Withdrawal(amount, fraction))
        for ev in self.strategy.events:
            i = session_of(sessions, ev.date)
            if i is not None:
                self.requests_at[i].append(ev)
        self.periodic = new_period_sessions(sessions, self.strategy.rebalance.every)
        self.halts_at: dict[int, list[Halt]] = defaultdict(list)
        for h in self.market.halts:
            i = int(np.searchsorted(sessions, np.datetime64(h.date, "D")))
            if i < self.n and sessions[i] == np.datetime64(h.date, "D"):
                self.halts_at[i].append(h)

    def _activity(self, like: Simulation | None = None) -> None:
        """The sessions where something can happen (the rest are jumped over).

        `like`: a simulation with the same schedule (see `_schedule`), whose
        calendar part (flows, requests, halts, rebalances, windows the close
        skips) this one shares; only the prices' part is this market's own."""
        self.windows = (["morning", "afternoon"] if self.settings.window == "both"
                        else [self.settings.window])
        if like is not None and np.array_equal(like.market.close_time, self.market.close_time):
            planned = like._planned
        else:
            planned = self.deposit_in > 0
            planned |= self.periodic
            for i in list(self.requests_at) + list(self.halts_at):
                planned[i] = True
            for w in self.windows:
                planned |= self.market.close_time <= WINDOW_START[w]
            if self.n:
                planned[0] = True
        self._planned = planned  # read only: shared with the simulations made like this one
        active = planned.copy()
        if self.market.dividend.any():
            active |= (self.market.dividend > 0).any(axis=1)
        if self._close_ffill is not self.market.close:  # some close is missing
            active |= self._fill_prices_missing()
        self.scheduled = active

    def _fill_prices_missing(self) -> np.ndarray:
        miss = np.isnan(self.market.close)
        if "morning" in self.windows and self.market.has_open:
            miss |= np.isnan(self.market.open) & np.isnan(self.market.close)
        return miss.any(axis=1)

    # ---- driving ----------------------------------------------------------------
    def sessions(self) -> Iterator[SessionReport]:
        """Yield a report for every remaining session, in order."""
        while self.next_session < self.n:
            yield self.step()

    def step(self) -> SessionReport:
        """Process the next session and report it."""
        i = self.next_session
        self.next_session += 1
        report = self._process(i) if self._is_active(i) else SessionReport(
            i, self._date(i), self.cash, 0.0, 0.0, 0.0, shares=self.book.shares.copy())
        report.value = self.cash + float(sum_last(self.close_values(i)))
        return report

    def close_values(self, i: int) -> np.ndarray:
        """Each leaf's value at session i's close (last known close where missing)."""
        return _leaf_values(self.book.shares, self.book.leaf_columns,
                            self._close_ffill[i:i + 1])[0]

    def weights(self, i: int) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """(slice paths, targets, actual weights in the parent pie) at session i's close."""
        shape = self.book.shape()
        lv = self.close_values(i)[None, :]
        return shape.paths, shape.target, slice_weights(lv, shape)[0]

    def run_to_end(self) -> None:
        """Process every remaining session, skipping those where nothing happens:
        a batch of one account (`backtest.engine.batch`)."""
        from backtest.engine.batch import run_batch

        run_batch([self])

    def _run_alone(self) -> None:
        """The same loop for this account alone, step by step (a batch too small
        for the array form)."""
        active = self.scheduled
        while self.next_session < self.n:
            i = self.next_session
            if not self._dynamic_pending(i):
                nxt = np.flatnonzero(active[i:])
                jump = i + int(nxt[0]) if len(nxt) else self.n
                if self._drift_rebalance_at is not None:
                    jump = min(jump, self._drift_rebalance_at)
                if jump >= self.n:
                    self.next_session = self.n
                    break
                i = jump
            self.next_session = i + 1
            self._advance(i)

    def _is_active(self, i: int) -> bool:
        return bool(self.scheduled[i]) or self._dynamic_pending(i)

    def _dynamic_pending(self, i: int) -> bool:
        if self.queue or self._drift_rebalance_at == i:
            return True
        s = self.settings
        excess = self.cash - s.cash_minimum
        return s.auto_invest and reaches(excess, s.min_auto_invest) and excess > 0

    def _date(self, i: int) -> dt.date:
        return self.market.sessions[i].astype(object)

    # ---- one session ----------------------------------------------------------------
    def _process(self, i: int) -> SessionReport:
        """Run session i and report it (for replay)."""
        n_events = len(self.ledger.events)
        n_windows = len(self.ledger.windows)
        n_payouts = len(self.payouts)
        self._advance(i)
        return SessionReport(i, self._date(i), self.cash, float(self.deposit_in[i]),
                             float(self.dividends[i]), float(self.withdrawals[i]),
                             self.ledger.windows[n_windows:], self.ledger.events[n_events:],
                             shares=self.book.shares.copy(),
                             payouts=[(v, w) for _, v, w in self.payouts[n_payouts:]])

    def _advance(self, i: int) -> None:
        """Run session i: cash arrives, requests join the queue, the windows, the close."""
        version = self.book.version
        before = self.book.units.copy()
        self._cash_arrives(i)
        self._queue_requests(i)
        for w in self.windows:
            self._window(i, w)
        self.cash_at[i] = self.cash
        if self.book.version != version:
            shape = self.book.shape()
            self.shapes.append((i, shape))
            self._member = membership(shape, len(self.book.leaf_paths))
        if len(before) != len(self.book.units) or (before != self.book.units).any():
            self.share_snapshots.append((i, self.book.shares))
        if self.strategy.rebalance.drift_band is not None:
            self._check_drift(i)

    @cached_property
    def _dividend_sessions(self) -> np.ndarray:
        """Sessions where some ticker pays (or has an unreadable) dividend."""
        return (self.market.dividend != 0).any(axis=1)

    def _cash_arrives(self, i: int) -> None:
        self.cash += float(self.deposit_in[i])  # a plain float: cheaper arithmetic after
        self.deposits[i] = self.deposit_in[i]
        if len(self.book.units) and self._dividend_sessions[i]:  # else 0.0 is paid
            per_share = self.market.dividend[i, self.book.leaf_columns]
            # Added leaf by leaf, in leaf order: the batch engine adds the same way.
            self.dividends[i] = sum((self.book.shares * per_share).tolist())
            self.cash += float(self.dividends[i])
            if self.settings.dividends == "reinvest" and self.dividends[i] > 0:
                self._queue_dividend_buys(self.book.shares * per_share)

    def _queue_dividend_buys(self, paid: np.ndarray) -> None:
        """Each slice's dividend of at least `min_trade` waits to be bought back into
        that slice; a removed slice's leaving holdings get theirs as cash."""
        for leaf in np.flatnonzero(paid > 0).tolist():
            if reaches(float(paid[leaf]), self.settings.min_trade) and \
                    self.book.leaf_in_tree(leaf):
                self.queue.append(DividendBuy(leaf, self.book.leaf_paths[leaf],
                                              float(paid[leaf])))

    def _queue_requests(self, i: int) -> None:
        """Requests join the queue in this order: a drift-band rebalance (found at
        the previous close), a periodic one (at the start of the session), then the
        dated requests in file order. Target edits, additions and removals change
        the pie at once; a removal's holdings wait in the queue for their sale."""
        if self._drift_rebalance_at == i:
            self._queue_rebalance(RebalanceRequest(self._date(i), ROOT))
            self._drift_rebalance_at = None
        if self.periodic[i]:
            self._queue_rebalance(RebalanceRequest(self._date(i), ROOT))
        for req in self.requests_at.get(i, ()):
            if isinstance(req, SetTargets):
                self.book.set_targets(req.pie, dict(req.targets))
                self.ledger.event(i, EventKind.TARGET_EDIT, req.pie)
            elif isinstance(req, AddSlice):
                self.book.add_slices(req.pie, dict(req.targets), req.new)
                added = ", ".join(name for name, _ in req.new)
                self.ledger.event(i, EventKind.TARGET_EDIT, f"{req.pie}: added {added}")
            elif isinstance(req, RemoveSlice):
                self.queue.append(Leaving(self.book.remove(req.path, dict(req.targets))))
            elif isinstance(req, RebalanceRequest):
                self._queue_rebalance(req)
            else:
                assert isinstance(req, Order | Withdrawal)
                self.queue.append(req)

    def _queue_rebalance(self, req: RebalanceRequest) -> None:
        """A rebalance of a pie already waiting is not queued twice."""
        if not any(isinstance(r, RebalanceRequest) and r.pie == req.pie for r in self.queue):
            self.queue.append(req)

    # ---- the window ----------------------------------------------------------------
    def _window(self, i: int, name: str) -> None:
        start = WINDOW_START[name]
        end = start + self.settings.window_minutes
        close = int(self.market.close_time[i])
        if close <= start:
            self.ledger.event(i, EventKind.WINDOW_SKIPPED,
                              f"{name} window: the session closes early at {_hhmm(close)}")
            return
        halts = self.halts_at.get(i, ())
        market_halt = next((h for h in halts if h.is_market and h.overlaps(start, end)), None)
        if market_halt is not None:
            until = "close" if market_halt.effective_end() >= 24 * 60 else \
                _hhmm(market_halt.effective_end())
            self.ledger.event(i, EventKind.HALT_DEFERRED,
                              f"{name} window: market halt level {market_halt.level} "
                              f"{_hhmm(market_halt.start)}-{until}")
            return
        prices = self._window_prices(i, name, [h for h in halts if not h.is_market
                                               and h.overlaps(start, end)])
        win = Window(self.book, self.cash, prices, self.settings)
        out = win.run(self.queue, self.settings.auto_invest)
        self.cash = win.cash
        self.queue = out.deferred
        self.withdrawals[i] += out.withdrawn
        if out.withdrawn > 0:
            self.payouts.append((i, out.value_before_payout, out.withdrawn))
        self.ledger.windows.append(WindowRecord(i, name, prices.fill, out.fills))
        for kind, detail in out.events:
            self.ledger.event(i, kind, detail)

    def _window_prices(self, i: int, name: str, ticker_halts: list[Halt]) -> WindowPrices:
        m = self.market
        close = m.close[i]
        if name == "morning" and m.has_open:
            fill = np.where(np.isnan(m.open[i]), close, m.open[i])
        else:
            fill = close.copy()
        if not ticker_halts and not np.isnan(fill).any():  # every column trades
            return WindowPrices(fill, fill, Restrictions.none(len(close)))
        last = self._close_ffill[i - 1] if i > 0 else np.full(len(close), np.nan)
        value = np.where(np.isnan(fill), last, fill)
        value[np.isnan(value)] = 0.0  # never priced yet: nobody holds it
        halted: dict[int, str] = {}
        missing = np.flatnonzero(np.isnan(fill)).tolist()
        in_tree = self.book.leaf_columns_in_tree() if len(missing) else set()
        for col in missing:
            halted[col] = f"{m.tickers[col]} has no price"
            if col in in_tree and name == self.windows[0]:
                self.ledger.event(i, EventKind.MISSING_PRICE,
                                  f"{m.tickers[col]} has no price on this session: "
                                  "treated as halted")
        for h in ticker_halts:
            if h.scope in m.tickers:
                col = m.tickers.index(h.scope)
                end = "close" if h.end is None else _hhmm(h.end)
                halted[col] = f"{h.scope} halted ({h.level} {_hhmm(h.start)}-{end})"
        return WindowPrices(fill, value, Restrictions.of(len(m.tickers), halted))

    # ---- drift band -------------------------------------------------------------------
    def _check_drift(self, i: int) -> None:
        """Find the first close from `i` (while nothing else happens) beyond the band."""
        if self._drift_rebalance_at is not None:
            return
        if self._dynamic_pending(i + 1) or i + 1 >= self.n:
            stop = i + 1
        else:
            nxt = np.flatnonzero(self.scheduled[i + 1:])
            stop = i + 1 + int(nxt[0]) if len(nxt) else self.n
        shape = self.shapes[-1][1]
        lv = _leaf_values(self.book.shares, self.book.leaf_columns,
                          self._close_ffill[i:stop])
        k = first_breach(slice_weights(lv, shape, self._member), shape,
                         self.strategy.rebalance.drift_band / 100.0)
        if k is not None and i + k + 1 < self.n:
            self._drift_rebalance_at = i + k + 1


def _ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down the rows (last known value per column)."""
    if a.size == 0:
        return a.copy()
    idx = np.where(np.isnan(a), 0, np.arange(a.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])[None, :]]
    return out


def _leaf_values(shares: np.ndarray, leaf_ticker: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """(sessions x leaves) values of constant holdings at the given closes."""
    px = closes[:, leaf_ticker] if len(leaf_ticker) else closes[:, :0]
    return np.where(shares[None, :] > 0, shares[None, :] * np.nan_to_num(px), 0.0)
