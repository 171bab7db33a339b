"""The benchmark workloads (issue "Performance"): strategies and markets built in code.

W1 nested: the bundled 20 stocks 1990-2022 in three sub-pies, monthly deposits
and full rebalances, afternoon window. W2 scale: 500 seeded synthetic
securities over 30 years with opens, quarterly dividends and 20 market halts.
W3 deep: 2,000 leaf slices five levels deep over 20 years, monthly deposits
and withdrawals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.domain.halts import Halt
from backtest.domain.pie import Pie, Slice
from backtest.domain.strategy import (
    AccountSettings,
    Cashflow,
    DataSpec,
    RebalancePolicy,
    Strategy,
)
from backtest.engine.market import Market

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "sp500_stocks.parquet"

TECH = ["AAPL", "AMD", "MSFT"]
FIN_ENERGY = ["BAC", "JPM", "CVX", "XOM", "RRC"]


@dataclass(frozen=True)
class Workload:
    name: str
    strategy: Strategy
    market: Market
    prices: pd.DataFrame | None = None  # wide closes, for peers


def equal_pie(tickers: list[str], decimals: int = 3) -> Pie:
    """Equal targets that sum to exactly 100 at `decimals` places."""
    n = len(tickers)
    base = round(100 / n, decimals)
    targets = [base] * n
    targets[0] = round(100 - base * (n - 1), decimals)
    return Pie(tuple(Slice(t, w, ticker=t) for t, w in zip(tickers, targets, strict=True)))


def w1_nested(rebalance: str = "month") -> Workload:
    from backtest.io.market_builder import build_market
    from backtest.io.prices import load_prices

    prices = load_prices(SAMPLE)
    tickers = sorted(prices["ticker"].unique())
    defensive = [t for t in tickers if t not in TECH + FIN_ENERGY]
    pie = Pie((
        Slice("Tech", 40, pie=equal_pie(TECH)),
        Slice("FinanceEnergy", 25, pie=equal_pie(FIN_ENERGY)),
        Slice("Defensive", 35, pie=equal_pie(defensive)),
    ))
    first = prices["date"].min().date()
    strategy = Strategy(
        name="W1 nested",
        data=DataSpec(prices=SAMPLE),
        portfolio=pie,
        account=AccountSettings(window="afternoon"),
        cashflows=(Cashflow("deposit", 10_000, date=first),
                   Cashflow("deposit", 500, every="month", start=dt.date(1990, 2, 1))),
        rebalance=RebalancePolicy(every=rebalance),
    )
    market, _ = build_market(prices, strategy.tickers(), start=None, end=None)
    wide = prices.pivot(index="date", columns="ticker", values="close")
    return Workload("W1 nested", strategy, market, wide)


def synthetic_market(n_tickers: int, n_sessions: int, seed: int = 7,
                     halts: int = 20) -> tuple[Market, pd.DataFrame]:
    """Seeded random-walk opens and closes with a quarterly dividend for every security."""
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("1993-01-04", periods=n_sessions).values.astype("datetime64[D]")
    rets = rng.normal(0.0003, 0.015, size=(n_sessions, n_tickers))
    close = 50 * np.exp(np.cumsum(rets, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.004, size=close.shape))
    dividend = np.zeros_like(close)
    months = sessions.astype("datetime64[M]")
    quarter_start = np.r_[True, months[1:] != months[:-1]] & \
        (months.astype(np.int64) % 3 == 1)
    dividend[quarter_start] = close[quarter_start] * 0.005
    tickers = tuple(f"S{i:04d}" for i in range(n_tickers))
    halt_days = rng.choice(n_sessions, size=min(halts, n_sessions), replace=False)
    halt_list = tuple(sorted(
        (Halt(sessions[d].astype(object), 9 * 60 + 30 + int(rng.integers(0, 300)), None,
              "market", "1") for d in halt_days), key=lambda h: h.date))
    halt_list = tuple(Halt(h.date, h.start, h.start + 15, h.scope, h.level) for h in halt_list)
    market = Market(sessions, tickers, open_, close, dividend, True, None, halt_list)
    wide = pd.DataFrame(close, index=pd.to_datetime(sessions), columns=list(tickers))
    return market, wide


def w2_scale(n_tickers: int = 500, years: float = 30, rebalance: str = "quarter") -> Workload:
    n_sessions = int(round(252 * years))
    market, wide = synthetic_market(n_tickers, n_sessions)
    start = market.sessions[0].astype(object)
    strategy = Strategy(
        name=f"W2 scale {n_tickers}x{n_sessions}",
        data=DataSpec(prices=Path("synthetic")),
        portfolio=equal_pie(list(market.tickers), decimals=3),
        account=AccountSettings(window="morning"),
        cashflows=(Cashflow("deposit", 1000, every="month", start=start),),
        rebalance=RebalancePolicy(every=rebalance),
    )
    return Workload(strategy.name, strategy, market, wide)


def deep_pie(n_leaves: int, depth: int, tickers: list[str]) -> Pie:
    """A pie `depth` levels deep with `n_leaves` leaf slices spread evenly."""
    fan = max(2, round(n_leaves ** (1 / depth)))
    counter = iter(range(n_leaves))

    def build(level: int, budget: int) -> Pie:
        if level == depth or budget <= fan:
            names = [tickers[next(counter) % len(tickers)] for _ in range(budget)]
            slices = equal_pie([f"L{i}" for i in range(budget)])
            return Pie(tuple(Slice(f"{n}_{s.name}", s.target, ticker=n)
                             for n, s in zip(names, slices.slices, strict=True)))
        parts = [budget // fan + (1 if i < budget % fan else 0) for i in range(fan)]
        parts = [p for p in parts if p > 0]
        weights = equal_pie([f"P{i}" for i in range(len(parts))])
        return Pie(tuple(Slice(f"P{level}_{i}", w.target, pie=build(level + 1, p))
                         for i, (p, w) in enumerate(zip(parts, weights.slices, strict=True))))

    return build(1, n_leaves)


def w3_deep(n_leaves: int = 2000, depth: int = 5, years: float = 20) -> Workload:
    n_sessions = int(round(252 * years))
    market, wide = synthetic_market(500, n_sessions, seed=11, halts=0)
    start = market.sessions[0].astype(object)
    pie = deep_pie(n_leaves, depth, list(market.tickers))
    strategy = Strategy(
        name="W3 deep",
        data=DataSpec(prices=Path("synthetic")),
        portfolio=pie,
        account=AccountSettings(window="afternoon"),
        cashflows=(Cashflow("deposit", 100_000, date=start),
                   Cashflow("deposit", 2_000, every="month", start=start),
                   Cashflow("withdrawal", 1_000, every="month",
                            start=start + dt.timedelta(days=14))),
    )
    return Workload(strategy.name, strategy, market, wide)
