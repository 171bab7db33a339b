"""Summaries of a run: performance measures and money totals (pure: no I/O).

Every value in the returned dicts is JSON-safe: a finite float, an int, a
string (ISO dates) or ``None``. ``None`` means "not defined for this run"
(for example volatility with a single session, Sharpe when the returns have
no spread, Sortino when no session lost money, MWR when all flows fall on one
date). So ``json.dumps(performance_summary(daily))`` is always valid JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from backtest.analytics import returns as R
from backtest.analytics.drawdowns import max_drawdown

MIN_ANNUALISED_DAYS = 21  # CAGR and MWR (annual rates) need at least three weeks of history
PERFORMANCE_KEYS = (
    "twr", "mwr", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery", "calmar",
    "best_year", "best_year_return", "worst_year", "worst_year_return",
    "sessions", "start", "end",
)


def clean(x: Any) -> Any:
    """A JSON-safe scalar: NaN/inf -> None, numpy scalars -> Python, dates -> ISO text."""
    if x is None:
        return None
    if isinstance(x, pd.Timestamp):
        return None if pd.isna(x) else x.date().isoformat()
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def clean_dict(d: dict[str, Any]) -> dict[str, Any]:
    """`clean` applied to every value of ``d`` (recursively for nested dicts)."""
    return {k: clean_dict(v) if isinstance(v, dict) else clean(v) for k, v in d.items()}


def _index_series(daily: pd.DataFrame) -> pd.Series:
    if "twr_index" in daily.columns:
        return R._dated_index(daily, "twr_index")
    # No index column: derive it from value and net_flow by the spec's formula.
    value = R._dated_index(daily, "value")
    flow = R._dated_index(daily, "net_flow")
    return R.twr_index_from_values(value, flow)


def performance_summary(daily: pd.DataFrame, *, risk_free: float = 0.0) -> dict[str, Any]:
    """Return and risk measures of a run's ``daily`` frame.

    ``daily`` has a ``date`` column (or a DatetimeIndex) and ``twr_index``
    (or ``value`` and ``net_flow`` to derive it); ``mwr`` needs ``value`` and
    ``net_flow``. ``risk_free`` is an annual rate used by Sharpe and Sortino.

    Keys: twr (last index - 1), mwr (XIRR, actual/365), cagr (252 sessions a
    year), volatility, sharpe, sortino, max_drawdown (negative fraction, 0.0
    when the index never fell), max_drawdown_peak / _trough / _recovery (ISO
    dates or None), calmar (cagr / |max_drawdown|), best_year, worst_year
    (calendar years, chain-linked TWR; partial years count) with
    best_year_return, worst_year_return, sessions, start, end.
    Values are JSON-safe: undefined measures are None (see the module doc).
    """
    out: dict[str, Any] = dict.fromkeys(PERFORMANCE_KEYS)
    out["sessions"] = int(len(daily))
    if len(daily) == 0:
        return out
    index = _index_series(daily)
    rets = R.daily_returns(index)
    out["start"] = index.index[0]
    out["end"] = index.index[-1]
    out["twr"] = float(index.iloc[-1]) - 1.0
    span = (pd.Timestamp(index.index[-1]) - pd.Timestamp(index.index[0])).days
    if {"value", "net_flow"} <= set(daily.columns) and span >= MIN_ANNUALISED_DAYS:
        out["mwr"] = R.mwr(daily)
    # an annual rate from a few days' return is noise raised to a large power
    # (one session of +1% reads as +1,200% a year): "n/a" below a few weeks
    out["cagr"] = R.cagr(rets) if span >= MIN_ANNUALISED_DAYS else None
    out["volatility"] = R.volatility(rets)
    out["sharpe"] = R.sharpe(rets, risk_free)
    out["sortino"] = R.sortino(rets, risk_free)
    dd = max_drawdown(index)
    out["max_drawdown"] = dd.depth
    out["max_drawdown_peak"] = dd.peak
    out["max_drawdown_trough"] = dd.trough
    out["max_drawdown_recovery"] = dd.recovery
    if dd.depth < 0 and out["cagr"] is not None and math.isfinite(out["cagr"]):
        out["calmar"] = out["cagr"] / abs(dd.depth)
    years = R.annual_returns(rets)
    if len(years):
        out["best_year"] = int(years.idxmax())
        out["best_year_return"] = float(years.max())
        out["worst_year"] = int(years.idxmin())
        out["worst_year_return"] = float(years.min())
    return clean_dict(out)


def money_summary(daily: pd.DataFrame, trades: pd.DataFrame, events: pd.DataFrame,
                  dividends_total: float | None, *, total_deposits: float | None,
                  total_withdrawals: float | None) -> dict[str, Any]:
    """Money totals of a run, from the whole run: every argument is required, so a
    call that leaves out the events (or the dividends) fails instead of silently
    reporting no halt deferrals (or no dividends).

    ``net_flow`` nets a day's deposits and withdrawals, so pass the totals
    from summary.json as ``total_deposits`` / ``total_withdrawals``; None
    derives them from the sums of the positive and negative net flows (exact
    unless a deposit and a withdrawal share a session).

    Keys: final_value, total_deposits, total_withdrawals, total_dividends,
    gain (final - deposits + withdrawals, so dividends and market moves),
    avg_cash_share and max_cash_share (cash / value over sessions with
    value > 0; None if there is none), trades (rows of the trades table),
    halt_deferrals (events of kind halt_deferred), rejections (kind rejected).
    """
    flow = daily["net_flow"].astype(float) if "net_flow" in daily.columns else pd.Series(0.0)
    if total_deposits is None:
        total_deposits = float(flow[flow > 0].sum())
    if total_withdrawals is None:
        total_withdrawals = float(-flow[flow < 0].sum())
    final_value = float(daily["value"].iloc[-1]) if len(daily) else 0.0
    out: dict[str, Any] = {
        "final_value": final_value,
        "total_deposits": float(total_deposits),
        "total_withdrawals": float(total_withdrawals),
        "total_dividends": None if dividends_total is None else float(dividends_total),
        "gain": final_value - float(total_deposits) + float(total_withdrawals),
        "avg_cash_share": None,
        "max_cash_share": None,
        "trades": int(len(trades)),
        "halt_deferrals": 0,
        "rejections": 0,
    }
    if len(daily) and {"cash", "value"} <= set(daily.columns):
        v = daily["value"].astype(float)
        pos = v > 0
        if pos.any():
            share = daily["cash"].astype(float)[pos] / v[pos]
            out["avg_cash_share"] = float(share.mean())
            out["max_cash_share"] = float(share.max())
    if len(events) and "kind" in events.columns:
        kinds = events["kind"].astype(str)
        out["halt_deferrals"] = int((kinds == "halt_deferred").sum())
        out["rejections"] = int((kinds == "rejected").sum())
    return clean_dict(out)
