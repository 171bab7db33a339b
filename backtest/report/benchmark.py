"""Loading a benchmark price series (a file, a file and ticker, a ticker, or US-MARKET).

``US-MARKET`` is the whole US stock market's total return (dividends
reinvested) from the Fama-French monthly factors (data/sample/ff_monthly.parquet):
a level at each month's end, so the report compares it at month ends.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.errors import BacktestError

# Where a bare ticker is looked for when no price file is named (relative to the cwd).
DEFAULT_SEARCH = (Path("data/sample"), Path("data"))
US_MARKET = "US-MARKET"
US_MARKET_LABEL = "US-MARKET (total return, monthly)"


def us_market() -> pd.Series:
    """The US market's total-return levels at month ends, from the Fama-French factors."""
    from backtest.analytics.factors import total_return_levels
    from backtest.io.factors import FF_MONTHLY, load_monthly

    levels = total_return_levels(load_monthly(FF_MONTHLY, ("mkt",))["mkt"])
    levels.name = US_MARKET_LABEL
    levels.attrs["monthly"] = True
    return levels


def check_covers(bench: pd.Series, start, end) -> None:
    """Refuse a benchmark that does not span the run (it would be carried flat).

    A daily series needs a price on or before ``start`` and on or after
    ``end``; a monthly one (US-MARKET) a level at or before ``start`` and at
    the last month end up to ``end`` (a run ending inside a month compares up
    to the month before: that partial month is not compared).
    """
    if bench.empty:
        return
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    first, last = bench.index[0], bench.index[-1]
    name = bench.name or "the benchmark"
    if bench.attrs.get("monthly"):
        # the run's last month counts when the run ends on its last weekday
        month_end = end + pd.offsets.BMonthEnd(0) == end
        late = last.to_period("M") < end.to_period("M") - (0 if month_end else 1)
    else:
        late = last < end
    if first > start or late:
        raise BacktestError(f"benchmark {name} covers {first.date()} to {last.date()}, not "
                            f"the run's {start.date()} to {end.date()}")


def _read_prices(path: Path) -> pd.DataFrame:
    try:
        if path.is_dir():
            files = sorted(path.glob("*.parquet"))
            if not files:
                raise BacktestError("the folder has no Parquet files", source=path)
            return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except BacktestError:
        raise
    except Exception as exc:  # pyarrow / pandas raise many types for a bad file
        raise BacktestError(f"cannot read the price file ({type(exc).__name__})",
                            source=path) from None


def _tickers(df: pd.DataFrame) -> list[str]:
    if "ticker" in df.columns:
        return [str(t) for t in pd.unique(df["ticker"].astype(str))]
    return [str(c) for c in df.columns if c != "date"]


def series_from_prices(df: pd.DataFrame, ticker: str | None, source: Path) -> pd.Series:
    """Closes of one ticker, indexed by date, named by the ticker.

    Long form (``date, ticker, close``) or wide (``date`` and a column per
    ticker). With one ticker in the data, ``ticker`` may be None.
    """
    if "date" not in df.columns:
        raise BacktestError("no date column", source=source)
    names = _tickers(df)
    if ticker is None:
        if len(names) != 1:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise BacktestError(f"holds several tickers ({shown}): name one as PATH:TICKER",
                                source=source)
        ticker = names[0]
    if ticker not in names:
        raise BacktestError(f"no ticker {ticker!r} in the price data", source=source)
    if "ticker" in df.columns:
        if "close" not in df.columns:
            raise BacktestError("no close column", source=source)
        rows = df[df["ticker"].astype(str) == ticker]
        values = rows["close"]
    else:
        rows, values = df, df[ticker]
    try:
        s = pd.Series(pd.to_numeric(values).to_numpy(dtype=float),
                      index=pd.DatetimeIndex(pd.to_datetime(rows["date"])), name=ticker)
    except (ValueError, TypeError):
        raise BacktestError(f"the dates or closes of {ticker!r} are not readable",
                            source=source) from None
    s = s.dropna().sort_index()
    s = s[~s.index.duplicated(keep="last")]
    if s.empty:
        raise BacktestError(f"no closes for {ticker!r}", source=source)
    return s


def load_benchmark(spec: str, *, prices: str | Path | None = None,
                   search: tuple[Path, ...] = DEFAULT_SEARCH) -> pd.Series:
    """A benchmark's closes from ``spec``: a price file or folder, ``PATH:TICKER``, a
    ticker, or ``US-MARKET`` (monthly total return, `us_market`).

    A bare ticker is looked up in ``prices`` when given, else in the Parquet
    files of the ``search`` folders (``data/sample``, ``data``).
    """
    path = Path(spec)
    if spec.upper() == US_MARKET and not path.exists():
        return us_market()
    if path.exists():
        return series_from_prices(_read_prices(path), None, path)
    if ":" in spec:
        head, tick = spec.rsplit(":", 1)
        if Path(head).exists() and tick:
            return series_from_prices(_read_prices(Path(head)), tick, Path(head))
    ticker = spec
    if prices is not None:
        p = Path(prices)
        if not p.exists():
            raise BacktestError("no such price file", source=p)
        return series_from_prices(_read_prices(p), ticker, p)
    for folder in search:
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("*.parquet")):
            try:
                df = pd.read_parquet(f)
            except Exception:  # noqa: BLE001 - an unreadable file is simply not a match
                continue
            if "date" in df.columns and ticker in _tickers(df):
                return series_from_prices(df, ticker, f)
    where = ", ".join(str(f) for f in search)
    raise BacktestError(f"benchmark {spec!r} is neither a price file nor a ticker found in "
                        f"{where} (name the file with --prices)")
