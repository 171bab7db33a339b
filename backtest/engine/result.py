"""A finished run as frames: daily values, trades, allocations, holdings, drift, events.

Valuation is array work over all sessions: holdings only change in windows,
so the (sessions x leaves) share matrix is the snapshots forward-filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine.simulation import Simulation, _ffill
from backtest.engine.weights import slice_weights


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


def run(sim: Simulation) -> RunResult:
    """Run `sim` to the end and tabulate it."""
    sim.run_to_end()
    return tabulate(sim)


def share_matrix(sim: Simulation) -> np.ndarray:
    """(sessions x leaves) shares held at each close."""
    n, n_leaves = sim.n, len(sim.book.leaf_paths)
    out = np.zeros((n, n_leaves))
    snaps = sim.share_snapshots
    for k, (i, shares) in enumerate(snaps):
        stop = snaps[k + 1][0] if k + 1 < len(snaps) else n
        out[i:stop, : len(shares)] = shares
    return out


def cash_series(sim: Simulation) -> np.ndarray:
    cash = np.full(sim.n, np.nan)
    for i, c in sim.cash_at.items():
        cash[i] = c
    cash = _ffill(cash[:, None])[:, 0]
    return np.nan_to_num(cash)


def twr_index(value: np.ndarray, net_flow: np.ndarray) -> np.ndarray:
    """Chain-linked index with flows at the start of each session (strategy-format.md)."""
    prev = np.concatenate([[0.0], value[:-1]])
    base = prev + net_flow
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(base != 0, value / np.where(base != 0, base, 1.0), 1.0)
    return np.cumprod(ratio)


def tabulate(sim: Simulation) -> RunResult:
    dates = sim.market.sessions.astype("datetime64[ns]")
    shares = share_matrix(sim)
    leaf_ticker = np.asarray(sim.book.leaf_ticker, dtype=np.int64)
    closes = sim._close_ffill[:, leaf_ticker] if len(leaf_ticker) else np.zeros((sim.n, 0))
    leaf_values = np.where(shares > 0, shares * np.nan_to_num(closes), 0.0)
    cash = cash_series(sim)
    invested = leaf_values.sum(axis=1)
    value = cash + invested
    net_flow = sim.deposits - sim.withdrawals
    daily = pd.DataFrame({
        "date": dates, "value": value, "cash": cash, "invested": invested,
        "net_flow": net_flow, "twr_index": twr_index(value, net_flow),
    })
    return RunResult(
        name=sim.strategy.name,
        daily=daily,
        trades=_trades(sim, dates),
        allocations=_allocations(sim, dates),
        holdings=_holdings(sim, dates),
        drift=_drift(sim, dates, leaf_values),
        events=pd.DataFrame({
            "date": np.array([dates[e.session] for e in sim.ledger.events],
                             dtype="datetime64[ns]"),
            "kind": pd.Series([e.kind for e in sim.ledger.events], dtype=object),
            "detail": pd.Series([e.detail for e in sim.ledger.events], dtype=object),
        }),
        fills=_fills(sim, dates),
        total_deposits=float(sim.deposits.sum()),
        total_withdrawals=float(sim.withdrawals.sum()),
        total_dividends=float(sim.dividends.sum()),
    )


def _trades(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    rows = []
    d = sim.settings.share_decimals
    for w in sim.ledger.windows:
        net: dict[int, float] = {}
        for _, col, sh, _, _ in w.fills:
            net[col] = net.get(col, 0.0) + sh
        for col in sorted(net, key=lambda c: sim.market.tickers[c]):
            shares = round(net[col], d)
            if shares == 0:
                continue
            price = float(w.prices[col])
            rows.append((dates[w.session], w.window, sim.market.tickers[col],
                         "buy" if shares > 0 else "sell", abs(shares), price,
                         abs(shares) * price))
    return _frame(rows, ["date", "window", "ticker", "side", "shares", "price", "amount"])


def _fills(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    rows = []
    for w in sim.ledger.windows:
        for leaf, col, sh, amt, reason in w.fills:
            rows.append((dates[w.session], w.window, sim.book.leaf_paths[leaf],
                         sim.market.tickers[col], sh, float(w.prices[col]), amt, reason))
    return _frame(rows, ["date", "window", "slice", "ticker", "shares", "price", "amount",
                         "reason"])


def _allocations(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    rows = []
    d = sim.settings.share_decimals
    for w in sim.ledger.windows:
        acc: dict[tuple[int, str], list[float]] = {}
        for leaf, col, sh, amt, reason in w.fills:
            cell = acc.setdefault((leaf, reason), [col, 0.0, 0.0])
            cell[1] += sh
            cell[2] += amt
        for (leaf, reason), (col, sh, amt) in acc.items():
            rows.append((dates[w.session], sim.book.leaf_paths[leaf],
                         sim.market.tickers[int(col)], round(sh, d), amt, reason))
    return _frame(rows, ["date", "slice", "ticker", "shares", "amount", "reason"])


def _holdings(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    rows = []
    prev = np.zeros(len(sim.book.leaf_paths))
    for i, shares in sim.share_snapshots:
        cur = np.zeros(len(prev))
        cur[: len(shares)] = shares
        for leaf in np.flatnonzero(cur != prev):
            rows.append((dates[i], sim.book.leaf_paths[leaf],
                         sim.market.tickers[sim.book.leaf_ticker[leaf]], float(cur[leaf])))
        prev = cur
    return _frame(rows, ["date", "slice", "ticker", "shares"])


def _drift(sim: Simulation, dates: np.ndarray, leaf_values: np.ndarray) -> pd.DataFrame:
    parts = []
    shapes = sim.shapes
    for k, (start, shape) in enumerate(shapes):
        stop = shapes[k + 1][0] if k + 1 < len(shapes) else sim.n
        if stop <= start or not shape.paths:
            continue
        w = slice_weights(leaf_values[start:stop], shape)
        n_rows, n_slices = w.shape
        parts.append(pd.DataFrame({
            "date": np.repeat(dates[start:stop], n_slices),
            "slice": pd.Categorical(np.tile(np.array(shape.paths, dtype=object), n_rows)),
            "target": np.tile(shape.target, n_rows),
            "actual": w.ravel(),
        }))
    if not parts:
        return _frame([], ["date", "slice", "target", "actual"])
    out = pd.concat(parts, ignore_index=True)
    out["slice"] = out["slice"].astype(object)
    return out


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        frame = frame.astype({"date": "datetime64[ns]"})
    return frame
