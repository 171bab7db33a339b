"""The bundled sample data with opens and dividends, checked against known events
and run through the simulator (data/sample/index_funds.parquet, stocks_dividends.parquet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.engine.result import run
from backtest.engine.simulation import Simulation
from backtest.io.inputs import market_for
from backtest.io.prices import load_prices
from backtest.io.strategy_file import parse_strategy

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
EXCERPT = ROOT / "tests" / "fixtures" / "wiki_prices_excerpt.csv"


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    return load_prices(SAMPLE / "stocks_dividends.parquet")


@pytest.fixture(scope="module")
def funds() -> pd.DataFrame:
    return load_prices(SAMPLE / "index_funds.parquet")


def _strategy(text: str):
    doc = yaml.safe_load(text)
    return parse_strategy(doc, source=SAMPLE / "test.yaml", base_dir=SAMPLE)


def _rows(df: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return df[df["ticker"] == ticker].set_index("date")


# --------------------------------------------------------------------------- the data

def test_aapl_prices_are_split_adjusted_to_the_end_of_the_file(stocks):
    # Quoted closes (the source's, in the excerpt): before 2000-06-21 a share is 4
    # shares of 2013 (two 2:1 splits later), between the splits 2, after them 1.
    raw = pd.read_csv(EXCERPT, comment="#", parse_dates=["Date"])
    quoted = raw[raw["Ticker"] == "AAPL"].set_index("Date")["Close"]
    aapl = _rows(stocks, "AAPL")["close"]
    for day, shares_2013 in (("2000-06-20", 4), ("2000-06-21", 2), ("2005-02-25", 2),
                             ("2005-02-28", 1), ("2012-08-09", 1)):
        assert aapl[day] == pytest.approx(quoted[day] / shares_2013, rel=1e-12), day


def test_aapl_and_msft_dividends(stocks):
    div = stocks[stocks["dividend"] > 0]
    aapl = _rows(div, "AAPL")["dividend"]
    # $2.65 a quarter from August 2012 (ex-dates 2012-08-09, 2012-11-07, 2013-02-07).
    assert aapl.index.strftime("%Y-%m-%d").tolist() == ["2012-08-09", "2012-11-07",
                                                        "2013-02-07"]
    np.testing.assert_allclose(aapl.to_numpy(), 2.65, atol=1e-6)
    msft = _rows(div, "MSFT")["dividend"]
    assert msft.index[0] == pd.Timestamp("2003-02-19")  # the first dividend ever
    assert msft.iloc[0] == pytest.approx(0.08, abs=1e-6)
    # $3.00 special + $0.08 quarterly on one ex-date
    assert msft[pd.Timestamp("2004-11-15")] == pytest.approx(3.08, abs=1e-6)
    assert "GOOG" not in set(div["ticker"])  # no dividend before 2015


def test_ibm_quarterly_dividends_match_the_declared_amounts(stocks):
    # IBM's quarterly rate, raised each April (first paid at the new rate with
    # the May ex-date): 2000 $0.13 ... 2012 $0.85. One ex-date per quarter,
    # May 2000 to February 2013: 52 dividends.
    rate = {2000: 0.13, 2001: 0.14, 2002: 0.15, 2003: 0.16, 2004: 0.18, 2005: 0.20,
            2006: 0.30, 2007: 0.40, 2008: 0.50, 2009: 0.55, 2010: 0.65, 2011: 0.75,
            2012: 0.85}
    ibm = _rows(stocks[stocks["dividend"] > 0], "IBM")["dividend"]
    assert len(ibm) == 52
    for day, amount in ibm.items():
        year = day.year if day.month >= 5 else day.year - 1  # Feb belongs to last April's rate
        assert amount == pytest.approx(rate[year], abs=1e-6), day.date()


def test_index_funds_have_an_open_different_from_the_close(funds):
    # The two funds never share a session with open == close: on every session
    # at least one of them fills at a different price in the morning.
    same = funds[funds["open"] == funds["close"]]
    assert len(same) == 4  # 2006-01-31 IXIC, 2006-06-20 / 2010-10-11 / 2017-04-10 SPX
    assert not same["date"].duplicated().any()
    assert funds["date"].nunique() == 5031


# --------------------------------------------------------------------------- simulated

PIE = """
name: window test
data: {{prices: index_funds.parquet, start: 2014-01-02, end: 2014-12-31}}
account: {{window: {window}, min_trade: 0.01}}
cashflows:
  - deposit: 1000000
    date: 2014-01-02
