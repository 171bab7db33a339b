"""The full rebalance of the portfolio (`Window._rebalance` of the root) for many
accounts at once, as array operations over the accounts.

Each account gets the floating-point operations of the window in the same
order: leaf values at the fill prices, their total (numpy's own sum over a
contiguous row, as `ndarray.sum` adds one account's leaves), deltas to the
target shares, then every sell (grid units rounded up, never past the
holding, proceeds added in plan order) and every buy (`min_trade` within
MONEY_EPS, units rounded down, the cost added in plan order). The rare buy
at the edge of the cash or of the share grid goes to `Window._execute_buys`
itself, so the edge rules have one implementation.

Only for sessions without a halt or a missing price: no leg can wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backtest.engine.ledger import Reason
from backtest.engine.restrictions import Restrictions
from backtest.engine.sums import sum_last
from backtest.engine.window import GRID_EPS, MAX_UNITS, MONEY_EPS, Window, WindowPrices

if TYPE_CHECKING:
    from backtest.engine.batch import Batch
    from backtest.engine.layout import Layout


def rebalance_rows(b: Batch, acc: np.ndarray, fill: np.ndarray, lay: Layout,
                   leaf_pos: np.ndarray, leaf_ids: np.ndarray, cols: np.ndarray,
                   fills: dict[int, list]) -> None:
    """Rebalance the whole portfolio of accounts `acc` (one tree) at `fill`
    (accounts x market columns): sells, then buys, as `Window._rebalance`."""
    if not len(leaf_pos):
        return
    scale = b.scale[acc][:, None]
    fractions = lay.weight[leaf_pos] / lay.weight[0]
    price = fill[:, cols[leaf_ids]]
    held = b.units[acc][:, leaf_ids]
    # `Book.leaf_values`, then the in-tree leaves in layout order (a contiguous row
    # each, so the row sum is the one `current.sum()` gives for one account).
    current = np.ascontiguousarray(
        (b.units[acc][:, :len(cols)] * fill[:, cols] / scale)[:, leaf_ids])
    delta = current.sum(axis=1)[:, None] * fractions[None, :] - current

    # Sells (`Window._execute_sells`).
    selling = delta < 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wanted = np.where(selling, np.ceil(-delta / price * scale - GRID_EPS), 0.0)
    sold = np.where(selling, np.minimum(wanted, held), 0.0).astype(np.int64)
    sold = np.maximum(sold, 0)
    proceeds = np.where(sold > 0, sold / scale * price, 0.0)
    b.units[acc[:, None], leaf_ids[None, :]] -= sold
    b.cash[acc] += sum_last(proceeds)

    # Buys (`Window._execute_buys`).
    min_trade = b.min_trade[acc][:, None]
    buying = (delta > 0) & (delta >= min_trade - MONEY_EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.where(buying, delta / price * scale, 0.0)
    bought = np.floor(exact + GRID_EPS).astype(np.int64)
    bought[~buying] = 0
    cost = np.where(buying, bought / scale * price, 0.0)
    total = sum_last(cost)
    after = b.units[acc][:, leaf_ids]
    edge = (((exact + after) >= MAX_UNITS) & buying).any(axis=1) | (total > b.cash[acc])
    ok = ~edge
    b.units[acc[ok][:, None], leaf_ids[None, :]] += bought[ok]
    b.cash[acc[ok]] -= total[ok]
    leaf_cols = cols[leaf_ids]
    for k in np.flatnonzero(b.tables[acc] | edge).tolist():
        a = int(acc[k])
        out = fills.setdefault(a, []) if b.tables[a] else []
        got = np.flatnonzero(sold[k] > 0)
        out.extend(zip(leaf_ids[got].tolist(), leaf_cols[got].tolist(),
                       (-sold[k, got]).tolist(), (-proceeds[k, got]).tolist(),
                       [Reason.REBALANCE.value] * len(got), strict=True))
        if edge[k]:
            out.extend(_buys_in_window(b, a, fill[k], leaf_ids[buying[k]],
                                       delta[k, buying[k]]))
            continue
        got = np.flatnonzero(bought[k] > 0)
        out.extend(zip(leaf_ids[got].tolist(), leaf_cols[got].tolist(),
                       bought[k, got].tolist(), cost[k, got].tolist(),
                       [Reason.REBALANCE.value] * len(got), strict=True))


def _buys_in_window(b: Batch, a: int, px: np.ndarray, leaves: np.ndarray,
                    dollars: np.ndarray) -> list:
    """The rebalance's buys of account `a` by `Window._execute_buys` (the edge of
    the cash: one buy after the other; of the grid: its OverflowError)."""
    s = b.sims[a]
    win = Window(s.book, float(b.cash[a]), WindowPrices(px, px, Restrictions.none(len(px))),
                 s.settings)
    win._execute_buys(list(zip(leaves.tolist(), dollars.tolist(), strict=True)), Reason.REBALANCE)
    b.cash[a] = win.cash
    return win.out.fills


__all__ = ["rebalance_rows"]
