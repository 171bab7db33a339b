"""Returns over fixed periods of a TWR index: trailing N years and rolling 12 months.

Pure: no I/O. The index is the run's ``twr_index`` (1.0 before the first
session), a float Series indexed by session date.
"""

from __future__ import annotations

import math

import pandas as pd

from backtest.analytics import returns as R

TRAILING_YEARS = (1, 3, 5, 10)
# A period that starts up to this many days before the first session still
# counts as covered: its base is the 1.0 the index has before the first session
# (a run from 2013-01-02 to 2022-12-30 has a 10-year figure).
START_SLACK_DAYS = 7

TRAILING_COLUMNS = ["period", "years", "start", "end", "total", "annualised"]


def _value_on_or_before(index: pd.Series, day: pd.Timestamp) -> float | None:
    """The index at the close of the last session on or before ``day``; 1.0 (the
    base) when ``day`` falls within the slack before the first session."""
    upto = index[index.index <= day]
    if len(upto):
        return float(upto.iloc[-1])
    if (index.index[0] - day).days <= START_SLACK_DAYS:
        return 1.0
    return None


def trailing_returns(index: pd.Series, years: tuple[int, ...] = TRAILING_YEARS) -> pd.DataFrame:
    """The return over the last N calendar years of the run, and over the whole run.

    For N years the base is the index at the last session on or before
    ``end - N years`` (calendar, ``pd.DateOffset``); ``total = end / base - 1``
    and ``annualised = (end / base) ** (1 / N) - 1``. A period longer than the
    run is left out. The whole run's row ("Whole run") chains every session
    from the 1.0 base: its total is the TWR and its annualised figure is the
    run's CAGR (252 sessions a year, `returns.cagr`), the same numbers the
    headline shows. Columns: TRAILING_COLUMNS (``years`` is None for the whole run).
    """
    idx = index.dropna().astype(float).sort_index()
    if len(idx) == 0:
        return pd.DataFrame(columns=TRAILING_COLUMNS)
    end_day, end = idx.index[-1], float(idx.iloc[-1])
    rows = []
    for n in years:
        start_day = end_day - pd.DateOffset(years=n)
        base = _value_on_or_before(idx, start_day)
        if base is None or base <= 0:
            continue
        growth = end / base
        ann = growth ** (1.0 / n) - 1.0 if growth > 0 else -1.0
        rows.append({"period": f"{n} year" + ("s" if n > 1 else ""), "years": n,
                     "start": start_day, "end": end_day, "total": growth - 1.0,
                     "annualised": ann})
    cagr = R.cagr(R.daily_returns(idx))
    rows.append({"period": "Whole run", "years": None, "start": idx.index[0], "end": end_day,
                 "total": end - 1.0, "annualised": cagr if math.isfinite(cagr) else None})
    return pd.DataFrame(rows, columns=TRAILING_COLUMNS)


def month_end_index(index: pd.Series) -> pd.Series:
    """The index at the last session of each month (indexed by month Periods), with
    the 1.0 base as the month before the first session's (so the first month has
    a start value)."""
    idx = index.dropna().astype(float).sort_index()
    if len(idx) == 0:
        return pd.Series(dtype=float)
    me = idx.groupby(idx.index.to_period("M")).last()
    base = pd.Series([1.0], index=pd.PeriodIndex([me.index[0] - 1]))
    return pd.concat([base, me])


def rolling_returns(index: pd.Series, months: int = 12) -> pd.Series:
    """The return over each ``months``-month window ending at a month's last session.

    ``index(month end) / index(month end, months earlier) - 1`` on the month-end
    values of `month_end_index`; indexed by the window's last month (a Period)
    and empty when the run is shorter than the window.
    """
    me = month_end_index(index)
    if len(me) <= months:
        return pd.Series(dtype=float, name=f"rolling_{months}m")
    out = (me / me.shift(months) - 1.0).iloc[months:]
    out.name = f"rolling_{months}m"
    return out
