"""`backtest data fetch|info`: get and inspect price data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from backtest.errors import BacktestError

# The function `backtest data fetch` downloads with: None means yfinance.
# Tests replace it with a fake `(tickers, start, end) -> yfinance-shaped frame`.
DOWNLOADER = None


@click.group()
def data() -> None:
    """Get and inspect price data.

    Example:

    \b
        backtest data info data/sample/sp500_stocks.parquet
    """


@data.command()
@click.argument("tickers", nargs=-1, required=True)
@click.option("--start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="first date (YYYY-MM-DD)")
@click.option("--end", default=None, type=click.DateTime(["%Y-%m-%d"]),
              help="last date, included (default: the latest available)")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Parquet file to write (long form: date, ticker, open, close, dividend)")
@click.option("--force", is_flag=True,
              help="Replace an existing --out file that an earlier fetch did not write.")
def fetch(tickers: tuple[str, ...], start: dt.datetime, end: dt.datetime | None,
          out: Path, force: bool = False) -> None:
    """Download unadjusted open/close prices and cash dividends with yfinance.

    Dividends are kept as cash per share (prices are not adjusted for them), as
    the trading model credits them to cash. Needs the optional extra:
    pip install 'pie-backtest[fetch]'. An existing --out file is replaced only
    when an earlier fetch wrote it (or with --force).

    Example:

    \b
        backtest data fetch SPY BND --start 2005-01-01 --out data/my_prices.parquet
    """
    from backtest.io.fetch import check_fetch_out, fetch_prices, write_prices

    target = check_fetch_out(out, force)
    df = fetch_prices(list(tickers), start.date(), end.date() if end else None,
                      downloader=DOWNLOADER)
    write_prices(df, target)
    click.echo(
        f"wrote {out}: {df['ticker'].nunique()} tickers, {len(df)} rows, "
        f"{df['date'].min().date()} to {df['date'].max().date()}"
    )


@data.command()
@click.argument("path", type=click.Path(path_type=Path))
def info(path: Path) -> None:
    """Show what a price file (or folder of Parquet files) holds.

    Prints the tickers, the date range, the number of sessions, whether open
    prices and dividends exist, and each ticker's first and last date and row
    count.

    Example:

    \b
        backtest data info data/sample/factors.parquet
    """
    from backtest.io.prices import load_prices

    df = load_prices(path)
    if len(df) == 0:
        raise BacktestError("no rows", source=path)
    tickers = sorted(df["ticker"].unique())
    first, last = df["date"].min().date(), df["date"].max().date()
    n_sessions = df["date"].nunique()
    has_open = bool(df.attrs.get("has_open"))
    has_div = bool(df.attrs.get("has_dividend"))
    n_div = int((df["dividend"] > 0).sum())
    click.echo(f"file:      {path}")
    click.echo(f"tickers:   {len(tickers)} ({_short(tickers)})")
    click.echo(f"dates:     {first} to {last}, {n_sessions:,} sessions, {len(df):,} rows")
    click.echo(f"open:      {'yes' if has_open else 'no (morning fills use close)'}")
    click.echo(f"dividend:  {f'yes ({n_div:,} payment(s))' if has_div else 'no'}")
    click.echo("")
    g = df.groupby("ticker", sort=True)["date"].agg(["min", "max", "count"])
    width = max(6, *(len(t) for t in tickers))
    click.echo(f"{'ticker':<{width}}  {'first':<10}  {'last':<10}  {'rows':>6}")
    for t, row in g.iterrows():
        click.echo(f"{t:<{width}}  {row['min'].date()!s:<10}  {row['max'].date()!s:<10}  "
                   f"{int(row['count']):>6}")


def _short(items: list[str], show: int = 12) -> str:
    text = ", ".join(items[:show])
    return text + (f", ... {len(items) - show} more" if len(items) > show else "")
