"""What the account holds at the end and where its value came from (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

HOLDING_COLUMNS = ["slice", "ticker", "shares", "value", "weight", "target", "cost_basis",
                   "unrealized_gain", "unrealized_return", "lots"]


def holdings_at_end(lots: pd.DataFrame, targets: Mapping[str, float] | None = None
                    ) -> pd.DataFrame:
    """One row per slice (and ticker) from the open lots at the end of the run.

    ``lots`` is the run's lots table (one row per open lot: slice, ticker,
    shares, cost, value at the last close). Per slice: shares and value are
    the lots' sums, ``cost_basis`` the sum of the lots' costs (shares x the
    price each lot was bought at), ``unrealized_gain = value - cost_basis``,
    ``unrealized_return = gain / cost_basis``, ``weight = value / the sum of
    every slice's value`` (the share of the invested portfolio, cash not
    counted), and ``target`` the slice's target share of the portfolio from
    ``targets`` (slice path -> fraction; None when absent). Rows in slice order
    of the lots table's first appearance; slices with no open lot are left out.
    """
    if lots is None or len(lots) == 0:
        return pd.DataFrame(columns=HOLDING_COLUMNS)
    g = lots.groupby(["slice", "ticker"], sort=False, observed=True)
    out = g.agg(shares=("shares", "sum"), value=("value", "sum"), cost_basis=("cost", "sum"),
                lots=("shares", "size")).reset_index()
    total = float(out["value"].sum())
    out["weight"] = out["value"] / total if total > 0 else np.nan
    out["unrealized_gain"] = out["value"] - out["cost_basis"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["unrealized_return"] = np.where(out["cost_basis"] > 0,
                                            out["unrealized_gain"] / out["cost_basis"], np.nan)
    t = targets or {}
    out["target"] = [t.get(str(s)) for s in out["slice"]]
    out["slice"] = out["slice"].astype(str)
    out["ticker"] = out["ticker"].astype(str)
    return out[HOLDING_COLUMNS]


def contributions(final_value: float, deposits: float, withdrawals: float,
                  dividends: float | None = None) -> dict[str, Any]:
    """Where the final value came from: money put in, taken out, and growth.

    ``growth = final_value - deposits + withdrawals`` (everything the account
    made), split into ``dividends`` (cash paid by the holdings, whether kept or
    reinvested) and ``market`` (the rest: price moves). ``put_in_share`` is
    deposits / final value (None when the final value is not positive).
    """
    growth = float(final_value) - float(deposits) + float(withdrawals)
    div = float(dividends) if dividends is not None else 0.0
    return {
        "deposits": float(deposits), "withdrawals": float(withdrawals),
        "dividends": div, "market": growth - div, "growth": growth,
        "final_value": float(final_value),
        "put_in_share": float(deposits) / final_value if final_value > 0 else None,
    }


YEAR_COLUMNS = ["year", "start_value", "net_flow", "growth", "end_value", "dividends"]


def contributions_by_year(daily: pd.DataFrame,
                          dividends_by_year: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per calendar year: value at the start, net money put in, growth, value at the end.

    ``start_value`` is the last value of the previous year (0 for the first),
    ``net_flow`` the year's deposits minus withdrawals, ``growth = end_value -
    start_value - net_flow`` (what the market and dividends added), and
    ``dividends`` the year's dividends when given (0.0 otherwise).
    """
    if daily is None or len(daily) == 0:
        return pd.DataFrame(columns=YEAR_COLUMNS)
    d = pd.DataFrame({"date": pd.to_datetime(daily["date"]),
                      "value": daily["value"].astype(float),
                      "net_flow": daily["net_flow"].astype(float)})
    g = d.groupby(d["date"].dt.year)
    out = pd.DataFrame({"end_value": g["value"].last(), "net_flow": g["net_flow"].sum()})
    out["start_value"] = out["end_value"].shift(1).fillna(0.0)
    out["growth"] = out["end_value"] - out["start_value"] - out["net_flow"]
    div = dividends_by_year or {}
    out["dividends"] = [float(div.get(str(y), div.get(y, 0.0)) or 0.0) for y in out.index]
    out.index.name = "year"
    return out.reset_index()[YEAR_COLUMNS]
