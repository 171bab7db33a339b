"""Monthly market factors as a benchmark and a risk-free rate (pure: no I/O).

The inputs are monthly series of fractions (0.01 = 1%) indexed by the month's
last calendar day, as in data/sample/ff_monthly.parquet: `mkt`, the whole US
market's total return (dividends reinvested), and `rf`, the one-month
Treasury bill rate.
"""

from __future__ import annotations

import pandas as pd

from backtest.analytics.returns import PERIODS_PER_YEAR


def total_return_levels(mkt: pd.Series) -> pd.Series:
    """Growth of 1 invested in the market, at the last business day of each month.

    The level before the first month (1.0) is dated at the end of the month
    before, so a run starting in any month of the series has a base to
    compare from. Levels are dated on the month's last weekday: a run's
    sessions then pick each month's return up on the month's last session
    (one session later when that weekday is a holiday).
    """
    r = mkt.astype(float).sort_index()
    if r.empty:
        return pd.Series(dtype=float)
    months = pd.DatetimeIndex(r.index).to_period("M")
    first = months[0] - 1
    periods = pd.PeriodIndex([first]).append(months)
    values = [1.0, *(1.0 + r).cumprod().tolist()]
    dates = periods.to_timestamp(how="end").normalize()
    dates = _last_weekday(dates)
    return pd.Series(values, index=dates, dtype=float)


def _last_weekday(month_ends: pd.DatetimeIndex) -> pd.DatetimeIndex:
    # Saturday -> Friday, Sunday -> Friday; weekdays stay.
    shift = month_ends.day_of_week.map({5: 1, 6: 2}).fillna(0).astype(int)
    return pd.DatetimeIndex(month_ends - pd.to_timedelta(shift, unit="D"))


def risk_free_rate(rf: pd.Series, dates) -> float | None:
    """The annual risk-free rate over a run's session ``dates``, or None when a
    session's month is not in ``rf`` (the run is not covered).

    Each session earns its month's bill rate spread evenly over the
    PERIODS_PER_YEAR / 12 sessions of a month: ``d_m = (1 + rf_m) ** (12 /
    PERIODS_PER_YEAR) - 1``. The mean of ``d`` over the sessions, annualised
    like the Sharpe ratio's daily rate (``(1 + mean) ** PERIODS_PER_YEAR - 1``),
    makes Sharpe's excess return the same as subtracting each month's rate
    from its own sessions.
    """
    dates = pd.DatetimeIndex(dates)
    if len(dates) == 0:
        return None
    by_month = pd.Series(rf.astype(float).to_numpy(),
                         index=pd.DatetimeIndex(rf.index).to_period("M"))
    by_month = by_month[~by_month.index.duplicated(keep="last")]
    months = dates.to_period("M")
    if not months.isin(by_month.index).all():
        return None
    daily = (1.0 + by_month.reindex(months).to_numpy()) ** (12.0 / PERIODS_PER_YEAR) - 1.0
    return float((1.0 + daily.mean()) ** PERIODS_PER_YEAR - 1.0)
