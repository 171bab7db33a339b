"""The report's charts (matplotlib's Agg canvas directly, no pyplot state).

Each chart function takes plain frames/series and returns PNG bytes, or None
when there is nothing to draw. Figures are 10 x 4 inches at 110 dpi, dates on
the x axis, money as $1.2M on the axes. Speed matters (a report is part of
every `backtest run`): fixed margins instead of a layout engine, long daily
series thinned to about two points per pixel column, heatmaps binned to at
most `MAX_HEAT_COLUMNS` columns.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    NullFormatter,
    NullLocator,
    PercentFormatter,
)

from backtest.analytics import drift as D

SIZE = (10.0, 4.0)
DPI = 110
MAX_DRIFT_LINES = 8
MAX_POINTS = 2200  # a 1100-pixel-wide chart shows no more than two points a pixel
MAX_HEAT_COLUMNS = 600
LOG_SPAN = 10.0  # a value or growth series spanning more than 10x is drawn on a log axis

# Fixed margins (fractions of the figure): (left, bottom, right, top).
MARGINS = (0.09, 0.115, 0.985, 0.9)
MARGINS_LEGEND_RIGHT = (0.09, 0.115, 0.80, 0.9)

ACCOUNT = "#1f5fa8"
CONTRIB = "#7f7f7f"
BENCH = "#e07b00"
LOSS = "#c0392b"
GAIN = "#2e8b57"
HALT = "#8e44ad"
PALETTE = ["#1f5fa8", "#e07b00", "#2e8b57", "#c0392b", "#8e44ad", "#8c564b", "#d62f9b",
           "#6f6f6f", "#a3a314", "#17a2b8", "#5b8bd0", "#f0a35e"]

_RC: dict[Any, Any] = {
    "font.size": 11,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "legend.fontsize": 10,
    "axes.titley": 1.01,  # a fixed title position: no measuring of the tick labels above
    "path.simplify": True,
    "agg.path.chunksize": 10000,
}


def label(text: object) -> str:
    """A legend/tick label that matplotlib shows literally (no mathtext, not hidden)."""
    s = str(text).replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def money(x: float, _pos: object = None) -> str:
    """$1,234 (whole dollars; cents below $10)."""
    if abs(x) < 10 and x != 0:
        return f"-${abs(x):,.2f}" if x < 0 else f"${x:,.2f}"
    return f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}"


def compact_money(x: float, _pos: object = None) -> str:
    """An axis label: $950, $12K, $1.5M, $2B (no more digits than a tick needs)."""
    a = abs(x)
    sign = "-" if x < 0 else ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if a >= size:
            v = a / size
            text = f"{v:.1f}".rstrip("0").rstrip(".") if v < 10 else f"{v:,.0f}"
            return f"{sign}${text}{unit}"
    if a < 10 and a != 0:
        return f"{sign}${a:.2f}"
    return f"{sign}${a:,.0f}"


def _points(x: float, _pos: object = None) -> str:
    if abs(x) < 1e-9:
        return "0 pt"
    return f"{x:+.0f} pt" if abs(x) >= 1 else f"{x:+.1f} pt"


def use_log(*series: pd.Series | np.ndarray | None, span: float = LOG_SPAN) -> bool:
    """True when every value is positive and the largest is over ``span`` times the smallest."""
    vals = [np.asarray(s, dtype=float) for s in series if s is not None]
    vals = [v[np.isfinite(v)] for v in vals]
    vals = [v for v in vals if len(v)]
    if not vals:
        return False
    allv = np.concatenate(vals)
    return bool((allv > 0).all() and allv.max() / allv.min() > span)


def thin(s: pd.Series, most: int = MAX_POINTS) -> pd.Series:
    """Every k-th point of a long series (first and last kept) so a line has at most
    ``most`` points; a chart this wide cannot show more."""
    n = len(s)
    if n <= most:
        return s
    step = int(np.ceil(n / most))
    pos = np.unique(np.r_[np.arange(0, n, step), n - 1])
    return s.iloc[pos]


def thin_low(s: pd.Series, most: int = MAX_POINTS) -> pd.Series:
    """Like `thin` but each kept point is the lowest of its stretch (a drawdown's
    trough stays visible)."""
    n = len(s)
    if n <= most:
        return s
    step = int(np.ceil(n / most))
    groups = np.arange(n) // step
    v = s.to_numpy()
    order = np.lexsort((v, groups))
    first = np.r_[True, groups[order][1:] != groups[order][:-1]]
    pos = np.sort(order[first])
    return s.iloc[pos]


def _figure(margins: tuple[float, float, float, float] = MARGINS,
            size: tuple[float, float] = SIZE) -> tuple[Figure, Axes]:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=size, dpi=DPI)
        FigureCanvasAgg(fig)
        left, bottom, right, top = margins
        fig.subplots_adjust(left=left, bottom=bottom, right=right, top=top)
        ax = fig.add_subplot()
    return fig, ax


def _dates(ax) -> None:
    loc = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None},
                    pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _styled(fn):
    """Run a chart function under the report's rc settings."""
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_RC):
            return fn(*args, **kwargs)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _series(daily: pd.DataFrame, col: str) -> pd.Series:
    return pd.Series(daily[col].astype(float).to_numpy(), index=pd.DatetimeIndex(daily["date"]))


