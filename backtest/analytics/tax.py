"""What a run's trading costs in taxes: realized gains per year, the estimated
tax on them, unrealized gains at the end, and dividends per year as income.

Built on the pure lot accounting of `backtest.analytics.lots` (from the run's
fills). No I/O.

**Netting rule** (`estimate_tax`), one calendar year at a time, in the way
US capital-gains netting works (simplified):

1. Within each term, gains and losses of the year net: net short-term and
   net long-term. A loss carried forward from earlier years joins the net of
   its own term (a short-term carryforward is a short-term loss).
2. A net loss in one term offsets a net gain in the other term.
3. Estimated tax = `short_term_rate x max(0, net short) + long_term_rate x
   max(0, net long)`.
4. A net loss left over (per term) is **carried forward** to the next year,
   with no limit in time. The $3,000 deduction against ordinary income is
   not modelled; a loss left at the end of the run is reported as
   `tax_loss_carryforward` (negative or zero).

Dividends are reported per calendar year as income; they are not part of the
estimated tax (whether they are qualified is not known from price data).

**Tax drag** (`tax_drag`) = total estimated tax / final value: the fraction of
the ending account that the realized gains cost in tax (paid from outside the
account, so it does not compound). `after_tax_value` = final value - estimated
tax, the number to rank settings by after tax; `liquidation_tax` is what
selling everything at the last close would cost, counted as a year of its
own after the run (unrealized gains by the term each open lot has at the
end, netted with the loss carried out of the last year).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.analytics.lots import lots_table, realized_table, replay

TAX_TABLES = ("lots", "realized")  # lots.parquet, realized.parquet

SHORT_TERM_RATE = 0.24
LONG_TERM_RATE = 0.15


@dataclass(frozen=True)
class TaxTables:
    """`lots`: open lots at the end; `realized`: one row per closed lot piece."""

    lots: pd.DataFrame
    realized: pd.DataFrame


@dataclass(frozen=True)
class YearTax:
    """One calendar year of the netting rule (module docstring)."""

    year: int
    short_term: float  # realized this year, before netting
    long_term: float
    net_short: float  # after the carryforward and the cross-term offset
    net_long: float
    estimated_tax: float
    carry_short: float  # loss carried into the next year (<= 0)
    carry_long: float


def tax_tables(fills: pd.DataFrame, *, lot_method: str = "brokerage",
               share_decimals: int | None = 5,
               end: dt.date | None = None,
               close: Mapping[str, float] | None = None) -> TaxTables:
    """The open lots at `end` (valued at `close`, ticker -> last close) and the
    realized pieces, from the run's fills."""
    cols = replay(fills, lot_method, share_decimals)
    return TaxTables(lots=lots_table(cols, end, close), realized=realized_table(cols))


def realized_by_year(realized: pd.DataFrame) -> dict[int, tuple[float, float]]:
    """Calendar year of the sale -> (short-term gain, long-term gain), net of losses."""
    if realized is None or not len(realized):
        return {}
    years = pd.to_datetime(realized["close_date"]).dt.year.to_numpy()
    gain = realized["gain"].to_numpy(dtype=float)
    long_ = (realized["term"] == "long").to_numpy()
    out = {}
    for y in np.unique(years):
        sel = years == y
        out[int(y)] = (float(gain[sel & ~long_].sum()), float(gain[sel & long_].sum()))
    return out


def net_year(short: float, long_: float) -> tuple[float, float]:
    """Step 2 of the netting rule: a net loss of one term offsets the other's gain."""
    if short < 0 < long_:
        off = min(-short, long_)
        return short + off, long_ - off
    if long_ < 0 < short:
        off = min(-long_, short)
        return short - off, long_ + off
    return short, long_


def estimate_tax(by_year: Mapping[int, tuple[float, float]], *,
                 short_term_rate: float = SHORT_TERM_RATE,
                 long_term_rate: float = LONG_TERM_RATE,
                 years: list[int] | None = None) -> list[YearTax]:
    """The netting rule over the years (ascending), carrying losses forward.

    `years` lists the years to report (default: those in `by_year`); a year
    without sales still reports the carryforward it passes on.
    """
    out = []
    carry_s = carry_l = 0.0
    for y in sorted(set(by_year) | set(years or ())):
        s, lg = by_year.get(y, (0.0, 0.0))
        net_s, net_l = net_year(s + carry_s, lg + carry_l)
        tax = short_term_rate * max(0.0, net_s) + long_term_rate * max(0.0, net_l)
        carry_s, carry_l = min(0.0, net_s), min(0.0, net_l)
        out.append(YearTax(y, s, lg, net_s, net_l, tax, carry_s, carry_l))
    return out


