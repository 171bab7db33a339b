"""Many accounts in one pass over the sessions: the engine's driver.

A batch is a list of `Simulation`s that share the session calendar (their
markets have the same sessions, tickers, early closes and halts); each has
its own prices, settings, cash flows and rebalance policy. A single run is a
batch of one (`Simulation.run_to_end` calls `run_batch([self])`).

Holdings live in one (accounts x leaves) int64 grid-unit array (each book's
`units` is a row of it) and cash in one array. Each session, the accounts
with something to do split in two:

- the common session runs for all such accounts at once, in array
  operations over the accounts (when there are at least `FAST_MIN` of them):
  cash arrives; in the first window a periodic or drift-band rebalance of the
  portfolio (`batch_rebalance`) and the one plain withdrawal due; then
  auto-invest, by the waterfill or the proportional rule (`batch_rules`); an
  early close writes its skipped windows. No queue, halt, missing price,
  dividend to reinvest or tree change;
- every other account runs the session through `Simulation._advance` (the
  window step by step), one account at a time.

Which way an account goes depends only on that account's own state, and the
array form does, per account, the same floating-point operations in the same
order as the step-by-step window (sums are sequential; see
`Window._execute_buys`), so an account gives bit for bit the same fills,
cash and values whatever batch it runs in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backtest.engine import book as book_module
from backtest.engine.batch_rebalance import rebalance_rows
from backtest.engine.batch_rules import proportional_rows, proportional_withdrawal_rows
from backtest.engine.ledger import EventKind, Reason, WindowRecord
from backtest.engine.requests import Withdrawal, describe
from backtest.engine.restrictions import Restrictions
from backtest.engine.simulation import WINDOW_START, Simulation, _hhmm
from backtest.engine.sums import sum_last
from backtest.engine.window import GRID_EPS, MAX_UNITS, MONEY_EPS, Window, WindowPrices

FAST_MIN = 8  # accounts: fewer than this run the common session step by step too


@dataclass
class BatchState:
    """What a finished batch keeps per account, in compact arrays.

    cash[a, i]: cash at close i (NaN where account a's session was skipped:
    forward-fill it); snapshots: (session, units) after every session where
    some account's holdings changed (units: accounts x leaves grid units).
    """

    cash: np.ndarray
    snapshots: list[tuple[int, np.ndarray]]


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Stacked along a new first axis; a read-only view where every account has
    the same array (a batch of one, or the variants of a sweep on one market)."""
    if all(a is arrays[0] for a in arrays):
        return np.broadcast_to(arrays[0], (len(arrays), *arrays[0].shape))
    return np.stack(arrays)


_col_sum = sum_last


def _sorted_by(order: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Each (rows x k) array's rows in `order` (`take_along_axis`, with less overhead)."""
    k = order.shape[1]
    flat = order + np.arange(0, order.shape[0] * k, k)[:, None]
    return [np.take(a, flat) for a in arrays]


def _next_or(s_ratio: np.ndarray, last: float) -> np.ndarray:
    """Each sorted slice's next fill ratio (`last` after the last slice)."""
    out = np.empty_like(s_ratio)
    out[:, :-1] = s_ratio[:, 1:]
    out[:, -1] = last
    return out


def waterfill_rows(values: np.ndarray, targets: Sequence[float],
                   amounts: np.ndarray) -> np.ndarray:
    """`allocation.waterfill_deposit` for one pie in many accounts at once
    (values: accounts x children), with the same operations in the same order."""
    held = values[:, 0].copy()
    for c in range(1, values.shape[1]):
        held += values[:, c]
    total = held + amounts
    cap = np.asarray(targets, dtype=float)[None, :] * total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = values / cap
        order = np.argsort(ratio, axis=1, kind="stable")
        s_cap, s_val, s_ratio = _sorted_by(order, cap, values, ratio)
        cum_cap = np.cumsum(s_cap, axis=1)
        cum_val = np.cumsum(s_val, axis=1)
        upper = np.minimum(_next_or(s_ratio, np.inf), 1.0)
        ok = upper * cum_cap - cum_val >= (amounts - 1e-12 * total)[:, None]
        first = np.argmax(ok, axis=1)
        at = first + np.arange(0, len(held) * values.shape[1], values.shape[1])
        level = np.minimum((amounts + np.take(cum_val, at)) / np.take(cum_cap, at), 1.0)
    level = np.where(ok.any(axis=1), level, 1.0)
    out = np.maximum(0.0, level[:, None] * cap - values)
    out = np.where((held <= 0)[:, None], cap, out)
    return np.where((amounts > 0)[:, None], out, 0.0)


def waterfill_withdrawal_rows(values: np.ndarray, targets: Sequence[float],
                              amounts: np.ndarray) -> np.ndarray:
    """`allocation.waterfill_withdrawal` for one pie in many accounts at once,
    with the same operations in the same order."""
    held = values[:, 0].copy()
    for c in range(1, values.shape[1]):
        held += values[:, c]
    total = held - amounts
    cap = np.asarray(targets, dtype=float)[None, :] * total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cap > 0, values / cap, np.inf)
        order = np.argsort(-ratio, axis=1, kind="stable")
        s_cap, s_val, s_ratio = _sorted_by(order, cap, values, ratio)
        cum_cap = np.cumsum(s_cap, axis=1)
        cum_val = np.cumsum(s_val, axis=1)
        lower = np.maximum(_next_or(s_ratio, 0.0), 1.0)
        ok = cum_val - lower * cum_cap >= (amounts - 1e-12 * (total + amounts))[:, None]
        first = np.argmax(ok, axis=1)
        at = first + np.arange(0, len(held) * values.shape[1], values.shape[1])
        level = np.maximum((np.take(cum_val, at) - amounts) / np.take(cum_cap, at), 1.0)
        level = np.where(ok.any(axis=1), level, 1.0)
        out = np.maximum(0.0, values - level[:, None] * cap)
    out = np.where((total <= 0)[:, None], values, out)
    return np.where((amounts > 0)[:, None], out, 0.0)


