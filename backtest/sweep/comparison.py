"""The comparison of a sweep: one table row per variant, two charts and one HTML page.

Writes into the sweep's folder, each file atomically: comparison.parquet,
comparison.csv and (with the report) comparison_growth.png (the TWR index of
every variant), comparison_drift.png (mean and max |drift| per variant) and a
self-contained comparison.html.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from backtest.errors import BacktestError
from backtest.report.build import TEMPLATES, atomic_write, fmt_money, fmt_num, fmt_pct
from backtest.sweep.store import ResultStore
from backtest.sweep.variants import Variant, show_value

METRICS = ("final_value", "total_deposits", "total_withdrawals", "total_dividends", "twr",
           "mwr", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "max_abs_drift",
           "mean_abs_drift", "trades", "halt_deferrals")
EXTRA_METRICS = ("start", "end", "calmar", "best_year", "best_year_return", "worst_year",
                 "worst_year_return", "max_drawdown_peak", "max_drawdown_trough",
                 "max_drawdown_recovery", "sessions")
# The plan's and the tax estimate's numbers (summary.json), in the table files.
PLAN_METRICS = ("withdrawal_rate", "after_tax_value", "estimated_tax", "tax_drag")
# Smaller is better for these: sorted ascending unless asked otherwise.
ASCENDING = frozenset({"max_abs_drift", "mean_abs_drift", "volatility", "trades",
                       "halt_deferrals"})
FIXED = ("variant", "hash")
PAGE = "comparison.html"
TABLE_FILES = ("comparison.parquet", "comparison.csv")
CHARTS = {"vs_baseline": ("comparison_vs_baseline.png",
                          "Each variant's account value minus the baseline's"),
          "final": ("comparison_final.png", "Final value of each variant"),
          "growth": ("comparison_growth.png", "Growth of $1 (time-weighted), every variant"),
          "drift": ("comparison_drift.png", "Drift from the targets per variant")}
# The page's measures, in the order they are shown when they differ between variants.
PAGE_ORDER = ("cagr", "mwr", "final_value", "after_tax_value", "max_drawdown", "sharpe",
              "trades", "tax_drag", "twr", "volatility", "sortino", "calmar",
              "mean_abs_drift", "max_abs_drift", "total_deposits", "total_withdrawals",
              "total_dividends", "halt_deferrals")
HEADERS = {
    "cagr": "CAGR, a year", "mwr": "MWR, a year", "final_value": "Final value",
    "after_tax_value": "After-tax value", "max_drawdown": "Max drawdown",
    "sharpe": "Sharpe ratio", "trades": "Trades", "tax_drag": "Tax drag (of the final value)",
    "twr": "TWR, whole run", "volatility": "Volatility, a year", "sortino": "Sortino ratio",
    "calmar": "Calmar ratio", "mean_abs_drift": "Mean |drift|, points",
    "max_abs_drift": "Max |drift|, points", "total_deposits": "Deposits",
    "total_withdrawals": "Withdrawals", "total_dividends": "Dividends",
    "halt_deferrals": "Halt deferrals",
}
# Differences from the baseline: (column, measure, kind) shown right after the measure.
DELTAS = (("vs_baseline_final_value", "final_value", "money"),
          ("vs_baseline_after_tax_value", "after_tax_value", "money"),
          ("vs_baseline_cagr", "cagr", "points"),
          ("vs_baseline_mwr", "mwr", "points"),
          ("vs_baseline_max_drawdown", "max_drawdown", "points"))
SUMMARY_EXTRAS = ("after_tax_value", "tax_drag")  # read from summary.json when not in the table
MONEY = {"final_value", "total_deposits", "total_withdrawals", "total_dividends",
         "after_tax_value"}
PERCENT = {"twr", "mwr", "cagr", "volatility", "max_drawdown", "best_year_return",
           "worst_year_return", "tax_drag"}
POINTS = {"max_abs_drift", "mean_abs_drift"}
RATIO = {"sharpe", "sortino", "calmar"}
MAX_COLOURED = 10
# Bars per bar chart: the first ones in the table's order (plus the baseline); more
# labels than this do not fit a readable chart (the table has every variant).
MAX_BARS = 40


# --- sorting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """A column and a direction; failed and missing values go last."""

    column: str
    ascending: bool

    def apply(self, table: pd.DataFrame) -> pd.DataFrame:
        if self.column not in table.columns:
            return table.reset_index(drop=True)
        return table.sort_values(self.column, ascending=self.ascending, kind="mergesort",
                                 na_position="last").reset_index(drop=True)

    def describe(self) -> str:
        return f"{self.column} ({'ascending' if self.ascending else 'descending'})"


def parse_sort(spec: str, keys: Sequence[str] = ()) -> SortKey:
    """`metric`, `metric:asc` or `metric:desc`; a known metric or a varied key."""
    column, _, direction = spec.strip().partition(":")
    known = (*FIXED, *keys, *METRICS, *PLAN_METRICS, "depleted_on", *EXTRA_METRICS)
    if column not in known:
        raise BacktestError(f"--sort {column!r}: not a metric of the comparison (one of "
                            f"{', '.join(METRICS)})")
    if direction not in ("", "asc", "desc"):
        raise BacktestError(f"--sort {spec!r}: the direction is asc or desc")
    ascending = (column in ASCENDING or column in keys or column in FIXED) \
        if not direction else direction == "asc"
    return SortKey(column, ascending)


# --- the table ----------------------------------------------------------------------------


def build_table(variants: Sequence[Variant], store: ResultStore, keys: Sequence[str], *,
                failures: Mapping[str, str] | None = None, files: bool = False) -> pd.DataFrame:
    """One row per variant, in grid order: name, hash, values, metrics, error."""
    failures = dict(failures or {})
    rows: list[dict[str, Any]] = []
    for v in variants:
        row: dict[str, Any] = {"variant": v.name, "hash": v.hash}
        if files:
            row["file"] = str(v.source)
        row.update(dict(v.values))
        if store.done(v.hash):
            summary = store.summary(v.hash)
            extras = store.meta(v.hash).get("extras", {})
            for m in (*METRICS, *PLAN_METRICS, "depleted_on", *EXTRA_METRICS):
                row[m] = extras.get(m, summary.get(m))
            row["error"] = None
        else:
            row["error"] = failures.get(v.hash, "not run (interrupted)")
        rows.append(row)
    columns = [*FIXED, *(["file"] if files else []), *keys, *METRICS, *PLAN_METRICS,
               "depleted_on", *EXTRA_METRICS, "error"]
    table = pd.DataFrame(rows, columns=columns)
    for k in keys:
        table[k] = _uniform(table[k])
    table["depleted_on"] = _uniform(table["depleted_on"])
    for m in (*METRICS, *PLAN_METRICS):
        table[m] = pd.to_numeric(table[m], errors="coerce").astype(float)
    for m in EXTRA_METRICS:
        table[m] = _uniform(table[m])
    table["error"] = table["error"].astype(object)
    return table


def _uniform(col: pd.Series) -> pd.Series:
    """A column Parquet can store: numbers stay numbers, anything mixed becomes text."""
    values = [x for x in col if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if values and all(isinstance(x, bool) for x in values):
        return col.astype(object)
    if values and all(isinstance(x, int | float) and not isinstance(x, bool) for x in values):
        return pd.to_numeric(col, errors="coerce")
    return pd.Series([None if x is None or (isinstance(x, float) and math.isnan(x))
                      else (show_value(x) if not isinstance(x, str) else x) for x in col],
                     index=col.index, dtype=object)


# --- the baseline -------------------------------------------------------------------------


def add_summary_extras(table: pd.DataFrame, store: ResultStore) -> pd.DataFrame:
    """The after-tax value and tax drag of each finished variant (from its summary.json),
    when the table does not have them already."""
    table = table.copy()
    for m in SUMMARY_EXTRAS:
        if m in table.columns:
            continue
        vals = []
        for h, err in zip(table["hash"], table["error"], strict=True):
            vals.append(store.summary(h).get(m) if err is None and store.done(h) else None)
        table[m] = pd.to_numeric(pd.Series(vals, index=table.index, dtype=object),
                                 errors="coerce").astype(float)
    return table


def add_baseline(table: pd.DataFrame, baseline_hash: str) -> pd.DataFrame:
    """Mark the baseline row and add each variant's difference from it.

    ``vs_baseline_final_value`` and ``vs_baseline_after_tax_value`` in dollars,
    ``vs_baseline_cagr``, ``_mwr`` and ``_max_drawdown`` as fractions (the page
    shows them in percentage points): variant minus baseline, so the
    baseline's own row is 0. NaN when either side is missing (a failed run).
    """
    table = table.copy()
    table["baseline"] = table["hash"] == baseline_hash
    rows = table[table["baseline"]]
    for col, measure, _kind in DELTAS:
        if measure not in table.columns:
            continue
        base = float(rows[measure].iloc[0]) if len(rows) else float("nan")
        table[col] = table[measure].astype(float) - base
    return table


def pick_baseline(variants: Sequence[Variant], spec: Mapping[str, Any]) -> Variant:
    """The variant whose varied values are ``spec`` (key path -> value)."""
    varied = {k for v in variants for k, _ in v.values}
    for k in spec:
        if k not in varied:
            shown = ", ".join(sorted(varied)) or "none"
            raise BacktestError(f"--baseline {k}: not a varied key (varied: {shown})")
    want = {k: show_value(v) for k, v in spec.items()}
    for v in variants:
        have = {k: show_value(x) for k, x in v.values}
        if all(have.get(k) == text for k, text in want.items()):
            return v
    text = " ".join(f"{k}={t}" for k, t in want.items())
    raise BacktestError(f"--baseline {text}: no variant has these values")


# --- files --------------------------------------------------------------------------------


def write_comparison(store: ResultStore, table: pd.DataFrame, keys: Sequence[str],
                     sort: SortKey, *, report: bool = True) -> list:
    """Write the table (Parquet, CSV) and, with `report`, the charts and the page."""
    import io

    out = store.out
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    written = [atomic_write(out / TABLE_FILES[0], buf.getvalue()),
               atomic_write(out / TABLE_FILES[1], table.to_csv(index=False).encode("utf-8"))]
    if not report:
        return written
    charts = render_charts(store, table, keys)
    for key, (name, _title) in CHARTS.items():
        if key in charts:
            written.append(atomic_write(out / name, charts[key]))
        elif (out / name).exists():
            (out / name).unlink()
    html = render_page(store, table, keys, sort, charts)
    written.append(atomic_write(out / PAGE, html.encode("utf-8")))
    return written


def short_labels(table: pd.DataFrame, keys: Sequence[str]) -> tuple[list[str], str]:
    """Chart labels (the values only, or the file's stem) and the legend's title (the keys)."""
    names = [k.split(".")[-1] if not k.split(".")[-1].isdigit() else k for k in keys]
    if len(set(names)) < len(names):
        names = list(keys)
    files = "file" in table.columns
    labels = []
    for _, row in table.iterrows():
        vals = ", ".join(show_value(row[k]) for k in keys)
        stem = str(row["variant"]).split(" ")[0] if files else ""
        labels.append(" ".join(x for x in (stem, vals) if x) or str(row["variant"]))
    return labels, ", ".join(names)


def render_charts(store: ResultStore, table: pd.DataFrame,
                  keys: Sequence[str] = ()) -> dict[str, bytes]:
    """PNG bytes of the charts (missing when nothing to draw): each variant's value
    minus the baseline's and the final values when there is a baseline, else the
    growth curves; the drift bars."""
    from backtest.sweep import charts

    ok = table[table["error"].isna()]
    labels, title = short_labels(ok, keys)
    out: dict[str, bytes] = {}
    if "baseline" in ok.columns and ok["baseline"].any():
        base_pos = int(np.flatnonzero(ok["baseline"].to_numpy(dtype=bool))[0])
        values = []
        for h in ok["hash"]:
            d = store.daily(h, columns=["date", "value"])
            values.append(pd.Series(d["value"].to_numpy(float),
                                    index=pd.DatetimeIndex(d["date"])))
        base = values[base_pos]
        diffs = [(lab, v.reindex(base.index).ffill() - base)
                 for i, (lab, v) in enumerate(zip(labels, values, strict=True)) if i != base_pos]
        if diffs:
            out["vs_baseline"] = charts.value_minus_baseline(diffs, labels[base_pos],
                                                             coloured=MAX_COLOURED, title=title)
        keep = _first_rows(len(ok), base_pos)
        out["final"] = charts.final_bars([labels[i] for i in keep],
                                         ok["final_value"].to_numpy(float)[keep],
                                         keep.index(base_pos), title=title,
                                         note=_bars_note(min(len(ok), MAX_BARS), len(ok),
                                                         baseline=len(keep) > MAX_BARS))
    if len(ok) and "vs_baseline" not in out:  # one variant, or no baseline: growth curves
        curves: list[tuple[str, pd.Series]] = []
        for label, h in zip(labels, ok["hash"], strict=True):
            daily = store.daily(h, columns=["date", "twr_index"])
            curves.append((label, pd.Series(daily["twr_index"].to_numpy(float),
                                            index=pd.DatetimeIndex(daily["date"]))))
        out["growth"] = charts.growth_overlay(curves, coloured=MAX_COLOURED, title=title)
    drift = ok[["mean_abs_drift", "max_abs_drift"]].assign(variant=labels)
    drift = drift.dropna(how="all", subset=["mean_abs_drift", "max_abs_drift"])
    if len(drift):
        shown = drift.iloc[:MAX_BARS]
        out["drift"] = charts.drift_bars(shown, title=title,
                                         note=_bars_note(len(shown), len(drift)))
    return out


def _first_rows(n: int, base: int) -> list[int]:
    """The first `MAX_BARS` rows, with the baseline's row added when it is later."""
    keep = list(range(min(n, MAX_BARS)))
    return keep if base in keep or not 0 <= base < n else [*keep, base]


def _bars_note(shown: int, total: int, baseline: bool = False) -> str:
    """What a bar chart cut to `MAX_BARS` shows (empty when it shows every variant)."""
    if shown >= total:
        return ""
    return f"the first {shown} of {total} in the table's order" + \
        (", and the baseline" if baseline else "")


def _fmt(column: str, x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if column in MONEY:
        return fmt_money(x)
    if column in PERCENT:
        return fmt_pct(x)
    if column in POINTS:
        return f"{float(x) * 100:.2f} pt"
    if column in RATIO:
        return fmt_num(x)
    if isinstance(x, float) and x.is_integer():
        return f"{int(x):,}"
    return show_value(x) if not isinstance(x, str) else x


def _sort_value(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, bool | np.bool_):
        return str(int(x))
    if isinstance(x, int | float | np.integer | np.floating):
        return repr(float(x))
    return str(x)


def _same(col: pd.Series) -> bool:
    """True when every finished variant has the same value (to a part in a billion)."""
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return True
    return bool(np.all(np.abs(v - v[0]) <= 1e-9 * max(1.0, abs(v[0]))))


def _fmt_delta(kind: str, x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if kind == "money":
        return "±$0.00" if abs(x) < 0.005 else (f"+${x:,.2f}" if x > 0 else f"-${-x:,.2f}")
    pts = float(x) * 100
    return "±0.00 pt" if abs(pts) < 0.005 else f"{pts:+.2f} pt"


def page_columns(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The measures that differ between the finished variants (page order), and
    those that are the same in every one (for the one-line note)."""
    ok = table[table["error"].isna()]
    differ: list[str] = []
    same: list[str] = []
    for m in PAGE_ORDER:
        if m not in table.columns or ok[m].isna().all():
            continue
        (same if len(ok) > 1 and _same(ok[m]) else differ).append(m)
    return differ, same


def render_page(store: ResultStore, table: pd.DataFrame, keys: Sequence[str], sort: SortKey,
                charts: Mapping[str, bytes]) -> str:
    """comparison.html as text: the sortable table and the charts inlined.

    Measures that differ come first (PAGE_ORDER), each followed by its
    difference from the baseline where there is one; measures that are the
    same in every variant are one line above the table."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    differ, same = page_columns(table)
    has_base = "baseline" in table.columns and bool(table["baseline"].any())
    deltas = {measure: (col, kind) for col, measure, kind in DELTAS
              if has_base and col in table.columns}
    columns: list[dict[str, Any]] = []
    for m in differ:
        columns.append({"key": m, "header": HEADERS.get(m, m), "kind": "measure"})
        if m in deltas:
            col, kind = deltas[m]
            columns.append({"key": col, "header": "vs baseline" + (", pt" if kind == "points"
                                                                    else ""),
                            "kind": kind})
    labels, label_header = short_labels(table, keys)
    ok = table[table["error"].isna()]
    same_note = [f"{HEADERS.get(m, m)} {_fmt(m, ok[m].dropna().iloc[0])}" for m in same]
    rows = []
    for label, (_, r) in zip(labels, table.iterrows(), strict=True):
        folder = store.folder(r["hash"])
        report = folder / "report.html"
        cells = []
        for c in columns:
            x = r[c["key"]]
            text = _fmt(c["key"], x) if c["kind"] == "measure" else _fmt_delta(c["kind"], x)
            cells.append({"text": text, "value": _sort_value(x), "numeric": True,
                          "sign": "" if c["kind"] == "measure" or not isinstance(x, float)
                          or math.isnan(x) or abs(x) < 1e-12 else ("pos" if x > 0 else "neg")})
        rows.append({
            "label": label, "variant": r["variant"], "hash": r["hash"], "error": r["error"],
            "baseline": bool(r.get("baseline", False)),
            "link": f"variants/{r['hash']}/report.html" if report.is_file() else None,
            "cells": cells,
        })
    base_row = next((r for r in rows if r["baseline"]), None)
    failed = int(table["error"].notna().sum())
    images = [{"title": title, "file": name,
               "data": base64.b64encode(charts[k]).decode("ascii")}
              for k, (name, title) in CHARTS.items() if k in charts]
    names = sorted({str(v) for v in table.get("file", pd.Series(dtype=object)).dropna()})
    return env.get_template(PAGE).render(
        title="Comparison of variants", columns=columns, rows=rows, keys=list(keys),
        label_header=label_header or "Variant", same_note=same_note, baseline=base_row,
        sort=sort.describe(), sort_column=sort.column, count=len(table), failed=failed,
        images=images, files=names, any_link=any(r["link"] for r in rows),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
