"""The comparison's charts as PNG bytes (the report's style, Agg canvas, no pyplot)."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from backtest.report import charts as C

OTHERS = "#b8b8b8"


def _figure(height: float = C.SIZE[1]) -> tuple[Figure, Axes]:
    with matplotlib.rc_context(C._RC):
        fig = Figure(figsize=(C.SIZE[0], height), dpi=C.DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    return fig, ax


def growth_overlay(curves: list[tuple[str, pd.Series]], coloured: int = 10,
                   title: str = "") -> bytes:
    """The TWR index of every variant; the first `coloured` (the table's top) in colour."""
    with matplotlib.rc_context(C._RC):
        fig, ax = _figure()
        lo = min(float(s.min()) for _, s in curves if len(s)) if curves else 1.0
        hi = max(float(s.max()) for _, s in curves if len(s)) if curves else 1.0
        for i, (name, s) in reversed(list(enumerate(curves))):
            if i < coloured:
                ax.plot(s.index, s.to_numpy(), lw=1.3, color=C.PALETTE[i % len(C.PALETTE)],
                        label=C.label(name), zorder=3 + coloured - i)
            else:
                ax.plot(s.index, s.to_numpy(), lw=0.8, color=OTHERS, zorder=1)
        if lo > 0 and hi / lo > 20:
            ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:,.2f}x"))
        C._dates(ax)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  title=C.label(title) if title else None, fontsize=8, title_fontsize=8)
        if len(curves) > coloured:
            ax.set_title(f"Top {coloured} of {len(curves)} in colour", fontsize=9,
                         loc="right", fontweight="normal")
        return C._png(fig)


def drift_bars(drift: pd.DataFrame, title: str = "", note: str = "") -> bytes:
    """Mean and max |drift| (points) per variant, in the table's order; `note` says
    when these are not all the variants."""
    n = len(drift)
    with matplotlib.rc_context(C._RC):
        fig, ax = _figure(max(2.5, min(0.32 * n + 1.2, 24.0)))
        y = list(range(n))[::-1]
        mean = drift["mean_abs_drift"].astype(float).to_numpy() * 100
        peak = drift["max_abs_drift"].astype(float).to_numpy() * 100
        h = 0.38
        ax.barh([v + h / 2 for v in y], peak, height=h, color=C.BENCH, label="max |drift|")
        ax.barh([v - h / 2 for v in y], mean, height=h, color=C.ACCOUNT, label="mean |drift|")
        ax.set_yticks(y, [C.label(v) for v in drift["variant"]])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:.1f} pt"))
        ax.grid(axis="y", visible=False)
        if title:
            ax.set_ylabel(C.label(title))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        if note:
            ax.set_title(C.label(note), fontsize=9, loc="right", fontweight="normal")
        return C._png(fig)


def value_minus_baseline(diffs: list[tuple[str, pd.Series]], baseline: str,
                         coloured: int = 10, title: str = "") -> bytes:
    """Each variant's account value minus the baseline's, session by session (dollars)."""
    with matplotlib.rc_context(C._RC):
        fig, ax = _figure()
        ax.axhline(0, color="black", lw=1.0, label=C.label(f"{baseline} (baseline)"))
        for i, (name, s) in reversed(list(enumerate(diffs))):
            s = C.thin(s.dropna())
            if i < coloured:
                ax.plot(s.index, s.to_numpy(), lw=1.3,
                        color=C.PALETTE[(i + 1) % len(C.PALETTE)], label=C.label(name))
            else:
                ax.plot(s.index, s.to_numpy(), lw=0.8, color=OTHERS)
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda x, _p: "$0" if abs(x) < 1e-9 else ("+" if x > 0 else "") + C.compact_money(x)))
        ax.set_title("Account value minus the baseline's")
        C._dates(ax)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  title=C.label(title) if title else None, fontsize=8, title_fontsize=8)
        return C._png(fig)


def final_bars(labels: list[str], values, baseline: int, title: str = "",
               note: str = "") -> bytes:
    """The final value of each variant as horizontal bars, the baseline's marked;
    `note` says when these are not all the variants."""
    n = len(labels)
    with matplotlib.rc_context(C._RC):
        fig, ax = _figure(max(2.5, min(0.32 * n + 1.2, 24.0)))
        y = list(range(n))[::-1]
        colors = [C.BENCH if i == baseline else C.ACCOUNT for i in range(n)]
        ax.barh(y, values, color=colors, height=0.6)
        if 0 <= baseline < n:
            ax.axvline(values[baseline], color=C.BENCH, lw=1.0, ls="--")
        finite = [float(v) for v in values if v == v]
        ax.xaxis.set_major_formatter(FuncFormatter(C.compact_money))
        if finite:
            lo, hi = min(finite), max(finite)
            if lo > 0 and hi - lo < 0.1 * hi:  # close together: zoom in, and say so
                pad = max(hi - lo, hi * 0.002)
                ax.set_xlim(max(0.0, lo - 0.6 * pad), hi + 0.6 * pad)
                ax.set_xlabel("the axis does not start at $0", color="#5f6b78")
                # ticks a few dollars apart: compact labels ($580K) would all read alike
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"${x:,.0f}"))
            for yi, v in zip(y, values, strict=True):
                if v == v:
                    ax.annotate(C.money(float(v)), (float(v), yi), xytext=(3, 0),
                                textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(y, [C.label(v) + (" (baseline)" if i == baseline else "")
                          for i, v in enumerate(labels)])
        ax.grid(axis="y", visible=False)
        if title:
            ax.set_ylabel(C.label(title))
        ax.set_title("Final value" + (f" ({note})" if note else ""))
        return C._png(fig)
