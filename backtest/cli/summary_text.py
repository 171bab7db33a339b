"""What `backtest run` prints when it is done: the headline numbers as text, or JSON.

Plain text for a person (colour only on a terminal), JSON for a script.
Everything here reads the run's summary (summary.json's dict) and a few
figures computed from the run beside it; nothing is printed here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import click

from backtest.errors import one_line


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def money(x: Any) -> str:
    v = _num(x)
    if v is None:
        return "n/a"
    return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"


def pct(x: Any, colour: bool = False) -> str:
    v = _num(x)
    if v is None:
        return "n/a"
    text = f"{v * 100:+,.2f}%"
    if colour and v != 0:
        return click.style(text, fg="green" if v > 0 else "red")
    return text


def summary_text(s: Mapping[str, Any], dest: Path | str, *, benchmark: Mapping[str, Any] |
                 None = None, drift: Mapping[str, Any] | None = None,
                 colour: bool = False) -> str:
    """The run's headline as lines of text.

    ``benchmark``: ``{"name", "cagr"}`` of the benchmark on the run's dates, and
    optionally its ``"kind"`` (price index or total return), said after the CAGR;
    ``drift``: the most drifted slice (`analytics.drift.most_drifted`);
    ``s["depleted_on"]`` (when the key is there and set) adds the depletion line.
    """
    twr = _num(s.get("twr"))
    lines = [f"{one_line(str(s.get('name', '')))}: {s.get('start')} to {s.get('end')}"
             + (f" ({s['sessions']:,} sessions)" if isinstance(s.get("sessions"), int) else "")]
    if s.get("depleted_on"):  # the headline of a plan that ran out, before any return
        line = f"  depleted on   {s['depleted_on']}: the account ran out of money"
        lines.append(click.style(line, fg="red", bold=True) if colour else line)
    from backtest.cli.plan_lines import plan_lines

    lines += plan_lines(s, depletion=False)
    lines.append(f"  final value   {money(s.get('final_value'))}   put in "
                 f"{money(s.get('total_deposits'))}   taken out "
                 f"{money(s.get('total_withdrawals'))}")
    if s.get("after_tax_value") is not None:
        extra = ""
        if _num(s.get("liquidation_tax")):
            extra = f"; selling everything at the end would owe {money(s['liquidation_tax'])} more"
        lines.append(f"  after tax     {money(s.get('after_tax_value'))}   (estimated tax "
                     f"{money(s.get('estimated_tax'))}{extra})")
    growth = "n/a" if twr is None else f"{1 + twr:,.2f}x"
    lines.append(f"  growth of $1  {growth} (TWR {pct(twr, colour)})")
    cagr = f"CAGR {pct(s.get('cagr'), colour)}"
    if benchmark is not None:
        kind = f"; {one_line(str(benchmark['kind']))}" if benchmark.get("kind") else ""
        cagr += f" (benchmark {one_line(str(benchmark.get('name')))} " \
                f"{pct(benchmark.get('cagr'), colour)}{kind})"
    lines.append(f"  a year        {cagr}   MWR {pct(s.get('mwr'), colour)}")
    dd = f"  max drawdown  {pct(s.get('max_drawdown'), colour)}"
    if s.get("max_drawdown_peak"):
        dd += f" ({s['max_drawdown_peak']} to {s.get('max_drawdown_trough')}, "
        dd += (f"recovered {s['max_drawdown_recovery']})" if s.get("max_drawdown_recovery")
               else "not recovered)")
    lines.append(dd)
    if drift:
        date: Any = drift.get("date")
        day = date.date().isoformat() if hasattr(date, "date") else str(date)
        lines.append(f"  largest drift {one_line(str(drift['slice']))} "
                     f"{float(drift['drift']) * 100:+.1f} pt from its "
                     f"{float(drift['target']) * 100:.1f}% target on {day}")
    lines.append(f"  wrote {dest}/")
    return "\n".join(lines)


def summary_json(s: Mapping[str, Any]) -> str:
    """The summary as one JSON document (what summary.json holds)."""
    return json.dumps(s, indent=1, allow_nan=False, default=str)


def benchmark_cagr(closes, dates) -> float | None:
    """The benchmark's CAGR over the run's sessions (its TWR index on those dates)."""
    from backtest.analytics import returns as R

    idx = R.price_index(closes, dates).ffill().fillna(1.0)
    v = R.cagr(R.daily_returns(idx))
    return v if math.isfinite(v) else None
