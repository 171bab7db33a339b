"""Prices from Yahoo without a separate step: `data: {prices: yahoo}` in a strategy.

``prices: yahoo`` downloads the strategy's own tickers, ``prices:
yahoo:SPY,BND`` (or ``tickers: [SPY, BND]`` beside ``prices: yahoo``) those
and the tickers named (say, a benchmark), through `backtest.io.fetch` (yfinance,
split-adjusted prices and cash dividends, as `backtest data fetch` writes
them), into a cache file keyed by the tickers and the run's dates:

    ~/.cache/pie-backtest/yahoo/<TICKERS>_<start|first>_<end|latest>.parquet

(``$PIE_BACKTEST_CACHE`` or ``$XDG_CACHE_HOME/pie-backtest`` move the folder).
A cached file with an ``end`` date is used as it is; one without (the latest
prices) is refreshed when it is older than ``MAX_AGE``, and used as it is,
with a warning, when the refresh fails (offline). Offline without a cached
file, the run stops with one line saying so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import time
from pathlib import Path

from backtest.errors import BacktestError, DataError

PREFIX = "yahoo"
MAX_AGE = 12 * 3600  # seconds: a "latest" download is refreshed twice a day
EARLIEST = dt.date(1970, 1, 1)  # the start asked for when data.start is not given
_TICKER = re.compile(r"^[A-Za-z0-9.^=_-]{1,20}$")


def parse_source(text: str) -> tuple[str, ...] | None:
    """The tickers of an online source (``()`` for bare ``yahoo``: the
    strategy's tickers), or None when ``text`` is not one (a path).

    Raises ValueError naming a ticker that cannot be a Yahoo symbol.
    """
    head, sep, rest = text.strip().partition(":")
    if head.lower() != PREFIX or (sep and not rest.strip()) or (not sep and rest):
        return None
    tickers = [t.strip().upper() for t in rest.split(",") if t.strip()] if sep else []
    for t in tickers:
        if not _TICKER.match(t):
            raise ValueError(f"{t[:30]!r} is not a Yahoo ticker (letters, digits, . ^ = - _)")
    return tuple(dict.fromkeys(tickers))


def cache_dir() -> Path:
    """The cache folder (not created here)."""
    if os.environ.get("PIE_BACKTEST_CACHE"):
        return Path(os.environ["PIE_BACKTEST_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "pie-backtest"


def cache_path(tickers: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> Path:
    """The cache file of these tickers (in any order) and dates."""
    names = "-".join(sorted(tickers))
    if len(names) > 80:  # many tickers: a short digest keeps the name legal
        names = f"{len(tickers)}tickers-" + hashlib.sha256(names.encode()).hexdigest()[:16]
    when = f"{start.isoformat() if start else 'first'}_{end.isoformat() if end else 'latest'}"
    return cache_dir() / PREFIX / f"{names}_{when}.parquet"


def ensure_cached(tickers: tuple[str, ...], start: dt.date | None, end: dt.date | None,
                  *, downloader=None, now: float | None = None) -> tuple[Path, list[str]]:
    """The cache file for these prices, downloaded if needed; and warnings.

    Raises a one-line DataError when the file is missing and cannot be
    downloaded (offline, unknown ticker, yfinance not installed).
    """
    from backtest.io.fetch import fetch_prices, write_prices

    path = cache_path(tickers, start, end)
    fresh = path.is_file() and (end is not None or
                                (now or time.time()) - path.stat().st_mtime < MAX_AGE)
    if fresh:
        return path, []
    try:
        frame = fetch_prices(list(tickers), start or EARLIEST, end, downloader=downloader)
        write_prices(frame, path)
    except BacktestError as exc:
        if path.is_file():  # a stale "latest" copy: better than nothing, and said so
            day = dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
            return path, [f"using the prices cached on {day} in {path} (the refresh "
                          f"failed: {exc.message})"]
        raise DataError(f"no cached prices for {', '.join(tickers)} in {cache_dir()} and "
                        f"the download failed: {exc.message}", where="data.prices") from None
    return path, []
