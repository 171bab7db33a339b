"""Everything a run needs, loaded and checked: the strategy and its market."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    from backtest.io.caveats import run_notes

    warnings = [*warnings, *run_notes(strategy, market)]
    check_share_grid(strategy, market)
    return Inputs(strategy, market, tuple(warnings))


# The engine counts shares as int64 units of the share grid (10**-share_decimals
# shares); beyond 2**63 units a buy would overflow and silently buy nothing.
UNITS_LIMIT = 2.0**62  # half the range: room for dividends and reinvested gains
_PERIOD_DAYS = {"week": 7, "2weeks": 14, "month": 28, "quarter": 89, "year": 365}


def check_share_grid(strategy: Strategy, market: Market) -> None:
    """Refuse deposits so large (for the lowest price and share_decimals) that
    the shares they buy cannot be counted on the share grid."""
    closes = market.close[np.isfinite(market.close)]
    if len(market.sessions) == 0 or len(closes) == 0:
        return
    first, last = (pd.Timestamp(market.sessions[i]).date() for i in (0, -1))
    total = 0.0
    for cf in strategy.cashflows:
        if cf.kind != "deposit":
            continue
        if cf.date is not None:
            total += cf.amount
            continue
        start, end = max(cf.start, first), min(cf.end or last, last)
        if end >= start:
            total += cf.amount * ((end - start).days // _PERIOD_DAYS[cf.every] + 1)
    low = float(closes.min())
    decimals = strategy.account.share_decimals
    if total / low * 10.0**decimals >= UNITS_LIMIT:
        money = f"${total:,.0f}" if total < 1e12 else f"${total:.3g}"
        raise StrategyError(
            f"deposits of up to {money} buy more shares at the lowest price "
            f"(${low:g}) than {decimals} share decimals can count (at most "
            f"{UNITS_LIMIT / 10.0**decimals:.3g} shares); use smaller amounts or fewer "
            "account.share_decimals", source=strategy.source, where="cashflows")
