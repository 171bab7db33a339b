"""One trade window (trading-model.md, "The window, step by step").

Orders (sells, then buys), slice removals, rebalance requests, withdrawals,
dividend reinvestment, then auto-invest; every step sees the state the step
before left, and within a step requests run in queue order. A request whose
legs that trade (a buy `min_trade` keeps, a sell of at least one grid unit)
would touch a halted (or unpriced) ticker waits for the next window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from backtest.domain.strategy import AccountSettings, Order, RebalanceRequest
from backtest.engine.allocation import (
    DEPOSIT_RULES,
    PIE_DEPOSIT_RULES,
    PIE_WITHDRAWAL_RULES,
    SMALL,
    WITHDRAWAL_RULES,
)
from backtest.engine.book import Book, Node
from backtest.engine.layout import Rules
from backtest.engine.ledger import EventKind, FillRow, Reason
from backtest.engine.requests import DividendBuy, Leaving, Request, Withdrawal, describe
from backtest.engine.restrictions import Restrictions

GRID_EPS = 1e-6  # in grid units: absorbs float noise in amount / price
MAX_UNITS = 2.0**53  # holdings are int64 grid units, exact in float64 only up to 2^53
MONEY_EPS = 1e-6  # dollars: comparisons with a threshold hold within this


def reaches(amount: float, threshold: float) -> bool:
    """`amount >= threshold` within MONEY_EPS, so float rounding (17.04 + 7.96 is
    24.999999999999996) never flips a threshold comparison."""
    return amount >= threshold - MONEY_EPS

Plan = list[tuple[int, float | None]]  # (leaf id, dollars; None = every share)

# Each allocation rule in its two forms, built once (a window is built per session).
_RULES = {name: (Rules(PIE_DEPOSIT_RULES[name], DEPOSIT_RULES[name]),
                 Rules(PIE_WITHDRAWAL_RULES[name], WITHDRAWAL_RULES[name]))
          for name in DEPOSIT_RULES}


@dataclass(frozen=True)
class WindowPrices:
    """Prices of one window, per market column.

    fill: the window's fill price (NaN where there is none).
    value: what holdings are worth in the window (fill, else the last close;
        0 for a column never priced yet, which no one can hold).
    restrictions: the columns that cannot trade now (halted or unpriced), and why.
    """

    fill: np.ndarray
    value: np.ndarray
    restrictions: Restrictions


@dataclass
class WindowOutcome:
    """What the window did, for the ledger and the day's books."""

    fills: list[FillRow] = field(default_factory=list)
    events: list[tuple[EventKind, str]] = field(default_factory=list)
    withdrawn: float = 0.0
    value_before_payout: float = 0.0  # V_w: the account at window prices before `withdrawn` leaves
    deferred: list[Request] = field(default_factory=list)


