"""Inflation-adjusted ("real") values from a consumer price index (pure: no I/O)."""

from __future__ import annotations

import math

import pandas as pd

from backtest.analytics import returns as R

# A monthly index is published late: its last value may be this many days
# before the run's last session and still count as covering the run.
END_SLACK_DAYS = 62


def deflator(cpi: pd.Series, dates: pd.DatetimeIndex) -> pd.Series | None:
    """The price level on each session relative to the first session's (1.0 there).

    ``cpi`` is a price index by date (monthly: each value holds from its date
    until the next). None when it does not cover the run: it must start on or
    before the first session and end no more than `END_SLACK_DAYS` before the
    last one.
    """
    c = pd.Series(pd.to_numeric(cpi, errors="coerce").to_numpy(dtype=float),
                  index=pd.DatetimeIndex(pd.to_datetime(cpi.index))).dropna().sort_index()
    c = c[c > 0]
    dates = pd.DatetimeIndex(dates)
    if c.empty or len(dates) == 0:
        return None
    if c.index[0] > dates[0] or (dates[-1] - c.index[-1]).days > END_SLACK_DAYS:
        return None
    level = c.reindex(c.index.union(dates)).ffill().reindex(dates)
    return pd.Series(level.to_numpy() / float(level.iloc[0]), index=dates, name="deflator")


def real_values(values: pd.Series, cpi: pd.Series) -> pd.Series | None:
    """Values in dollars of the first session: ``value_t / deflator_t`` (None if not covered)."""
    v = values.astype(float)
    f = deflator(cpi, pd.DatetimeIndex(v.index))
    if f is None:
        return None
    return pd.Series(v.to_numpy() / f.to_numpy(), index=v.index, name="real_value")


def real_cagr(index: pd.Series, cpi: pd.Series) -> float | None:
    """CAGR of the TWR index net of inflation (252 sessions a year), None if not covered.

    The real index is ``twr_index_t / deflator_t``; its base before the first
    session is 1.0, as the nominal index's."""
    real = real_values(index, cpi)
    if real is None:
        return None
    v = R.cagr(R.daily_returns(real))
    return v if math.isfinite(v) else None
