"""From the normalized long price frame to the engine's dense `Market`.

Sessions are every distinct date the price data has (for any ticker, also
tickers the strategy does not use) within [start, end]. Arrays are
(sessions x tickers) float64 with NaN where the data has no price for that
ticker on that date: nothing is forward-filled, so a ticker not yet listed
has no price. Dividends are 0 where there is none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.domain.halts import Halt
from backtest.engine.market import Market
from backtest.errors import DataError
from backtest.io.calendar import check_sessions


def build_market(
    prices: pd.DataFrame,
    tickers: list[str],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    halts: tuple[Halt, ...] = (),
    start_tickers: list[str] | None = None,
    source: str | Path | None = None,
) -> tuple[Market, list[str]]:
    """Build the run's `Market` and a list of warnings.

    prices:        the frame from `load_prices` (or any long frame with date, ticker,
                   close and optionally open, dividend; `attrs["has_open"]` is honoured,
                   else has_open means "an open column with at least one price").
    tickers:       the strategy's tickers: the Market's column order (duplicates dropped).
    start, end:    the run's range; start defaults to the first date on which every
                   ticker of `start_tickers` (default: `tickers`) has a close price, end
                   to the last date of the data.
    halts:         only halts dated on a session of the run are kept; a halt dated
                   inside the run's range on a date that is not a session is dropped with
                   a warning; halts outside the range are dropped silently. Halts whose
                   scope is a ticker not in `tickers` are dropped (they cannot affect the
                   run).
    source:        names the price data in error messages.

    Errors (DataError): a ticker absent from the data, start/end outside the
    data's dates, end before start, no sessions in range, no date on which all
    start tickers have a price.
    """
    src = source if source is not None else prices.attrs.get("source")
    tickers = list(dict.fromkeys(str(t) for t in tickers))
    if not tickers:
        raise DataError("the strategy names no tickers", source=src)

    all_dates = _day_array(prices["date"])
    sessions_all = np.unique(all_dates)
    if len(sessions_all) == 0:
        raise DataError("price data has no rows", source=src)
    data_first, data_last = sessions_all[0], sessions_all[-1]

    codes, uniques = pd.factorize(prices["ticker"])
    uniques = [str(u) for u in uniques]
    present = set(uniques)
    absent = [t for t in tickers if t not in present]
    if absent:
        raise DataError(
            f"ticker{'s' if len(absent) > 1 else ''} {', '.join(absent)} not in the price data "
            f"(it has {_list(sorted(present))})",
            source=src,
        )

    # Dense arrays over every data date, then the run's rows are sliced out.
    col_of = {t: i for i, t in enumerate(tickers)}
    lookup = np.array([col_of.get(u, -1) for u in uniques], dtype=np.int64)
    all_cols = lookup[codes]
    keep = all_cols >= 0
    cols = all_cols[keep]
    rows = np.searchsorted(sessions_all, all_dates[keep])
    shape = (len(sessions_all), len(tickers))
    flat = rows * shape[1] + cols
    close = _dense(prices["close"].to_numpy(dtype="float64")[keep], flat, shape, np.nan)
    if "open" in prices.columns:
        open_ = _dense(prices["open"].to_numpy(dtype="float64")[keep], flat, shape, np.nan)
    else:
        open_ = np.full(shape, np.nan)
    if "dividend" in prices.columns:
        div_vals = np.nan_to_num(prices["dividend"].to_numpy(dtype="float64")[keep], nan=0.0)
        dividend = _dense(div_vals, flat, shape, 0.0)
    else:
        dividend = np.zeros(shape)
    has_open = prices.attrs.get("has_open")
    if has_open is None:
        has_open = bool("open" in prices.columns and prices["open"].notna().any())

    # The run's range.
    start_d = _to_day(start, "start", src) if start is not None else None
    end_d = _to_day(end, "end", src) if end is not None else data_last
    if start_d is not None and not (data_first <= start_d <= data_last):
        raise DataError(f"start {start_d} is outside the price data ({data_first} to "
                        f"{data_last})", source=src, where="data.start")
    if not (data_first <= end_d <= data_last):
        raise DataError(f"end {end_d} is outside the price data ({data_first} to "
                        f"{data_last})", source=src, where="data.end")
    if start_d is None:
        start_d = _default_start(close, sessions_all, tickers, start_tickers, src)
    if end_d < start_d:
        raise DataError(f"end {end_d} is before start {start_d}", source=src, where="data.end")
    lo = int(np.searchsorted(sessions_all, start_d, side="left"))
    hi = int(np.searchsorted(sessions_all, end_d, side="right"))
    if hi <= lo:
        raise DataError(f"no sessions between {start_d} and {end_d}", source=src)
    sessions = sessions_all[lo:hi]
    close, open_, dividend = close[lo:hi], open_[lo:hi], dividend[lo:hi]

    warnings: list[str] = []
    no_price = [t for i, t in enumerate(tickers) if np.isnan(close[0, i])]
    if no_price:
        warnings.append(
            f"no close price on the first session {sessions[0]} for {_list(no_price)}: "
            "treated as halted until its first price"
        )

    check = check_sessions(sessions)
    warnings.extend(check.warnings)

    kept = _select_halts(halts, sessions, set(tickers), warnings)
    market = Market(
        sessions=sessions.astype("datetime64[D]"),
        tickers=tuple(tickers),
        open=np.ascontiguousarray(open_),
        close=np.ascontiguousarray(close),
        dividend=np.ascontiguousarray(dividend),
        has_open=bool(has_open),
        close_time=check.close_time,
        halts=kept,
    )
    return market, warnings


def _dense(values, flat, shape, fill) -> np.ndarray:
    out = np.full(shape[0] * shape[1], fill, dtype="float64")
    out[flat] = values
    return out.reshape(shape)


def _day_array(col: pd.Series) -> np.ndarray:
    try:
        return pd.to_datetime(col).to_numpy().astype("datetime64[D]")
    except Exception as exc:
        raise DataError(f"date column cannot be read as dates ({exc})") from None


def _to_day(value, name: str, src) -> np.datetime64:
    try:
        return np.datetime64(pd.Timestamp(value).date(), "D")
    except Exception:
        raise DataError(f"{name} {value!r} is not a date", source=src,
                        where=f"data.{name}") from None


def _default_start(close, sessions_all, tickers, start_tickers, src) -> np.datetime64:
    names = tickers if start_tickers is None else list(dict.fromkeys(start_tickers))
    idx = [tickers.index(t) for t in names if t in tickers]
    if not idx:
        return sessions_all[0]
    ok = ~np.isnan(close[:, idx]).any(axis=1)
    if not ok.any():
        raise DataError(f"no date on which all of {_list(names)} have a price; set data.start",
                        source=src, where="data.start")
    return sessions_all[int(np.argmax(ok))]


def _select_halts(halts, sessions: np.ndarray, tickers: set[str], warnings: list[str]):
    first, last = sessions[0], sessions[-1]
    session_set = set(sessions.astype("datetime64[D]").tolist())
    kept = []
    for h in halts:
        day = np.datetime64(h.date, "D")
        if day < first or day > last:
            continue
        if not h.is_market and h.scope not in tickers:
            continue
        if h.date not in session_set:
            who = "market-wide" if h.is_market else h.scope
            warnings.append(f"halt on {h.date} ({who}) is not on a session of the run: ignored")
            continue
        kept.append(h)
    return tuple(kept)


def _list(items: list[str], show: int = 10) -> str:
    shown = ", ".join(items[:show])
    return shown + (f" and {len(items) - show} more" if len(items) > show else "")
