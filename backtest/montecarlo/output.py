"""Writing a Monte Carlo run's folder atomically: tables, charts, page and summary.

| file | content |
|---|---|
| `simulation.parquet` | one row per path (`results.PATH_COLUMNS`) |
| `percentiles.parquet` | one row per session: session, date, years, p5..p95, real_p5..real_p95 |
| `montecarlo.json` | the headline numbers and the run's settings |
| `fan.png` | median and 5-95 / 25-75 bands, nominal and in today's dollars |
| `final_values.png` | histogram of the final values |
| `montecarlo.html` | a self-contained page (images inlined) |
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import jinja2

from backtest.io.run_output import atomic_folder
from backtest.montecarlo import charts as MC
from backtest.montecarlo.plan import SESSIONS_PER_YEAR
from backtest.montecarlo.results import PERCENTILES, MonteCarloResult
from backtest.report.build import TEMPLATES, fmt_money, fmt_pct

PAGE = "montecarlo.html"
CHARTS = {"fan": ("fan.png", "Account value over time: median, 25th-75th and 5th-95th "
                             "percentiles"),
          "final": ("final_values.png", "Final value of each path")}
FILES = ("simulation.parquet", "percentiles.parquet", "montecarlo.json", "fan.png",
         "final_values.png", PAGE)


def render_charts(result: MonteCarloResult) -> dict[str, bytes]:
    charts = {"fan": MC.fan_chart(result.percentiles, result.settings.get("inflation", 0.0)),
              "final": MC.final_histogram(result.paths["final_value"])}
    return {k: v for k, v in charts.items() if v is not None}


def _headline(result: MonteCarloResult) -> list[Any]:
    h = result.headline()
    cards: list[Any] = []  # (label, value, class) or a card dict (_cards.html)
    if result.has_withdrawals:
        rate = result.success_rate
        cls = "pos" if rate >= 0.9 else "neg" if rate < 0.75 else ""
        cards.append(("Success rate", fmt_pct(rate, 1, sign=False), cls))
        if h["depleted_paths"]:
            year = f"{h['depletion_year_median']:g}"
            cards.append({"label": "Money ran out", "value": f"{h['depleted_paths']:,} paths",
                          "cls": "neg", "note": f"median: in year {year}",
                          "title": f"{h['depleted_paths']:,} paths could not pay a withdrawal "
                                   f"in full; half of them by year {year}"})
    else:
        cards.append(("Success rate", "no withdrawals", ""))
    cards += [(label, value, "") for label, value in rate_cards(result.settings)]
    cards += [(label, "; ".join(values), "neg") for label, values in
              _coverage(result.settings.get("withdrawal_schedule") or ())]
    lasted = " (paths that lasted)" if h["depleted_paths"] else ""
    cards += [("Median final value" + lasted, fmt_money(h["median_final_value_lasting"]), ""),
              ("Median in today's dollars", fmt_money(h["median_real_final_value"]), "")]
    cards += [("Median CAGR (TWR)", fmt_pct(h["median_cagr"]), ""),
              ("Median MWR", fmt_pct(h["median_mwr"]), ""),
              ("Median max drawdown", fmt_pct(h["median_max_drawdown"]), "neg")]
    return cards


def rate_cards(s: dict[str, Any]) -> list[tuple[str, str]]:
    """Safe and perpetual withdrawal rates, when they were found."""
    if "safe_withdrawal_rate" not in s:
        return []

    def rate(x: float | None, top: bool) -> str:
        if x is None:
            return "none"
        return ("≥ " if top else "") + fmt_pct(x, 2, sign=False)

    return [(f"Safe withdrawal rate ({s['rate_confidence']:.0%} last)",
             rate(s["safe_withdrawal_rate"], s["safe_at_least"])),
            ("Perpetual withdrawal rate",
             rate(s["perpetual_withdrawal_rate"], s["perpetual_at_least"]))]


def _coverage(lines: Any) -> list[tuple[str, list[str]]]:
    """"withdrawals: 62 of 360 months (...)" as a card: ("Withdrawals", ["62 of 360 months"])."""
    out = []
    for line in lines:
        label, _, value = str(line).partition(": ")
        out.append((label.capitalize(), [value.split(" (")[0]]))
    return out


def render_page(result: MonteCarloResult, charts: dict[str, bytes]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    s = result.settings
    h = result.headline()
    rows = [
        {"label": "Final value", "cells": [fmt_money(h["final_value_percentiles"][f"p{k}"])
                                           for k in PERCENTILES]},
        {"label": "In today's dollars",
         "cells": [fmt_money(h["real_final_value_percentiles"][f"p{k}"]) for k in PERCENTILES]},
    ]
    for col, label in (("cagr", "CAGR (TWR)"), ("mwr", "MWR"), ("max_drawdown", "Max drawdown")):
        x = result.paths[col].dropna()
        rows.append({"label": label, "cells": [
            fmt_pct(float(x.quantile(k / 100)) if len(x) else math.nan) for k in PERCENTILES]})
    n = len(result.paths)
    by_year = _year_rows(result)
    failures = [{"year": int(y), "paths": int(c), "share": fmt_pct(c / n, 1, sign=False)}
                for y, c in result.failure_years.items()]
    method = s["method"] + (f" (blocks of {s['block']} sessions)" if s.get("block") else "")
    images = [{"title": title, "file": name, "data": base64.b64encode(charts[k]).decode("ascii")}
              for k, (name, title) in CHARTS.items() if k in charts]
    years = s["years"]
    return env.get_template(PAGE).render(
        name=result.name, paths=n, years=int(years) if float(years).is_integer() else years,
        sessions=s["sessions"], start=s["start"], end=s["end"], method=method,
        seed=s["seed"], generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        history_start=s["history_start"], history_end=s["history_end"],
        history_days=s["history_days"], history_years=f"{s.get('history_years', 0):g}",
        tickers=", ".join(s["tickers"]),
        inflation=fmt_pct(s["inflation"], 1, sign=False), warnings=list(result.warnings),
        headline=_headline(result), percentile_names=[f"p{k}" for k in PERCENTILES],
        percentile_rows=rows, failure_rows=failures, year_rows=by_year,
        withdrawals=_withdrawal_note(result), charts=images, files=list(FILES))


def _year_rows(result: MonteCarloResult) -> list[dict[str, Any]]:
    """p5..p95 of the value (and in today's dollars) at the end of some years."""
    pct = result.percentiles
    whole = int(len(pct) // SESSIONS_PER_YEAR)
    step = 1 if whole <= 10 else 5
    years = [y for y in range(step, whole + 1, step)]
    if not years or years[-1] * SESSIONS_PER_YEAR != len(pct):
        years.append(len(pct) / SESSIONS_PER_YEAR)
    rows = []
    for y in years:
        r = pct.iloc[min(len(pct), round(y * SESSIONS_PER_YEAR)) - 1]
        rows.append({"year": f"{y:g}", "date": str(r["date"].date()),
                     "cells": [fmt_money(r[f"p{k}"]) for k in PERCENTILES],
                     "real": [fmt_money(r[f"real_p{k}"]) for k in PERCENTILES]})
    return rows


def _withdrawal_note(result: MonteCarloResult) -> str:
    s = result.settings
    text = ""
    if result.has_withdrawals:
        asked = (f"{fmt_money(result.scheduled_withdrawals)} in all" if
                 result.scheduled_withdrawals > 0 else "a percent of the account")
        text = (f"The plan withdraws {asked} on every path; a path succeeds when every "
                "withdrawal is paid in full (none is rejected for exceeding the account); "
                "a failed path is counted by the year its money ran out, not by what it "
                "ended with.")
    if "safe_withdrawal_rate" in s:
        text += (f" The safe withdrawal rate is the largest starting rate (withdrawn every "
                 f"{s['rate_every']}, raised by the inflation rate each year) that "
                 f"{s['rate_confidence']:.0%} of the first {s['rate_paths']} paths survive; "
                 "the perpetual rate keeps the median path's starting balance in today's "
                 f"dollars; both found by bisection to {fmt_pct(s['rate_resolution'], 2, False)}.")
    return text.strip()


def write_outputs(result: MonteCarloResult, dest: str | Path, *, force: bool = False) -> Path:
    """Write the run's folder at `dest` (atomically: all or nothing); an existing
    `dest` is replaced only when empty or written by this tool (or with `force`)."""
    dest = Path(dest)
    with atomic_folder(dest, kind="simulate", force=force) as folder:
        result.paths.to_parquet(folder / "simulation.parquet", index=False)
        result.percentiles.to_parquet(folder / "percentiles.parquet", index=False)
        summary: dict[str, Any] = {**result.headline(), "warnings": list(result.warnings)}
        (folder / "montecarlo.json").write_text(json.dumps(summary, indent=1) + "\n")
        charts = render_charts(result)
        for key, (name, _) in CHARTS.items():
            if key in charts:
                (folder / name).write_bytes(charts[key])
        (folder / PAGE).write_text(render_page(result, charts), encoding="utf-8")
    return dest


def default_out(name: str) -> Path:
    """reports/<strategy-name>-montecarlo/ (the name slugged like `backtest run` folders)."""
    from backtest.cli.run import slug

    return Path("reports") / f"{slug(name)}-montecarlo"
