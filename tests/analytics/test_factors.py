"""The Fama-French factors as a risk-free rate and a total-return benchmark
(analytics/factors.py, io/factors.py, report/benchmark.py's US-MARKET)."""

from __future__ import annotations

import json
from pathlib import Path

import exchange_calendars as xc
import pandas as pd
import pytest
from click.testing import CliRunner

from backtest.analytics import metrics as M
from backtest.analytics import returns as R
from backtest.analytics.factors import risk_free_rate, total_return_levels
from backtest.cli import cli
from backtest.errors import BacktestError
from backtest.io.factors import default_risk_free, resolve_risk_free
from backtest.report.benchmark import US_MARKET_LABEL, check_covers, load_benchmark

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def test_risk_free_rate_of_a_constant_bill_rate():
    # 1% a month in every month: each session earns 1.01**(1/21) - 1, and the
    # annual rate is (1.01**(1/21))**252 - 1 = 1.01**12 - 1 = 0.126825030131970.
    rf = pd.Series(0.01, index=pd.date_range("2020-01-31", periods=3, freq="ME"))
    dates = pd.bdate_range("2020-01-02", "2020-03-31")
    assert risk_free_rate(rf, dates) == pytest.approx(0.126825030131970, rel=1e-12)


def test_risk_free_rate_is_none_when_a_month_is_missing():
    rf = pd.Series(0.01, index=pd.date_range("2020-01-31", periods=2, freq="ME"))
    assert risk_free_rate(rf, pd.bdate_range("2020-01-02", "2020-03-02")) is None
    assert risk_free_rate(rf, pd.DatetimeIndex([])) is None


def test_option_overrides_and_uncovered_runs_get_zero():
    dates = pd.bdate_range("2019-01-02", "2019-03-29")  # after the factors end (2018-11)
    assert default_risk_free(dates) is None
    assert resolve_risk_free(None, dates) == 0.0
    assert resolve_risk_free(0.03, dates) == 0.03
    # 2015: the bill rate was near zero (0.02% for the whole year, by the file's
    # own months: Jan-Nov 0.00%, Dec 0.01%... well under a tenth of a percent).
    low = resolve_risk_free(None, pd.bdate_range("2015-01-02", "2015-12-31"))
    assert 0.0 <= low < 0.001
    # 2000: about 6% a year (the months' rf are 0.41%..0.54%).
    y2000 = resolve_risk_free(None, pd.bdate_range("2000-01-03", "2000-12-29"))
    assert 0.05 < y2000 < 0.065


def test_total_return_levels_at_the_last_weekday_of_each_month():
    # +10% in Jan 2020, -50% in Feb 2020: 1.0 at 2019-12-31 (Tue), 1.1 at 2020-01-31
    # (Fri), 0.55 on Fri 2020-02-28 (the 29th is a Saturday).
    mkt = pd.Series([0.10, -0.50], index=pd.to_datetime(["2020-01-31", "2020-02-29"]))
    levels = total_return_levels(mkt)
    assert levels.index.strftime("%Y-%m-%d").tolist() == ["2019-12-31", "2020-01-31",
                                                          "2020-02-28"]
    assert levels.tolist() == pytest.approx([1.0, 1.1, 0.55])


def test_us_market_cagr_1990_2018_matches_the_factors():
    bench = load_benchmark("US-MARKET")
    assert bench.name == US_MARKET_LABEL and bench.attrs["monthly"]
    cal = xc.get_calendar("XNYS", start="1990-01-01", end="2018-12-31")
    sessions = cal.sessions_in_range("1990-01-02", "2018-11-30")
    index = R.price_index(bench, sessions)
    cagr = M.performance_summary(pd.DataFrame({"date": sessions,
                                               "twr_index": index.to_numpy()}))["cagr"]
    # Independently: compound the file's monthly total returns, Jan 1990 - Nov 2018
    # (347 months), and annualise by 12 / 347.
    ff = pd.read_parquet(SAMPLE / "ff_monthly.parquet")
    months = ff[(ff["date"] >= pd.Timestamp("1990-01-01").date())
                & (ff["date"] <= pd.Timestamp("2018-11-30").date())]
    assert len(months) == 347
    direct = (1.0 + months["mkt"]).prod() ** (12.0 / 347) - 1.0
    assert abs(cagr - direct) < 0.01
    # The published figure for the US market over 1990-2018 is about 10% a year.
    assert 0.09 < direct < 0.11
    assert 0.09 < cagr < 0.11


