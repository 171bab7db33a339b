"""Return and risk measures over a run's daily series (pure: no I/O, no plotting).

Conventions (they follow empyrical's):

* Daily returns come from the TWR index, which is 1.0 before the first
  session, so the first return is ``index_0 - 1``.
* Annualisation uses 252 sessions a year; XIRR uses actual/365.
* Every function returns a float; a measure that is not defined for the input
  (too few sessions, zero spread, no sign change in the flows...) is ``nan``,
  never ``inf`` and never an exception. `backtest.analytics.metrics` turns
  those into ``None`` for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np
import pandas as pd
from scipy.optimize import brentq

PERIODS_PER_YEAR = 252
DAYS_PER_YEAR = 365.0

NAN = float("nan")


# --------------------------------------------------------------------------- helpers
def _dated_index(daily: pd.DataFrame | pd.Series, column: str | None = None) -> pd.Series:
    """A float Series indexed by date, from a frame (``date`` column or index) or series."""
    if isinstance(daily, pd.Series):
        s = daily
    else:
        if column is None or column not in daily.columns:
            raise KeyError(f"the daily frame has no {column!r} column")
        if "date" in daily.columns:
            s = pd.Series(daily[column].to_numpy(), index=pd.DatetimeIndex(daily["date"]))
        else:
            s = daily[column]
    s = s.astype(float)
    if not isinstance(s.index, pd.DatetimeIndex):
        s.index = pd.DatetimeIndex(s.index)
    s.index.name = "date"
    return s.sort_index()


def _finite(x: float) -> float:
    return float(x) if x is not None and math.isfinite(x) else NAN


# --------------------------------------------------------------------------- TWR index
EMPTY = 1e-6  # dollars: a link whose base is no more than this (an empty account) is 1

Payout = tuple[int, float, float]  # (session, V_w account value just before, W paid)


def twr_index(value: Sequence[float] | np.ndarray, deposits: Sequence[float] | np.ndarray,
              payouts: Iterable[Payout] = (), *, start_value: float = 0.0) -> np.ndarray:
    """The true time-weighted index (strategy-format.md, "Definitions"), 1.0 before
    the first session.

    Deposits arrive at the start of their session (valued at the previous close,
    ``start_value`` before the first session); each window that pays withdrawals
    ``W`` splits its session where the account is worth ``V_w`` just before they
    leave: the session's factor is ``V_w / (value_(t-1) + D_t)`` times
    ``value_t / (V_w - W)`` (one more link per paying window). A link whose base is
    0 (an empty account, a withdrawal of everything) is 1. With no ``payouts``,
    ``deposits`` may be net flows: withdrawals are then taken at the session's
    start (the approximation a table without window values allows).
    """
    v = np.asarray(value, dtype=float)
    d = np.asarray(deposits, dtype=float)
    prev = np.concatenate([[start_value], v[:-1]])
    base = prev + d
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(base > EMPTY, v / np.where(base > EMPTY, base, 1.0), 1.0)
    if isinstance(payouts, np.ndarray):
        table = payouts.astype(float).reshape(-1, 3)
    else:  # (session, V_w, W) tuples: read straight into one array
        rows = payouts if isinstance(payouts, list | tuple) else list(payouts)
        table = np.fromiter(chain.from_iterable(rows), float, 3 * len(rows)).reshape(-1, 3)
    if len(table):
        _split_sessions(factor, v, base, table)
    return np.cumprod(factor)


def _split_sessions(factor: np.ndarray, v: np.ndarray, base: np.ndarray,
                    payouts: np.ndarray) -> None:
    """`twr_index`'s paying sessions, in place: the k-th window of every such
    session at once (the same operations, in the same order, as one session at a
    time), so a run with a withdrawal every month pays no Python loop per payout."""
    session = payouts[:, 0].astype(np.int64)
    order = np.argsort(session, kind="stable")  # a session's windows in their order
    session, before, paid = session[order], payouts[order, 1], payouts[order, 2]
    first = np.ones(len(session), dtype=bool)
    first[1:] = session[1:] != session[:-1]
    group = np.cumsum(first) - 1
    rank = np.arange(len(session)) - np.flatnonzero(first)[group]
    days = session[first]
    f, b = np.ones(len(days)), base[days].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in range(int(rank.max()) + 1):
            m = rank == k
            g, bk = group[m], b[group[m]]
            f[g] *= np.where(bk > EMPTY, before[m] / np.where(bk > EMPTY, bk, 1.0), 1.0)
            b[g] = before[m] - paid[m]
        factor[days] = f * np.where(b > EMPTY, v[days] / np.where(b > EMPTY, b, 1.0), 1.0)


def twr_index_from_values(value: pd.Series, net_flow: pd.Series) -> pd.Series:
    """`twr_index` of a daily table that has only value and net_flow (no window
    values): withdrawals are taken at the start of their session."""
    out = twr_index(value.to_numpy(dtype=float), net_flow.to_numpy(dtype=float))
    return pd.Series(out, index=value.index, name="twr_index")


def daily_returns(daily: pd.DataFrame | pd.Series) -> pd.Series:
    """Daily TWR returns from ``twr_index`` (a frame's column, or an index series).

    The index is 1.0 before the first session, so the first return is
    ``index_0 - 1``. After an index of 0 (a total loss) returns are 0.
    """
    idx = _dated_index(daily, "twr_index")
    prev = idx.shift(1)
    if len(prev):
        prev.iloc[0] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = idx / prev - 1.0
    r[(prev == 0) | ~np.isfinite(r)] = 0.0
    r.name = "return"
    return r


def price_index(prices: pd.Series, dates: Iterable) -> pd.Series:
    """A benchmark's TWR index on the run's ``dates`` (growth of 1, no flows).

    Prices are carried forward to each run date; the base (index 1.0) is the
    last price strictly before the first run date when there is one, else the
    first run date's price, so the benchmark's first return covers the same
    day as the account's when the data allows it.
    """
    p = prices.dropna().astype(float)
    p.index = pd.DatetimeIndex(p.index)
    p = p[~p.index.duplicated(keep="last")].sort_index()
    dates = pd.DatetimeIndex(dates)
    if p.empty or len(dates) == 0:
        return pd.Series(NAN, index=dates, name="benchmark", dtype=float)
    on_dates = p.reindex(p.index.union(dates)).ffill().reindex(dates)
    before = p[p.index < dates[0]]
    if len(before):
        base = before.iloc[-1]
    elif on_dates.notna().any():
        base = on_dates.dropna().iloc[0]
    else:
        base = NAN
    out = on_dates / base
    out.name = "benchmark"
    return out


# --------------------------------------------------------------------------- XIRR
def xirr(dates: Iterable, amounts: Iterable[float]) -> float:
    """The annual rate r with ``sum(a_i / (1 + r) ** (days_i / 365)) == 0``.

    ``days_i`` counts from the earliest date (actual/365). Solved with
    ``scipy.optimize.brentq`` on ``x = log(1 + r)``, so rates from -100% to very
    large are found; when several rates solve it the one nearest 0 is returned.
    ``nan`` when the amounts do not change sign, when all flows fall on one
    date, or when no rate solves it.

    The usual flows (deposits, then withdrawals and the final value) change sign
    once in date order: then the rate is unique (Descartes' rule of signs holds
    for sums of exponentials), and one bracketed solve over the whole range
    finds it; other patterns scan the range for every root (`_xirr_scan`).
    """
    years, a = _flow_years(dates, amounts)
    if len(a) < 2:
        return NAN
    ymax = float(years.max())
    if ymax <= 0:
        return NAN
    signs = np.sign(a)  # no zeros left; counted in date order
    if not (years[1:] >= years[:-1]).all():
        signs = signs[np.argsort(years, kind="stable")]
    changes = int(np.count_nonzero(signs[1:] != signs[:-1]))
    if changes == 0:
        return NAN
    a = a / np.abs(a).max()
    # x = log(1 + r); keep |x * years| small enough that exp() stays finite.
    hi = min(60.0, 600.0 / ymax)
    if changes == 1:
        return _xirr_one_root(years, a, hi)
    return _xirr_scan(years, a, hi)


def _flow_years(dates: Iterable, amounts: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """(years from the earliest date, amounts) of the finite, non-zero flows with a
    date; numpy dates skip pandas (Monte Carlo measures thousands of paths)."""
    if isinstance(dates, np.ndarray) and np.issubdtype(dates.dtype, np.datetime64):
        days = dates.astype("datetime64[D]")
        a = np.asarray(amounts, dtype=float)
        if len(days) != len(a):
            raise ValueError("dates and amounts differ in length")
        keep = np.isfinite(a) & (a != 0) & ~np.isnat(days)
        if not keep.all():
            days, a = days[keep], a[keep]
        if not len(days):
            return np.zeros(0), a
        n = days.astype(np.int64)
        return (n - n.min()).astype(float) / DAYS_PER_YEAR, a
    d = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    a = np.asarray(list(amounts), dtype=float)
    if len(d) != len(a):
        raise ValueError("dates and amounts differ in length")
    keep = np.isfinite(a) & (a != 0) & ~d.isna()
    d, a = d[keep], a[keep]
    if not len(d):
        return np.zeros(0), a
    return (d - d.min()).days.to_numpy(dtype=float) / DAYS_PER_YEAR, a


def _xirr_one_root(years: np.ndarray, a: np.ndarray, hi: float) -> float:
    """The one root of the NPV in [-hi, hi] (flows that change sign once)."""

    def npv(x: float) -> float:
        return float(np.dot(a, np.exp(-x * years)))

    lo_v, hi_v = npv(-hi), npv(hi)
    if lo_v == 0:
        return math.expm1(-hi)
    if hi_v == 0:
        return math.expm1(hi)
    if np.sign(lo_v) == np.sign(hi_v):
        return NAN
    x = brentq(npv, -hi, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return _finite(math.expm1(x))


def _xirr_scan(years: np.ndarray, a: np.ndarray, hi: float) -> float:
    """Every root of the NPV on a scanned bracket of [-hi, hi]; the one nearest 0."""

    def npv(x: float) -> float:
        return float(np.sum(a * np.exp(-x * years)))

    grid = np.concatenate([-np.geomspace(hi, 1e-6, 400), [0.0], np.geomspace(1e-6, hi, 400)])
    vals = np.array([npv(x) for x in grid])
    roots: list[float] = []
    for i in range(len(grid) - 1):
        v0, v1 = vals[i], vals[i + 1]
        if v0 == 0:
            roots.append(grid[i])
        elif np.sign(v0) != np.sign(v1) and v1 != 0:
            roots.append(brentq(npv, grid[i], grid[i + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                maxiter=500))
    if vals[-1] == 0:
        roots.append(grid[-1])
    if not roots:
        return NAN
    x = min(roots, key=abs)
    return _finite(math.expm1(x))


def mwr(daily: pd.DataFrame) -> float:
    """Money-weighted return: XIRR of the account's flows and its final value.

    Each session's ``-net_flow`` (deposits negative, withdrawals positive) plus
    the last session's ``value`` (positive). ``nan`` for a single session or
    when the flows do not change sign.
    """
    if len(daily) == 0:
        return NAN
    flow = _dated_index(daily, "net_flow")
    value = _dated_index(daily, "value")
    amounts = -flow.copy()
    amounts.iloc[-1] += value.iloc[-1]
    dates = amounts.index
    # numpy dates take xirr's array path (the same whole days, without pandas)
    return xirr(dates.to_numpy() if dates.tz is None else dates, amounts.to_numpy())


# --------------------------------------------------------------------------- risk/return
def cagr(returns: pd.Series, periods: int = PERIODS_PER_YEAR) -> float:
    """Compound annual growth of the chained returns: ``end ** (periods / n) - 1``."""
    r = returns.dropna()
    return annual_growth(float(np.prod(1.0 + r.to_numpy())), len(r), periods)


def annual_growth(end: float, sessions: int, periods: int = PERIODS_PER_YEAR) -> float:
    """The CAGR of growing to ``end`` (times the start) over ``sessions``:
    ``end ** (periods / sessions) - 1``; -1.0 when nothing is left, nan for no
    sessions. Monte Carlo calls it with each path's final TWR index."""
    if sessions <= 0:
        return NAN
    if end <= 0:
        return -1.0
    return _finite(end ** (periods / sessions) - 1.0)


def volatility(returns: pd.Series, periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised standard deviation (ddof=1). ``nan`` below two returns."""
    r = returns.dropna()
    if len(r) < 2:
        return NAN
    return _finite(float(np.std(r.to_numpy(), ddof=1)) * math.sqrt(periods))


def _rf_daily(risk_free: float, periods: int) -> float:
    return (1.0 + risk_free) ** (1.0 / periods) - 1.0


def sharpe(returns: pd.Series, risk_free: float = 0.0, periods: int = PERIODS_PER_YEAR) -> float:
    """``mean(r - rf_daily) / std(r, ddof=1) * sqrt(periods)``; ``nan`` if std is 0.

    ``risk_free`` is an annual rate; ``rf_daily = (1 + rf) ** (1 / periods) - 1``.
    """
    r = returns.dropna().to_numpy()
    if len(r) < 2:
        return NAN
    sd = float(np.std(r, ddof=1))
    if not sd > 1e-15:
        return NAN
    ex = r - _rf_daily(risk_free, periods)
    return _finite(float(np.mean(ex)) / sd * math.sqrt(periods))


def downside_risk(returns: pd.Series, risk_free: float = 0.0,
                  periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised ``sqrt(mean(min(r - rf_daily, 0) ** 2))`` over all sessions."""
    r = returns.dropna().to_numpy()
    if len(r) == 0:
        return NAN
    down = np.minimum(r - _rf_daily(risk_free, periods), 0.0)
    return _finite(math.sqrt(float(np.mean(down**2))) * math.sqrt(periods))


def sortino(returns: pd.Series, risk_free: float = 0.0, periods: int = PERIODS_PER_YEAR) -> float:
    """``mean(r - rf_daily) * periods / downside_risk``; ``nan`` with no downside."""
    r = returns.dropna()
    if len(r) < 2:
        return NAN
    dr = downside_risk(r, risk_free, periods)
    if not dr > 1e-15:
        return NAN
    ex = r.to_numpy() - _rf_daily(risk_free, periods)
    return _finite(float(np.mean(ex)) * periods / dr)


# --------------------------------------------------------------------------- calendar tables
def annual_returns(returns: pd.Series) -> pd.Series:
    """Chain-linked return of each calendar year (partial first/last years included)."""
    r = returns.dropna()
    if len(r) == 0:
        return pd.Series(dtype=float, name="return")
    out = (1.0 + r).groupby(r.index.year).prod() - 1.0
    out.index.name = "year"
    out.name = "return"
    return out


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Chain-linked return per month: rows are years, columns months 1..12 (NaN if none)."""
    r = returns.dropna()
    cols = list(range(1, 13))
    if len(r) == 0:
        return pd.DataFrame(columns=cols, dtype=float)
    g = (1.0 + r).groupby([r.index.year, r.index.month]).prod() - 1.0
    table = g.unstack().reindex(columns=cols)
    table.index.name = "year"
    table.columns.name = "month"
    return table
