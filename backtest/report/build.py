"""Build the report of a run folder: the PNG charts and one self-contained report.html."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from backtest.analytics import drift as D
from backtest.analytics import metrics as M
from backtest.analytics import returns as R
from backtest.report import charts as C
from backtest.report.data import RunData, load_run
from backtest.report.plan_cards import benchmark_label, depleted, plan_cards

TEMPLATES = Path(__file__).parent / "templates"
REPORT_NAME = "report.html"
MAX_EVENT_ROWS = 2000

# Chart files, in page order: (file name, title).
CHART_FILES = {
    "value": ("value.png", "Account value and net contributions"),
    "growth": ("growth.png", "Growth of $1 (time-weighted)"),
    "drawdown": ("drawdown.png", "Drawdown"),
    "allocation": ("allocation.png", "Allocation of the top-level slices"),
    "drift": ("drift.png", "Drift per slice"),
    "annual": ("annual_returns.png", "Calendar-year returns"),
}

EVENT_WORDS = {
    "halt_deferred": "Trading deferred by a halt",
    "rejected": "Request rejected",
    "scaled": "Buy orders scaled down to fit the cash",
    "target_edit": "Targets changed",
    "removal": "Slice removed",
    "window_skipped": "Trade window skipped (the session closed early)",
    "add_slice": "Slice added",
    "rebalance": "Rebalance",
    "missing_price": "No price: treated as halted",
}
NOTABLE_EVENTS = ("halt_deferred", "rejected", "window_skipped", "scaled")

_UMASK = os.umask(0o022)
os.umask(_UMASK)

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# --------------------------------------------------------------------------- files
def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and os.replace."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


# --------------------------------------------------------------------------- formatting
def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x)) or x is pd.NaT


def fmt_money(x: Any) -> str:
    if _missing(x):
        return "–"
    x = float(x)
    return f"-${abs(x):,.2f}" if x < 0 else f"${x:,.2f}"


def fmt_pct(x: Any, digits: int = 2, sign: bool = True) -> str:
    if _missing(x):
        return "–"
    v = float(x) * 100
    if sign and round(v, digits) == 0:
        return f"{0:.{digits}f}%"
    return f"{v:+.{digits}f}%" if sign else f"{v:.{digits}f}%"


def fmt_points(x: Any, digits: int = 1) -> str:
    """A weight difference (a fraction) in percentage points: +8.0 pt."""
    if _missing(x):
        return "–"
    return f"{float(x) * 100:+.{digits}f} pt"


def fmt_num(x: Any, digits: int = 2) -> str:
    if _missing(x):
        return "–"
    return f"{float(x):,.{digits}f}"


def fmt_date(x: Any) -> str:
    if _missing(x):
        return "–"
    try:
        return pd.Timestamp(x).date().isoformat()
    except (ValueError, TypeError):
        return str(x)


def sign_class(x: Any) -> str:
    if _missing(x):
        return "na"
    return "pos" if float(x) > 0 else "neg" if float(x) < 0 else "zero"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every name from a strategy file is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=fmt_money, pct=fmt_pct, num=fmt_num, date=fmt_date,
                       sign=sign_class, points=fmt_points)
    return env


# --------------------------------------------------------------------------- analysis
@dataclass
class Analysis:
    """Everything the page and the charts show, computed from a run's files."""

    run: RunData
    index: pd.Series
    returns: pd.Series
    performance: dict[str, Any]
    money: dict[str, Any]
    years: pd.Series
    months: pd.DataFrame
    drift_table: pd.DataFrame
    most_drifted: dict[str, Any] | None
    band: float
    risk_free: float
    benchmark_name: str | None = None
    bench_index: pd.Series | None = None
    bench_value: pd.Series | None = None
    bench_performance: dict[str, Any] | None = None
    bench_years: pd.Series | None = None


def _same_flows_value(index: pd.Series, flows: pd.Series) -> pd.Series:
    """What the account's flows would be worth invested in the benchmark."""
    out = np.empty(len(index))
    v, prev = 0.0, 1.0
    for i, (ix, f) in enumerate(zip(index.to_numpy(), flows.to_numpy(), strict=True)):
        growth = ix / prev if prev and math.isfinite(ix) and math.isfinite(prev) else 1.0
        v = max(v + f, 0.0) * growth
        out[i] = v
        if math.isfinite(ix) and ix > 0:
            prev = ix
    return pd.Series(out, index=index.index, name="benchmark_value")