rebalance: {{drift_band: 0.001}}
portfolio:
  slices: {{SPX: 60, IXIC: 40}}
"""


def _trades(window: str):
    strategy = _strategy(PIE.format(window=window))
    market, _ = market_for(strategy)
    return run(Simulation(strategy, market)).trades


def test_morning_and_afternoon_fill_at_different_prices_every_session(funds):
    # A tiny drift band makes the pie rebalance every other session or so (the
    # drift found at a close is rebalanced in the next window); with the data
    # test above (open != close for one fund or the other on every session),
    # this covers "every session": each fill is at that session's open in the
    # morning and at its close in the afternoon.
    morning, afternoon = _trades("morning"), _trades("afternoon")
    prices = funds.set_index(["date", "ticker"])
    for trades, column in ((morning, "open"), (afternoon, "close")):
        key = list(zip(pd.to_datetime(trades["date"]), trades["ticker"], strict=True))
        expected = prices.loc[key, column].to_numpy()
        np.testing.assert_array_equal(trades["price"].to_numpy(), expected)
    m = morning.groupby("date")["price"].apply(tuple)
    a = afternoon.groupby("date")["price"].apply(tuple)
    both = m.index.intersection(a.index)
    assert len(both) > 100  # of 252 sessions in 2014
    assert all(m[d] != a[d] for d in both)


def test_dividends_arrive_as_cash_on_their_ex_dates(stocks):
    strategy = _strategy("""
name: dividend test
data: {prices: stocks_dividends.parquet, start: 2004-08-19, end: 2013-03-01}
account: {window: afternoon, auto_invest: false}
cashflows:
  - deposit: 100000
    date: 2004-08-19
portfolio:
  slices: {IBM: 40, MSFT: 40, GOOG: 20}
events:
  - date: 2004-08-19
    order: {slice: portfolio, side: buy, amount: 100000}
""")
    market, _ = market_for(strategy)
    result = run(Simulation(strategy, market))
    daily = result.daily.set_index("date")
    shares = result.trades.groupby("ticker")["shares"].sum()  # bought once, never sold
    assert len(result.trades) == 3
    cash_in = daily["cash"].diff().iloc[1:]
    div = stocks.pivot(index="date", columns="ticker", values="dividend").loc[cash_in.index]
    expected = (div[["IBM", "MSFT", "GOOG"]] * shares[["IBM", "MSFT", "GOOG"]]).sum(axis=1)
    np.testing.assert_allclose(cash_in.to_numpy(), expected.to_numpy(), atol=1e-6)
    ex_dates = expected[expected > 0].index
    # IBM: Nov 2004, 4 a year 2005-2012, Feb 2013 = 34; MSFT: Aug and Nov 2004, 32, Feb 2013 = 35
    assert len(ex_dates) == 34 + 35
    assert result.total_dividends == pytest.approx(float(expected.sum()), abs=1e-6)


def test_dividend_example_reports_dividend_income_every_year(tmp_path):
    from click.testing import CliRunner

    from backtest.cli import cli

    out = tmp_path / "div"
    res = CliRunner().invoke(cli, ["run", str(ROOT / "strategies" / "dividend_stocks.yaml"),
                                   "--out", str(out), "--risk-free", "0"])
    assert res.exit_code == 0, res.output
    import json

    summary = json.loads((out / "summary.json").read_text())
    years = summary["dividends_by_year"]
    assert sorted(years) == [str(y) for y in range(2004, 2014)]
    assert all(v > 0 for v in years.values())
    # 2004 by hand: MSFT is 30% of the $50,000 first deposit, at about $27 a share
    # about 550 shares, paid $0.08 (08-23) and $3.08 (11-15): about $1,740; IBM's
    # ~180 shares add $0.18 (11-08): about $32; the monthly deposits a little more.
    assert 1700 < years["2004"] < 2000
    html = (out / "report.html").read_text()
    assert "Dividends (income)" in html
