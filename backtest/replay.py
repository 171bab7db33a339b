"""Market replay: the account's activity, session by session (for notebooks and the CLI).

A view over the engine's stepping API (`Simulation.sessions()`), not a second
engine: every number comes from the `SessionReport`s and `Simulation.weights`.
The account's state on the first replayed session depends on all history
before it, so `replay` steps silently through the earlier sessions first.

    from backtest.replay import replay, format_text, to_json

    for view in replay("strategies/factor_pie.yaml", "2020-03-09", "2020-03-20"):
        print(format_text(view))

The data (`session_view` -> `SessionView`) is kept apart from its
presentations (`format_text`, `to_json`), which are pure functions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from backtest.analytics.returns import twr_index
from backtest.engine.simulation import SessionReport, Simulation
from backtest.errors import BacktestError
from backtest.io.inputs import Inputs, load_inputs

DateLike = dt.date | str | np.datetime64 | None


@dataclass(frozen=True)
class SessionView:
    """What the account did on one session, as plain data.

    windows:     one dict per window that ran: {window, trades, allocations}.
                 trades are netted per ticker (like trades.parquet):
                 {ticker, side, shares, price, amount}; allocations are per
                 slice and reason (like allocations.parquet, signed):
                 {slice, ticker, shares, amount, reason}.
    events:      {kind, detail} in the engine's order.
    holdings:    shares per slice path after the session.
    weights:     slice path -> (target, actual) in the parent pie at the close;
                 actual is None while the parent pie is empty.
    day_return:  the session's TWR factor - 1 (value / (previous value + deposits)
                 - 1, split at each window that paid withdrawals; 0 when the base
                 is 0); twr_index chains it from the first session.
    largest_drift: {slice, target, actual} with the largest |actual - target|,
                 or None when no slice has a weight.
    """

    index: int
    date: dt.date
    value: float
    cash: float
    deposits: float
    dividends: float
    withdrawals: float
    net_flow: float
    day_return: float
    twr_index: float
    windows: tuple[dict[str, Any], ...] = ()
    events: tuple[dict[str, str], ...] = ()
    holdings: dict[str, float] = field(default_factory=dict)
    weights: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    largest_drift: dict[str, Any] | None = None

    @property
    def trades(self) -> list[dict[str, Any]]:
        """Every window's netted trades, each with its `window`."""
        return [{"window": w["window"], **t} for w in self.windows for t in w["trades"]]

    @property
    def allocations(self) -> list[dict[str, Any]]:
        """Every window's per-slice allocations, each with its `window`."""
        return [{"window": w["window"], **a} for w in self.windows for a in w["allocations"]]

    @property
    def quiet(self) -> bool:
        """Nothing happened: no cash moved, no event, no trade."""
        return (not self.events and not self.trades and not self.allocations
                and self.deposits == 0 and self.dividends == 0 and self.withdrawals == 0)


# ---- the data -----------------------------------------------------------------------

def session_view(report: SessionReport, sim: Simulation, *, prev_value: float,
                 prev_twr: float) -> SessionView:
    """The view of `report`; call it right after the `sim.step()` that produced it.

    `prev_value` is the previous session's close value (0 before the first
    session) and `prev_twr` its TWR index (1 before the first session).
    """
    net_flow = report.deposits - report.withdrawals
    ratio = session_factor(report, prev_value)
    paths, targets, actual = sim.weights(report.index)
    weights: dict[str, tuple[float, float | None]] = {}
    for p, t, a in zip(paths, targets, actual, strict=True):
        weights[p] = (float(t), None if math.isnan(a) else float(a))
    return SessionView(
        index=report.index,
        date=report.date,
        value=float(report.value),
        cash=float(report.cash),
        deposits=float(report.deposits),
        dividends=float(report.dividends),
        withdrawals=float(report.withdrawals),
        net_flow=float(net_flow),
        day_return=float(ratio - 1.0),
        twr_index=float(prev_twr * ratio),
        windows=tuple(_window_dict(w, sim) for w in report.windows),
        events=tuple({"kind": str(e.kind), "detail": e.detail} for e in report.events),
        holdings=_holdings(report, sim),
        weights=weights,
        largest_drift=_largest_drift(weights),
    )


def session_factor(report: SessionReport, prev_value: float) -> float:
    """The session's TWR factor, by the run's own TWR function."""
    payouts = [(0, v, w) for v, w in report.payouts]
    return float(twr_index([report.value], [report.deposits], payouts,
                           start_value=prev_value)[0])