def test_ff_monthly_columns_are_fractions_with_mkt_including_rf():
    ff = pd.read_parquet(SAMPLE / "ff_monthly.parquet")
    assert list(ff.columns) == ["date", "mkt", "rf"]
    first = ff.iloc[0]
    # Ken French's file: 1926-07 Mkt-RF 2.96%, RF 0.22% -> mkt 3.18% total.
    assert str(first["date"]) == "1926-07-31"
    assert first["mkt"] == pytest.approx(0.0318, abs=1e-12)
    assert first["rf"] == pytest.approx(0.0022, abs=1e-12)
    cpi = pd.read_parquet(SAMPLE / "cpi.parquet")
    assert list(cpi.columns) == ["date", "cpi"]
    assert str(cpi["date"].iloc[0]) == "1957-01-01" and cpi["cpi"].iloc[0] == 28.5


def test_a_monthly_benchmark_must_reach_the_runs_last_month_end():
    bench = load_benchmark("US-MARKET")
    check_covers(bench, "2000-01-03", "2018-12-14")  # compared through 2018-11-30
    check_covers(bench, "2000-01-03", "2018-11-30")
    with pytest.raises(BacktestError, match="not the run's 2000-01-03 to 2018-12-31"):
        check_covers(bench, "2000-01-03", "2018-12-31")  # December is a whole month
    with pytest.raises(BacktestError, match="covers 1926-06-30 to 2018-11-30"):
        check_covers(bench, "2015-01-02", "2019-01-31")


STRATEGY = """
name: two funds
data: {{prices: {prices}, start: 2005-01-03, end: {end}}}
account: {{window: afternoon}}
cashflows:
  - deposit: 10000
    date: 2005-01-03
portfolio:
  slices: {{SPX: 50, IXIC: 50}}
"""


def _write(tmp_path: Path, end: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(STRATEGY.format(prices=SAMPLE / "index_funds.parquet", end=end))
    return path


def test_run_with_us_market_and_the_default_risk_free(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(_write(tmp_path, "2018-11-30")), "--out",
                                   str(out), "--benchmark", "US-MARKET"])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert US_MARKET_LABEL in html
    assert "risk-free 1." in html  # 2005-2018 bills: about 1.2% a year
    summary = json.loads((out / "summary.json").read_text())
    override = tmp_path / "out0"
    res = CliRunner().invoke(cli, ["run", str(_write(tmp_path, "2018-11-30")), "--out",
                                   str(override), "--risk-free", "0", "--no-report"])
    assert res.exit_code == 0, res.output
    zero = json.loads((override / "summary.json").read_text())
    assert summary["cagr"] == zero["cagr"]
    assert summary["sharpe"] < zero["sharpe"]  # a positive rate lowers Sharpe


def test_run_past_the_factors_with_us_market_is_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["run", str(_write(tmp_path, "2018-12-31")), "--out",
                                   str(tmp_path / "o"), "--benchmark", "US-MARKET"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "US-MARKET" in lines[0] and "2018-11-30" in lines[0]


def test_a_daily_benchmark_must_span_the_run():
    bench = pd.Series(1.0, index=pd.bdate_range("2020-01-02", "2020-06-30"), name="X")
    check_covers(bench, "2020-01-02", "2020-06-30")
    with pytest.raises(BacktestError, match="benchmark X covers 2020-01-02 to 2020-06-30"):
        check_covers(bench, "2020-01-02", "2020-07-01")  # would be carried flat
    with pytest.raises(BacktestError, match="not the run's 2019-12-31 to 2020-03-02"):
        check_covers(bench, "2019-12-31", "2020-03-02")
