"""`data: {prices: yahoo}`: download through io/fetch into a cache, reused offline
(io/online.py). The network is never touched: yfinance's downloader is replaced."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import backtest.io.fetch as fetch
from backtest.cli import cli
from backtest.io.online import cache_path, parse_source


class FakeYahoo:
    """A yfinance-shaped downloader counting its calls; `offline` makes it fail."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.offline = False

    def __call__(self, tickers, start, end):
        self.calls.append((tuple(tickers), start, end))
        if self.offline:
            raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")
        idx = pd.bdate_range("2020-01-06", periods=10, name="Date")
        cols = pd.MultiIndex.from_product([["Close", "Open", "Dividends"], tickers])
        frame = pd.DataFrame(0.0, index=idx, columns=cols)
        for k, t in enumerate(tickers):
            frame[("Close", t)] = [100.0 + k + i for i in range(10)]
            frame[("Open", t)] = [99.5 + k + i for i in range(10)]
        frame[("Dividends", tickers[0])] = [0.0] * 9 + [1.25]
        return frame


@pytest.fixture
def yahoo(monkeypatch, tmp_path):
    fake = FakeYahoo()
    monkeypatch.setattr(fetch, "yfinance_download", fake)
    monkeypatch.setenv("PIE_BACKTEST_CACHE", str(tmp_path / "cache"))
    return fake


def _strategy(tmp_path: Path, prices: str, end: str | None = "2020-01-17") -> Path:
    dates = "start: 2020-01-06" + (f", end: {end}" if end else "")
    text = f"""
name: online
data: {{prices: "{prices}", {dates}}}
account: {{window: morning}}
cashflows:
  - deposit: 1000
    date: 2020-01-06
portfolio:
  slices: {{SPY: 60, BND: 40}}
"""
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def _run(path: Path, out: Path):
    return CliRunner().invoke(cli, ["run", str(path), "--out", str(out), "--no-report",
                                    "--risk-free", "0"])


def test_parse_source():
    assert parse_source("yahoo") == ()
    assert parse_source("Yahoo:spy, bnd,SPY") == ("SPY", "BND")
    assert parse_source("yahoo.parquet") is None
    assert parse_source("./yahoo") is None
    assert parse_source("data/prices.parquet") is None
    with pytest.raises(ValueError, match="not a Yahoo ticker"):
        parse_source("yahoo:SPY,a b")


def test_downloads_once_then_runs_offline_from_the_cache(yahoo, tmp_path):
    path = _strategy(tmp_path, "yahoo:SPY,BND")
    res = _run(path, tmp_path / "a")
    assert res.exit_code == 0, res.output
    assert len(yahoo.calls) == 1
    tickers, start, end = yahoo.calls[0]
    assert tickers == ("SPY", "BND") and str(start) == "2020-01-06"
    cached = cache_path(("BND", "SPY"), pd.Timestamp("2020-01-06").date(),
                        pd.Timestamp("2020-01-17").date())
    assert cached.is_file() and cached.parent == tmp_path / "cache" / "yahoo"
    # Offline now: the dated cache file is used without a download attempt.
    yahoo.offline = True
    res = _run(path, tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert len(yahoo.calls) == 1
    a = pd.read_parquet(tmp_path / "a" / "daily.parquet")
    b = pd.read_parquet(tmp_path / "b" / "daily.parquet")
    pd.testing.assert_frame_equal(a, b)
    # The fake's $1.25 SPY dividend on the last day arrives as cash.
    assert a["cash"].iloc[-1] - a["cash"].iloc[-2] > 0


def test_bare_yahoo_fetches_the_strategys_tickers(yahoo, tmp_path):
    res = _run(_strategy(tmp_path, "yahoo"), tmp_path / "a")
    assert res.exit_code == 0, res.output
    assert sorted(yahoo.calls[0][0]) == ["BND", "SPY"]


def test_named_tickers_are_downloaded_with_the_strategys(yahoo, tmp_path):
    path = _strategy(tmp_path, "yahoo")
    path.write_text(path.read_text().replace('prices: "yahoo",',
                                             'prices: yahoo, tickers: [VTI, spy],'))
    res = _run(path, tmp_path / "a")
    assert res.exit_code == 0, res.output
    assert sorted(yahoo.calls[0][0]) == ["BND", "SPY", "VTI"]
    res = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "b"),
                                   "--benchmark", "VTI", "--risk-free", "0"])
    assert res.exit_code == 0, res.output  # a downloaded ticker as the benchmark
    assert len(yahoo.calls) == 1


def test_tickers_only_go_with_an_online_source(tmp_path):
    path = _strategy(tmp_path, "prices.parquet")
    path.write_text(path.read_text().replace('prices: "prices.parquet",',
                                             'prices: prices.parquet, tickers: [SPY],'))
    res = CliRunner().invoke(cli, ["validate", str(path)])
    assert res.exit_code == 2
    assert "data.tickers: only goes with prices: yahoo" in res.output


def test_offline_without_a_cache_is_one_line(yahoo, tmp_path):
    yahoo.offline = True
    res = _run(_strategy(tmp_path, "yahoo:SPY,BND"), tmp_path / "a")
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert "no cached prices for SPY, BND" in lines[0]
    assert "download failed" in lines[0] and "query2.finance.yahoo.com" in lines[0]
    assert not (tmp_path / "a").exists()


def test_latest_prices_refresh_when_old_and_fall_back_offline(yahoo, tmp_path):
    path = _strategy(tmp_path, "yahoo:SPY,BND", end=None)
    assert _run(path, tmp_path / "a").exit_code == 0
    assert _run(path, tmp_path / "b").exit_code == 0
    assert len(yahoo.calls) == 1  # fresh: reused
    cached = cache_path(("BND", "SPY"), pd.Timestamp("2020-01-06").date(), None)
    old = time.time() - 2 * 86400
    os.utime(cached, (old, old))
    yahoo.offline = True
    res = _run(path, tmp_path / "c")
    assert res.exit_code == 0, res.output
    assert len(yahoo.calls) == 2  # tried to refresh
    assert "warning: using the prices cached on" in res.output


def test_compare_with_online_prices(yahoo, tmp_path):
    path = _strategy(tmp_path, "yahoo:SPY,BND")
    res = CliRunner().invoke(cli, ["compare", str(path), "--vary",
                                   "account.window=morning,afternoon", "--workers", "1",
                                   "--no-report", "-q", "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    assert len(yahoo.calls) == 1
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert table["error"].isna().all() and len(table) == 2