def _window_dict(w, sim: Simulation) -> dict[str, Any]:
    """Trades netted per ticker column (as run's trades) and allocations per slice and reason."""
    to_shares = _share_units(sim)
    tickers = sim.market.tickers
    net: dict[int, Any] = {}
    acc: dict[tuple[int, str], list[Any]] = {}
    for leaf, col, sh, amt, reason in w.fills:
        net[col] = net.get(col, 0) + sh
        cell = acc.setdefault((leaf, reason), [col, 0, 0.0])
        cell[1] += sh
        cell[2] += amt
    trades = []
    for col in sorted(net, key=lambda c: tickers[c]):
        shares = to_shares(net[col])
        if shares == 0:
            continue
        price = float(w.prices[col])
        trades.append({"ticker": tickers[col], "side": "buy" if shares > 0 else "sell",
                       "shares": abs(shares), "price": price, "amount": abs(shares) * price})
    allocations = [{"slice": sim.book.leaf_paths[leaf], "ticker": tickers[int(col)],
                    "shares": to_shares(sh), "amount": float(amt), "reason": reason}
                   for (leaf, reason), (col, sh, amt) in acc.items()]
    return {"window": w.window, "trades": trades, "allocations": allocations}


def _share_units(sim: Simulation):
    """Fills' shares as floats on the grid: whole grid units when the book keeps units
    (`book.scale`), else float shares rounded to `share_decimals`."""
    scale = getattr(sim.book, "scale", None)
    d = sim.settings.share_decimals

    def to_shares(x: Any) -> float:
        if scale is not None and isinstance(x, int | np.integer):
            return float(int(x) / scale)
        return float(round(float(x), d))

    return to_shares


def _holdings(report: SessionReport, sim: Simulation) -> dict[str, float]:
    """Shares per slice path: every leaf of the live tree, and any other leaf still holding."""
    shares = report.shares if report.shares is not None else sim.book.shares
    live = {lf.leaf for lf in sim.book.root.leaves()}
    out: dict[str, float] = {}
    for leaf, path in enumerate(sim.book.leaf_paths):
        held = float(shares[leaf]) if leaf < len(shares) else 0.0
        if leaf in live or held != 0:
            out[path] = out.get(path, 0.0) + held
    return out


def _largest_drift(weights: dict[str, tuple[float, float | None]]) -> dict[str, Any] | None:
    best = None
    for path, (target, actual) in weights.items():
        if actual is None:
            continue
        if best is None or abs(actual - target) > abs(best["actual"] - best["target"]):
            best = {"slice": path, "target": target, "actual": actual}
    return best


# ---- driving ------------------------------------------------------------------------

def replay(source: str | Path | Inputs, start: DateLike = None,
           end: DateLike = None) -> Iterator[SessionView]:
    """Views of the sessions from `start` to `end` (inclusive; default: the whole run).

    `source` is a strategy file or loaded `Inputs`. Dates are `datetime.date`s
    or 'YYYY-MM-DD'; a date on a non-session day inside the run means the next
    session (for `start`) or the previous one (for `end`). A date outside the
    run, or `start` after `end`, raises `BacktestError` here, before iterating.
    """
    inputs = source if isinstance(source, Inputs) else load_inputs(source)
    sim = Simulation(inputs.strategy, inputs.market)
    first, last = session_range(inputs.market.sessions, start, end)
    return iter_views(sim, first, last)


def iter_views(sim: Simulation, first: int, last: int) -> Iterator[SessionView]:
    """Step a fresh `sim` to the end of session `last`, viewing sessions `first`..`last`."""
    prev_value, prev_twr = 0.0, 1.0
    while sim.next_session < first:  # silent: the state at `first` needs all history
        rep = sim.step()
        prev_twr *= session_factor(rep, prev_value)
        prev_value = rep.value
    while sim.next_session <= last:
        view = session_view(sim.step(), sim, prev_value=prev_value, prev_twr=prev_twr)
        prev_value, prev_twr = view.value, view.twr_index
        yield view


def parse_date(text: DateLike, option: str) -> dt.date | None:
    """A 'YYYY-MM-DD' string (or a date) as a date; a BacktestError otherwise."""
    if isinstance(text, dt.datetime):
        return text.date()
    if text is None or isinstance(text, dt.date):
        return text
    if isinstance(text, np.datetime64):
        return text.astype("datetime64[D]").astype(object)
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise BacktestError(f"{text!r} is not a date (YYYY-MM-DD)", where=option) from None


def session_range(sessions: np.ndarray, start: DateLike, end: DateLike) -> tuple[int, int]:
    """Indexes of the first and last sessions to show (inclusive)."""
    if len(sessions) == 0:
        raise BacktestError("the run has no sessions")
    lo, hi = sessions[0].astype(object), sessions[-1].astype(object)
    d0, d1 = parse_date(start, "--from"), parse_date(end, "--to")
    for d, option in ((d0, "--from"), (d1, "--to")):
        if d is not None and not lo <= d <= hi:
            raise BacktestError(f"{d} is outside the run's sessions ({lo} to {hi})",
                                where=option)
    if d0 is not None and d1 is not None and d0 > d1:
        raise BacktestError(f"--from {d0} is after --to {d1}")
    first = 0 if d0 is None else int(np.searchsorted(sessions, np.datetime64(d0, "D"), "left"))
    last = (len(sessions) - 1 if d1 is None
            else int(np.searchsorted(sessions, np.datetime64(d1, "D"), "right")) - 1)
    if first > last:
        raise BacktestError(f"no session from {d0} to {d1}")
    return first, last