class Batch:
    """Drives many simulations session by session (see the module docstring)."""

    # The allocation rule of the accounts in the array form now (`_fast` sets them).
    deposit_rows = staticmethod(waterfill_rows)
    withdrawal_rows = staticmethod(waterfill_withdrawal_rows)

    def __init__(self, sims: Sequence[Simulation], tables: Sequence[bool] | bool = True,
                 close: np.ndarray | None = None, open_: np.ndarray | None = None,
                 dividend: np.ndarray | None = None) -> None:
        self.sims = list(sims)
        first = self.sims[0]
        self.n = first.n
        for s in self.sims[1:]:
            if s.n != self.n or not np.array_equal(s.market.sessions, first.market.sessions):
                raise ValueError("the accounts of a batch must share the session calendar")
        A = len(self.sims)
        self.tables = np.broadcast_to(np.asarray(tables, dtype=bool), (A,)).copy()
        self.close = close if close is not None else _stack([s.market.close for s in sims])
        self.open = open_ if open_ is not None else _stack([s.market.open for s in sims])
        self.dividend = (dividend if dividend is not None
                         else _stack([s.market.dividend for s in sims]))
        self.has_open = np.array([s.market.has_open for s in sims])
        # pays_on[i]: some account may be paid a dividend on session i (NaN included)
        d = self.dividend
        if d.ndim == 3 and len(d) and d.strides[0] == 0:  # one row shared by every account
            d = d[0][None]
        self.pays_on = ((d != 0).any(axis=(0, 2)) if d.any()
                        else np.zeros(self.n, dtype=bool))
        # Shared histories: each simulation's arrays become rows (views) of these.
        self.deposits = np.zeros((A, self.n))
        self.withdrawals = np.zeros((A, self.n))
        self.dividends = np.zeros((A, self.n))
        self.deposit_in = np.stack([s.deposit_in for s in sims])
        for a, s in enumerate(self.sims):
            self.deposits[a] = s.deposits
            self.withdrawals[a] = s.withdrawals
            self.dividends[a] = s.dividends
            s.deposits, s.withdrawals, s.dividends = (
                self.deposits[a], self.withdrawals[a], self.dividends[a])
        self.cash = np.array([s.cash for s in sims], dtype=float)
        self.payout_lists = [s.payouts for s in sims]  # the ledgers' own lists
        self.cash_hist = np.full((A, self.n), np.nan)
        self.units = np.zeros((A, 0), dtype=np.int64)
        self._bind_units()
        st = [s.settings for s in sims]
        self.auto = np.array([x.auto_invest for x in st])
        self.cash_min = np.array([x.cash_minimum for x in st], dtype=float)
        self.min_auto = np.array([x.min_auto_invest for x in st], dtype=float)
        self.min_trade = np.array([x.min_trade for x in st], dtype=float)
        self.scale = np.array([10 ** x.share_decimals for x in st], dtype=np.int64)
        self.in_window = {w: np.array([w in s.windows for s in sims]) for w in WINDOW_START}
        self.drift = np.array([s.strategy.rebalance.drift_band is not None for s in sims])
        self.drift_at = np.array([-1 if s._drift_rebalance_at is None
                                  else s._drift_rebalance_at for s in sims], dtype=np.int64)
        self.queued = np.array([bool(s.queue) for s in sims])
        self.active = np.stack([s.scheduled for s in sims])
        any_active = self.active.any(axis=0)
        # next_active[i]: the first session >= i where some account is scheduled
        idx = np.where(any_active, np.arange(self.n), self.n)
        self.next_active = np.append(np.minimum.accumulate(idx[::-1])[::-1], self.n)
        # The one plain withdrawal due on a session (0: none), which the array form pays.
        self.w_amount = np.zeros((A, self.n))
        done: dict[int, int] = {}  # id(requests_at) -> the first account with it
        for a, s in enumerate(self.sims):
            b = done.setdefault(id(s.requests_at), a)
            if b != a:  # a shared schedule (paths of one plan): the same withdrawals
                self.w_amount[a] = self.w_amount[b]
                continue
            for i, reqs in s.requests_at.items():
                if len(reqs) == 1 and type(reqs[0]) is Withdrawal and \
                        getattr(reqs[0], "fraction", None) is None:
                    self.w_amount[a, i] = reqs[0].amount
        self.first_window = {w: np.array([s.windows[0] == w for s in sims])
                             for w in WINDOW_START}
        self.fast_ok = self._fast_table(done)
        self.sig = np.zeros(A, dtype=np.int64)
        self._sigs: dict[tuple, int] = {}
        self._signed: dict[int, tuple[int, int]] = {}  # (tree version, leaves) when tagged
        self._small: dict[int, bool] = {}
        for a in range(A):
            self._sign(a)
        self.snapshots: list[tuple[int, np.ndarray]] = []

    # ---- set-up ---------------------------------------------------------------------
    def _bind_units(self) -> None:
        """(Re)build the holdings array and make each book's `units` a row of it."""
        width = max(len(s.book.units) for s in self.sims)
        units = np.zeros((len(self.sims), width), dtype=np.int64)
        for a, s in enumerate(self.sims):
            units[a, :len(s.book.units)] = s.book.units
        self.units = units
        for a, s in enumerate(self.sims):
            s.book.units = units[a, :len(s.book.units)]

    def _units_bound(self, a: int) -> bool:
        u = self.sims[a].book.units
        return u.base is self.units and len(u) == self.units.shape[1]

    def _sign(self, a: int) -> None:
        """Accounts whose trees are the same (structure and leaf ids) share a tag."""
        book = self.sims[a].book
        self._signed[a] = (book.version, len(book.leaf_paths))
        key = (book.version, tuple(book.leaf_ticker), len(book.leaf_paths))
        self.sig[a] = self._sigs.setdefault(key, len(self._sigs))

    def _fast_table(self, schedules: dict[int, int]) -> np.ndarray:
        """(accounts x sessions) the sessions each account may run in array form
        (before its own state): what its schedule allows (`_scheduled_fast`, found
        once for the accounts that share one: the paths of a Monte Carlo plan) and
        its prices (`_market_fast`). schedules: id(requests_at) -> its first account."""
        out = np.empty((len(self.sims), self.n), dtype=bool)
        planned: dict[tuple, tuple[Simulation, np.ndarray]] = {}
        for a, s in enumerate(self.sims):
            key = (schedules[id(s.requests_at)], id(s.halts_at), id(s.periodic),
                   s.settings.allocation, tuple(s.windows))
            have = planned.get(key)
            if have is None or not np.array_equal(have[0].market.close_time,
                                                  s.market.close_time):
                have = planned[key] = (s, self._scheduled_fast(s, self.w_amount[a] > 0))
            out[a] = have[1]
            out[a] &= self._market_fast(s)
        return out

    @staticmethod
    def _scheduled_fast(s: Simulation, withdrawal: np.ndarray) -> np.ndarray:
        """The array form's sessions as far as the account's schedule, settings and the
        calendar decide it (its requests, halts and early closes)."""
        ok = np.full(s.n, s.settings.allocation in ROWS)
        for i in list(s.requests_at) + list(s.halts_at):
            ok[i] = False
        ok |= withdrawal & (s.settings.allocation in ROWS)
        for i in s.halts_at:
            ok[i] = False
        # An early close that skips the first window (and so every window): the
        # array form writes the skip, but a request due would wait in the queue.
        ok &= ~((s.market.close_time <= WINDOW_START[s.windows[0]]) & (s.periodic | withdrawal))
        return ok

    @staticmethod
    def _market_fast(s: Simulation) -> np.ndarray:
        """The array form's sessions as far as the account's prices decide it (a missing
        price; a dividend to reinvest)."""
        if s._close_ffill is s.market.close:  # no close missing (`Simulation` looked)
            miss = np.zeros(s.n, dtype=bool)
        else:
            miss = np.isnan(s.market.close).any(axis=1)
        if "morning" in s.windows and s.market.has_open:
            miss |= np.isnan(s.market.open).any(axis=1)
        ok = ~miss
        if s.settings.dividends == "reinvest":
            ok &= ~(s.market.dividend > 0).any(axis=1)
        return ok

    # ---- the loop ---------------------------------------------------------------------
    def _pending(self, i: int) -> np.ndarray:
        excess = self.cash - self.cash_min
        return (self.queued | (self.drift_at == i)
                | (self.auto & (excess >= self.min_auto - MONEY_EPS) & (excess > 0)))

    def run(self) -> BatchState:
        # A periodic rebalance due (of the whole portfolio), and the accounts that
        # rebalance in array form in this session's first window.
        self.periodic = np.stack([s.periodic for s in self.sims])
        self.rebalancing = np.zeros(len(self.sims), dtype=bool)
        self.allocation = np.array([s.settings.allocation for s in self.sims])
        rules = set(self.allocation.tolist())
        self.one_rule: str | None = rules.pop() if len(rules) == 1 else None
        self.close_time = self.sims[0].market.close_time
        self.first_start = np.array([WINDOW_START[s.windows[0]] for s in self.sims])
        i = 0
        while i < self.n:
            pend = self._pending(i)
            if not pend.any():
                j = int(self.next_active[i])
                later = self.drift_at[self.drift_at >= i]
                if len(later):
                    j = min(j, int(later.min()))
                if j >= self.n:
                    break
                i = j
                pend = self._pending(i)
            mask = pend | self.active[:, i]
            if mask.any():
                self._session(i, np.flatnonzero(mask))
            i += 1
        for a, s in enumerate(self.sims):
            s.cash = float(self.cash[a])
            s.next_session = self.n
            if self.tables[a]:
                row = self.cash_hist[a]
                s.cash_at = {int(k): float(row[k]) for k in np.flatnonzero(~np.isnan(row))}
        return BatchState(self.cash_hist, self.snapshots)

    def _session(self, i: int, idx: np.ndarray) -> None:
        before = self.units[idx].copy()
        if len(idx) < FAST_MIN:  # array calls cost more than they save
            fast = np.zeros(len(idx), dtype=bool)
        else:
            fast = self.fast_ok[idx, i] & ~self.queued[idx]
            # A drift rebalance due when an early close skips the account's windows waits.
            fast &= ~((self.drift_at[idx] == i) & (self.close_time[i] <= self.first_start[idx]))
            fast &= self._small_tree(self.sig[idx])
            if np.count_nonzero(fast) < FAST_MIN:
                fast[:] = False
        slow = idx[~fast]
        for a in slow.tolist():
            self._slow(i, a)
        if fast.any():
            self._fast(i, idx[fast], before[fast])
        if self.units.shape[1] != before.shape[1] or \
                not np.array_equal(self.units[idx], before):
            self.snapshots.append((i, self.units.copy()))

    def _small_tree(self, tags: np.ndarray) -> np.ndarray:
        """Whether each tag's tree is small enough for the plain-list rules."""
        out = np.zeros(len(tags), dtype=bool)
        for tag in ([int(tags[0])] if (tags == tags[0]).all() else np.unique(tags).tolist()):
            if tag not in self._small:
                book = self.sims[int(np.flatnonzero(self.sig == tag)[0])].book
                self._small[tag] = len(book.layout().leaf) <= book_module.SMALL
            out[tags == tag] = self._small[tag]
        return out

    def _slow(self, i: int, a: int) -> None:
        s = self.sims[a]
        s.cash = float(self.cash[a])
        s.next_session = i + 1
        s._advance(i)
        if not self._units_bound(a):
            self._bind_units()
        self.cash[a] = s.cash
        self.cash_hist[a, i] = s.cash
        self.queued[a] = bool(s.queue)
        self.drift_at[a] = -1 if s._drift_rebalance_at is None else s._drift_rebalance_at
        if self._signed.get(a) != (s.book.version, len(s.book.leaf_paths)):
            self._sign(a)  # the tree changed

    # ---- the common session, in array form ----------------------------------------------
    def _fast(self, i: int, idx: np.ndarray, before: np.ndarray) -> None:
        # The rebalance due, periodic or found by the drift band at the last close,
        # is one request (a rebalance of the portfolio is never queued twice).
        drifted = idx[self.drift_at[idx] == i]
        for a in drifted.tolist():
            self.sims[a]._drift_rebalance_at = None
        self.drift_at[drifted] = -1
        self.rebalancing[:] = False
        self.rebalancing[idx[self.periodic[idx, i]]] = True
        self.rebalancing[drifted] = True
        sigs = self.sig[idx]
        one_tree = bool((sigs == sigs[0]).all())  # usually: no np.unique per session
        for tag in ([int(sigs[0])] if one_tree else np.unique(sigs).tolist()):
            group = idx if one_tree else idx[sigs == tag]
            rules = [self.one_rule] if self.one_rule is not None \
                else np.unique(self.allocation[group]).tolist()
            for rule in rules:
                same = group if self.one_rule is not None \
                    else group[self.allocation[group] == rule]
                self.deposit_rows, self.withdrawal_rows = ROWS[rule]
                self._fast_group(i, same, self.sims[int(same[0])].book)
        for k, a in enumerate(idx.tolist()):
            if self.tables[a] and not np.array_equal(self.units[a], before[k]):
                s = self.sims[a]
                s.share_snapshots.append((i, s.book.shares))
            if self.drift[a]:
                s = self.sims[a]
                s.cash = float(self.cash[a])
                s._check_drift(i)
                self.drift_at[a] = -1 if s._drift_rebalance_at is None \
                    else s._drift_rebalance_at

    def _fast_group(self, i: int, idx: np.ndarray, book) -> None:
        """Cash arrives, then each window auto-invests, for accounts on one tree."""
        cols = book.leaf_columns
        dep = self.deposit_in[idx, i]
        self.cash[idx] += dep
        self.deposits[idx, i] = dep
        if len(cols) and self.pays_on[i]:  # else every account is paid 0.0
            shares = self.units[idx][:, :len(cols)] / self.scale[idx][:, None]
            paid = _col_sum(shares * self.dividend[idx, i][:, cols])
            self.dividends[idx, i] = paid
            self.cash[idx] += paid
        for name in ("morning", "afternoon"):
            sub = self._open_window(i, name, idx)
            if len(sub):
                self._window(i, name, sub, book)
        self.cash_hist[idx, i] = self.cash[idx]

    def _open_window(self, i: int, name: str, idx: np.ndarray) -> np.ndarray:
        """The accounts of `idx` that trade in window `name` of session i; an early
        close before the window skips it (`Simulation._window`'s event)."""
        sub = idx[self.in_window[name][idx]]
        close = int(self.close_time[i])
        if close > WINDOW_START[name]:
            return sub
        for a in sub.tolist():
            self.sims[a].ledger.event(i, EventKind.WINDOW_SKIPPED,
                                      f"{name} window: the session closes early at "
                                      f"{_hhmm(close)}")
        return sub[:0]

    def _window(self, i: int, name: str, idx: np.ndarray, book) -> None:
        """One window for accounts on one tree: the withdrawal due (in the account's
        first window), then auto-invest; `Window`'s steps as array operations."""
        close = self.close[idx, i]
        if name == "morning":
            fill = np.where(self.has_open[idx][:, None] & ~np.isnan(self.open[idx, i]),
                            self.open[idx, i], close)
        else:
            fill = close
        lay = book.layout()
        cols = book.leaf_columns
        leaf_pos = np.flatnonzero(lay.leaf >= 0)
        leaf_ids = lay.leaf[leaf_pos]
        fills: dict[int, list] = {}
        first = self.first_window[name][idx]
        self._rebalance(idx[first & self.rebalancing[idx]], fill[first & self.rebalancing[idx]],
                        lay, leaf_pos, leaf_ids, cols, fills)
        wanted = np.where(first, self.w_amount[idx, i], 0.0)
        paying = np.flatnonzero(wanted > 0)
        paid_ok = np.zeros(len(idx), dtype=bool)
        if len(paying):
            paid_ok[paying] = self._withdraw(i, idx[paying], wanted[paying], fill[paying],
                                             lay, leaf_pos, leaf_ids, cols, fills)
        self._auto_invest(i, idx, fill, lay, leaf_pos, leaf_ids, cols, fills)
        rows = np.flatnonzero(paid_ok)
        if len(rows):  # V_w: the account before the payout, after auto-invest
            acc = idx[rows]
            held = _col_sum(self.units[acc][:, :len(cols)] * fill[rows][:, cols]
                            / self.scale[acc][:, None])
            paid = wanted[rows]
            self.withdrawals[acc, i] += paid
            before = self.cash[acc] + paid + held
            lists = self.payout_lists
            for a, v, w in zip(acc.tolist(), before.tolist(), paid.tolist(), strict=True):
                lists[a].append((i, v, w))
        for k in np.flatnonzero(self.tables[idx]).tolist():
            a = int(idx[k])
            self.sims[a].ledger.windows.append(
                WindowRecord(i, name, fill[k].copy(), fills.get(a, [])))

    def _node_values(self, acc: np.ndarray, fill: np.ndarray, lay, leaf_pos: np.ndarray,
                     leaf_ids: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(accounts x positions) node values at `fill`, added as `Book.node_values`."""
        lv = self.units[acc][:, :len(cols)] * fill[:, cols] / self.scale[acc][:, None]
        values = np.zeros((len(acc), len(lay.leaf)))
        values[:, leaf_pos] = lv[:, leaf_ids]
        for depth_rows in lay.by_depth_deepest_first:
            for r in depth_rows.tolist():
                values[:, lay.parent[r]] += values[:, r]
        return values

    @staticmethod
    def _split(values: np.ndarray, amount: np.ndarray, lay, rule) -> np.ndarray:
        """Each position's dollars from `amount` at the root, pie by pie in pre-order."""
        amt = np.zeros_like(values)
        amt[:, 0] = amount
        for p in range(len(lay.leaf)):
            if lay.leaf_list[p] < 0:
                kids = lay.kid_list[p]
                amt[:, kids] = rule(values[:, kids], lay.target_list[p], amt[:, p])
        return amt

    def _rebalance(self, acc: np.ndarray, fill: np.ndarray, lay, leaf_pos: np.ndarray,
                   leaf_ids: np.ndarray, cols: np.ndarray, fills: dict[int, list]) -> None:
        """The portfolio's rebalance due in this window (`batch_rebalance`)."""
        if len(acc):
            rebalance_rows(self, acc, fill, lay, leaf_pos, leaf_ids, cols, fills)

    def _withdraw(self, i: int, acc: np.ndarray, wanted: np.ndarray, fill: np.ndarray, lay,
                  leaf_pos: np.ndarray, leaf_ids: np.ndarray, cols: np.ndarray,
                  fills: dict[int, list]) -> np.ndarray:
        """`Window._withdrawal` for accounts paying one withdrawal each; returns the
        accounts that paid."""
        values = self._node_values(acc, fill, lay, leaf_pos, leaf_ids, cols)
        invested = values[:, 0]
        cash = self.cash[acc]
        rejected = ~(cash + invested >= wanted - MONEY_EPS)
        for k in np.flatnonzero(rejected).tolist():  # as `Window._withdrawal` says it
            s = self.sims[int(acc[k])]
            s.ledger.event(i, EventKind.REJECTED,
                           f"{describe(s.requests_at[i][0])} exceeds the "
                           f"account value {cash[k] + invested[k]:.2f}")
        rest = wanted - np.minimum(cash, wanted)
        whole = (rest > 0) & (rest >= invested)
        amt = self._split(values, np.where(whole | rejected, 0.0, rest), lay,
                          self.withdrawal_rows)
        dollars = amt[:, leaf_pos]
        held = self.units[acc][:, leaf_ids]
        price = fill[:, cols[leaf_ids]]
        scale = self.scale[acc][:, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            want = np.where(dollars > 0, np.ceil(dollars / price * scale - GRID_EPS), 0.0)
        units = np.minimum(want, held).astype(np.int64)
        units = np.where(whole[:, None], held, units)
        units[rejected] = 0
        units = np.maximum(units, 0)
        amount = np.where(units > 0, units / scale * price, 0.0)
        ok = ~rejected
        self.units[acc[ok][:, None], leaf_ids[None, :]] -= units[ok]
        self.cash[acc[ok]] += _col_sum(amount[ok])
        self.cash[acc[ok]] = np.maximum(0.0, self.cash[acc[ok]] - wanted[ok])
        for k in np.flatnonzero(ok & self.tables[acc]).tolist():
            got = np.flatnonzero(units[k] > 0)
            fills.setdefault(int(acc[k]), []).extend(zip(
                leaf_ids[got].tolist(), cols[leaf_ids[got]].tolist(), (-units[k, got]).tolist(),
                (-amount[k, got]).tolist(), [Reason.WITHDRAWAL.value] * len(got), strict=True))
        return ok

    def _auto_invest(self, i: int, idx: np.ndarray, fill: np.ndarray, lay,
                     leaf_pos: np.ndarray, leaf_ids: np.ndarray, cols: np.ndarray,
                     fills: dict[int, list]) -> None:
        """`Window._auto_invest`; the rare buy at the very edge of the cash goes to
        `Window` itself."""
        excess = self.cash[idx] - self.cash_min[idx]
        go = self.auto[idx] & (excess >= self.min_auto[idx] - MONEY_EPS) & (excess > 0)
        rows = np.flatnonzero(go)
        if not len(rows) or not len(leaf_pos):
            return
        acc = idx[rows]
        scale = self.scale[acc]
        fill_go = fill if len(rows) == len(idx) else fill[rows]  # usually every account
        values = self._node_values(acc, fill_go, lay, leaf_pos, leaf_ids, cols)
        amt = self._split(values, excess[rows], lay, self.deposit_rows)
        dollars = amt[:, leaf_pos]
        buy = (dollars > 0) & (dollars >= self.min_trade[acc][:, None] - MONEY_EPS)
        price = fill_go[:, cols[leaf_ids]]
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = np.where(buy, dollars / price * scale[:, None], 0.0)
        units = np.floor(exact + GRID_EPS).astype(np.int64)
        units[~buy] = 0
        amount = np.where(buy, units / scale[:, None] * price, 0.0)
        total = _col_sum(amount)
        # A holding near the grid's limit goes to `Window`, whose check decides.
        edge = ((exact + self.units[acc][:, leaf_ids]) >= MAX_UNITS).any(axis=1) | \
            (total > self.cash[acc])
        ok = ~edge
        self.units[acc[ok][:, None], leaf_ids[None, :]] += units[ok]
        self.cash[acc[ok]] -= total[ok]
        for k in np.flatnonzero(ok & self.tables[acc]).tolist():
            got = np.flatnonzero(units[k] > 0)
            fills.setdefault(int(acc[k]), []).extend(zip(
                leaf_ids[got].tolist(), cols[leaf_ids[got]].tolist(), units[k, got].tolist(),
                amount[k, got].tolist(), [Reason.AUTO_INVEST.value] * len(got), strict=True))
        for k in np.flatnonzero(edge).tolist():
            a = int(acc[k])
            s = self.sims[a]
            px = fill[rows[k]]
            win = Window(s.book, float(self.cash[a]),
                         WindowPrices(px, px, Restrictions.none(len(px))), s.settings)
            win._auto_invest()
            self.cash[a] = win.cash
            fills.setdefault(a, []).extend(win.out.fills)


# Each allocation rule's (deposit, withdrawal) split of one pie in many accounts.
ROWS = {"waterfill": (waterfill_rows, waterfill_withdrawal_rows),
        "proportional": (proportional_rows, proportional_withdrawal_rows)}


def run_batch(sims: Sequence[Simulation], tables: Sequence[bool] | bool = True,
              **prices: np.ndarray) -> BatchState | None:
    """Run every simulation of a batch to its end (see `Batch`).

    A batch of fewer than `FAST_MIN` accounts never takes the array form, so
    when every account keeps its tables each one runs the step-by-step loop
    directly: the same decisions, without the batch's bookkeeping (None).
    """
    if len(sims) < FAST_MIN and np.all(tables):
        for s in sims:
            s._run_alone()
        return None
    return Batch(sims, tables, **prices).run()


def _holdings_value(snaps: list[tuple[int, np.ndarray]], cols: np.ndarray,
                    close_ffill: np.ndarray, scale: np.ndarray, n: int) -> np.ndarray:
    """(accounts x sessions) value of the holdings, snapshot by snapshot."""
    value = np.zeros((close_ffill.shape[0], n))
    prices = close_ffill if np.array_equal(cols, np.arange(close_ffill.shape[2])) \
        else close_ffill[:, :, cols]
    clean = not np.isnan(prices).any()
    for k, (i, units) in enumerate(snaps):
        stop = snaps[k + 1][0] if k + 1 < len(snaps) else n
        px = prices[:, i:stop]
        if not clean:
            px = np.nan_to_num(px)
        w = min(len(cols), units.shape[1])  # leaves added later hold nothing yet
        value[:, i:stop] = sum_last((units[:, :w] / scale[:, None])[:, None, :] * px[:, :, :w])
    return value


def batch_values(sims: Sequence[Simulation], state: BatchState,
                 close_ffill: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(accounts x sessions) account value and cash at every close, as
    `result.value_series` gives them one account at a time.

    close_ffill: (accounts x sessions x tickers) last known closes.
    """
    A, n = state.cash.shape
    # (fewer fresh (accounts x sessions) arrays: each costs its page faults)
    idx = np.where(np.isnan(state.cash), 0, np.arange(n)[None, :])
    np.maximum.accumulate(idx, axis=1, out=idx)
    cash = np.nan_to_num(np.take_along_axis(state.cash, idx, axis=1), copy=False)
    del idx
    snaps = state.snapshots
    groups: dict[tuple[int, ...], list[int]] = {}
    for a, s in enumerate(sims):  # accounts whose leaves trade the same columns
        groups.setdefault(tuple(s.book.leaf_columns.tolist()), []).append(a)
    scales = [np.array([sims[a].book.scale for a in members]) for members in groups.values()]
    if len(groups) == 1 and snaps and next(iter(groups)):  # every account: no copy
        value = _holdings_value(snaps, np.asarray(next(iter(groups))), close_ffill,
                                scales[0], n)
    else:
        value = np.zeros((A, n))
        for (key, members), scale in zip(groups.items(), scales, strict=True):
            if snaps and key:
                rows = np.asarray(members)
                value[rows] = _holdings_value([(i, u[rows]) for i, u in snaps],
                                              np.asarray(key), close_ffill[rows], scale, n)
    value += cash  # cash + holdings (the same sum either way round)
    return value, cash


def batch_final_values(sims: Sequence[Simulation], state: BatchState,
                       close_ffill: np.ndarray) -> np.ndarray:
    """Each account's value at the last close: `batch_values(...)[0][:, -1]`, the
    same operations on that one session only (for callers that read nothing else,
    such as Monte Carlo's withdrawal-rate search)."""
    A, n = state.cash.shape
    out = np.zeros(A)
    if not n:
        return out
    seen = ~np.isnan(state.cash)
    last = np.where(seen.any(axis=1), n - 1 - np.argmax(seen[:, ::-1], axis=1), 0)
    cash = np.nan_to_num(state.cash[np.arange(A), last])  # the forward-filled cash
    value = np.zeros(A)
    groups: dict[tuple[int, ...], list[int]] = {}
    for a, s in enumerate(sims):
        groups.setdefault(tuple(s.book.leaf_columns.tolist()), []).append(a)
    if state.snapshots:
        units_last = state.snapshots[-1][1]
        for key, members in groups.items():
            if not key:
                continue
            rows, cols = np.asarray(members), np.asarray(key)
            px = close_ffill[rows, n - 1][:, cols]
            if np.isinf(px).any():  # `_holdings_value` maps them only if a NaN is anywhere
                if np.isnan(close_ffill[rows][:, :, cols]).any():
                    px = np.nan_to_num(px)
            else:
                px = np.nan_to_num(px)
            units = units_last[rows]
            w = min(len(cols), units.shape[1])
            scale = np.array([sims[a].book.scale for a in members])
            value[rows] = sum_last((units[:, :w] / scale[:, None]) * px[:, :w])
    out[:] = cash + value
    return out


__all__ = ["Batch", "BatchState", "batch_final_values", "batch_values", "run_batch",
           "waterfill_rows", "waterfill_withdrawal_rows"]
