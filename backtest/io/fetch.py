"""Downloading prices with yfinance (optional extra `fetch`) into the long form.

The trading model credits dividends as cash, so prices are fetched
*unadjusted for dividends* (`auto_adjust=False`, `actions=True`): `open` and
`close` are Yahoo's quoted prices (which Yahoo adjusts for splits only) and
`dividend` is the cash per share paid on the ex-date.

The downloader is a parameter: any function `(tickers, start, end) -> frame`
returning a yfinance-shaped frame (a DatetimeIndex, and columns either a
MultiIndex of (field, ticker) / (ticker, field) or, for one ticker, plain
fields such as Open, Close, Dividends). Tests pass a fake; there is no
network access in tests.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.errors import BacktestError, DataError
from backtest.io.prices import validate_prices

Downloader = Callable[[list[str], dt.date, "dt.date | None"], pd.DataFrame]
FIELDS = {"open": "Open", "close": "Close", "dividend": "Dividends"}


def yfinance_download(tickers: list[str], start: dt.date, end: dt.date | None) -> pd.DataFrame:
    """The default downloader: yfinance, unadjusted prices with dividends."""
    try:
        import yfinance as yf
    except ImportError:
        raise BacktestError(
            "yfinance is not installed: install the optional extra with "
            "pip install 'pie-backtest[fetch]'"
        ) from None
    # yfinance's `end` is exclusive: add a day so the given end date is included.
    end_excl = (end + dt.timedelta(days=1)).isoformat() if end else None
    log = logging.getLogger("yfinance")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its own failure report is multi-line; ours is one line
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = yf.download(
                tickers,
                start=start.isoformat(),
                end=end_excl,
                auto_adjust=False,
                actions=True,
                group_by="column",
                progress=False,
                threads=True,
                multi_level_index=True,
            )
    finally:
        log.setLevel(level)
    try:
        import yfinance.shared as yf_shared

        errors = dict(getattr(yf_shared, "_ERRORS", {}) or {})
    except Exception:
        errors = {}
    if (frame is None or len(frame) == 0) and errors:
        ticker, reason = next(iter(errors.items()))
        raise ConnectionError(f"{ticker}: {str(reason).splitlines()[0][:200]}")
    return frame


def fetch_prices(
    tickers: Sequence[str],
    start: dt.date,
    end: dt.date | None = None,
    *,
    downloader: Downloader | None = None,
) -> pd.DataFrame:
    """Download and return the validated long frame (date, ticker, open, close, dividend).

    Raises BacktestError with one line when the download fails, returns
    nothing, or lacks a requested ticker.
    """
    tickers = list(dict.fromkeys(t.strip().upper() for t in tickers if t.strip()))
    if not tickers:
        raise BacktestError("no tickers to fetch")
    if end is not None and end < start:
        raise BacktestError(f"end {end} is before start {start}")
    download = downloader or yfinance_download
    try:
        raw = download(tickers, start, end)
    except BacktestError:
        raise
    except Exception as exc:  # network errors of every kind
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BacktestError(f"download failed for {', '.join(tickers)}: {detail}") from None
    if raw is None or len(raw) == 0:
        raise BacktestError(
            f"download returned no data for {', '.join(tickers)} "
            "(no network connection, unknown tickers, or no trading in the date range)"
        )
    long = yf_to_long(raw, tickers)
    got = set(long["ticker"])
    missing = [t for t in tickers if t not in got]
    if missing:
        raise BacktestError(f"download returned no prices for {', '.join(missing)}")
    if end is not None:
        long = long[long["date"] <= pd.Timestamp(end)]
    long = long[long["date"] >= pd.Timestamp(start)]
    return validate_prices(long, source="download")


def yf_to_long(raw: pd.DataFrame, tickers: list[str]) -> pd.DataFrame:
    """A yfinance-shaped frame to the long form; rows without a close are dropped."""
    frame = raw.copy()
    idx = pd.to_datetime(frame.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    frame.index = idx.normalize()

    def column(ticker: str, field: str) -> pd.Series | None:
        cols = frame.columns
        if isinstance(cols, pd.MultiIndex):
            for key in ((field, ticker), (ticker, field)):
                if key in cols:
                    return frame[key]
            return None
        if len(tickers) == 1 and field in cols:
            return frame[field]
        return None

    parts = []
    for t in tickers:
        close = column(t, FIELDS["close"])
        if close is None:
            continue
        open_ = column(t, FIELDS["open"])
        div = column(t, FIELDS["dividend"])
        part = pd.DataFrame(
            {
                "date": frame.index,
                "ticker": t,
                "open": _floats(open_, len(frame)),
                "close": _floats(close, len(frame)),
                "dividend": np.nan_to_num(_floats(div, len(frame)), nan=0.0),
            }
        )
        part = part[np.isfinite(part["close"]) & (part["close"] > 0)]
        part.loc[~(part["open"] > 0), "open"] = np.nan
        parts.append(part)
    if not parts:
        return pd.DataFrame({c: [] for c in ("date", "ticker", "open", "close", "dividend")})
    out = pd.concat(parts, ignore_index=True)
    out["ticker"] = out["ticker"].astype(str)
    return out


def _floats(col: pd.Series | None, n: int) -> np.ndarray:
    if col is None:
        return np.full(n, np.nan)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


# Written into the Parquet schema of every file `backtest data fetch` writes, so a
# later fetch may replace its own file but never one the tool did not write.
WRITTEN_BY = {b"written_by": b"backtest data fetch"}


def written_by_fetch(path: Path) -> bool:
    """Whether `path` is a Parquet file that `write_prices` wrote."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return meta.get(b"written_by") == WRITTEN_BY[b"written_by"]


def check_fetch_out(out: Path | str, force: bool = False) -> Path:
    """The file to write for `--out` (a symlink's target: the link stays a link).

    An existing file is replaced only when an earlier fetch wrote it, or with
    `force`; otherwise one line, before anything is downloaded.
    """
    out = Path(out)
    target = out.resolve() if out.is_symlink() else out
    if target.is_dir():
        raise DataError("is a folder; --out names the Parquet file to write", source=out)
    if target.exists() and not force and not written_by_fetch(target):
        raise DataError("exists and was not written by backtest data fetch; nothing was "
                        "touched: choose another --out, or add --force to replace it",
                        source=out)
    return target


def write_prices(df: pd.DataFrame, out: Path | str) -> Path:
    """Write the long frame to Parquet atomically (a temp file in the same folder, renamed)."""
    out = Path(out)
    table = pa.table(
        {
            "date": pa.array(pd.to_datetime(df["date"]).dt.date, type=pa.date32()),
            "ticker": pa.array(df["ticker"].astype(str).tolist(), type=pa.string()),
            "open": pa.array(df["open"].to_numpy(dtype="float64"), type=pa.float64()),
            "close": pa.array(df["close"].to_numpy(dtype="float64"), type=pa.float64()),
            "dividend": pa.array(df["dividend"].to_numpy(dtype="float64"), type=pa.float64()),
        }
    ).replace_schema_metadata(WRITTEN_BY)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DataError(f"cannot write ({exc.strerror or exc})", source=out) from None
    return out
