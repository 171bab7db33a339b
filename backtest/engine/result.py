"""A finished run as frames: daily values, trades, allocations, holdings, drift, events.

Built from the ledger (what happened) and the market (what it was worth).
Valuation is array work over all sessions: holdings only change in windows,
so the (sessions x leaves) share matrix is the snapshots forward-filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from backtest.analytics.returns import twr_index
from backtest.engine.ledger import Reason
from backtest.engine.simulation import Simulation, _ffill
from backtest.engine.sums import sum_last
from backtest.engine.weights import slice_weights

STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default string type


@dataclass(frozen=True)
class RunResult:
    """The contract's tables (strategy-format.md) plus the run's totals."""

    name: str
    daily: pd.DataFrame
    trades: pd.DataFrame
    allocations: pd.DataFrame
    holdings: pd.DataFrame
    drift: pd.DataFrame
    events: pd.DataFrame
    fills: pd.DataFrame  # every slice's trade in execution order (for tax lots)
    total_deposits: float
    total_withdrawals: float
    total_dividends: float
    deposits: np.ndarray | None = None  # per session, for the withdrawal measures
    withdrawals: np.ndarray | None = None
    cashflows: tuple = ()  # the strategy's, to name schedules that end early


def run(sim: Simulation) -> RunResult:
    """Run `sim` to the end and tabulate it."""
    sim.run_to_end()
    return tabulate(sim)


def share_matrix(sim: Simulation) -> np.ndarray:
    """(sessions x leaves) shares held at each close."""
    n, n_leaves = sim.n, len(sim.book.leaf_paths)
    out = np.zeros((n, n_leaves))
    snaps = sim.ledger.snapshots
    for k, (i, shares) in enumerate(snaps):
        stop = snaps[k + 1][0] if k + 1 < len(snaps) else n
        out[i:stop, : len(shares)] = shares
    return out


def cash_series(sim: Simulation) -> np.ndarray:
    cash = np.full(sim.n, np.nan)
    for i, c in sim.ledger.cash_at.items():
        cash[i] = c
    cash = _ffill(cash[:, None])[:, 0]
    return np.nan_to_num(cash)


def leaf_value_matrix(sim: Simulation) -> np.ndarray:
    """(sessions x leaves) value of each slice's holding at each close."""
    close, cols = sim._close_ffill, sim.book.leaf_columns
    # The closes as they are where the leaves are the market's columns in order.
    px = close if np.array_equal(cols, np.arange(close.shape[1])) else close[:, cols]
    if np.isnan(px).any():  # before its first price a ticker is worth nothing
        px = np.nan_to_num(px)
    return share_matrix(sim) * px


def value_series(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """(value, net_flow) at every close: the daily table's core, without the rest."""
    return (cash_series(sim) + sum_last(leaf_value_matrix(sim)),
            sim.ledger.deposits - sim.ledger.withdrawals)


def run_twr_index(sim: Simulation, value: np.ndarray) -> np.ndarray:
    """The exact TWR index of a finished run (`value` from `value_series`): each
    withdrawal splits its session at the window that paid it."""
    return twr_index(value, sim.ledger.deposits, sim.ledger.payouts)


def tabulate(sim: Simulation, *, full: bool = True) -> RunResult:
    """The run's tables; `full=False` leaves allocations and holdings empty (with
    their columns): the summary does not read them, and a compare variant that
    keeps no tables need not build them."""
    dates = sim.market.sessions.astype("datetime64[ns]")
    leaf_values = leaf_value_matrix(sim)
    cash = cash_series(sim)
    invested = sum_last(leaf_values)  # as the batch engine adds
    value = cash + invested
    net_flow = sim.ledger.deposits - sim.ledger.withdrawals
    daily = pd.DataFrame({
        "date": dates, "value": value, "cash": cash, "invested": invested,
        "net_flow": net_flow, "twr_index": run_twr_index(sim, value),
    })
    fills = fill_columns(sim)
    return RunResult(
        name=sim.strategy.name,
        daily=daily,
        trades=_trades(fills, sim, dates),
        allocations=_allocations(fills, sim, dates) if full else
        _allocations(_no_fills(), sim, dates),
        holdings=_holdings(sim, dates) if full else _no_holdings(sim, dates),
        drift=_drift(sim, dates, leaf_values),
        events=pd.DataFrame({
            "date": np.array([dates[e.session] for e in sim.ledger.events],
                             dtype="datetime64[ns]"),
            "kind": pd.Series([str(e.kind) for e in sim.ledger.events], dtype=STR),
            "detail": pd.Series([e.detail for e in sim.ledger.events], dtype=STR),
        }),
        fills=_fills(fills, sim, dates),
        total_deposits=float(sim.ledger.deposits.sum()),
        total_withdrawals=float(sim.ledger.withdrawals.sum()),
        total_dividends=float(sim.ledger.dividends.sum()),
        deposits=sim.ledger.deposits.copy(),
        withdrawals=sim.ledger.withdrawals.copy(),
        cashflows=sim.strategy.cashflows,
    )


def labels(codes: np.ndarray, names: list[str] | tuple[str, ...]) -> pd.Series:
    """A string column from integer codes into `names` (built in Arrow: fast)."""
    arr = pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)),
                                         pa.array(list(names), type=pa.string()))
    return pd.Series(arr.cast(pa.string()), dtype=STR)


