"""A strategy: the pie, the account settings, cash flows and dated requests.

These are plain frozen values; the YAML parser builds them and the engine
reads them. Dates are `datetime.date`; amounts are dollars; targets percents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from backtest.domain.pie import Pie

Window = Literal["morning", "afternoon", "both"]
Allocation = Literal["waterfill", "proportional"]
Dividends = Literal["cash", "reinvest"]
Frequency = Literal["week", "2weeks", "month", "quarter", "year"]
RebalanceEvery = Literal["never", "month", "quarter", "year"]


@dataclass(frozen=True)
class AccountSettings:
    """The brokerage's auto-invest settings (trading-model.md, Settings)."""

    window: Window = "morning"
    window_minutes: int = 30
    auto_invest: bool = True
    cash_minimum: float = 0.0
    min_auto_invest: float = 25.0
    min_trade: float = 1.0
    share_decimals: int = 5
    allocation: Allocation = "waterfill"
    dividends: Dividends = "cash"  # reinvest: each slice's dividend bought back into it


@dataclass(frozen=True)
class PriceIndex:
    """A consumer price index (monthly levels), for withdrawals indexed to it."""

    dates: tuple[dt.date, ...]
    levels: tuple[float, ...]

    def level_on(self, day: dt.date) -> float:
        """The latest level published on or before `day` (the first one before it)."""
        import bisect

        k = bisect.bisect_right(self.dates, day) - 1
        return self.levels[max(k, 0)]


@dataclass(frozen=True)
class Cashflow:
    """A deposit (amount > 0) or withdrawal, one-off (`date`) or recurring (`every`).

    `indexed`: the amount is in dollars of the schedule's start and rises on
    every anniversary of it, by a fixed yearly rate (a float) or by the CPI
    (`"cpi"`, the series in `cpi`, from `data.cpi`). `percent`: a withdrawal of this
    yearly fraction of the account's value instead of an amount, split evenly
    over the year's occurrences (a one-off item takes it whole).
    """

    kind: Literal["deposit", "withdrawal"]
    amount: float
    date: dt.date | None = None  # one-off
    every: Frequency | None = None  # recurring
    start: dt.date | None = None
    end: dt.date | None = None
    indexed: float | Literal["cpi"] | None = None
    percent: float | None = None
    cpi: PriceIndex | None = field(default=None, repr=False)  # for indexed: cpi


@dataclass(frozen=True)
class RebalancePolicy:
    """Periodic and drift-band rebalancing of the whole portfolio."""

    every: RebalanceEvery = "never"
    drift_band: float | None = None  # percentage points


LotMethod = Literal["brokerage", "fifo", "hifo"]


@dataclass(frozen=True)
class TaxSettings:
    """How realized gains are estimated for a taxable account (analytics/tax.py).

    `lot_method`: which lots a sell closes (`brokerage`: the account's fixed
    order; `fifo` and `hifo` for comparison); rates are fractions.
    """

    lot_method: LotMethod = "brokerage"
    short_term_rate: float = 0.24
    long_term_rate: float = 0.15


@dataclass(frozen=True)
class SetTargets:
    """New targets for the slices of one pie; takes effect at once, never trades."""

    date: dt.date
    pie: str  # pie path, "portfolio" for the root
    targets: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class AddSlice:
    """Adds slices to a pie with the pie's new targets; never trades by itself.

    `new` holds the added slices (a ticker slice, or a sub-pie with its own
    slices); `targets` the new targets of every slice of that pie.
    """

    date: dt.date
    pie: str
    targets: tuple[tuple[str, float], ...]
    new: tuple[tuple[str, Pie | None], ...]  # (name, sub-pie or None for a ticker)


@dataclass(frozen=True)
class RemoveSlice:
    """Sell a slice (at any depth) and reinvest in its parent with new targets."""

    date: dt.date
    path: str
    targets: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Order:
    """A user order: buy or sell a slice (or "portfolio") for dollars, or sell all."""

    date: dt.date
    path: str
    side: Literal["buy", "sell"]
    amount: float | None  # None means "all" (sells only)


@dataclass(frozen=True)
class RebalanceRequest:
    """Trade every holding under a pie to its exact target share."""

    date: dt.date
    pie: str


Event = SetTargets | AddSlice | RemoveSlice | Order | RebalanceRequest


@dataclass(frozen=True)
class DataSpec:
    """Where the prices and halts are, and the run's optional date range."""

    prices: Path
    halts: Path | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    # `prices: yahoo[:T1,T2]`: the tickers downloaded (prices is then their cache file)
    online: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Strategy:
    """Everything one backtest needs apart from the market data itself."""

    name: str
    data: DataSpec
    portfolio: Pie
    account: AccountSettings = field(default_factory=AccountSettings)
    cashflows: tuple[Cashflow, ...] = ()
    rebalance: RebalancePolicy = field(default_factory=RebalancePolicy)
    events: tuple[Event, ...] = ()
    source: Path | None = None  # the strategy file, for messages
    tax: TaxSettings = field(default_factory=TaxSettings)

    def tickers(self) -> list[str]:
        """Every ticker the strategy names: the portfolio's, then added slices'."""
        seen: dict[str, None] = dict.fromkeys(self.portfolio.tickers())
        for ev in self.events:
            if isinstance(ev, AddSlice):
                for name, sub in ev.new:
                    if sub is None:
                        seen.setdefault(name, None)
                    else:
                        for t in sub.tickers():
                            seen.setdefault(t, None)
        return list(seen)