def _log_axis(ax, formatter) -> None:
    """A log y axis labelled "log scale"; 1-2-5 ticks when the data spans under 100x,
    so a narrow range still gets several labels."""
    ax.set_yscale("log")
    lo, hi = ax.dataLim.y0, ax.dataLim.y1
    if lo > 0 and hi / lo < 100:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(formatter))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_locator(NullLocator())  # minor ticks cost time and say little here
    ax.set_ylabel("log scale", color="#5f6b78")


@_styled
def value_chart(daily: pd.DataFrame, events: pd.DataFrame | None = None,
                benchmark_value: pd.Series | None = None,
                real_value: pd.Series | None = None) -> bytes:
    """Account value vs net contributions; halt deferrals and withdrawals marked.

    Log scale when the plotted lines span more than `LOG_SPAN` times."""
    fig, ax = _figure()
    value = _series(daily, "value")
    flows = _series(daily, "net_flow")
    contrib = flows.cumsum()
    has_b = benchmark_value is not None and benchmark_value.notna().any()
    log = use_log(value, contrib, benchmark_value if has_b else None, real_value)
    v = thin(value)
    ax.plot(v.index, v.to_numpy(), color=ACCOUNT, lw=1.8, label="Account value")
    c = contrib[contrib.ne(contrib.shift())]  # a step line only needs the changes
    c = thin(pd.concat([c, contrib.iloc[-1:]]))
    ax.step(c.index, c.to_numpy(), where="post", color=CONTRIB, lw=1.4, ls="--",
            label="Net contributions")
    if has_b:
        b = thin(benchmark_value)
        ax.plot(b.index, b.to_numpy(), color=BENCH, lw=1.2, alpha=0.9,
                label="Benchmark, same flows")
    if real_value is not None and real_value.notna().any():
        r = thin(real_value)
        ax.plot(r.index, r.to_numpy(), color=ACCOUNT, lw=1.1, ls=":",
                label=f"Account value in {r.index[0].year} dollars")
    wd = flows[flows < 0]
    if len(wd):
        ax.scatter(wd.index, value.reindex(wd.index).to_numpy(), marker="v", s=46, color=LOSS,
                   zorder=5, label=f"Withdrawal ({len(wd)})")
    if events is not None and len(events):
        halts = pd.DatetimeIndex(events.loc[events["kind"] == "halt_deferred", "date"]).unique()
        for i, d in enumerate(halts):
            ax.axvline(d, color=HALT, lw=1.3, ls=":", alpha=0.9,
                       label=f"Halt deferral ({len(halts)})" if i == 0 else None)
    if log:
        _log_axis(ax, compact_money)
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(compact_money))
    ax.set_title("Account value and net contributions" + (" (log scale)" if log else ""))
    _dates(ax)
    ax.legend(loc="upper left")
    return _png(fig)


def _multiple(x: float, _pos: object = None) -> str:
    if x >= 100:
        return f"{x:,.0f}x"
    if x >= 10:
        return f"{x:.0f}x"
    return f"{x:.2f}x".replace(".00x", "x") if x >= 1 else f"{x:.2f}x"


@_styled
def growth_chart(index: pd.Series, benchmark: pd.Series | None = None) -> bytes:
    """Growth of $1 by time-weighted return, beside the benchmark's (log beyond 10x)."""
    fig, ax = _figure()
    has_b = benchmark is not None and benchmark.notna().any()
    log = use_log(index, benchmark if has_b else None)
    s = thin(index)
    ax.plot(s.index, s.to_numpy(), color=ACCOUNT, lw=1.8, label="Portfolio (TWR)")
    if has_b and benchmark is not None:
        b = thin(benchmark)
        ax.plot(b.index, b.to_numpy(), color=BENCH, lw=1.4,
                label=label(benchmark.name or "Benchmark"))
    ax.axhline(1.0, color="black", lw=0.6, alpha=0.5)
    if log:
        _log_axis(ax, lambda x, _p: f"${x:,.0f}" if x >= 1 else f"${x:.2f}")
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"${x:,.2f}"))
    ax.set_title("Growth of $1 (time-weighted)" + (" (log scale)" if log else ""))
    _dates(ax)
    ax.legend(loc="upper left")
    return _png(fig)