@dataclass(frozen=True)
class FillColumns:
    """Every fill of every window, in execution order, as flat arrays."""

    seq: np.ndarray  # window number
    session: np.ndarray
    window: np.ndarray  # 0 morning, 1 afternoon
    leaf: np.ndarray
    col: np.ndarray
    units: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    reason: np.ndarray  # index into REASONS


WINDOWS = ("morning", "afternoon")
REASONS = tuple(r.value for r in Reason)  # the codes of FillColumns.reason


# One fill as a record: numpy reads the list of tuples in one call.
_FILL = np.dtype([("leaf", np.int64), ("col", np.int64), ("units", np.int64),
                  ("amount", float), ("reason", f"U{max(map(len, REASONS))}")])


def fill_columns(sim: Simulation) -> FillColumns:
    windows = sim.ledger.windows
    counts = np.array([len(w.fills) for w in windows], dtype=np.int64)
    fills = [f for w in windows for f in w.fills]
    seq = np.repeat(np.arange(len(windows)), counts)
    if fills:
        rec = np.array(fills, dtype=_FILL)
        code = np.full(len(rec), -1, dtype=np.int64)
        for k, r in enumerate(REASONS):
            code[rec["reason"] == r] = k
        if (code < 0).any():
            raise ValueError(f"a fill with an unknown reason: {fills[int(np.argmin(code))]}")
        col_arr = rec["col"].copy()
        price = np.stack([w.prices for w in windows])[seq, col_arr]
        return FillColumns(
            seq, np.array([w.session for w in windows], dtype=np.int64)[seq],
            np.array([WINDOWS.index(w.window) for w in windows], dtype=np.int64)[seq],
            rec["leaf"].copy(), col_arr, rec["units"].copy(), price, rec["amount"].copy(),
            code)
    return _no_fills()


def _no_fills() -> FillColumns:
    empty = np.zeros(0, dtype=np.int64)
    return FillColumns(empty, empty, empty, empty, empty, empty, np.zeros(0), np.zeros(0),
                       empty)


def _fills(f: FillColumns, sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "date": dates[f.session],
        "window": labels(f.window, WINDOWS),
        "slice": labels(f.leaf, sim.book.leaf_paths),
        "ticker": labels(f.col, sim.market.tickers),
        "shares": f.units / sim.book.scale,
        "price": f.price,
        "amount": f.amount,
        "reason": labels(f.reason, REASONS),
    })


