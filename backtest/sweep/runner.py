"""Running one variant inside a worker process (local pool or Dask worker).

`run_task(task)` parses the variant's document, builds (or reuses) its
market, simulates, summarizes and returns the run's files as bytes; the
parent writes them into the result store. Returning bytes rather than
writing in the worker means a Dask worker on another machine needs the price
data but not the output folder.

Prices are loaded once per worker process: `load_prices` is cached by the
file's (path, size, mtime), and whole markets by the strategy's data section
and tickers, so a sweep over account settings builds its market once per
worker.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.errors import BacktestError

VARIANT_FILE = "variant.json"


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one variant (small and picklable)."""

    hash: str
    name: str
    document: dict[str, Any] = field(repr=False)
    source: str
    values: tuple[tuple[str, Any], ...] = ()
    risk_free: float | None = 0.0  # None: the Fama-French bill rate over the run, else 0
    report: bool = False  # also write the variant's report.html and charts


@dataclass(frozen=True)
class Outcome:
    """A finished variant: its summary, extra measures and files (name -> bytes)."""

    hash: str
    summary: dict[str, Any]
    extras: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)
    seconds: float


class VariantError(Exception):
    """A variant's run failed; carries the one-line reason and the worker's traceback."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message, details)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


# --- per-worker caches -------------------------------------------------------------------


def stat_key(path: str | Path) -> tuple:
    """(path, size, mtime) of a file, or of every .parquet file of a folder."""
    p = Path(path)
    if p.is_dir():
        return (str(p), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                              for f in sorted(p.iterdir()) if f.suffix == ".parquet"))
    try:
        st = p.stat()
    except OSError:
        return (str(p), None)
    return (str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def cached_prices(key: tuple) -> pd.DataFrame:
    """The price frame for a `stat_key` (loaded once per worker process)."""
    from backtest.io.prices import load_prices

    return load_prices(key[0])


MARKET_CACHE_SIZE = 8
_markets: OrderedDict[tuple, tuple] = OrderedDict()


def market_of(strategy) -> tuple:
    """The strategy's (Market, warnings), shared by variants with the same data and tickers.

    Keyed by the price and halt files' (path, size, mtime), the run's dates and
    the tickers (all, and those of the initial portfolio): everything
    `market_for` reads from the strategy.
    """
    data = strategy.data
    if data.online is not None:  # prices: yahoo (a cached download; fetched if missing)
        from backtest.io.inputs import ensure_online

        ensure_online(strategy)
    key = (stat_key(data.prices), stat_key(data.halts) if data.halts is not None else None,
           data.start, data.end, tuple(strategy.tickers()), tuple(strategy.portfolio.tickers()))
    if key in _markets:
        _markets.move_to_end(key)
        return _markets[key]
    from backtest.io.inputs import market_for

    built = market_for(strategy, prices=cached_prices(key[0]))
    _markets[key] = built
    while len(_markets) > MARKET_CACHE_SIZE:
        _markets.popitem(last=False)
    return built


def clear_caches() -> None:
    """Forget the loaded prices and markets (tests; a long-lived worker)."""
    cached_prices.cache_clear()
    _markets.clear()


# --- one variant ---------------------------------------------------------------------------


def run_task(task: Task) -> Outcome:
    """Run one variant; any failure becomes a `VariantError` with a one-line reason."""
    try:
        return _run(task)
    except BacktestError as exc:
        raise VariantError(exc.line(), traceback.format_exc()) from None
    except Exception as exc:  # an engine bug: keep the traceback for the log
        text = " ".join(str(exc).split())[:300]
        raise VariantError(f"{type(exc).__name__}: {text}", traceback.format_exc()) from None


def _run(task: Task) -> Outcome:
    from backtest import app
    from backtest.io.strategy_file import parse_strategy

    t0 = time.perf_counter()
    source = Path(task.source)
    strategy = parse_strategy(task.document, source=source, base_dir=source.parent)
    market, warnings = market_of(strategy)
    done = app.execute(strategy, market, risk_free=task.risk_free)
    summary = done.summary
    extras = {"mean_abs_drift": mean_abs_drift(done.result.drift)}
    with tempfile.TemporaryDirectory(prefix="variant-") as tmp:
        folder = Path(tmp)
        app.write_files(done, folder, report=task.report)
        seconds = time.perf_counter() - t0
        meta = {"hash": task.hash, "name": task.name, "source": task.source,
                "values": [[k, v] for k, v in task.values], "extras": extras,
                "warnings": list(warnings), "seconds": round(seconds, 4),
                "document": task.document}
        (folder / VARIANT_FILE).write_text(json.dumps(meta, indent=1, default=str) + "\n")
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return Outcome(task.hash, summary, extras, files, seconds)


def mean_abs_drift(drift: pd.DataFrame) -> float | None:
    """Mean |actual - target| over slices and sessions (empty parents left out)."""
    if not len(drift):
        return None
    d = (drift["actual"].astype(float) - drift["target"].astype(float)).abs().dropna()
    return float(d.mean()) if len(d) else None
