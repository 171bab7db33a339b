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
from backtest.analytics.drawdowns import drawdown_series, worst_drawdowns
from backtest.analytics.inflation import real_cagr, real_values
from backtest.analytics.periods import rolling_returns, trailing_returns
from backtest.analytics.positions import contributions, contributions_by_year, holdings_at_end
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
    "rolling": ("rolling_returns.png", "Rolling 12-month returns"),
}
# Charts shown in the Charts section; the others sit in their own sections.
MAIN_CHARTS = ("value", "growth", "drawdown", "allocation", "drift", "annual")

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
NOTABLE_EVENTS = ("halt_deferred", "rejected", "scaled")
# Routine events: counted, their rows folded behind a <details>.
ROUTINE_EVENTS = ("window_skipped",)
WORST_DRAWDOWNS = 5

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


def fmt_compact(x: Any) -> str:
    """Money for a card: $15.97M, $2.10B; whole dollars below a million ($207,500);
    cents below $1,000. The exact figure goes in the card's title."""
    if _missing(x):
        return "–"
    x = float(x)
    a, sign = abs(x), "-" if x < 0 else ""
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.2f}M"
    if a >= 1e3:
        return f"{sign}${a:,.0f}"
    return f"{sign}${a:,.2f}"


def fmt_multiple(x: Any) -> str:
    """A growth multiple: 447.03x (1 + a cumulative return)."""
    if _missing(x):
        return "–"
    return f"{float(x):,.2f}x"


def fmt_pct(x: Any, digits: int = 2, sign: bool = True) -> str:
    if _missing(x):
        return "–"
    v = float(x) * 100
    if sign and round(v, digits) == 0:
        return f"{0:.{digits}f}%"
    return f"{v:+,.{digits}f}%" if sign else f"{v:,.{digits}f}%"


def fmt_length(days: Any) -> str:
    """A drawdown's length in words: 12 days, 7 months, 2.4 years."""
    if _missing(days):
        return "–"
    d = int(days)
    if d < 60:
        return f"{d} day" + ("" if d == 1 else "s")
    if d < 730:
        return f"{round(d / 30.44)} months"
    return f"{d / 365.25:.1f} years"


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
                       sign=sign_class, points=fmt_points, compact=fmt_compact,
                       multiple=fmt_multiple, length=fmt_length)
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
    trailing: pd.DataFrame | None = None
    bench_trailing: pd.DataFrame | None = None
    rolling: pd.Series | None = None
    bench_rolling: pd.Series | None = None
    drawdowns: pd.DataFrame | None = None
    holdings: pd.DataFrame | None = None
    contributions: dict[str, Any] | None = None
    by_year: pd.DataFrame | None = None
    real_value: pd.Series | None = None  # in dollars of the first session
    real_cagr: float | None = None


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
            drift_band: float = D.DEFAULT_BAND, cpi: pd.Series | None = None) -> Analysis:
    """Compute the report's numbers from a loaded run."""
    daily = run.daily
    index = R._dated_index(daily, "twr_index")
    rets = R.daily_returns(index)
    perf = M.performance_summary(daily, risk_free=risk_free)
    s = run.summary
    money = m = M.money_summary(daily, run.trades, run.events, s.get("total_dividends"),
                            total_deposits=s.get("total_deposits"),
                            total_withdrawals=s.get("total_withdrawals"))
    a = Analysis(
        run=run, index=index, returns=rets, performance=perf, money=money,
        years=R.annual_returns(rets), months=R.monthly_returns(rets),
        drift_table=D.drift_summary(run.drift, drift_band) if len(run.drift) else
        pd.DataFrame(columns=D.SUMMARY_COLUMNS),
        most_drifted=D.most_drifted(run.drift), band=drift_band, risk_free=risk_free,
    )
    a.trailing = trailing_returns(index)
    a.rolling = rolling_returns(index)
    a.drawdowns = worst_drawdowns(index, WORST_DRAWDOWNS)
    if run.lots is not None:
        targets = {r["slice"]: r["portfolio_target"] for r in a.drift_table.to_dict("records")}
        a.holdings = holdings_at_end(run.lots, targets)
    a.contributions = contributions(m["final_value"], m["total_deposits"],
                                    m["total_withdrawals"], m["total_dividends"])
    a.by_year = contributions_by_year(daily, s.get("dividends_by_year"))
    if cpi is not None:
        a.real_value = real_values(R._dated_index(daily, "value"), cpi)
        a.real_cagr = real_cagr(index, cpi) if a.real_value is not None else None
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
        a.bench_trailing = trailing_returns(bidx.ffill().fillna(1.0))
        a.bench_rolling = rolling_returns(bidx.ffill().fillna(1.0))
        a.bench_rolling.name = name
    return a


