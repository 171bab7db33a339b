"""The report's charts as PNG bytes (matplotlib's Agg canvas, no pyplot state).

Figures are drawn on ``FigureCanvasAgg`` directly, so the global backend and
pyplot are never touched (safe in threads and beside interactive sessions).

Each function takes plain frames/series and returns PNG bytes, or None when
there is nothing to draw. Figures are 10 x 4 inches at 110 dpi, dates on the
x axis, money as $1,234.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from backtest.analytics import drift as D

SIZE = (10.0, 4.0)
DPI = 110
MAX_DRIFT_LINES = 8

ACCOUNT = "#1f5fa8"
CONTRIB = "#7f7f7f"
BENCH = "#e07b00"
LOSS = "#c0392b"
GAIN = "#2e8b57"
HALT = "#8e44ad"
PALETTE = ["#1f5fa8", "#e07b00", "#2e8b57", "#c0392b", "#8e44ad", "#8c564b", "#d62f9b",
           "#6f6f6f", "#a3a314", "#17a2b8", "#5b8bd0", "#f0a35e"]

_RC = {
    "font.size": 9.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "legend.fontsize": 9,
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


def _points(x: float, _pos: object = None) -> str:
    if abs(x) < 1e-9:
        return "0 pt"
    return f"{x:+.0f} pt" if abs(x) >= 1 else f"{x:+.1f} pt"


def _figure() -> tuple[Figure, object]:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    return fig, ax


def _dates(ax) -> None:
    loc = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
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


@_styled
def value_chart(daily: pd.DataFrame, events: pd.DataFrame | None = None,
                benchmark_value: pd.Series | None = None) -> bytes:
    """Account value vs net contributions; halt deferrals and withdrawals marked."""
    fig, ax = _figure()
    value = _series(daily, "value")
    contrib = _series(daily, "net_flow").cumsum()
    ax.plot(value.index, value.to_numpy(), color=ACCOUNT, lw=1.8, label="Account value")
    ax.step(contrib.index, contrib.to_numpy(), where="post", color=CONTRIB, lw=1.4, ls="--",
            label="Net contributions")
    if benchmark_value is not None and benchmark_value.notna().any():
        ax.plot(benchmark_value.index, benchmark_value.to_numpy(), color=BENCH, lw=1.2,
                alpha=0.9, label="Benchmark, same flows")
    flows = _series(daily, "net_flow")
    wd = flows[flows < 0]
    if len(wd):
        ax.scatter(wd.index, value.reindex(wd.index).to_numpy(), marker="v", s=46, color=LOSS,
                   zorder=5, label=f"Withdrawal ({len(wd)})")
    if events is not None and len(events):
        halts = pd.DatetimeIndex(events.loc[events["kind"] == "halt_deferred", "date"]).unique()
        for i, d in enumerate(halts):
            ax.axvline(d, color=HALT, lw=1.3, ls=":", alpha=0.9,
                       label=f"Halt deferral ({len(halts)})" if i == 0 else None)
    ax.yaxis.set_major_formatter(FuncFormatter(money))
    ax.set_title("Account value and net contributions")
    _dates(ax)
    ax.legend(loc="upper left")
    return _png(fig)


@_styled
def growth_chart(index: pd.Series, benchmark: pd.Series | None = None) -> bytes:
    """Growth of $1 by time-weighted return, beside the benchmark's."""
    fig, ax = _figure()
    ax.plot(index.index, index.to_numpy(), color=ACCOUNT, lw=1.8, label="Portfolio (TWR)")
    if benchmark is not None and benchmark.notna().any():
        ax.plot(benchmark.index, benchmark.to_numpy(), color=BENCH, lw=1.4,
                label=label(benchmark.name or "Benchmark"))
    ax.axhline(1.0, color="black", lw=0.6, alpha=0.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"${x:,.2f}"))
    ax.set_title("Growth of $1 (time-weighted)")
    _dates(ax)
    ax.legend(loc="best")
    return _png(fig)


