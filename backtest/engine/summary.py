"""The run's summary.json values (strategy-format.md), from its tables."""

from __future__ import annotations

from typing import Any

from backtest.analytics import withdrawals as W
from backtest.analytics.drift import max_abs_drift
from backtest.analytics.metrics import clean_dict, performance_summary
from backtest.analytics.tax import TaxTables, run_tax_summary
from backtest.domain.strategy import TaxSettings
from backtest.engine.ledger import EventKind
from backtest.engine.result import RunResult

SUMMARY_KEYS = ("name", "start", "end", "final_value", "total_deposits", "total_withdrawals",
                "total_dividends", "twr", "mwr", "cagr", "volatility", "sharpe", "sortino",
                "max_drawdown", "max_abs_drift")


def summarize(result: RunResult, *, risk_free: float = 0.0,
              tax: TaxSettings | None = None,
              tax_tables: TaxTables | None = None) -> dict[str, Any]:
    """The contract's keys first, then the extra measures the report uses, then
    the tax estimate (analytics/tax.py; `tax` is the strategy's `tax:` section,
    default brokerage lot order, 24% short-term, 15% long-term). `tax_tables`
    reuses lot tables already built with that lot method."""
    perf = performance_summary(result.daily, risk_free=risk_free)
    daily = result.daily
    out: dict[str, Any] = {
        "name": result.name,
        "start": perf.get("start"),
        "end": perf.get("end"),
        "final_value": float(daily["value"].iloc[-1]) if len(daily) else 0.0,
        "total_deposits": result.total_deposits,
        "total_withdrawals": result.total_withdrawals,
        "total_dividends": result.total_dividends,
        "max_abs_drift": max_abs_drift(result.drift),
    }
    for key in ("twr", "mwr", "cagr", "volatility", "sharpe", "sortino", "max_drawdown"):
        out[key] = perf.get(key)
    ordered = {k: out[k] for k in SUMMARY_KEYS}
    ordered.update({k: v for k, v in perf.items() if k not in ordered})
    ordered["trades"] = int(len(result.trades))
    ordered["halt_deferrals"] = int((result.events["kind"] == EventKind.HALT_DEFERRED).sum()) \
        if len(result.events) else 0
    ordered.update(withdrawal_measures(result))
    ordered["withdrawal_schedule"] = W.schedule_coverage(
        result.cashflows, result.daily["date"].to_numpy().astype("datetime64[D]"))
    ordered["risk_free"] = float(risk_free)  # what Sharpe and Sortino used
    ordered.update(run_tax_summary(result, tax, tables=tax_tables))
    return clean_dict(ordered)


def withdrawal_measures(result: RunResult) -> dict[str, Any]:
    """depleted_on (ISO date or None) and withdrawal_rate (analytics/withdrawals.py)."""
    gone = W.depleted_on(result.events)
    rate = None
    if result.deposits is not None and result.withdrawals is not None:
        rate = W.withdrawal_rate(result.daily["date"].to_numpy(), result.deposits,
                                 result.withdrawals)
    return {"depleted_on": gone.isoformat() if gone else None, "withdrawal_rate": rate}