class Window:
    """Runs the queue and auto-invest against a book at one window's prices."""

    def __init__(self, book: Book, cash: float, prices: WindowPrices,
                 settings: AccountSettings) -> None:
        self.book = book
        self.cash = cash
        self.prices = prices
        self.settings = settings
        self.scale = 10 ** settings.share_decimals
        self.deposit_rule, self.withdrawal_rule = _RULES[settings.allocation]
        self.out = WindowOutcome()
        # No halted or unpriced column: no leg can wait, so plans stay arrays.
        self.open = not prices.restrictions.any
        self._fill_list: list[float] | None = None  # the fill prices as plain floats

    # ---- the steps ------------------------------------------------------------
    def run(self, queue: list[Request], auto_invest: bool) -> WindowOutcome:
        queue = [r for r in queue if self._still_valid(r)]
        orders = [r for r in queue if isinstance(r, Order)]
        self._sell_orders([o for o in orders if o.side == "sell"])
        self._buy_orders([o for o in orders if o.side == "buy"])
        for req in queue:
            if isinstance(req, Leaving):
                self._removal(req)
        for req in queue:
            if isinstance(req, RebalanceRequest):
                self._rebalance(req)
        for req in queue:
            if isinstance(req, Withdrawal) and not self._percent_withdrawal(req):
                self._withdrawal(req)
        self._dividend_buys([r for r in queue if isinstance(r, DividendBuy)])
        if auto_invest:
            self._auto_invest()
        if self.out.withdrawn > 0:
            # pies and leaving; added in leaf order, as the batch engine adds
            held = sum(self.book.leaf_values(self.prices.value).tolist())
            self.out.value_before_payout = self.cash + self.out.withdrawn + held
        deferred = {id(r) for r in self.out.deferred}
        self.out.deferred = [r for r in queue if id(r) in deferred]
        return self.out

    def _still_valid(self, req: Request) -> bool:
        """An order or rebalance naming a removed slice (or one under it) is rejected."""
        if isinstance(req, RebalanceRequest):
            path = req.pie
        elif isinstance(req, Order):
            path = req.path
        else:
            return True
        if self.book.has(path):
            return True
        self.out.events.append((EventKind.REJECTED,
                                f"{describe(req)}: the slice no longer exists"))
        return False

    def _sell_orders(self, orders: list[Order]) -> None:
        for o in orders:
            plan = self._sell_plan(self.book.node(o.path), o.amount)
            if not self._defer_if_halted(o, sells=plan):
                self._execute_sells(plan, Reason.ORDER)

    def _buy_orders(self, orders: list[Order]) -> None:
        ready = []
        for o in orders:
            assert o.amount is not None
            plan = self._buy_plan(self.book.node(o.path), o.amount)
            if not self._defer_if_halted(o, plan):
                ready.append(o)
        total = sum(o.amount for o in ready if o.amount is not None)
        factor = 1.0
        if total > self.cash:
            factor = self.cash / total
            self.out.events.append((EventKind.SCALED, f"buy orders scaled to {factor:.6f}"))
        for o in ready:
            assert o.amount is not None
            node = self.book.node(o.path)
            self._execute_buys(self._buy_plan(node, o.amount * factor), Reason.ORDER)

    def _removal(self, req: Leaving) -> None:
        """Sell a removed slice's holdings and put the proceeds into the nearest
        pie above it still in the tree, by the deposit rule."""
        gone = req.slice
        sells: Plan = [(lf, None) for lf in gone.leaves if self.book.units[lf] > 0]
        if self._defer_if_halted(req, sells=sells):
            return
        proceeds = self._proceeds(sells)
        home = next(n for n in gone.above if n is self.book.root or self.book.in_tree(n))
        buys = self._buy_plan(home, proceeds)
        if self._defer_if_halted(req, buys):
            return
        self._execute_sells(sells, Reason.REMOVAL)
        self._execute_buys(buys, Reason.REMOVAL)
        self.out.events.append((EventKind.REMOVAL, req.path))

    def _rebalance(self, req: RebalanceRequest) -> None:
        node = self.book.node(req.pie)
        leaves, fractions = self.book.target_fractions(node)
        current = self._leaf_values()[leaves]
        delta = current.sum() * fractions - current
        if self.open and len(leaves) <= SMALL:  # the same legs, on plain lists
            ids, d = leaves.tolist(), delta.tolist()
            self._sell_legs([lf for lf, x in zip(ids, d, strict=True) if x < 0],
                            [-x for x in d if x < 0], Reason.REBALANCE)
            least = self.settings.min_trade - MONEY_EPS
            keep = [k for k, x in enumerate(d) if x > 0 and x >= least]
            self._buy_legs([ids[k] for k in keep], [d[k] for k in keep], Reason.REBALANCE)
            return
        if self.open:  # the same legs as the plans below, as arrays
            selling = delta < 0
            if selling.any():
                self._sell_arrays(leaves[selling], -delta[selling], Reason.REBALANCE, unique=True)
            buying = (delta > 0) & (delta >= self.settings.min_trade - MONEY_EPS)
            if buying.any():
                self._buy_arrays(leaves[buying], delta[buying], Reason.REBALANCE, unique=True)
            return
        sells: Plan = list(zip(leaves[delta < 0].tolist(), (-delta[delta < 0]).tolist(),
                               strict=True))
        buys: Plan = list(zip(leaves[delta > 0].tolist(), delta[delta > 0].tolist(),
                              strict=True))
        if self._defer_if_halted(req, buys, sells):  # only the legs that trade count
            return
        self._execute_sells(sells, Reason.REBALANCE)
        self._execute_buys(buys, Reason.REBALANCE)

    def _withdrawal(self, req: Withdrawal) -> None:
        invested = self.book.value_of(self.book.root, self._node_values())  # holdings in pies
        if not reaches(self.cash + invested, req.amount):
            self.out.events.append(
                (EventKind.REJECTED, f"{describe(req)} exceeds the account value "
                             f"{self.cash + invested:.2f}"))
            return
        rest = req.amount - min(self.cash, req.amount)
        plan: Plan = []
        if rest > 0:
            plan = self._sell_plan(self.book.root, rest)
            if self._defer_if_halted(req, sells=plan):
                return
        self._execute_sells(plan, Reason.WITHDRAWAL)
        self.cash = max(0.0, self.cash - req.amount)
        self.out.withdrawn += req.amount

    def _dividend_buys(self, reqs: list[DividendBuy]) -> None:
        """Each dividend bought back into the slice that paid it, ignoring targets;
        scaled down together if a withdrawal took some of the cash."""
        ready = []
        for r in reqs:
            if self.book.leaf_in_tree(r.leaf) and not self._defer_if_halted(r, [(r.leaf,
                                                                               r.amount)]):
                ready.append(r)
        total = sum(r.amount for r in ready)
        factor = min(1.0, self.cash / total) if total > 0 else 1.0
        self._execute_buys([(r.leaf, r.amount * factor) for r in ready], Reason.DIVIDEND)

    def _auto_invest(self) -> None:
        excess = self.cash - self.settings.cash_minimum
        if not reaches(excess, self.settings.min_auto_invest) or excess <= 0:
            return
        lay = self.book.layout()
        if self.open and len(lay.leaf) <= SMALL:  # `_buy_plan` on plain lists
            values = self.book.node_value_list(self._leaf_values().tolist())
            ids, dollars = self.book._distribute_small(lay, 0, excess, self.deposit_rule.pie,
                                                       values)
            least = self.settings.min_trade - MONEY_EPS
            keep = [k for k, x in enumerate(dollars) if x >= least]
            self._buy_legs([ids[k] for k in keep], [dollars[k] for k in keep], Reason.AUTO_INVEST)
            return
        if self.open:  # `_buy_plan` as arrays
            leaves, dollars = self.book.distribute_arrays(self.book.root, excess,
                                                          self.deposit_rule, self._node_values())
            keep = dollars >= self.settings.min_trade - MONEY_EPS
            if keep.any():
                self._buy_arrays(leaves[keep], dollars[keep], Reason.AUTO_INVEST, unique=True)
            return
        plan = self._buy_plan(self.book.root, excess)
        halted = self._halted_columns(plan)
        self._execute_buys([(lf, a) for lf, a in plan
                            if self.book.leaf_ticker[lf] not in halted], Reason.AUTO_INVEST)

    # ---- plans ------------------------------------------------------------------
    def _leaf_values(self) -> np.ndarray:
        return self.book.leaf_values(self.prices.value)

    def _node_values(self) -> np.ndarray:
        return self.book.node_values(self._leaf_values())

    def _percent_withdrawal(self, req: Withdrawal) -> bool:
        """Pay a percent-of-the-account withdrawal (`fraction`) as its dollars at this
        window's prices; False for a dollar one. If it must wait for a halt, the percent
        waits (resolved again at its next window), not these dollars."""
        if req.fraction is None:
            return False
        held = self.book.value_of(self.book.root, self._node_values())
        resolved = Withdrawal(req.fraction * (self.cash + held))
        self._withdrawal(resolved)
        self.out.deferred = [req if r is resolved else r for r in self.out.deferred]
        return True

    def _buy_plan(self, node: Node, amount: float) -> Plan:
        if amount <= 0:
            return []
        plan = self.book.distribute(node, amount, self.deposit_rule, self._node_values())
        return [(lf, a) for lf, a in plan if reaches(a, self.settings.min_trade)]

    def _sell_plan(self, node: Node, amount: float | None) -> Plan:
        """Sell `amount` dollars from `node` by the withdrawal rule (None: everything)."""
        values = self._node_values()
        if amount is None or amount >= self.book.value_of(node, values):
            leaves = self.book.leaves_under(node)
            return [(lf, None) for lf in leaves[self.book.units[leaves] > 0].tolist()]
        return list(self.book.distribute(node, amount, self.withdrawal_rule, values))

    def _proceeds(self, plan: Plan) -> float:
        total = 0.0
        for lf, dollars in plan:
            total += self._sell_units(lf, dollars) / self.scale \
                * self.prices.fill[self.book.leaf_ticker[lf]]
        return total

    def _halted_columns(self, buys: Plan | None = None,
                        sells: Plan | None = None) -> dict[int, str]:
        """The halted columns among the legs that trade."""
        restricted = self.prices.restrictions
        if not restricted.any:
            return {}
        out = {}
        for plan, selling in ((buys or [], False), (sells or [], True)):
            for lf, dollars in plan:
                col = self.book.leaf_ticker[lf]
                if restricted.halted[col] and self._trades(lf, dollars, selling):
                    out[col] = restricted.reason(col)
        return out

    def _trades(self, leaf: int, dollars: float | None, selling: bool) -> bool:
        """Whether a leg trades: a buy that `min_trade` keeps, or a sell of at least
        one grid unit (sized at the window's value price: a halted leg has no fill)."""
        if not selling:
            return dollars is not None and reaches(dollars, self.settings.min_trade)
        held = int(self.book.units[leaf])
        if dollars is None or held <= 0:
            return held > 0
        price = self.prices.value[self.book.leaf_ticker[leaf]]
        return price > 0 and math.ceil(dollars / price * self.scale - GRID_EPS) > 0

    def _defer_if_halted(self, req: Request, buys: Plan | None = None,
                         sells: Plan | None = None) -> bool:
        halted = self._halted_columns(buys, sells)
        if not halted:
            return False
        why = "; ".join(halted[c] for c in sorted(halted))
        self.out.events.append((EventKind.HALT_DEFERRED, f"{describe(req)}: {why}"))
        self.out.deferred.append(req)
        return True

    # ---- execution -----------------------------------------------------------------
    def _sell_units(self, leaf: int, dollars: float | None) -> int:
        """Grid units to sell for `dollars` (rounded up, never past the holding)."""
        held = int(self.book.units[leaf])
        if dollars is None:
            return held
        price = self.prices.fill[self.book.leaf_ticker[leaf]]
        return min(math.ceil(dollars / price * self.scale - GRID_EPS), held)

    def _execute_sells(self, plan: Plan, reason: Reason) -> None:
        if not plan:
            return
        leaves = np.fromiter((lf for lf, _ in plan), np.int64, len(plan))
        dollars = np.fromiter((np.inf if d is None else d for _, d in plan), float, len(plan))
        self._sell_arrays(leaves, dollars, reason)

    def _sell_arrays(self, leaves: np.ndarray, dollars: np.ndarray, reason: Reason,
                     unique: bool = False) -> None:
        """`_execute_sells` of a plan as arrays (dollars inf: every share); `unique`:
        no leaf twice in the plan."""
        cols = self.book.leaf_columns[leaves]
        price = self.prices.fill[cols]
        held = self.book.units[leaves]
        with np.errstate(invalid="ignore"):
            wanted = np.ceil(dollars / price * self.scale - GRID_EPS)
        units = np.where(np.isinf(dollars), held, np.minimum(wanted, held)).astype(np.int64)
        sold = units > 0
        leaves, cols, units, price = leaves[sold], cols[sold], units[sold], price[sold]
        amount = units / self.scale * price
        self.book.add_units(leaves, -units, unique=unique)
        self.cash += sum(amount.tolist())  # in plan order, as the batch engine adds
        self.out.fills.extend(zip(leaves.tolist(), cols.tolist(), (-units).tolist(),
                                  (-amount).tolist(), [reason.value] * len(units), strict=True))

    # The same two steps leg by leg on plain floats, for the few legs of a small tree
    # (the same IEEE operations in the same order; numpy calls cost more than they
    # do there). Plans whose leaves are distinct, every price positive; otherwise
    # the array forms above.
    def _fill_prices(self, leaves: list[int]) -> list[float] | None:
        if self._fill_list is None:
            self._fill_list = self.prices.fill.tolist()
        fill = self._fill_list
        ticker = self.book.leaf_ticker
        prices = [fill[ticker[lf]] for lf in leaves]
        # (a price under a billionth would overflow the plain-float arithmetic)
        return prices if min(prices) >= 1e-9 else None

    def _sell_legs(self, leaves: list[int], dollars: list[float], reason: Reason) -> None:
        """`_sell_arrays` for a few distinct leaves."""
        if not leaves:
            return
        prices = self._fill_prices(leaves)
        if prices is None:
            self._sell_arrays(np.array(leaves, dtype=np.int64), np.array(dollars), reason)
            return
        ticker, tag = self.book.leaf_ticker, reason.value
        held_now = self.book.units.tolist()
        scale, fscale = self.scale, float(self.scale)
        fills, amounts = [], []
        for lf, d, price in zip(leaves, dollars, prices, strict=True):
            held = held_now[lf]
            units = min(math.ceil(d / price * scale - GRID_EPS), held)
            if units > 0:
                amount = float(units) / fscale * price
                held_now[lf] = held - units
                amounts.append(amount)
                fills.append((lf, ticker[lf], -units, -amount, tag))
        if fills:
            self.book.set_units(held_now)
        self.cash += sum(amounts)  # in plan order, as the batch engine adds
        self.out.fills.extend(fills)

    def _buy_legs(self, leaves: list[int], dollars: list[float], reason: Reason) -> None:
        """`_buy_arrays` for a few distinct leaves whose dollars all reach `min_trade`."""
        if not leaves:
            return
        prices = self._fill_prices(leaves)
        if prices is None:
            self._buy_arrays(np.array(leaves, dtype=np.int64), np.array(dollars), reason)
            return
        scale, fscale = self.scale, float(self.scale)
        exact = [d / price * scale for d, price in zip(dollars, prices, strict=True)]
        held = self.book.units.tolist()
        if max([e + held[lf] for e, lf in zip(exact, leaves, strict=True)]) >= MAX_UNITS:
            self._buy_arrays(np.array(leaves, dtype=np.int64), np.array(dollars), reason)
            return  # (raises its OverflowError)
        units = [math.floor(e + GRID_EPS) for e in exact]
        amounts = [float(u) / fscale * p for u, p in zip(units, prices, strict=True)]
        total = sum(amounts)  # in plan order, as the batch engine adds
        if total > self.cash:  # rare: rounding at the very edge of the cash
            self._execute_buys_in_turn(list(zip(leaves, dollars, strict=True)), reason)
            return
        ticker, tag = self.book.leaf_ticker, reason.value
        for lf, u, a in zip(leaves, units, amounts, strict=True):
            if u > 0:
                held[lf] += u
                self.out.fills.append((lf, ticker[lf], u, a, tag))
        self.book.set_units(held)
        self.cash -= total

    def _execute_buys(self, plan: Plan, reason: Reason) -> None:
        """Buy each leaf's dollars in whole grid units, rounded down, within the cash."""
        plan = [(lf, d) for lf, d in plan if d is not None and reaches(d, self.settings.min_trade)]
        if not plan:
            return
        leaves = np.fromiter((lf for lf, _ in plan), np.int64, len(plan))
        dollars = np.fromiter((d for _, d in plan), float, len(plan))
        self._buy_arrays(leaves, dollars, reason)

    def _buy_arrays(self, leaves: np.ndarray, dollars: np.ndarray, reason: Reason,
                    unique: bool = False) -> None:
        """`_execute_buys` of a plan as arrays whose dollars all reach `min_trade`;
        `unique`: no leaf twice in the plan."""
        cols = self.book.leaf_columns[leaves]
        price = self.prices.fill[cols]
        exact = dollars / price * self.scale
        if (exact + self.book.units[leaves]).max() >= MAX_UNITS:
            raise OverflowError(f"a buy of {dollars.max():.6g} dollars makes a holding of more "
                                f"than 2^53 units of the share grid of "
                                f"1e-{self.settings.share_decimals}, beyond exact counting")
        units = np.floor(exact + GRID_EPS).astype(np.int64)
        amount = units / self.scale * price
        # Added in plan order, one by one: the batch engine adds the same way.
        total = sum(amount.tolist())
        if total > self.cash:  # rare: rounding at the very edge of the cash
            self._execute_buys_in_turn(list(zip(leaves.tolist(), dollars.tolist(), strict=True)),
                                       reason)
            return
        bought = units > 0
        if not bought.all():
            leaves, cols, units, amount = (leaves[bought], cols[bought], units[bought],
                                           amount[bought])
        self.book.add_units(leaves, units, unique=unique)
        self.cash -= total
        self.out.fills.extend(zip(leaves.tolist(), cols.tolist(), units.tolist(),
                                  amount.tolist(), [reason.value] * len(units), strict=True))

    def _execute_buys_in_turn(self, plan: Plan, reason: Reason) -> None:
        """One buy after the other, each limited to the cash left."""
        for leaf, dollars in plan:
            assert dollars is not None
            col = self.book.leaf_ticker[leaf]
            price = self.prices.fill[col]
            units = math.floor(min(dollars, self.cash) / price * self.scale + GRID_EPS)
            if units / self.scale * price > self.cash:  # never spend more than there is
                units -= 1
            if units <= 0:
                continue
            amount = units / self.scale * price
            self.book.add_unit(leaf, units)
            self.cash -= amount
            self.out.fills.append((leaf, col, units, amount, reason.value))