def _first_of_groups(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of equal key tuples in order of first appearance: (first row, group id per row)."""
    if len(keys[0]) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dims = tuple(int(k.max()) + 1 for k in keys)
    combined = np.ravel_multi_index(keys, dims)  # one integer per key tuple
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()]


def _trades(f: FillColumns, sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    """Fills netted per ticker per window; no row where buys and sells cancel."""
    # Rows sorted by window, then ticker name, like a broker's statement.
    name_rank = np.argsort(np.argsort(np.array(sim.market.tickers, dtype=object)))
    first, group = _first_of_groups(f.seq, name_rank[f.col] if len(f.col) else f.col)
    net = np.bincount(group, weights=f.units, minlength=len(first)).round().astype(np.int64)
    order = np.lexsort((name_rank[f.col[first]] if len(first) else first, f.seq[first]))
    first, net = first[order], net[order]
    keep = net != 0
    first, net = first[keep], net[keep]
    shares = np.abs(net) / sim.book.scale
    return pd.DataFrame({
        "date": dates[f.session[first]],
        "window": labels(f.window[first], WINDOWS),
        "ticker": labels(f.col[first], sim.market.tickers),
        "side": labels((net < 0).astype(np.int64), ("buy", "sell")),
        "shares": shares,
        "price": f.price[first],
        "amount": shares * f.price[first],
    })


def _allocations(f: FillColumns, sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    """One row per slice and reason per window (signed: + bought, - sold)."""
    first, group = _first_of_groups(f.seq, f.leaf, f.reason)
    units = np.bincount(group, weights=f.units, minlength=len(first)).round()
    amount = np.bincount(group, weights=f.amount, minlength=len(first)).astype(float)
    return pd.DataFrame({
        "date": dates[f.session[first]],
        "slice": labels(f.leaf[first], sim.book.leaf_paths),
        "ticker": labels(f.col[first], sim.market.tickers),
        "shares": units / sim.book.scale,
        "amount": amount,
        "reason": labels(f.reason[first], REASONS),
    })


def _holdings(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    """A row per slice at each close where its shares changed."""
    n_leaves = len(sim.book.leaf_paths)
    snaps = np.zeros((len(sim.ledger.snapshots) + 1, n_leaves))
    for k, (_, shares) in enumerate(sim.ledger.snapshots):
        snaps[k + 1, : len(shares)] = shares
    row, leaf = np.nonzero(snaps[1:] != snaps[:-1])
    sessions = np.array([i for i, _ in sim.ledger.snapshots], dtype=np.int64)
    return pd.DataFrame({
        "date": dates[sessions[row]],
        "slice": labels(leaf, sim.book.leaf_paths),
        "ticker": labels(sim.book.leaf_columns[leaf], sim.market.tickers),
        "shares": snaps[1:][row, leaf],
    })


def _no_holdings(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    """The holdings table's columns, no rows."""
    none = np.zeros(0, dtype=np.int64)
    return pd.DataFrame({"date": dates[:0], "slice": labels(none, sim.book.leaf_paths),
                         "ticker": labels(none, sim.market.tickers), "shares": np.zeros(0)})


def _drift(sim: Simulation, dates: np.ndarray, leaf_values: np.ndarray) -> pd.DataFrame:
    """Every slice's target and actual weight in its parent pie at every close.

    The slice column is categorical: the table has sessions x slices rows (millions
    for large pies) but only as many distinct names as slices.
    """
    names: dict[str, int] = {}
    date_parts, code_parts, target_parts, actual_parts = [], [], [], []
    shapes = sim.ledger.trees
    for k, (start, shape) in enumerate(shapes):
        stop = shapes[k + 1][0] if k + 1 < len(shapes) else sim.n
        if stop <= start or not shape.paths:
            continue
        w = slice_weights(leaf_values[start:stop], shape)
        n_rows, n_slices = w.shape
        codes = np.array([names.setdefault(p, len(names)) for p in shape.paths], dtype=np.int32)
        date_parts.append(np.repeat(dates[start:stop], n_slices))
        code_parts.append(np.tile(codes, n_rows))
        target_parts.append(np.tile(shape.target, n_rows))
        actual_parts.append(w.ravel())

    def joined(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else empty

    return pd.DataFrame({
        "date": joined(date_parts, dates[:0]),
        "slice": pd.Categorical.from_codes(joined(code_parts, np.zeros(0, dtype=np.int32)),
                                           categories=pd.Index(list(names), dtype=STR)),
        "target": joined(target_parts, np.zeros(0)),
        "actual": joined(actual_parts, np.zeros(0)),
    }, copy=False)