@_styled
def drawdown_chart(drawdown: pd.Series, benchmark: pd.Series | None = None) -> bytes:
    """Drawdown of the TWR index from its running maximum, in percent."""
    fig, ax = _figure()
    dd = thin_low(drawdown * 100)
    ax.fill_between(dd.index, dd.to_numpy(), 0, color=LOSS, alpha=0.35, lw=0)
    ax.plot(dd.index, dd.to_numpy(), color=LOSS, lw=1.0, label="Portfolio")
    if benchmark is not None and benchmark.notna().any():
        b = thin_low(benchmark * 100)
        ax.plot(b.index, b.to_numpy(), color=BENCH, lw=1.1, ls="--",
                label=label(benchmark.name or "Benchmark"))
        ax.legend(loc="lower left")
    low = float(np.nanmin(dd.to_numpy())) if len(dd) else 0.0
    ax.set_ylim(min(low * 1.1, -1.0), 0.5)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0 if low < -5 else 1))
    ax.set_title("Drawdown (from the highest TWR index so far)")
    _dates(ax)
    return _png(fig)


@_styled
def rolling_chart(rolling: pd.Series, benchmark: pd.Series | None = None,
                  months: int = 12) -> bytes | None:
    """Rolling ``months``-month TWR returns at each month end (benchmark beside)."""
    if rolling is None or len(rolling) == 0:
        return None
    fig, ax = _figure()
    x = rolling.index.to_timestamp(how="end") if isinstance(rolling.index, pd.PeriodIndex) \
        else rolling.index
    y = rolling.to_numpy() * 100
    ax.fill_between(x, y, 0, where=y >= 0, color=GAIN, alpha=0.25, lw=0, interpolate=True)
    ax.fill_between(x, y, 0, where=y < 0, color=LOSS, alpha=0.25, lw=0, interpolate=True)
    ax.plot(x, y, color=ACCOUNT, lw=1.4, label="Portfolio")
    if benchmark is not None and len(benchmark.dropna()):
        bx = benchmark.index.to_timestamp(how="end") \
            if isinstance(benchmark.index, pd.PeriodIndex) else benchmark.index
        ax.plot(bx, benchmark.to_numpy() * 100, color=BENCH, lw=1.1, ls="--",
                label=label(benchmark.name or "Benchmark"))
    ax.axhline(0, color="black", lw=0.7)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_title(f"Rolling {months}-month return (time-weighted, at each month end)")
    _dates(ax)
    ax.legend(loc="upper left")
    return _png(fig)


@_styled
def allocation_chart(drift: pd.DataFrame) -> bytes | None:
    """Stacked actual weights of the root pie's slices; dashed lines at the targets."""
    if drift is None or len(drift) == 0:
        return None
    tops = D.top_level(drift["slice"])
    if not tops:
        return None
    actual = D.weights_wide(drift, tops, "actual").fillna(0.0) * 100
    target = D.weights_wide(drift, tops, "target") * 100
    actual = thin(actual)
    fig, ax = _figure(MARGINS_LEGEND_RIGHT)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(tops))]
    ax.stackplot(actual.index, actual.T.to_numpy(), labels=[label(s) for s in actual.columns],
                 colors=colors, alpha=0.8, step="post" if len(actual) < 3 else None)
    cum = target.fillna(0.0).cumsum(axis=1)
    for i, col in enumerate(cum.columns[:-1]):
        c = cum[col]
        c = pd.concat([c[c.ne(c.shift())], c.iloc[-1:]])
        ax.step(c.index, c.to_numpy(), where="post", color="black", lw=1.0, ls="--",
                alpha=0.7, label="Target boundaries" if i == 0 else None)
    ax.set_ylim(0, 100)
    if len(actual) > 1:
        ax.set_xlim(actual.index[0], actual.index[-1])
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_title("Allocation: weights of the top-level slices in the invested portfolio")
    _dates(ax)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), ncols=1 if len(tops) <= 14 else 2)
    return _png(fig)