# --------------------------------------------------------------------------- charts
def render_charts(a: Analysis) -> dict[str, bytes]:
    """PNG bytes per chart key (charts with nothing to show are left out)."""
    run = a.run
    out: dict[str, bytes | None] = {
        "value": C.value_chart(run.daily, run.events, a.bench_value, a.real_value),
        "growth": C.growth_chart(a.index, a.bench_index),
        "drawdown": C.drawdown_chart(
            drawdown_series(a.index),
            None if a.bench_index is None else
            drawdown_series(a.bench_index.ffill().fillna(1.0)).rename(a.benchmark_name)),
        "allocation": C.allocation_chart(run.drift),
        "drift": C.drift_chart(run.drift, a.band),
        "annual": C.annual_chart(a.years, a.bench_years),
        "rolling": C.rolling_chart(a.rolling, a.bench_rolling),
    }
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------- page
def _metric_rows(a: Analysis) -> list[dict[str, Any]]:
    p, b = a.performance, a.bench_performance or {}
    rf = f" (risk-free {a.risk_free * 100:g}%)" if a.risk_free else ""

    def row(label: str, key: str, kind: str) -> dict[str, Any]:
        return {"label": label, "kind": kind, "value": p.get(key), "bench": b.get(key)}

    rows = [
        row("Time-weighted return (TWR), whole run", "twr", "twr"),
        row("Money-weighted return (MWR), a year", "mwr", "pct"),
        row("CAGR (of the TWR index), a year", "cagr", "pct"),
        row("Volatility, a year", "volatility", "pctu"),
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


def _card(label: str, value: str, title: str = "", cls: str = "", note: str = ""
          ) -> dict[str, str]:
    return {"label": label, "value": value, "title": title, "cls": cls, "note": note}


def _headline(a: Analysis) -> list[dict[str, str]]:
    """The cards: compact figures, the exact one in the title (shown on hover)."""
    p, m, s = a.performance, a.money, a.run.summary
    twr = p.get("twr")
    cards = [
        *plan_cards(s),  # a plan that ran out leads with the depletion
        _card("Final value", fmt_compact(m["final_value"]), fmt_money(m["final_value"])),
        _card("Put in", fmt_compact(m["total_deposits"]), fmt_money(m["total_deposits"]),
              note="deposits"),
    ]
    if m["total_withdrawals"]:
        cards.append(_card("Taken out", fmt_compact(m["total_withdrawals"]),
                           fmt_money(m["total_withdrawals"]), note="withdrawals"))
    cards.append(_card("Gain", fmt_compact(m["gain"]), fmt_money(m["gain"]),
                       sign_class(m["gain"]), "value − net put in"))
    if s.get("after_tax_value") is not None and s.get("estimated_tax"):
        cards.append(_card("After tax", fmt_compact(s["after_tax_value"]),
                           fmt_money(s["after_tax_value"]),
                           note=f"tax drag {fmt_pct(s.get('tax_drag'), 2, False)}"))
    cards += [
        _card("Growth of $1", "–" if twr is None else fmt_multiple(1 + twr),
              f"TWR {fmt_pct(twr)}", "" if depleted(s) else sign_class(twr),
              f"TWR {fmt_pct(twr, 1)}"),
        _card("CAGR", fmt_pct(p["cagr"]), "compound annual growth of the TWR index",
              sign_class(p["cagr"]), "a year"),
        _card("MWR", fmt_pct(p["mwr"]), "money-weighted return (XIRR of the flows)",
              sign_class(p["mwr"]), "a year, on your money"),
    ]
    if a.real_value is not None:
        start = fmt_date(p["start"])
        cards.append(_card("Real final value", fmt_compact(a.real_value.iloc[-1]),
                           f"{fmt_money(a.real_value.iloc[-1])} in dollars of {start}",
                           note=f"in {start[:4]} dollars"))
        cards.append(_card("Real CAGR", fmt_pct(a.real_cagr), "CAGR net of inflation (CPI)",
                           sign_class(a.real_cagr), "a year, after inflation"))
    if a.bench_performance is not None:
        bc = a.bench_performance.get("cagr")
        cards.append(_card(f"{a.benchmark_name} CAGR", fmt_pct(bc),
                           "the benchmark's CAGR on the run's dates", sign_class(bc),
                           "a year, benchmark"))
    dd_note = ""
    if p.get("max_drawdown_peak"):
        peak, trough = fmt_date(p["max_drawdown_peak"]), fmt_date(p["max_drawdown_trough"])
        dd_note = f"{peak[:7]} to {trough[:7]}"
    cards.append(_card("Max drawdown", fmt_pct(p["max_drawdown"]), "from the TWR index's peak",
                       sign_class(p["max_drawdown"]), dd_note))
    return cards


def _event_rows(events: pd.DataFrame) -> dict[str, Any]:
    """Counts per kind, the notable rows, and the routine rows (folded on the page)."""
    out: dict[str, Any] = {"counts": [], "rows": [], "left": 0, "routine": []}
    if events is None or len(events) == 0:
        return out
    ev = events  # in the engine's order
    kinds = ev["kind"].astype(str).to_numpy()
    dates = pd.DatetimeIndex(ev["date"]).strftime("%Y-%m-%d")
    details = ev["detail"].to_numpy()
    counts = [{"kind": k, "words": EVENT_WORDS.get(k, k.replace("_", " ").capitalize()),
               "count": int(n), "notable": k in NOTABLE_EVENTS, "routine": k in ROUTINE_EVENTS}
              for k, n in pd.Series(kinds).value_counts(sort=False).items()]
    counts.sort(key=lambda r: (r["routine"], not r["notable"], -r["count"]))
    out["counts"] = counts
    shown = 0
    routine: dict[str, list[dict[str, str]]] = {}
    for d, k, det in zip(dates, kinds, details, strict=True):
        text = "" if det is None or (isinstance(det, float) and math.isnan(det)) else str(det)
        row = {"date": d, "kind": k, "notable": k in NOTABLE_EVENTS,
               "words": EVENT_WORDS.get(k, k.replace("_", " ").capitalize()), "detail": text}
        if k in ROUTINE_EVENTS:
            routine.setdefault(k, []).append(row)
        elif shown < MAX_EVENT_ROWS:
            out["rows"].append(row)
            shown += 1
        else:
            out["left"] += 1
    out["routine"] = [{"kind": k, "words": EVENT_WORDS.get(k, k), "rows": rows[:MAX_EVENT_ROWS],
                       "left": max(0, len(rows) - MAX_EVENT_ROWS)}
                      for k, rows in routine.items()]
    return out


def _quiet_year(row: dict[str, Any]) -> bool:
    keys = ("realized_short_term", "realized_long_term", "estimated_tax", "dividends")
    return all(abs(float(row.get(k) or 0.0)) < 0.005 for k in keys)


def _tax_context(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The taxable-account numbers of summary.json (analytics/tax.py), if any.

    Years with nothing realized, no tax and no dividends are folded into one
    line (``quiet_years``) instead of a row of zeros each."""
    if "realized_gain" not in summary:
        return None
    by_year = summary.get("tax_by_year") or {}
    dividends = summary.get("dividends_by_year") or {}
    years = sorted(set(by_year) | set(dividends))
    rows = [{"year": y, **by_year.get(y, {}), "dividends": dividends.get(y, 0.0)}
            for y in years]
    return {
        "method": summary.get("tax_lot_method"),
        "short_rate": summary.get("short_term_rate"),
        "long_rate": summary.get("long_term_rate"),
        "totals": {k: summary.get(k) for k in (
            "realized_short_term", "realized_long_term", "realized_gain", "unrealized_gain",
            "estimated_tax", "tax_drag", "after_tax_value", "liquidation_tax",
            "tax_loss_carryforward")},
        "years": [r for r in rows if not _quiet_year(r)],
        "quiet_years": _year_ranges([int(r["year"]) for r in rows if _quiet_year(r)]),
        "quiet_count": sum(1 for r in rows if _quiet_year(r)),
    }


def _year_ranges(years: list[int]) -> str:
    """1990–1999, 2003, 2005–2007: consecutive years joined."""
    out: list[tuple[int, int]] = []
    for y in sorted(years):
        if out and out[-1][1] == y - 1:
            out[-1] = (out[-1][0], y)
        else:
            out.append((y, y))
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in out)


def _trailing_rows(a: Analysis) -> list[dict[str, Any]]:
    t = a.trailing if a.trailing is not None else pd.DataFrame()
    bt = a.bench_trailing.set_index("period") if a.bench_trailing is not None else None
    rows = []
    for r in t.to_dict("records"):
        b = bt.loc[r["period"]] if bt is not None and r["period"] in bt.index else None
        rows.append({**r, "bench_total": None if b is None else b["total"],
                     "bench_annualised": None if b is None else b["annualised"]})
    return rows


def _holding_rows(a: Analysis) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    h = a.holdings
    if h is None or len(h) == 0:
        return [], None
    order = {name: i for i, name in enumerate(a.drift_table["slice"])} \
        if len(a.drift_table) else {}
    rows = sorted(h.to_dict("records"), key=lambda r: order.get(r["slice"], len(order)))
    total = {"value": float(h["value"].sum()), "cost_basis": float(h["cost_basis"].sum()),
             "unrealized_gain": float(h["unrealized_gain"].sum()),
             "weight": 1.0 if h["value"].sum() > 0 else None,
             "cash": float(a.run.daily["cash"].iloc[-1]) if "cash" in a.run.daily else None}
    return rows, total


def render_html(a: Analysis, charts: dict[str, bytes]) -> str:
    """The report page as text (images inlined as base64 data URIs)."""
    run, p, m = a.run, a.performance, a.money
    chart_map = {k: {"key": k, "file": CHART_FILES[k][0], "title": CHART_FILES[k][1],
                     "data": base64.b64encode(charts[k]).decode("ascii")}
                 for k in CHART_FILES if k in charts}
    months = [{"year": int(y),
               "cells": [None if pd.isna(v) else float(v) for v in a.months.loc[y].to_numpy()],
               "total": float(a.years.get(y, np.nan))} for y in a.months.index]
    bench_years = a.bench_years if a.bench_years is not None else pd.Series(dtype=float)
    years = [{"year": int(y), "value": float(v),
              "bench": None if y not in bench_years.index else float(bench_years[y])}
             for y, v in a.years.items()]
    drift_rows = a.drift_table.to_dict("records")
    holdings, holdings_total = _holding_rows(a)
    ctx = {
        "name": run.name,
        "start": p["start"], "end": p["end"], "sessions": p["sessions"],
        "generated": dt.datetime.now().replace(microsecond=0).isoformat(sep=" "),
        "headline": _headline(a),
        "charts": [chart_map[k] for k in MAIN_CHARTS if k in chart_map],
        "rolling_chart": chart_map.get("rolling"),
        "metrics": _metric_rows(a),
        "benchmark": benchmark_label(a.benchmark_name),
        "data_note": run.summary.get("data_note"),
        "money": m,
        "tax": _tax_context(run.summary),
        "years": years,
        "months": months,
        "month_names": MONTHS,
        "drift_rows": drift_rows,
        "most_drifted": a.most_drifted,
        "band": a.band,
        "events": _event_rows(run.events),
        "trailing": _trailing_rows(a),
        "drawdowns": [] if a.drawdowns is None else a.drawdowns.to_dict("records"),
        "holdings": holdings,
        "holdings_total": holdings_total,
        "has_lots": run.lots is not None,
        "contrib": a.contributions,
        "by_year": [] if a.by_year is None else a.by_year.to_dict("records"),
    }
    return _env().get_template(REPORT_NAME).render(**ctx)


def write_report(run_dir: Path, *, benchmark: pd.Series | None = None, risk_free: float = 0.0,
                 drift_band: float = D.DEFAULT_BAND, cpi: pd.Series | None = None
                 ) -> list[Path]:
    """Write the charts (PNG) and report.html into ``run_dir``; return their paths.

    ``benchmark``: closes indexed by date (its ``name`` labels it), shown as a
    TWR index on the run's dates with the same measures. ``risk_free``: annual
    rate for Sharpe and Sortino. ``drift_band``: a fraction (0.05 = 5 points).
    ``cpi``: a price index by date; when it covers the run the page adds the
    real (inflation-adjusted) final value and CAGR, and the value chart a real line.
    Raises `BacktestError` when the folder is not a readable run folder.
    Each file is written atomically.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    a = analyse(run, benchmark=benchmark, risk_free=risk_free, drift_band=drift_band, cpi=cpi)
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