# ---- presentations ------------------------------------------------------------------

def to_json(view: SessionView) -> dict[str, Any]:
    """A JSON-ready dict with stable keys (numbers as floats, dates as YYYY-MM-DD)."""
    return {
        "date": view.date.isoformat(),
        "value": view.value,
        "cash": view.cash,
        "deposits": view.deposits,
        "dividends": view.dividends,
        "withdrawals": view.withdrawals,
        "net_flow": view.net_flow,
        "day_return": view.day_return,
        "twr_index": view.twr_index,
        "windows": [{"window": w["window"],
                     "trades": [dict(t) for t in w["trades"]],
                     "allocations": [dict(a) for a in w["allocations"]]}
                    for w in view.windows],
        "events": [dict(e) for e in view.events],
        "largest_drift": None if view.largest_drift is None else dict(view.largest_drift),
        "holdings": dict(view.holdings),
        "weights": {p: {"target": t, "actual": a} for p, (t, a) in view.weights.items()},
    }


_EVENT_LABEL = {
    "halt_deferred": ("deferred by a halt", "yellow"),
    "window_skipped": ("window skipped", "yellow"),
    "missing_price": ("missing price", "yellow"),
    "rejected": ("rejected", "red"),
    "scaled": ("scaled", "yellow"),
    "target_edit": ("targets", "cyan"),
    "removal": ("removal", "cyan"),
}


def _money(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def _pct(x: float) -> str:
    return f"{x:.2%}"


def _price(x: float) -> str:
    """A price with 2 to 4 decimals (as many as it needs)."""
    text = f"{x:,.4f}"
    return text[:-2] + text[-2:].rstrip("0") if text.endswith("0") else text


def format_text(view: SessionView, color: bool = False) -> str:
    """The session as a few terminal lines (ANSI colour only when `color`)."""
    def st(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    lines = [st(f"{view.date.isoformat()} {view.date:%a}", bold=True)]
    if view.deposits:
        lines.append("  " + st("+ deposit", fg="green") + f"    {_money(view.deposits)}")
    if view.dividends:
        lines.append("  " + st("+ dividends", fg="green") + f"  {_money(view.dividends)}")
    for e in view.events:
        label, fg = _EVENT_LABEL.get(e["kind"], (e["kind"].replace("_", " "), "yellow"))
        lines.append("  " + st(f"! {label}:", fg=fg) + f" {e['detail']}")
    traded = False
    for w in view.windows:
        if not w["trades"] and not w["allocations"]:
            continue
        traded = True
        lines.append(f"  {w['window']} window")
        by_ticker: dict[str, list[dict[str, Any]]] = {}
        for a in w["allocations"]:
            by_ticker.setdefault(a["ticker"], []).append(a)
        trades = {t["ticker"]: t for t in w["trades"]}
        for ticker in sorted(set(by_ticker) | set(trades)):
            t = trades.get(ticker)
            if t is None:
                lines.append(f"    {'':4} {ticker:<8} nets to 0 shares")
            else:
                side = st(f"{t['side'].upper():<4}", fg="green" if t["side"] == "buy" else "red",
                          bold=True)
                lines.append(f"    {side} {ticker:<8} {t['shares']:>14,.5f} @ ${_price(t['price'])}"
                             f" = {_money(t['amount'])}")
            for a in by_ticker.get(ticker, ()):
                lines.append(st(f"           {a['slice']:<20} {a['shares']:>+14,.5f}"
                                f" {_money(a['amount']):>12}  {a['reason'].replace('_', '-')}",
                                dim=True))
    if not traded:
        lines.append("  " + st("no window activity" if view.quiet else "no trades", dim=True))
    if view.withdrawals:
        lines.append("  " + st("- withdrawal", fg="red") + f"   {_money(view.withdrawals)} paid")
    ret = st(f"{view.day_return:+.2%}", fg="green" if view.day_return >= 0 else "red")
    lines.append(f"  close {_money(view.value)}   cash {_money(view.cash)}   day {ret}"
                 f"   TWR index {view.twr_index:.6f}")
    if view.largest_drift is not None:
        d = view.largest_drift
        pts = round((d["actual"] - d["target"]) * 100, 2) + 0.0  # no "-0.00"
        lines.append(f"  largest drift {d['slice']} {_pct(d['actual'])}"
                     f" (target {_pct(d['target'])}, {pts:+.2f} pts)")
    return "\n".join(lines)
