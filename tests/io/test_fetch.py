"""fetch_prices with an injected fake downloader (no network), and write_prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtest.errors import BacktestError
from backtest.io.fetch import fetch_prices, write_prices, yf_to_long
from backtest.io.prices import load_prices

FIELDS = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]


def yf_frame(tickers, start, end=None, days=4) -> pd.DataFrame:
    """A frame shaped like yfinance.download(..., auto_adjust=False, actions=True)."""
    idx = pd.bdate_range(start, periods=days, name="Date")
    cols = pd.MultiIndex.from_product([FIELDS, tickers], names=["Price", "Ticker"])
    frame = pd.DataFrame(1.0, index=idx, columns=cols)
    for k, t in enumerate(tickers):
        base = 100.0 * (k + 1)
        frame[("Close", t)] = base + np.arange(days)
        frame[("Open", t)] = base - 0.5 + np.arange(days)
        frame[("Dividends", t)] = 0.0
    frame.iloc[1, frame.columns.get_loc(("Dividends", tickers[0]))] = 0.42
    return frame


def fake(tickers, start, end):
    return yf_frame(tickers, start)


def test_fetch_with_fake_downloader():
    df = fetch_prices(["spy", "BND"], dt.date(2024, 1, 2), downloader=fake)
    assert sorted(df.ticker.unique()) == ["BND", "SPY"]
    spy = df[df.ticker == "SPY"]
    assert spy["close"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert spy["open"].iat[0] == 99.5
    assert spy["dividend"].tolist() == [0.0, 0.42, 0.0, 0.0]
    assert df.attrs["has_open"] is True


def test_downloader_gets_tickers_and_dates():
    seen = {}

    def spy(tickers, start, end):
        seen.update(tickers=tickers, start=start, end=end)
        return yf_frame(tickers, start)

    fetch_prices(["SPY"], dt.date(2024, 1, 2), dt.date(2024, 1, 4), downloader=spy)
    assert seen == {"tickers": ["SPY"], "start": dt.date(2024, 1, 2), "end": dt.date(2024, 1, 4)}


def test_end_is_applied():
    df = fetch_prices(["SPY"], dt.date(2024, 1, 2), dt.date(2024, 1, 3), downloader=fake)
    assert df["date"].max() == pd.Timestamp("2024-01-03")


def test_rows_without_close_are_dropped():
    def holes(tickers, start, end):
        f = yf_frame(tickers, start)
        f.iloc[0, f.columns.get_loc(("Close", "BND"))] = np.nan  # not yet listed
        return f

    df = fetch_prices(["SPY", "BND"], dt.date(2024, 1, 2), downloader=holes)
    assert len(df[df.ticker == "BND"]) == 3 and len(df[df.ticker == "SPY"]) == 4


def test_single_ticker_flat_columns():
    f = yf_frame(["SPY"], "2024-01-02")
    f.columns = f.columns.droplevel("Ticker")
    df = yf_to_long(f, ["SPY"])
    assert len(df) == 4 and (df.ticker == "SPY").all()


def test_ticker_first_multiindex():
    f = yf_frame(["SPY", "BND"], "2024-01-02").swaplevel(axis=1)
    df = yf_to_long(f, ["SPY", "BND"])
    assert len(df) == 8


def test_connection_error_is_one_line():
    def offline(tickers, start, end):
        raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'\nmore detail")

    with pytest.raises(BacktestError) as info:
        fetch_prices(["SPY"], dt.date(2024, 1, 2), downloader=offline)
    line = info.value.line()
    assert "download failed for SPY" in line and "query2.finance.yahoo.com" in line
    assert "\n" not in line


def test_empty_download():
    with pytest.raises(BacktestError, match="returned no data for SPY"):
        fetch_prices(["SPY"], dt.date(2024, 1, 2), downloader=lambda t, s, e: pd.DataFrame())


def test_ticker_missing_from_download():
    def only_spy(tickers, start, end):
        return yf_frame(["SPY"], start)

    with pytest.raises(BacktestError, match="no prices for NOPE"):
        fetch_prices(["SPY", "NOPE"], dt.date(2024, 1, 2), downloader=only_spy)


def test_end_before_start():
    with pytest.raises(BacktestError, match="before start"):
        fetch_prices(["SPY"], dt.date(2024, 1, 2), dt.date(2024, 1, 1), downloader=fake)


def test_write_is_atomic_and_round_trips(tmp_path):
    df = fetch_prices(["SPY", "BND"], dt.date(2024, 1, 2), downloader=fake)
    out = tmp_path / "sub" / "prices.parquet"
    write_prices(df, out)
    assert [p.name for p in out.parent.iterdir()] == ["prices.parquet"]  # no temp file left
    back = load_prices(out)
    pd.testing.assert_frame_equal(back.reset_index(drop=True), df.reset_index(drop=True),
                                  check_like=True)
    assert back.attrs["has_open"] and back.attrs["has_dividend"]


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    import backtest.io.fetch as fetch_mod

    out = tmp_path / "prices.parquet"
    out.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fetch_mod.pq, "write_table", boom)
    df = fetch_prices(["SPY"], dt.date(2024, 1, 2), downloader=fake)
    with pytest.raises(BacktestError, match="cannot write"):
        write_prices(df, out)
    assert out.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_missing_yfinance_gives_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_yf(name, *args, **kwargs):
        if name == "yfinance" or name.startswith("yfinance."):
            raise ImportError("No module named 'yfinance'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yf)
    with pytest.raises(BacktestError, match=r"yfinance is not installed.*pie-backtest\[fetch\]"):
        fetch_prices(["SPY"], dt.date(2024, 1, 2))