@_styled
def drift_chart(drift: pd.DataFrame, band: float = D.DEFAULT_BAND) -> bytes | None:
    """Each slice's actual - target in percentage points (heatmap when there are many)."""
    if drift is None or len(drift) == 0:
        return None
    wide = D.drift_wide(drift) * 100
    if wide.shape[1] == 0:
        return None
    band_pts = band * 100
    if wide.shape[1] <= MAX_DRIFT_LINES:
        fig, ax = _figure(MARGINS_LEGEND_RIGHT)
        ax.axhspan(-band_pts, band_pts, color=GAIN, alpha=0.10, lw=0,
                   label=f"±{band_pts:g} pt band")
        ax.axhline(0, color="black", lw=0.6, alpha=0.5)
        w = thin(wide)
        for i, col in enumerate(w.columns):
            ax.plot(w.index, w[col].to_numpy(), lw=1.3, color=PALETTE[i % len(PALETTE)],
                    label=label(col))
        ax.yaxis.set_major_formatter(FuncFormatter(_points))
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title("Drift: actual minus target weight within the parent pie")
        _dates(ax)
        return _png(fig)
    # Many slices: a heatmap, slices down, sessions across (binned to at most
    # MAX_HEAT_COLUMNS columns, each the bin's largest |drift|), clipped at twice the band.
    lim = max(2 * band_pts, 1e-6)
    x0, x1 = mdates.date2num(wide.index[0]), mdates.date2num(wide.index[-1])
    if x1 == x0:
        x1 = x0 + 1
    grid = wide.to_numpy()
    if len(grid) > MAX_HEAT_COLUMNS:
        bins = np.array_split(np.arange(len(grid)), MAX_HEAT_COLUMNS)
        grid = np.stack([_largest_abs(grid[b]) for b in bins])
    n = wide.shape[1]
    left_margin = min(0.3, 0.012 * max(len(str(c)) for c in wide.columns) + 0.04)
    height = min(max(SIZE[1], 0.22 * n + 1.2), 14)
    fig, ax = _figure((left_margin, 0.6 / height, 0.87, 1 - 0.45 / height), (SIZE[0], height))
    im = ax.imshow(grid.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   interpolation="nearest", extent=(x0, x1, n - 0.5, -0.5))
    ax.set_yticks(range(n), [label(c) for c in wide.columns], fontsize=8)
    ax.grid(False)
    ax.xaxis_date()
    _dates(ax)
    cax = fig.add_axes((0.885, 0.6 / height, 0.012, 1 - 1.05 / height))
    cb = fig.colorbar(im, cax=cax)
    cb.set_label("actual - target (points)")
    ax.set_title(f"Drift per slice (points; beyond ±{band_pts:g} is outside the band)")
    return _png(fig)


def _largest_abs(block: np.ndarray) -> np.ndarray:
    """Per column, the value of largest magnitude in a block of rows (NaN-aware)."""
    a = np.where(np.isfinite(block), np.abs(block), -1.0)
    pos = np.argmax(a, axis=0)
    return block[pos, np.arange(block.shape[1])]


@_styled
def annual_chart(years: pd.Series, benchmark: pd.Series | None = None) -> bytes | None:
    """Calendar-year TWR returns as bars (benchmark beside them when given)."""
    if years is None or len(years) == 0:
        return None
    fig, ax = _figure((0.075, 0.15 if len(years) > 16 else 0.1, 0.985, 0.9))
    x = np.arange(len(years))
    vals = years.to_numpy() * 100
    has_b = benchmark is not None and benchmark.notna().any()
    w = 0.4 if has_b else 0.65
    off = -w / 2 if has_b else 0.0
    colors = [ACCOUNT] * len(vals) if has_b else [GAIN if v >= 0 else LOSS for v in vals]
    ax.bar(x + off, vals, width=w, color=colors, label="Portfolio")
    bars = [(x + off, vals)]
    if has_b and benchmark is not None:
        b = benchmark.reindex(years.index).to_numpy() * 100
        ax.bar(x + w / 2, b, width=w, color=BENCH, alpha=0.85,
               label=label(benchmark.name or "Benchmark"))
        bars.append((x + w / 2, b))
        ax.legend(loc="upper left")
    for xs, vs in bars if len(years) * len(bars) <= 24 else []:  # labels only when they fit
        for xi, v in zip(xs, vs, strict=True):
            if np.isfinite(v):
                ax.annotate(f"{v:+.1f}%", (xi, v), ha="center", va="bottom" if v >= 0 else "top",
                            fontsize=8, xytext=(0, 2 if v >= 0 else -2),
                            textcoords="offset points")
    mid = (len(years) - 1) / 2
    ax.set_xlim(min(-0.6, mid - 1.5), max(len(years) - 0.4, mid + 1.5))
    ax.axhline(0, color="black", lw=0.7)
    ax.set_xticks(x, [str(y) for y in years.index], rotation=0 if len(years) <= 16 else 90)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    ax.margins(y=0.15)
    ax.grid(axis="x", visible=False)
    ax.set_title("Calendar-year returns (time-weighted; first and last years may be partial)")
    return _png(fig)
