"""Loading a benchmark price series (a file, a file and ticker, or a ticker) for the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.errors import BacktestError

# Where a bare ticker is looked for when no price file is named (relative to the cwd).
DEFAULT_SEARCH = (Path("data/sample"), Path("data"))


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
    """A benchmark's closes from ``spec``: a price file or folder, ``PATH:TICKER``, or a ticker.

    A bare ticker is looked up in ``prices`` when given, else in the Parquet
    files of the ``search`` folders (``data/sample``, ``data``).
    """
    path = Path(spec)
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
