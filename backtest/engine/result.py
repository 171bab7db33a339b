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
    raw = _fill_frame(sim, dates)
    scale = sim.book.scale
    return RunResult(
        name=sim.strategy.name,
        daily=daily,
        trades=_trades(raw, scale),
        allocations=_allocations(raw, scale),
        holdings=_holdings(sim, dates),
        drift=_drift(sim, dates, leaf_values),
        events=pd.DataFrame({
            "date": np.array([dates[e.session] for e in sim.ledger.events],
                             dtype="datetime64[ns]"),
            "kind": pd.Series([e.kind for e in sim.ledger.events], dtype=object),
            "detail": pd.Series([e.detail for e in sim.ledger.events], dtype=object),
        }),
        fills=_fills(raw, scale),
        total_deposits=float(sim.deposits.sum()),
        total_withdrawals=float(sim.withdrawals.sum()),
        total_dividends=float(sim.dividends.sum()),
    )


def _fill_frame(sim: Simulation, dates: np.ndarray) -> pd.DataFrame:
    """Every fill of every window, in execution order, as flat columns."""
    seq, session, window, leaf, col, units, amount, reason = ([] for _ in range(8))
    for k, w in enumerate(sim.ledger.windows):
        for f in w.fills:
            seq.append(k)
            session.append(w.session)
            window.append(w.window)
            leaf.append(f[0])
            col.append(f[1])
            units.append(f[2])
            amount.append(f[3])
            reason.append(f[4])
    col_arr = np.asarray(col, dtype=np.int64)
    prices = np.array([sim.ledger.windows[k].prices[c] for k, c in zip(seq, col, strict=True)])
    paths = np.asarray(sim.book.leaf_paths, dtype=object)
    tickers = np.asarray(sim.market.tickers, dtype=object)
    return pd.DataFrame({
        "seq": np.asarray(seq, dtype=np.int64),
        "date": dates[np.asarray(session, dtype=np.int64)],
        "window": pd.Series(window, dtype=object),
        "slice": paths[np.asarray(leaf, dtype=np.int64)] if leaf else paths[:0],
        "ticker": tickers[col_arr] if col else tickers[:0],
        "units": np.asarray(units, dtype=np.int64),
        "price": prices.astype(float),
        "amount": np.asarray(amount, dtype=float),
        "reason": pd.Series(reason, dtype=object),
    })


def _fills(raw: pd.DataFrame, scale: int) -> pd.DataFrame:
    out = raw.drop(columns=["seq"]).rename(columns={"units": "shares"})
    out["shares"] = raw["units"] / scale
    return out[["date", "window", "slice", "ticker", "shares", "price", "amount", "reason"]]


def _trades(raw: pd.DataFrame, scale: int) -> pd.DataFrame:
    """Fills netted per ticker per window; no row where buys and sells cancel."""
    net = (raw.groupby(["seq", "ticker"], sort=True)
           .agg(date=("date", "first"), window=("window", "first"), units=("units", "sum"),
                price=("price", "first"))
           .reset_index())
    net = net[net["units"] != 0]
    shares = net["units"].abs() / scale
    return pd.DataFrame({
        "date": net["date"].values,
        "window": net["window"].values,
        "ticker": net["ticker"].values,
        "side": np.where(net["units"] > 0, "buy", "sell").astype(object),
        "shares": shares.values,
        "price": net["price"].values,
        "amount": (shares * net["price"]).values,
    })


def _allocations(raw: pd.DataFrame, scale: int) -> pd.DataFrame:
    """One row per slice and reason per window (signed: + bought, - sold)."""
    agg = (raw.groupby(["seq", "slice", "reason"], sort=False)
           .agg(date=("date", "first"), ticker=("ticker", "first"), units=("units", "sum"),
                amount=("amount", "sum"))
           .reset_index())
    return pd.DataFrame({
        "date": agg["date"].values,
        "slice": agg["slice"].values,
        "ticker": agg["ticker"].values,
        "shares": (agg["units"] / scale).values,
        "amount": agg["amount"].values,
        "reason": agg["reason"].values,
    })


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
