"""Everything a run needs, loaded and checked: the strategy and its market."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from backtest.domain.strategy import Strategy
from backtest.errors import DataError, StrategyError
from backtest.io.strategy_file import load_strategy

if TYPE_CHECKING:  # the data side (numpy, pandas) is imported when a market is built
    import pandas as pd

    from backtest.engine.market import Market


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
    from backtest.io.halts import load_halts
    from backtest.io.market_builder import build_market
    from backtest.io.prices import load_prices

    notes: list[str] = []
    if prices is None:
        notes = ensure_online(strategy)
        prices = load_prices(strategy.data.prices)
    halts = load_halts(strategy.data.halts) if strategy.data.halts is not None else ()
    try:
        market, warnings = build_market(prices, strategy.tickers(), start=strategy.data.start,
                                        end=strategy.data.end, halts=halts,
                                        start_tickers=strategy.portfolio.tickers(),
                                        source=strategy.data.prices)
        return market, [*notes, *warnings]
    except DataError as exc:
        # data.start / data.end are keys of the strategy file: name that file (and the
        # price data the dates were checked against)
        if exc.where and exc.where.startswith("data.") and strategy.source is not None:
            raise DataError(f"{exc.message} in {strategy.data.prices}",
                            source=strategy.source, where=exc.where) from None
        raise


def ensure_online(strategy: Strategy) -> list[str]:
    """Download (or reuse the cached) prices of `prices: yahoo` (io/online.py); warnings."""
    data = strategy.data
    if data.online is None:
        return []
    from backtest.io.online import ensure_cached

    try:
        _, notes = ensure_cached(data.online, data.start, data.end)
    except DataError as exc:  # name the strategy file whose data.prices it is
        raise DataError(exc.message, source=strategy.source, where="data.prices") from None
    return notes


def load_inputs(path: str | Path) -> Inputs:
    """Parse the strategy file at `path` and build its market."""
    strategy = read_strategy(path)
    market, warnings = market_for(strategy)
    from backtest.io.caveats import run_notes

    warnings = [*warnings, *run_notes(strategy, market)]
    check_share_grid(strategy, market)
    return Inputs(strategy, market, tuple(warnings))


# The engine counts shares as int64 units of the share grid (10**-share_decimals
# shares), exact in float64 arithmetic only up to 2**53 units: beyond, holdings
# drift (a holding of -1e-8 shares). Deposits that could buy more at the lowest
# price are refused here; gains that get there later stop the engine (one line).
UNITS_LIMIT = 2.0**53
_PERIOD_DAYS = {"week": 7, "2weeks": 14, "month": 28, "quarter": 89, "year": 365}


def check_share_grid(strategy: Strategy, market: Market) -> None:
    """Refuse deposits so large (for the lowest price and share_decimals) that
    the shares they buy cannot be counted on the share grid."""
    import numpy as np
    import pandas as pd

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
