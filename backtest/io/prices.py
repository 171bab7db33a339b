"""Loading and validating price data (Parquet, long or wide form).

Long form: `date, ticker, close` and optionally `open`, `dividend` (cash per
share paid that day). Wide form: `date` plus one close column per ticker.
A path may be one `.parquet` file or a folder of them (concatenated in name
order).

`load_prices` returns one normalized long frame:

    date      datetime64[ns], midnight (day precision)
    ticker    str
    open      float64, NaN where there is no open price that day
    close     float64
    dividend  float64, 0 where none

sorted by (ticker, date), with `df.attrs["has_open"]` (the data had an `open`
column at all), `df.attrs["has_dividend"]` and `df.attrs["source"]`.

Every problem with the input becomes a `DataError` naming the file, the row
(1-based data row of that file, the header not counted) or column, and what is
wrong; pyarrow and pandas exceptions never escape for bad input.
"""

from __future__ import annotations

import numbers
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.io.files import PRICES_LIMIT, check_regular

COLUMNS = ["date", "ticker", "open", "close", "dividend"]
_RESOURCE_ERRORS = ("Failed to launch worker thread", "Cannot allocate memory",
                    "Resource temporarily unavailable", "Out of memory")
MAX_DIVIDEND_RATIO = 100  # a cash dividend is paid out of the share's value: never 100x it
_KNOWN = {"date", "ticker", "open", "close", "dividend"}


