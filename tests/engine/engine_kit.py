"""Tiny hand-made markets and strategies for engine tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from backtest.domain.halts import Halt
from backtest.domain.strategy import Strategy
from backtest.engine.market import Market
from backtest.engine.result import RunResult, run
from backtest.engine.simulation import Simulation
from backtest.io.strategy_file import parse_strategy

START = "2024-01-08"  # a Monday


def sessions(n: int, start: str = START) -> np.ndarray:
    return pd.bdate_range(start, periods=n).values.astype("datetime64[D]")


def market(closes: dict[str, list[float]], *, opens: dict[str, list[float]] | None = None,
           dividends: dict[str, list[float]] | None = None, halts: tuple[Halt, ...] = (),
           close_time: list[int] | None = None, start: str = START,
           days: np.ndarray | None = None) -> Market:
    tickers = tuple(closes)
    n = len(next(iter(closes.values())))
    close = np.array([closes[t] for t in tickers], dtype=float).T
    if opens is None:
        open_ = close.copy()
    else:
        open_ = np.array([opens.get(t, closes[t]) for t in tickers], dtype=float).T
    div = np.zeros_like(close)
    for t, d in (dividends or {}).items():
        div[:, tickers.index(t)] = d
    ct = None if close_time is None else np.array(close_time, dtype=np.int64)
    return Market(days if days is not None else sessions(n, start), tickers, open_, close,
                  div, True, ct, halts)


def strategy(text: str) -> Strategy:
    doc = yaml.safe_load("name: test\ndata: {prices: unused.parquet}\n" + text)
    return parse_strategy(doc, source=Path("test.yaml"), base_dir=Path("."))


def simulate(strat: Strategy, mkt: Market) -> RunResult:
    return run(Simulation(strat, mkt))


def day(i: int, start: str = START) -> pd.Timestamp:
    return pd.Timestamp(sessions(i + 1, start)[i])


def date(i: int, start: str = START) -> dt.date:
    return day(i, start).date()