@_styled
def drawdown_chart(drawdown: pd.Series, benchmark: pd.Series | None = None) -> bytes:
    """Drawdown of the TWR index from its running maximum, in percent."""
    fig, ax = _figure()
    dd = drawdown * 100
    ax.fill_between(dd.index, dd.to_numpy(), 0, color=LOSS, alpha=0.35, lw=0, step=None)
    ax.plot(dd.index, dd.to_numpy(), color=LOSS, lw=1.2, label="Portfolio")
    if benchmark is not None and benchmark.notna().any():
        ax.plot(benchmark.index, benchmark.to_numpy() * 100, color=BENCH, lw=1.2, ls="--",
                label=label(benchmark.name or "Benchmark"))
        ax.legend(loc="lower left")
    low = float(np.nanmin(dd.to_numpy())) if len(dd) else 0.0
    ax.set_ylim(min(low * 1.1, -1.0), 0.5)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0 if low < -5 else 1))
    ax.set_title("Drawdown (from the highest TWR index so far)")
    _dates(ax)
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
    fig, ax = _figure()
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(tops))]
    ax.stackplot(actual.index, actual.T.to_numpy(), labels=[label(s) for s in actual.columns],
                 colors=colors, alpha=0.8, step="post" if len(actual) < 3 else None)
    cum = target.fillna(0.0).cumsum(axis=1)
    for i, col in enumerate(cum.columns[:-1]):
        ax.step(cum.index, cum[col].to_numpy(), where="post", color="black", lw=1.0, ls="--",
                alpha=0.7, label="Target boundaries" if i == 0 else None)
    ax.set_ylim(0, 100)
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
    fig, ax = _figure()
    if wide.shape[1] <= MAX_DRIFT_LINES:
        ax.axhspan(-band_pts, band_pts, color=GAIN, alpha=0.10, lw=0,
                   label=f"±{band_pts:g} pt band")
        ax.axhline(0, color="black", lw=0.6, alpha=0.5)
        for i, col in enumerate(wide.columns):
            ax.plot(wide.index, wide[col].to_numpy(), lw=1.3, color=PALETTE[i % len(PALETTE)],
                    label=label(col))
        ax.yaxis.set_major_formatter(FuncFormatter(_points))
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title("Drift: actual minus target weight within the parent pie")
        _dates(ax)
        return _png(fig)
    # Many slices: a heatmap, slices down, sessions across, clipped at twice the band.
    lim = max(2 * band_pts, 1e-6)
    x0, x1 = mdates.date2num(wide.index[0]), mdates.date2num(wide.index[-1])
    if x1 == x0:
        x1 = x0 + 1
    height = max(SIZE[1], 0.22 * wide.shape[1] + 1.2)
    fig.set_size_inches(SIZE[0], min(height, 14))
    im = ax.imshow(wide.T.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   interpolation="nearest", extent=(x0, x1, wide.shape[1] - 0.5, -0.5))
    ax.set_yticks(range(wide.shape[1]), [label(c) for c in wide.columns], fontsize=8)
    ax.grid(False)
    ax.xaxis_date()
    _dates(ax)
    cb = fig.colorbar(im, ax=ax, pad=0.01)
    cb.set_label("actual - target (points)")
    ax.set_title(f"Drift per slice (points; beyond ±{band_pts:g} is outside the band)")
    return _png(fig)


@_styled
def annual_chart(years: pd.Series, benchmark: pd.Series | None = None) -> bytes | None:
    """Calendar-year TWR returns as bars (benchmark beside them when given)."""
    if years is None or len(years) == 0:
        return None
    fig, ax = _figure()
    x = np.arange(len(years))
    vals = years.to_numpy() * 100
    has_b = benchmark is not None and benchmark.notna().any()
    w = 0.4 if has_b else 0.65
    off = -w / 2 if has_b else 0.0
    colors = [ACCOUNT] * len(vals) if has_b else [GAIN if v >= 0 else LOSS for v in vals]
    ax.bar(x + off, vals, width=w, color=colors, label="Portfolio")
    bars = [(x + off, vals)]
    if has_b:
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
