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
CHARTS = {"growth": ("comparison_growth.png", "Growth of $1 (time-weighted), every variant"),
          "drift": ("comparison_drift.png", "Drift from the targets per variant")}
MONEY = {"final_value", "total_deposits", "total_withdrawals", "total_dividends"}
PERCENT = {"twr", "mwr", "cagr", "volatility", "max_drawdown", "best_year_return",
           "worst_year_return"}
POINTS = {"max_abs_drift", "mean_abs_drift"}
RATIO = {"sharpe", "sortino", "calmar"}
MAX_COLOURED = 10


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
    """PNG bytes of the growth and drift charts (missing when nothing to draw)."""
    from backtest.sweep import charts

    ok = table[table["error"].isna()]
    labels, title = short_labels(ok, keys)
    curves: list[tuple[str, pd.Series]] = []
    for label, (_, row) in zip(labels, ok.iterrows(), strict=True):
        daily = store.daily(row["hash"], columns=["date", "twr_index"])
        curves.append((label, pd.Series(daily["twr_index"].to_numpy(float),
                                        index=pd.DatetimeIndex(daily["date"]))))
    out: dict[str, bytes] = {}
    if curves:
        out["growth"] = charts.growth_overlay(curves, coloured=MAX_COLOURED, title=title)
    drift = ok[["mean_abs_drift", "max_abs_drift"]].assign(variant=labels)
    drift = drift.dropna(how="all", subset=["mean_abs_drift", "max_abs_drift"])
    if len(drift):
        out["drift"] = charts.drift_bars(drift, title=title)
    return out


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


def render_page(store: ResultStore, table: pd.DataFrame, keys: Sequence[str], sort: SortKey,
                charts: Mapping[str, bytes]) -> str:
    """comparison.html as text: the sortable table and the charts inlined."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    shown = [c for c in (*keys, *METRICS) if c in table.columns]
    if "file" in table.columns:
        shown.insert(0, "file")
    rows = []
    for _, r in table.iterrows():
        folder = store.folder(r["hash"])
        rows.append({
            "variant": r["variant"], "hash": r["hash"], "error": r["error"],
            "link": f"variants/{r['hash']}/" + ("report.html" if (folder / "report.html")
                                                .is_file() else "summary.json"),
            "cells": [{"text": _fmt(c, r[c]), "value": _sort_value(r[c]),
                       "numeric": c in METRICS} for c in shown],
        })
    failed = int(table["error"].notna().sum())
    images = [{"title": title, "file": name,
               "data": base64.b64encode(charts[k]).decode("ascii")}
              for k, (name, title) in CHARTS.items() if k in charts]
    names = sorted({str(v) for v in table.get("file", pd.Series(dtype=object)).dropna()})
    return env.get_template(PAGE).render(
        title="Comparison of variants", columns=shown, rows=rows, keys=list(keys),
        sort=sort.describe(), sort_column=sort.column, count=len(table), failed=failed,
        images=images, files=names,
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
