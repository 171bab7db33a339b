"""The Monte Carlo charts as PNG bytes (the report's style, Agg canvas, no pyplot)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from backtest.report import charts as C


def use_log(table: pd.DataFrame, prefixes: tuple[str, ...] = ("", "real_")) -> bool:
    """One scale rule for every panel: log when every 5th-95th band value is positive
    and they span more than `charts.LOG_SPAN` times (the run page's rule)."""
    cols = [table[f"{p}{q}"] for p in prefixes for q in ("p5", "p95")
            if f"{p}{q}" in table.columns]
    return C.use_log(*cols)


def _band(ax, dates, table: pd.DataFrame, prefix: str, title: str,
          log: bool | None = None) -> None:
    ax.fill_between(dates, table[f"{prefix}p5"], table[f"{prefix}p95"], color=C.ACCOUNT,
                    alpha=0.15, lw=0, label="5th-95th percentile")
    ax.fill_between(dates, table[f"{prefix}p25"], table[f"{prefix}p75"], color=C.ACCOUNT,
                    alpha=0.32, lw=0, label="25th-75th percentile")
    ax.plot(dates, table[f"{prefix}p50"], color=C.ACCOUNT, lw=1.6, label="median")
    ax.set_title(title)
    if log is None:
        log = use_log(table, (prefix,))
    if log:
        C._log_axis(ax, C.compact_money)  # decades apart: growth reads as a slope
        ax.set_title(title + ", log scale")
    else:
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(C.compact_money))
    ax.legend(loc="upper left")


def fan_chart(percentiles: pd.DataFrame, inflation: float) -> bytes | None:
    """Median and 5-95 / 25-75 bands of the account value: nominal, then in today's dollars."""
    if percentiles.empty:
        return None
    dates = pd.DatetimeIndex(percentiles["date"])
    with matplotlib.rc_context(C._RC):
        fig = Figure(figsize=(C.SIZE[0], C.SIZE[1] * 1.8), dpi=C.DPI, layout="constrained")
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, sharex=True)
        log = use_log(percentiles)  # one rule for both panels, so they read alike
        _band(top, dates, percentiles, "", "Account value (nominal dollars)", log)
        _band(bottom, dates, percentiles, "real_",
              f"Account value in today's dollars ({inflation:.1%} a year inflation)", log)
        C._dates(bottom)
        return C._png(fig)


def final_histogram(final_values: pd.Series, real: bool = False) -> bytes | None:
    """Histogram of the paths' final values (log-spaced bins when they span decades)."""
    x = final_values.dropna().to_numpy(dtype=float)
    if len(x) == 0:
        return None
    with matplotlib.rc_context(C._RC):
        fig = Figure(figsize=C.SIZE, dpi=C.DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        pos = x[x > 0]
        log = len(pos) == len(x) and pos.max() / pos.min() > 50
        if log:
            bins = np.geomspace(pos.min(), pos.max() * 1.0001, 41)
            ax.set_xscale("log")
        else:
            bins = 40 if np.ptp(x) > 0 else 1
        ax.hist(x, bins=bins, color=C.ACCOUNT, alpha=0.8)
        median = float(np.median(x))
        ax.axvline(median, color=C.BENCH, lw=1.5, label=f"median {C.money(median)}")
        ax.xaxis.set_major_formatter(FuncFormatter(C.money))
        ax.set_ylabel("paths")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("Final value of each path" + (" (today's dollars)" if real else ""))
        ax.legend(loc="upper right")
        return C._png(fig)