def analyse(run: RunData, *, benchmark: pd.Series | None = None, risk_free: float = 0.0,
            drift_band: float = D.DEFAULT_BAND) -> Analysis:
    """Compute the report's numbers from a loaded run."""
    daily = run.daily
    index = R._dated_index(daily, "twr_index")
    rets = R.daily_returns(index)
    perf = M.performance_summary(daily, risk_free=risk_free)
    s = run.summary
    money = M.money_summary(daily, run.trades, run.events, s.get("total_dividends"),
                            total_deposits=s.get("total_deposits"),
                            total_withdrawals=s.get("total_withdrawals"))
    a = Analysis(
        run=run, index=index, returns=rets, performance=perf, money=money,
        years=R.annual_returns(rets), months=R.monthly_returns(rets),
        drift_table=D.drift_summary(run.drift, drift_band) if len(run.drift) else
        pd.DataFrame(columns=D.SUMMARY_COLUMNS),
        most_drifted=D.most_drifted(run.drift), band=drift_band, risk_free=risk_free,
    )
    if benchmark is not None and len(benchmark.dropna()):
        name = str(benchmark.name) if benchmark.name is not None else "Benchmark"
        bidx = R.price_index(benchmark, index.index)
        bidx.name = name
        flows = R._dated_index(daily, "net_flow")
        bval = _same_flows_value(bidx, flows)
        bdaily = pd.DataFrame({"date": index.index, "twr_index": bidx.ffill().fillna(1.0)
                               .to_numpy(), "value": bval.to_numpy(),
                               "net_flow": flows.to_numpy()})
        a.benchmark_name = name
        a.bench_index = bidx
        a.bench_value = bval
        a.bench_performance = M.performance_summary(bdaily, risk_free=risk_free)
        a.bench_years = R.annual_returns(R.daily_returns(bdaily))
        a.bench_years.name = name
    return a


# --------------------------------------------------------------------------- charts
def render_charts(a: Analysis) -> dict[str, bytes]:
    """PNG bytes per chart key (charts with nothing to show are left out)."""
    run = a.run
    out: dict[str, bytes | None] = {
        "value": C.value_chart(run.daily, run.events, a.bench_value),
        "growth": C.growth_chart(a.index, a.bench_index),
        "drawdown": C.drawdown_chart(
            R.drawdown_series(a.index),
            None if a.bench_index is None else
            R.drawdown_series(a.bench_index.ffill().fillna(1.0)).rename(a.benchmark_name)),
        "allocation": C.allocation_chart(run.drift),
        "drift": C.drift_chart(run.drift, a.band),
        "annual": C.annual_chart(a.years, a.bench_years),
    }
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------- page
def _metric_rows(a: Analysis) -> list[dict[str, Any]]:
    p, b = a.performance, a.bench_performance or {}
    rf = f" (risk-free {a.risk_free * 100:g}%)" if a.risk_free else ""

    def row(label: str, key: str, kind: str) -> dict[str, Any]:
        return {"label": label, "kind": kind, "value": p.get(key), "bench": b.get(key)}

    rows = [
        row("Time-weighted return (TWR)", "twr", "pct"),
        row("Money-weighted return (MWR, annual)", "mwr", "pct"),
        row("CAGR (of the TWR index)", "cagr", "pct"),
        row("Volatility (annualised)", "volatility", "pctu"),
        row("Sharpe ratio" + rf, "sharpe", "num"),
        row("Sortino ratio" + rf, "sortino", "num"),
        row("Max drawdown", "max_drawdown", "pct"),
        row("Max drawdown peak", "max_drawdown_peak", "date"),
        row("Max drawdown trough", "max_drawdown_trough", "date"),
        row("Recovered on", "max_drawdown_recovery", "date"),
        row("Calmar ratio", "calmar", "num"),
        row("Best calendar year", "best_year_return", "pct"),
        row("Worst calendar year", "worst_year_return", "pct"),
    ]
    for r in rows[-2:]:
        key = "best_year" if r["label"].startswith("Best") else "worst_year"
        r["note"], r["bench_note"] = p.get(key), b.get(key)
    if p.get("max_drawdown") is not None and p.get("max_drawdown_trough") \
            and p.get("max_drawdown_recovery") is None:
        rows[9]["value_text"] = "not yet"
    if b and b.get("max_drawdown_trough") and b.get("max_drawdown_recovery") is None:
        rows[9]["bench_text"] = "not yet"
    return rows