def load_prices(path: Path | str) -> pd.DataFrame:
    """Read a Parquet file or a folder of them into the normalized long frame."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and p.is_file())
        if not files:
            raise DataError("folder has no .parquet files", source=path)
    elif path.exists():
        files = [path]
    else:
        raise DataError("price data not found (no such file or folder)", source=path)

    frames = [_load_file(f) for f in files]
    has_open = any(f.attrs["has_open"] for f in frames)
    has_dividend = any(f.attrs["has_dividend"] for f in frames)
    if len(frames) == 1:
        df = frames[0]
    else:
        for f in frames:
            f.attrs = {}
        df = pd.concat(frames, ignore_index=True)
        _check_duplicates_across(df, frames, files, path)
    df = df.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    df.attrs = {"has_open": has_open, "has_dividend": has_dividend, "source": str(path)}
    return df


def validate_prices(df: pd.DataFrame, source: str | Path | None = None) -> pd.DataFrame:
    """Validate and normalize an in-memory long or wide frame (as `load_prices` does)."""
    out = _normalize(df.copy(), source if source is not None else "<prices>")
    attrs = out.attrs
    out = out.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    out.attrs = attrs
    return out


# --------------------------------------------------------------------------- reading


def _load_file(path: Path) -> pd.DataFrame:
    try:
        problem = check_regular(path, PRICES_LIMIT)
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot read file ({exc.strerror})", source=path) from None
    if problem is not None:
        raise DataError(f"price data {problem}", source=path)
    if size == 0:
        raise DataError("file is empty", source=path)
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        table.validate(full=True)  # damaged bytes can still decode: bad UTF-8, offsets
        raw = table.to_pandas()
    except Exception as exc:  # pyarrow raises many types for corrupt input
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, MemoryError) or any(m in detail for m in _RESOURCE_ERRORS):
            raise MemoryError(detail) from None  # the machine's limit, not the file's fault
        detail = detail.replace(f" '{path}'", "")  # the file is named once, at the start
        raise DataError(
            f"not a readable Parquet file (truncated or corrupt?): {detail}", source=path
        ) from None
    return _normalize(raw, path)


def _normalize(raw: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    raw = _date_from_index(raw)
    if len(raw.columns) == 0 or len(raw) == 0:
        raise DataError("file has no rows", source=source)
    lower: dict[str, object] = {}
    for c in raw.columns:
        name = str(c).lower()
        if name in lower:  # `close` and `Close`: which one is the price? never guess
            a, b = lower[name], c
            same = f"column {str(a)!r} twice" if str(a) == str(b) else (
                f"columns {str(a)!r} and {str(b)!r}")
            raise DataError(f"{same}: column names must differ in more than upper/lower "
                            "case (keep one)", source=source, where=f"column {name[:40]}")
        lower[name] = c
    if "date" not in lower:
        raise DataError("missing column 'date'", source=source, where="column date")
    if "ticker" in lower:
        return _normalize_long(raw, lower, source)
    return _normalize_wide(raw, lower["date"], source)


def _date_from_index(raw: pd.DataFrame) -> pd.DataFrame:
    """A frame saved with its dates as the index (e.g. from yfinance) gets a date column."""
    names = [str(c).lower() for c in raw.columns]
    if "date" in names:
        return raw
    if isinstance(raw.index, pd.DatetimeIndex) or str(raw.index.name).lower() == "date":
        raw = raw.reset_index()
        raw = raw.rename(columns={raw.columns[0]: "date"})
    return raw


def _normalize_long(raw: pd.DataFrame, lower: dict, source) -> pd.DataFrame:
    if "close" not in lower:
        raise DataError("missing column 'close'", source=source, where="column close")
    n = len(raw)
    dates = _parse_dates(raw[lower["date"]], source)
    tick = raw[lower["ticker"]]
    ticker = tick.astype(str).str.strip()
    bad = tick.isna().to_numpy() | (ticker == "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError("ticker is empty", source=source, where=f"row {row + 1}")
    _check_ticker_text(ticker.to_numpy(dtype=object), source)
    close = _numeric(raw[lower["close"]], "close", source)
    has_open = "open" in lower
    open_ = _numeric(raw[lower["open"]], "open", source) if has_open else np.full(n, np.nan)
    has_dividend = "dividend" in lower
    dividend = (
        _numeric(raw[lower["dividend"]], "dividend", source) if has_dividend else np.zeros(n)
    )
    df = pd.DataFrame(
        {
            "date": dates,
            "ticker": ticker.to_numpy(dtype=object),
            "open": open_,
            "close": close,
            "dividend": dividend,
        }
    )
    df["ticker"] = df["ticker"].astype(str)
    _check_values(df, source)
    _check_order(df, source)
    df = _without_empty_closes(df)
    if not np.isfinite(df["close"].to_numpy()).any():
        raise DataError("has no prices: every close is empty (NaN)", source=source)
    df.attrs = {"has_open": has_open, "has_dividend": has_dividend, "source": str(source)}
    return df


def _without_empty_closes(df: pd.DataFrame) -> pd.DataFrame:
    """A NaN close is no price that day, as a missing row is: the row goes, unless it
    carries a dividend, which is kept (paid on its date) with no price (open too)."""
    empty = np.isnan(df["close"].to_numpy())
    if not empty.any():
        return df
    keep = ~empty | (df["dividend"].to_numpy() > 0)
    df = df[keep].reset_index(drop=True)
    df.loc[np.isnan(df["close"].to_numpy()), "open"] = np.nan
    return df


def _normalize_wide(raw: pd.DataFrame, date_col, source) -> pd.DataFrame:
    tickers = [c for c in raw.columns if c != date_col]
    if not tickers:
        raise DataError(
            "no price columns: expected long form (date, ticker, close) or wide form "
            "(date plus one close column per ticker)",
            source=source,
        )
    dates = _parse_dates(raw[date_col], source)
    blocks = []
    n = len(raw)
    rows = np.arange(n)
    for t in tickers:
        name = str(t).strip()
        if not name:
            raise DataError("a price column has an empty name", source=source)
        if not name.isprintable():
            raise DataError(f"price column {name[:40]!r}: {UNPRINTABLE}", source=source,
                            where=f"column {name[:40]!r}")
        close = _numeric(raw[t], name, source)
        if np.isinf(close).any():
            row = int(np.flatnonzero(np.isinf(close))[0])
            raise DataError(f"{name} is infinite", source=source, where=f"row {row + 1}")
        keep = ~np.isnan(close)  # wide form: an empty cell is "no price that day"
        blocks.append(
            pd.DataFrame(
                {
                    "date": dates[keep],
                    "ticker": name,
                    "open": np.nan,
                    "close": close[keep],
                    "dividend": 0.0,
                    "_row": rows[keep],
                }
            )
        )
    df = pd.concat(blocks, ignore_index=True)
    df["ticker"] = df["ticker"].astype(str)
    if len(df) == 0:
        raise DataError("no prices (every cell is empty)", source=source)
    bad = df["close"].to_numpy() <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{df['ticker'].iat[i]} price {df['close'].iat[i]:g} is not positive",
            source=source,
            where=f"row {int(df['_row'].iat[i]) + 1}",
        )
    rows_of = df.pop("_row").to_numpy()
    _check_order(df, source, rows_of)
    df.attrs = {"has_open": False, "has_dividend": False, "source": str(source)}
    return df


# --------------------------------------------------------------------------- checks


def _parse_dates(col: pd.Series, source) -> np.ndarray:
    """Dates as datetime64[ns] at midnight; a bad or missing date names its row."""
    try:
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            parsed = col.dt.tz_localize(None)
        else:
            parsed = pd.to_datetime(col, errors="coerce")
            if isinstance(parsed.dtype, pd.DatetimeTZDtype):
                parsed = parsed.dt.tz_localize(None)
        parsed = parsed.astype("datetime64[ns]").dt.normalize()
    except Exception:
        parsed = None
    if parsed is None:
        # fall back to one value at a time to find the culprit
        for i, v in enumerate(col.tolist()):
            try:
                ts = pd.Timestamp(v)
            except Exception:
                raise DataError(f"date {v!r} is not a date", source=source,
                                where=f"row {i + 1}") from None
            try:
                ts.as_unit("ns")
            except Exception:  # OutOfBoundsDatetime, or NaT
                raise DataError(f"date {str(v)[:40]!r} is outside the dates prices may have "
                                f"({pd.Timestamp.min.date() + pd.Timedelta(days=1)} to "
                                f"{pd.Timestamp.max.date()})", source=source,
                                where=f"row {i + 1}") from None
        raise DataError("column date cannot be read as dates", source=source,
                        where="column date")
    missing = parsed.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        val = col.iloc[row]
        what = "missing" if pd.isna(val) else f"{val!r} is not a date"
        raise DataError(f"date {what}", source=source, where=f"row {row + 1}")
    return parsed.to_numpy()


def _numeric(col: pd.Series, name: str, source) -> np.ndarray:
    """A price column as float64; strings, booleans and other non-numbers are errors."""
    if pd.api.types.is_bool_dtype(col.dtype):
        raise DataError(f"column {name} holds true/false, not prices", source=source,
                        where=f"column {name}")
    if pd.api.types.is_numeric_dtype(col.dtype):
        try:
            return col.to_numpy(dtype="float64", na_value=np.nan)
        except Exception:
            pass
    values = col.tolist()
    out = np.empty(len(values), dtype="float64")
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            out[i] = np.nan
        elif isinstance(v, (numbers.Real, Decimal)) and not isinstance(v, (bool, np.bool_)):
            out[i] = float(v)
        else:
            raise DataError(f"{name} value {v!r} is not a number", source=source,
                            where=f"row {i + 1}")
    return out


UNPRINTABLE = ("a ticker must not contain control or invisible characters "
               "(newlines, tabs, terminal escapes, direction overrides)")


def _check_ticker_text(tickers: np.ndarray, source) -> None:
    """Tickers are shown in messages, tables and the report: printable text only."""
    for name in pd.unique(tickers):  # few distinct tickers, many rows
        if not name.isprintable():
            # (an element-wise compare can miss a name ending in NUL characters)
            row = next(i for i, t in enumerate(tickers.tolist()) if t == name)
            raise DataError(f"ticker {name[:40]!r}: {UNPRINTABLE}", source=source,
                            where=f"row {row + 1}")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_values(df: pd.DataFrame, source) -> None:
    close = df["close"].to_numpy()
    open_ = df["open"].to_numpy()
    div = df["dividend"].to_numpy()
    checks = [
        (np.isinf(close), lambda i: f"close is infinite ({close[i]})"),
        (close <= 0, lambda i: f"close {close[i]:g} is not positive"),
        (np.isinf(open_), lambda i: f"open is infinite ({open_[i]})"),
        (open_ <= 0, lambda i: f"open {open_[i]:g} is not positive"),
        (np.isinf(div), lambda i: f"dividend is infinite ({div[i]})"),
        (div < 0, lambda i: f"dividend {div[i]:g} is negative"),
        (div > MAX_DIVIDEND_RATIO * close,
         lambda i: f"dividend {div[i]:g} is more than {MAX_DIVIDEND_RATIO} times the close "
                   f"{close[i]:g}"),
    ]
    for mask, msg in checks:
        if mask.any():
            i = _first(mask)
            raise DataError(f"{msg(i)} for {df['ticker'].iat[i]} on {_day(df['date'].iat[i])}",
                            source=source, where=f"row {i + 1}")
    # a missing dividend is "none paid"
    df["dividend"] = np.where(np.isnan(div), 0.0, div)


def _check_order(df: pd.DataFrame, source, rows: np.ndarray | None = None) -> None:
    """No duplicate (date, ticker); dates increase within each ticker in file order."""
    codes, _ = pd.factorize(df["ticker"])
    dates = df["date"].to_numpy()
    order = np.argsort(codes, kind="stable")
    c, d = codes[order], dates[order]
    same = c[1:] == c[:-1]
    dup = same & (d[1:] == d[:-1])
    back = same & (d[1:] < d[:-1])
    row_of = (lambda i: int(rows[i]) + 1) if rows is not None else (lambda i: i + 1)
    if dup.any():
        k = _first(dup)
        i, j = sorted((int(order[k]), int(order[k + 1])))
        raise DataError(
            f"duplicate row for {df['ticker'].iat[j]} on {_day(df['date'].iat[j])} "
            f"(also row {row_of(i)})",
            source=source, where=f"row {row_of(j)}",
        )
    if back.any():
        ks = np.flatnonzero(back)
        # report the earliest row (in file order) that goes back in time
        k = ks[np.argmin(order[ks + 1])]
        j, i = int(order[k + 1]), int(order[k])
        raise DataError(
            f"dates not sorted for {df['ticker'].iat[j]}: {_day(df['date'].iat[j])} comes "
            f"after {_day(df['date'].iat[i])} (row {row_of(i)})",
            source=source, where=f"row {row_of(j)}",
        )


def _check_duplicates_across(df: pd.DataFrame, frames, files, folder: Path) -> None:
    """A (date, ticker) present in two files of a folder is an error naming both."""
    dup = df.duplicated(["date", "ticker"], keep=False).to_numpy()
    if not dup.any():
        return
    sizes = np.cumsum([len(f) for f in frames])
    idx = np.flatnonzero(dup)
    first = idx[0]
    t, d = df["ticker"].iat[first], df["date"].iat[first]
    hits = idx[(df["ticker"].to_numpy()[idx] == t) & (df["date"].to_numpy()[idx] == d)]
    names = []
    for h in hits[:2]:
        k = int(np.searchsorted(sizes, h, side="right"))
        names.append(files[k].name)
    raise DataError(
        f"duplicate row for {t} on {_day(d)} (in {' and '.join(names)})", source=folder
    )


def _day(value) -> str:
    return str(pd.Timestamp(value).date())