def dividends_from_cash(daily: pd.DataFrame, fills: pd.DataFrame) -> np.ndarray:
    """Dividends credited per session, rebuilt from the cash column.

    Cash changes in a session only by deposits - withdrawals (`net_flow`),
    dividends, and fills (a buy's amount leaves cash, a sell's enters it), so
    `dividend = cash - previous cash - net_flow + sum(signed fill amounts)`.
    Exact up to float error (rounded to 1e-9 dollars; clipped at 0).
    """
    if daily is None or not len(daily):
        return np.zeros(0)
    dates = pd.to_datetime(daily["date"]).to_numpy()
    cash = daily["cash"].to_numpy(dtype=float)
    change = np.diff(np.concatenate([[0.0], cash]))
    traded = np.zeros(len(dates))
    if fills is not None and len(fills):
        pos = np.searchsorted(dates, pd.to_datetime(fills["date"]).to_numpy())
        np.add.at(traded, pos, fills["amount"].to_numpy(dtype=float))
    div = change - daily["net_flow"].to_numpy(dtype=float) + traded
    return np.clip(np.round(div, 9), 0.0, None)


def by_calendar_year(dates: Any, amounts: Any) -> dict[int, float]:
    """Sum `amounts` per calendar year of `dates` (years with a zero sum kept)."""
    years = pd.DatetimeIndex(pd.to_datetime(dates)).year.to_numpy()
    amounts = np.asarray(amounts, dtype=float)
    return {int(y): float(amounts[years == y].sum()) for y in np.unique(years)}


def tax_summary(fills: pd.DataFrame, daily: pd.DataFrame, *, lot_method: str = "brokerage",
                short_term_rate: float = SHORT_TERM_RATE,
                long_term_rate: float = LONG_TERM_RATE, share_decimals: int | None = 5,
                dividends: Any = None, tables: TaxTables | None = None) -> dict[str, Any]:
    """The summary.json tax keys for a run.

    `dividends`, when given, is the per-session dividend series
    (`Simulation.dividends`); otherwise it is rebuilt from `daily` and `fills`
    (`dividends_from_cash`). `tables` reuses lot tables already built; the
    unrealized gain is always `final invested - cost of the open lots`, which
    needs no per-ticker prices.
    """
    if tables is None:
        tables = tax_tables(fills, lot_method=lot_method, share_decimals=share_decimals)
    realized, lots = tables.realized, tables.lots
    has_days = daily is not None and len(daily) > 0
    dates = pd.to_datetime(daily["date"]) if has_days else pd.Series([], dtype="datetime64[ns]")
    run_years = sorted({int(y) for y in dates.dt.year}) if has_days else []
    per_year = estimate_tax(realized_by_year(realized), short_term_rate=short_term_rate,
                            long_term_rate=long_term_rate, years=run_years)
    final_value = float(daily["value"].iloc[-1]) if has_days else 0.0
    invested = float(daily["invested"].iloc[-1]) if has_days else 0.0
    open_cost = float(lots["cost"].sum()) if len(lots) else 0.0
    unrealized = invested - open_cost if len(lots) else 0.0
    short_total = float(realized.loc[realized["term"] == "short", "gain"].sum())
    long_total = float(realized.loc[realized["term"] == "long", "gain"].sum())
    tax_total = float(sum(y.estimated_tax for y in per_year))
    carry_s = per_year[-1].carry_short if per_year else 0.0
    carry_l = per_year[-1].carry_long if per_year else 0.0

    if dividends is None:
        dividends = dividends_from_cash(daily, fills) if has_days else np.zeros(0)
    div_years = by_calendar_year(dates, dividends) if has_days else {}

    return {
        "tax_lot_method": lot_method,
        "short_term_rate": short_term_rate,
        "long_term_rate": long_term_rate,
        "realized_short_term": short_total,
        "realized_long_term": long_total,
        "realized_gain": short_total + long_total,
        "unrealized_gain": unrealized,
        "estimated_tax": tax_total,
        "tax_drag": tax_total / final_value if final_value > 0 else None,
        "after_tax_value": final_value - tax_total,
        "liquidation_tax": _liquidation_tax(lots, unrealized, carry_s, carry_l,
                                            short_term_rate, long_term_rate),
        "tax_loss_carryforward": carry_s + carry_l,
        "tax_by_year": {
            str(y.year): {"realized_short_term": y.short_term,
                          "realized_long_term": y.long_term,
                          "net_short_term": y.net_short, "net_long_term": y.net_long,
                          "estimated_tax": y.estimated_tax,
                          "loss_carryforward": y.carry_short + y.carry_long}
            for y in per_year
        },
        "dividends_by_year": {str(y): v for y, v in div_years.items()},
    }


