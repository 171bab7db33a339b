"""Caveats a number needs, said where it is read (one line each, once per command).

* Prices without an `open` column fill a morning window at the close, so a
  morning run (or a morning/afternoon comparison) is not what it looks like.
* Files covering different periods cannot be ranked by cumulative return:
  `compare` ranks them by CAGR instead, and says so.
* A benchmark is a price index (dividends left out) or a total return.
* The bundled stock samples were chosen with hindsight (survivorship): their
  reports say so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

NO_OPEN = ("{source}: the prices have no open column: the morning window fills at the "
           "close, exactly as the afternoon one does")
DIFFERENT_PERIODS = ("the variants cover different periods ({periods}): ranked by CAGR, "
                     "not by cumulative TWR (pass --sort to choose)")

# Benchmarks whose kind the data does not tell (the bundled S&P 500 is the index level).
KNOWN_KINDS = {"SP500": "price index: dividends not included"}
TOTAL_RETURN = "total return: dividends reinvested"


# The bundled samples (data/sample/) whose tickers were picked knowing how they fared.
HINDSIGHT = ("{name}: these stocks were picked in hindsight, among companies that exist and "
             "did well today (survivorship bias): the returns are higher than an investor "
             "choosing at the start could expect (data/README.md)")
HINDSIGHT_SAMPLES = ("sp500_stocks.parquet", "stocks_dividends.parquet")


def sample_note(prices: object) -> str | None:
    """The survivorship caveat when the prices are one of the bundled stock samples."""
    path = Path(str(prices))
    if path.name in HINDSIGHT_SAMPLES and path.parent.name == "sample":
        return HINDSIGHT.format(name=path.name)
    return None


def no_open_note(windows: Iterable[str], has_open: bool, source: object) -> str | None:
    """The warning for a morning window on prices that have no opens, else None."""
    if has_open or not any(w in ("morning", "both") for w in windows):
        return None
    return NO_OPEN.format(source=os.path.normpath(str(source)))


def run_notes(strategy, market) -> list[str]:
    """The caveats of running `strategy` on `market`: a morning window without opens,
    a CPI series that stops before the run does."""
    out = []
    note = no_open_note([strategy.account.window], market.has_open, strategy.data.prices)
    if note:
        out.append(note)
    return out + cpi_notes(strategy, market)


def cpi_notes(strategy, market) -> list[str]:
    """A warning when the CPI series stops before the run does (its last level holds)."""
    cpi = next((f.cpi for f in strategy.cashflows if f.cpi is not None), None)
    if cpi is None or not len(market.sessions):
        return []
    last = market.sessions[-1].astype(object)
    if (last - cpi.dates[-1]).days <= 45:  # a monthly series is a month behind at most
        return []
    return [f"the CPI series ends on {cpi.dates[-1]}: CPI-indexed amounts after it stay "
            f"at its last level (the run ends on {last})"]


def benchmark_kind(name: str, *, has_dividend: bool = False) -> str:
    """What a benchmark's closes measure, for the label beside it."""
    upper = name.upper()
    if "TOTAL RETURN" in upper:
        return TOTAL_RETURN
    if name in KNOWN_KINDS:
        return KNOWN_KINDS[name]
    if has_dividend:
        return "price with dividends paid as cash"
    return "closes as given: a total return only if they are adjusted for dividends"


def periods_differ(periods: Iterable[tuple[object, object]]) -> bool:
    """Whether the (start, end) pairs of finished runs are not all the same."""
    return len({(str(a), str(b)) for a, b in periods if a is not None}) > 1


def window_of(document: dict) -> str:
    """A strategy document's account.window (the default is morning)."""
    account = document.get("account") if isinstance(document, dict) else None
    window = account.get("window") if isinstance(account, dict) else None
    return str(window) if window is not None else "morning"


def prices_path(document: dict, source: Path) -> Path | None:
    """A strategy document's data.prices, resolved against its file's folder."""
    data = document.get("data") if isinstance(document, dict) else None
    raw = data.get("prices") if isinstance(data, dict) else None
    if not isinstance(raw, str):
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(source).parent / path


@dataclass(frozen=True)
class VariantFacts:
    """What `compare` must know of a variant before running it."""

    source: Path
    window: str
    prices: Path | None
    has_open: bool
    start: str | None
    end: str | None


def compare_facts(variants: Sequence) -> list[VariantFacts]:
    """Window, opens and period of every variant (their markets are built once per
    strategy file and data range; a variant that cannot be built says nothing here,
    its run reports the error)."""
    from backtest.errors import BacktestError
    from backtest.io.inputs import market_for
    from backtest.io.strategy_file import parse_strategy

    out, seen = [], {}
    for v in variants:
        doc = v.document
        data = doc.get("data") if isinstance(doc, dict) else {}
        key = (str(v.source), str(prices_path(doc, v.source)),
               str((data or {}).get("start")), str((data or {}).get("end")))
        if key not in seen:
            try:
                strategy = parse_strategy(doc, source=Path(v.source),
                                          base_dir=Path(v.source).parent)
                market, _ = market_for(strategy)
                seen[key] = (market.has_open, str(market.sessions[0]) if len(market.sessions)
                             else None, str(market.sessions[-1]) if len(market.sessions)
                             else None)
            except BacktestError:
                seen[key] = (True, None, None)
        has_open, start, end = seen[key]
        out.append(VariantFacts(Path(v.source), window_of(doc), prices_path(doc, v.source),
                                has_open, start, end))
    return out


def compare_notes(facts: Sequence[VariantFacts], *, sort_given: bool
                  ) -> tuple[str | None, list[str]]:
    """(the sort to use when none was given, the warnings) for a comparison."""
    notes = []
    for prices in dict.fromkeys(f.prices for f in facts if not f.has_open):
        windows = [f.window for f in facts if f.prices == prices]
        note = no_open_note(windows, False, prices)
        if note:
            notes.append(note)
    sort = None
    periods = [(f.start, f.end) for f in facts]
    if periods_differ(periods) and not sort_given:  # files, or a varied data.start/end
        shown = "; ".join(f"{a} to {b}" for a, b in dict.fromkeys(p for p in periods if p[0]))
        notes.append(DIFFERENT_PERIODS.format(periods=shown))
        sort = "cagr"
    return sort, notes