def _event_rows(events: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    if events is None or len(events) == 0:
        return [], [], 0
    ev = events  # in the engine's order
    kinds = ev["kind"].astype(str)
    counts = [{"kind": k, "words": EVENT_WORDS.get(k, k.replace("_", " ").capitalize()),
               "count": int(n), "notable": k in NOTABLE_EVENTS}
              for k, n in kinds.value_counts(sort=False).items()]
    counts.sort(key=lambda r: (not r["notable"], -r["count"]))
    rows = []
    for d, k, det in zip(ev["date"], kinds, ev["detail"], strict=True):
        rows.append({"date": d, "kind": k, "notable": k in NOTABLE_EVENTS,
                     "words": EVENT_WORDS.get(k, k.replace("_", " ").capitalize()),
                     "detail": "" if det is None or (isinstance(det, float) and math.isnan(det))
                     else str(det)})
        if len(rows) >= MAX_EVENT_ROWS:
            break
    return counts, rows, max(0, len(ev) - len(rows))


def _tax_context(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The taxable-account numbers of summary.json (analytics/tax.py), if any."""
    if "realized_gain" not in summary:
        return None
    by_year = summary.get("tax_by_year") or {}
    dividends = summary.get("dividends_by_year") or {}
    years = sorted(set(by_year) | set(dividends))
    return {
        "method": summary.get("tax_lot_method"),
        "short_rate": summary.get("short_term_rate"),
        "long_rate": summary.get("long_term_rate"),
        "totals": {k: summary.get(k) for k in (
            "realized_short_term", "realized_long_term", "realized_gain", "unrealized_gain",
            "estimated_tax", "tax_drag", "after_tax_value", "liquidation_tax",
            "tax_loss_carryforward")},
        "years": [{"year": y, **by_year.get(y, {}), "dividends": dividends.get(y, 0.0)}
                  for y in years],
    }


def render_html(a: Analysis, charts: dict[str, bytes]) -> str:
    """The report page as text (images inlined as base64 data URIs)."""
    run, p, m = a.run, a.performance, a.money
    gone = depleted(run.summary)  # a depleted plan's headline is the depletion
    headline = [
        ("Final value", fmt_money(m["final_value"]), ""),
        ("Deposits", fmt_money(m["total_deposits"]), ""),
        ("Withdrawals", fmt_money(m["total_withdrawals"]), ""),
        ("Gain", fmt_money(m["gain"]), sign_class(m["gain"])),
        ("TWR", fmt_pct(p["twr"]), "" if gone else sign_class(p["twr"])),
        ("MWR (annual)", fmt_pct(p["mwr"]), sign_class(p["mwr"])),
        ("CAGR", fmt_pct(p["cagr"]), sign_class(p["cagr"])),
        ("Max drawdown", fmt_pct(p["max_drawdown"]), sign_class(p["max_drawdown"])),
    ]
    headline[:0] = [(c["label"], c["value"], c["cls"]) for c in plan_cards(run.summary)]
    chart_list = [{"key": k, "file": CHART_FILES[k][0], "title": CHART_FILES[k][1],
                   "data": base64.b64encode(charts[k]).decode("ascii")}
                  for k in CHART_FILES if k in charts]
    months = [{"year": int(y),
               "cells": [None if pd.isna(v) else float(v) for v in a.months.loc[y].to_numpy()],
               "total": float(a.years.get(y, np.nan))} for y in a.months.index]
    bench_years = a.bench_years if a.bench_years is not None else pd.Series(dtype=float)
    years = [{"year": int(y), "value": float(v),
              "bench": None if y not in bench_years.index else float(bench_years[y])}
             for y, v in a.years.items()]
    drift_rows = a.drift_table.to_dict("records")
    counts, events, events_left = _event_rows(run.events)
    ctx = {
        "name": run.name,
        "start": p["start"], "end": p["end"], "sessions": p["sessions"],
        "generated": dt.datetime.now().replace(microsecond=0).isoformat(sep=" "),
        "headline": headline,
        "charts": chart_list,
        "metrics": _metric_rows(a),
        "benchmark": benchmark_label(a.benchmark_name),
        "money": m,
        "tax": _tax_context(run.summary),
        "years": years,
        "months": months,
        "month_names": MONTHS,
        "drift_rows": drift_rows,
        "most_drifted": a.most_drifted,
        "band": a.band,
        "event_counts": counts,
        "events": events,
        "events_left": events_left,
    }
    return _env().get_template(REPORT_NAME).render(**ctx)


def write_report(run_dir: Path, *, benchmark: pd.Series | None = None, risk_free: float = 0.0,
                 drift_band: float = D.DEFAULT_BAND) -> list[Path]:
    """Write the charts (PNG) and report.html into ``run_dir``; return their paths.

    ``benchmark``: closes indexed by date (its ``name`` labels it), shown as a
    TWR index on the run's dates with the same measures. ``risk_free``: annual
    rate for Sharpe and Sortino. ``drift_band``: a fraction (0.05 = 5 points).
    Raises `BacktestError` when the folder is not a readable run folder.
    Each file is written atomically.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    a = analyse(run, benchmark=benchmark, risk_free=risk_free, drift_band=drift_band)
    charts = render_charts(a)
    written: list[Path] = []
    for key, (fname, _title) in CHART_FILES.items():
        path = run_dir / fname
        if key in charts:
            written.append(atomic_write(path, charts[key]))
        elif path.exists():
            path.unlink()  # a chart from an earlier report that has nothing to show now
    html = render_html(a, charts)
    written.append(atomic_write(run_dir / REPORT_NAME, html.encode("utf-8")))
    return written