def _liquidation_tax(lots: pd.DataFrame, unrealized: float, carry_s: float, carry_l: float,
                     short_rate: float, long_rate: float) -> float | None:
    """Tax on selling every open lot at the last close, after the carryforward.

    Uses the lots' per-term unrealized gains when they are valued; without
    prices (NaN values) the whole unrealized gain is treated as long-term only
    when every open lot is long-term at the end, else None.
    """
    if not len(lots):
        return 0.0
    gains = lots["unrealized_gain"]
    long_ = lots["term"] == "long"
    if gains.isna().any():
        if long_.all():
            s, lg = 0.0, unrealized
        else:
            return None
    else:
        s, lg = float(gains[~long_].sum()), float(gains[long_].sum())
    net_s, net_l = net_year(s + carry_s, lg + carry_l)
    return short_rate * max(0.0, net_s) + long_rate * max(0.0, net_l)


# --- a whole run ----------------------------------------------------------------


def closes_at_end(drift: pd.DataFrame, invested: float,
                  shares: Mapping[str, tuple[str, float]]) -> dict[str, float]:
    """Each held ticker's last close, rebuilt from the run's own tables.

    A leaf slice's value at the last close is `invested` times its weight and
    the weights of every pie above it (drift's `actual` at the last date);
    its close is that value over its shares. `shares` maps a slice path to
    (ticker, shares held at the end). A slice without drift rows is left out.
    """
    if drift is None or not len(drift) or not shares:
        return {}
    last = drift[drift["date"] == drift["date"].max()]
    weight = dict(zip(last["slice"], last["actual"].astype(float), strict=True))
    out: dict[str, float] = {}
    for path, (ticker, held) in shares.items():
        if ticker in out or held <= 0:
            continue
        parts = path.split("/")
        prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
        if not all(p in weight and np.isfinite(weight[p]) for p in prefixes):
            continue
        out[ticker] = invested * float(np.prod([weight[p] for p in prefixes])) / held
    return out


def run_tax_tables(result: Any, *, lot_method: str = "brokerage",
                   share_decimals: int | None = None) -> TaxTables:
    """`tax_tables` for a `RunResult` (its fills, daily and drift): the open
    lots valued at the last close (`closes_at_end`), their term at the last
    session. `share_decimals=None` reads the grid from the fills."""
    cols = replay(result.fills, lot_method, share_decimals)
    daily = result.daily
    end = pd.Timestamp(daily["date"].iloc[-1]).date() if len(daily) else None
    held: dict[str, tuple[str, float]] = {}
    o = cols.open
    for slice_, ticker_, shares in zip(o["slice"], o["ticker"], o["shares"].tolist(),
                                       strict=True):
        ticker, n = held.get(slice_, (ticker_, 0.0))
        held[slice_] = (ticker, n + shares)
    invested = float(daily["invested"].iloc[-1]) if len(daily) else 0.0
    close = closes_at_end(result.drift, invested, held)
    return TaxTables(lots=lots_table(cols, end, close), realized=realized_table(cols))


def run_tax_summary(result: Any, settings: Any = None, *, dividends: Any = None,
                    share_decimals: int | None = None,
                    tables: TaxTables | None = None) -> dict[str, Any]:
    """`tax_summary` for a `RunResult`; `settings` is a `TaxSettings` (or None
    for the defaults: brokerage order, 24% short-term, 15% long-term)."""
    method = getattr(settings, "lot_method", "brokerage")
    if tables is None:
        tables = run_tax_tables(result, lot_method=method, share_decimals=share_decimals)
    return tax_summary(result.fills, result.daily, lot_method=method,
                       short_term_rate=getattr(settings, "short_term_rate", SHORT_TERM_RATE),
                       long_term_rate=getattr(settings, "long_term_rate", LONG_TERM_RATE),
                       dividends=dividends, tables=tables)
