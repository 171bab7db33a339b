"""Everything a run needs, loaded and checked: the strategy and its market."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from backtest.domain.strategy import Strategy
from backtest.engine.market import Market
from backtest.errors import DataError, StrategyError
from backtest.io.halts import load_halts
from backtest.io.market_builder import build_market
from backtest.io.prices import load_prices
from backtest.io.strategy_file import load_strategy


@dataclass(frozen=True)
class Inputs:
    """A parsed strategy, its market and the warnings loading raised."""

    strategy: Strategy
    market: Market
    warnings: tuple[str, ...]


def read_strategy(path: str | Path) -> Strategy:
    """`load_strategy`, with conversion failures on user input as one-line errors."""
    try:
        return load_strategy(path)
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise StrategyError(f"cannot read the strategy: {' '.join(str(exc).split())}",
                            source=path) from exc


def market_for(strategy: Strategy, prices: pd.DataFrame | None = None) -> tuple[Market, list[str]]:
    """Build the strategy's market (loading its prices unless given)."""
    if prices is None:
        prices = load_prices(strategy.data.prices)
    halts = load_halts(strategy.data.halts) if strategy.data.halts is not None else ()
    try:
        return build_market(prices, strategy.tickers(), start=strategy.data.start,
                            end=strategy.data.end, halts=halts,
                            start_tickers=strategy.portfolio.tickers(),
                            source=strategy.data.prices)
    except DataError as exc:
        # data.start / data.end are keys of the strategy file: name that file (and the
        # price data the dates were checked against)
        if exc.where and exc.where.startswith("data.") and strategy.source is not None:
            raise DataError(f"{exc.message} in {strategy.data.prices}",
                            source=strategy.source, where=exc.where) from None
        raise


def load_inputs(path: str | Path) -> Inputs:
    """Parse the strategy file at `path` and build its market."""
    strategy = read_strategy(path)
    market, warnings = market_for(strategy)
    return Inputs(strategy, market, tuple(warnings))
