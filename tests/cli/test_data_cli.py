"""`backtest data info` and `backtest data fetch` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

import backtest.cli.data as data_cli
from backtest.cli import cli
from backtest.io.prices import load_prices

ROOT = Path(__file__).resolve().parents[2]


def _fake(tickers, start, end):
    idx = pd.bdate_range(start, periods=3, name="Date")
    cols = pd.MultiIndex.from_product([["Close", "Open", "Dividends"], tickers])
    frame = pd.DataFrame(0.0, index=idx, columns=cols)
    for t in tickers:
        frame[("Close", t)] = [10.0, 11.0, 12.0]
        frame[("Open", t)] = [9.5, 10.5, 11.5]
    return frame


def test_info_on_sample():
    path = ROOT / "data/sample/sp500_stocks.parquet"
    result = CliRunner().invoke(cli, ["data", "info", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "tickers:   20 (AAPL, AMD," in out
    assert "1990-01-02 to 2022-12-28, 8,313 sessions" in out
    assert "open:      no" in out and "dividend:  no" in out
    assert any(line.split()[:4] == ["AAPL", "1990-01-02", "2022-12-28", "8313"]
               for line in out.splitlines())


def test_info_shows_open_and_dividends():
    path = ROOT / "tests/fixtures/spec_examples/data/tiny_prices.parquet"
    result = CliRunner().invoke(cli, ["data", "info", str(path)])
    assert result.exit_code == 0
    assert "open:      yes" in result.output and "dividend:  yes (1 payment(s))" in result.output


def test_info_bad_file_exit_2(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("nope")
    result = CliRunner().invoke(cli, ["data", "info", str(bad)])
    assert result.exit_code == 2
    assert "bad.parquet" in result.output and "Traceback" not in result.output


def test_fetch_with_injected_downloader(tmp_path, monkeypatch):
    monkeypatch.setattr(data_cli, "DOWNLOADER", _fake)
    out = tmp_path / "my_prices.parquet"
    result = CliRunner().invoke(cli, ["data", "fetch", "SPY", "BND", "--start", "2005-01-03",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 2 tickers, 6 rows" in result.output
    df = load_prices(out)
    assert sorted(df.ticker.unique()) == ["BND", "SPY"] and df.attrs["has_open"]
    assert np.allclose(df[df.ticker == "SPY"]["close"], [10.0, 11.0, 12.0])


def test_fetch_offline_fails_with_one_line(tmp_path, monkeypatch):
    def offline(tickers, start, end):
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(data_cli, "DOWNLOADER", offline)
    out = tmp_path / "p.parquet"
    result = CliRunner().invoke(cli, ["data", "fetch", "SPY", "--start", "2005-01-03",
                                      "--out", str(out)])
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: download failed for SPY")
    assert not out.exists()


def test_fetch_empty_download(tmp_path, monkeypatch):
    monkeypatch.setattr(data_cli, "DOWNLOADER", lambda t, s, e: pd.DataFrame())
    result = CliRunner().invoke(cli, ["data", "fetch", "SPY", "--start", "2005-01-03",
                                      "--out", str(tmp_path / "p.parquet")])
    assert result.exit_code == 2 and "returned no data" in result.output


def _fetch(out, *extra, downloads=None):
    def counting(tickers, start, end):
        if downloads is not None:
            downloads.append(tickers)
        return _fake(tickers, start, end)

    data_cli.DOWNLOADER = counting
    try:
        return CliRunner().invoke(cli, ["data", "fetch", "SPY", "--start", "2005-01-03",
                                        "--out", str(out), *extra])
    finally:
        data_cli.DOWNLOADER = None


def test_fetch_never_replaces_a_file_it_did_not_write(tmp_path):
    # a user's own file and another tool's Parquet (the spec's tiny prices): one line,
    # exit 2, nothing downloaded, the file byte for byte as it was
    notes = tmp_path / "notes.parquet"
    notes.write_text("my notes")
    other = tmp_path / "prices.parquet"
    other.write_bytes((ROOT / "tests/fixtures/spec_examples/data/tiny_prices.parquet")
                      .read_bytes())
    for path in (notes, other):
        before = path.read_bytes()
        downloads: list = []
        result = _fetch(path, downloads=downloads)
        assert result.exit_code == 2, result.output
        lines = [x for x in result.output.splitlines() if x.strip()]
        assert lines == [f"error: {path}: exists and was not written by backtest data fetch; "
                         "nothing was touched: choose another --out, or add --force to "
                         "replace it"]
        assert downloads == [] and path.read_bytes() == before


def test_fetch_replaces_its_own_file_and_any_file_with_force(tmp_path):
    out = tmp_path / "p.parquet"
    assert _fetch(out).exit_code == 0
    assert _fetch(out).exit_code == 0  # its own earlier output: refreshed, no --force
    notes = tmp_path / "notes.parquet"
    notes.write_text("my notes")
    result = _fetch(notes, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(load_prices(notes).ticker.unique()) == ["SPY"]
    assert _fetch(notes).exit_code == 0  # from then on it is the tool's file


def test_fetch_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.parquet"
    link = tmp_path / "link.parquet"
    link.symlink_to(target)
    assert _fetch(link).exit_code == 0
    assert link.is_symlink() and target.is_file()
    assert _fetch(link).exit_code == 0  # the target is the tool's: replaced again
    assert link.is_symlink()


def test_help_has_examples():
    runner = CliRunner()
    for args in (["data"], ["data", "info"], ["data", "fetch"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output
