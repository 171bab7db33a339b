"""Return measures on hand-made series whose answers are worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.analytics import returns as R
from backtest.analytics.drawdowns import (
    drawdown_depths,
    drawdown_series,
    max_drawdown,
    max_drawdown_depth,
)

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "expected"


def _index(values, start="2021-01-04", freq="B") -> pd.Series:
    dates = pd.date_range(start, periods=len(values), freq=freq)
    return pd.Series(values, index=dates, name="twr_index", dtype=float)


def _from_returns(rets, start="2021-01-04") -> pd.Series:
    return _index(np.cumprod(1.0 + np.asarray(rets, dtype=float)), start)


# --------------------------------------------------------------------------- daily returns
def test_first_return_is_index_minus_one_and_then_ratios():
    idx = _index([1.02, 1.071, 1.0710])
    r = R.daily_returns(idx)
    assert r.iloc[0] == pytest.approx(0.02)
    assert r.iloc[1] == pytest.approx(0.05)  # 1.071 / 1.02 = 1.05
    assert r.iloc[2] == pytest.approx(0.0)


def test_daily_returns_from_a_frame_with_a_date_column():
    daily = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
                          "twr_index": [0.9, 0.99]})
    r = R.daily_returns(daily)
    assert list(r.round(12)) == [-0.1, 0.1]
    assert r.index[0] == pd.Timestamp("2024-01-02")


def test_twr_index_formula_of_the_spec():
    # value_-1 = 0; deposit 1000 -> 1010 (x1.01); +500 at the start of day 2 -> 1510 -> 1661
    # (x1.1); then everything is withdrawn: value_(t-1) + net_flow_t is 0 on days 3 and 4,
    # which leaves the index unchanged.
    value = pd.Series([1010.0, 1661.0, 0.0, 0.0])
    flow = pd.Series([1000.0, 500.0, -1661.0, 0.0])
    idx = R.twr_index_from_values(value, flow)
    assert idx.tolist() == pytest.approx([1.01, 1.111, 1.111, 1.111])


def test_twr_index_matches_the_shared_expected_series():
    # basic.yaml pays its 300 withdrawal in the morning window of 2024-03-20 (session
    # 14). Just before it leaves, the account holds (expected trades.csv) AAA 60 +
    # 5.93957 + 8.61592 = 74.55549 and BBB 19.98001 + 2.12339 + 1.35362 = 23.45702
    # shares at that window's opens 8.65 and 20.15, plus the cash of the 2024-03-19
    # close and that morning's weekly 100: V_w = 644.905 + 472.659 + 100.000091.
    daily = pd.read_csv(EXPECTED / "basic" / "daily.csv")
    k = int(np.flatnonzero(daily["date"] == "2024-03-20")[0])
    v_w = 74.55549 * 8.65 + 23.45702 * 20.15 + daily["cash"].iloc[k - 1] + 100.0
    deposits = daily["net_flow"].to_numpy().copy()
    deposits[k] += 300.0  # net_flow -200 that day: the 100 deposit minus the 300
    idx = R.twr_index(daily["value"], deposits, [(k, v_w, 300.0)])
    assert np.allclose(idx, daily["twr_index"].to_numpy(), atol=1e-6)
    # Without the window value the withdrawal falls at the session's start: the old,
    # distorted index, ~0.3 points lower from that session on.
    rough = R.twr_index_from_values(daily["value"], daily["net_flow"]).to_numpy()
    assert np.allclose(rough[:k], idx[:k]) and rough[-1] < idx[-1] - 0.002


def test_twr_of_a_withdrawal_of_almost_everything():
    # 1000 deposited, worth 1000 at the window; 999 (99.9%) is withdrawn there and the
    # remaining 1 is worth 1.10 at the close: factor 1000/1000 * 1.10/(1000 - 999) = 1.1.
    # Taking the 999 at the session's start instead would give 1.10/1 (the same) only
    # by luck of zero gains before the window; here the window value is 1100 (up 10%
    # by the window), then the last 101 ends at 90.9: 1100/1000 * 90.9/101 = 0.99.
    idx = R.twr_index([1000.0, 90.9], [1000.0, 0.0], [(1, 1100.0, 999.0)])
    assert idx.tolist() == pytest.approx([1.0, 1.1 * 0.9])
    # The flows-at-start formula: 90.9 / (1000 - 999) = 90.9, a 9000% "return".
    assert R.twr_index([1000.0, 90.9], [1000.0, -999.0])[1] == pytest.approx(90.9)
    # A withdrawal of everything: the link after it has base 0 and is 1.
    idx = R.twr_index([1000.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [(1, 1050.0, 1050.0)])
    assert idx.tolist() == pytest.approx([1.0, 1.05, 1.05])


# --------------------------------------------------------------------------- CAGR, drawdown
def test_constant_one_percent_a_month():
    # 21 sessions a month, 24 months: each month is exactly +1%.
    r = [1.01 ** (1 / 21) - 1] * (21 * 24)
    idx = _from_returns(r)
    rets = R.daily_returns(idx)
    assert idx.iloc[-1] == pytest.approx(1.01 ** 24)
    assert R.cagr(rets) == pytest.approx(1.01 ** 12 - 1)  # 0.12682503...
    assert R.cagr(rets) == pytest.approx(0.12682503013196977, abs=1e-12)
    dd = max_drawdown(idx)
    assert dd.depth == 0.0 and dd.peak is None and dd.trough is None and dd.recovery is None
    assert R.volatility(rets) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(R.sharpe(rets))  # no spread: undefined
    assert math.isnan(R.sortino(rets))  # no losing day: undefined


def test_known_drawdown_with_peak_trough_and_recovery():
    idx = _index([1.0, 1.1, 1.2, 0.9, 1.0, 1.2, 1.3])
    dd = max_drawdown(idx)
    assert dd.depth == pytest.approx(0.9 / 1.2 - 1)  # -25%
    assert dd.peak == idx.index[2]
    assert dd.trough == idx.index[3]
    assert dd.recovery == idx.index[5]  # back at 1.2


def test_drawdown_never_recovered():
    idx = _index([1.0, 0.8, 0.9])
    dd = max_drawdown(idx)
    assert dd.depth == pytest.approx(-0.2)
    assert (dd.peak, dd.trough, dd.recovery) == (idx.index[0], idx.index[1], None)


def test_drawdown_runs_from_the_first_sessions_index_not_the_base_before_it():
    # strategy-format.md: max_drawdown is the lowest twr_index / running max - 1,
    # the running max taken over the index column itself: a first session at 0.95
    # that only rises has no drawdown; a fall after it counts from 0.95.
    idx = _index([0.95, 0.97, 1.0])
    assert max_drawdown(idx).depth == 0.0
    assert drawdown_series(idx).tolist() == pytest.approx([0.0, 0.0, 0.0])
    idx = _index([0.95, 0.90, 0.96])
    dd = max_drawdown(idx)
    assert dd.depth == pytest.approx(0.90 / 0.95 - 1)
    assert (dd.peak, dd.trough, dd.recovery) == (idx.index[0], idx.index[1], idx.index[2])


# --------------------------------------------------------------------------- Sharpe, Sortino
def test_annual_growth_of_an_end_index():
    # 1.21 over two years of 252 sessions: sqrt(1.21) - 1 = 10% a year
    assert R.annual_growth(1.21, 504) == pytest.approx(0.10, abs=1e-12)
    assert R.annual_growth(0.0, 504) == -1.0  # nothing left
    assert math.isnan(R.annual_growth(1.1, 0))
    # cagr of returns is the same measure of their chained growth
    rets = pd.Series([0.1, 0.1], index=pd.bdate_range("2024-01-01", periods=2))
    assert R.cagr(rets, periods=2) == pytest.approx(R.annual_growth(1.21, 2, 2))


def test_drawdown_depths_on_a_plain_array():
    # running max 1, 1.2, 1.2, 1.2, 1.3, 1.3: 0.9 / 1.2 - 1 = -0.25, 0.65 / 1.3 - 1 = -0.5
    idx = np.array([1.0, 1.2, 0.9, 1.2, 1.3, 0.65])
    assert drawdown_depths(idx).tolist() == pytest.approx([0, 0, -0.25, 0, 0, -0.5])
    assert max_drawdown_depth(idx) == pytest.approx(-0.5)
    assert max_drawdown_depth(np.zeros(0)) == 0.0
    assert max_drawdown_depth(np.array([1.0, 1.1])) == 0.0
    # a missing value counts as 0 and does not reset the maximum; no value yet: 0
    assert drawdown_depths(np.array([1.0, np.nan, 0.5])).tolist() == [0.0, 0.0, -0.5]
    assert drawdown_depths(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]


def test_sharpe_and_sortino_by_hand():
    r = pd.Series([0.01, -0.02, 0.03, 0.0], index=pd.date_range("2021-01-04", periods=4))
    mean = (0.01 - 0.02 + 0.03 + 0.0) / 4  # 0.005
    var = ((0.005) ** 2 + (-0.025) ** 2 + (0.025) ** 2 + (-0.005) ** 2) / 3  # 4.3333e-4
    sd = math.sqrt(var)
    assert R.volatility(r) == pytest.approx(sd * math.sqrt(252))
    assert R.sharpe(r) == pytest.approx(mean / sd * math.sqrt(252))
    assert R.sharpe(r) == pytest.approx(3.8129, abs=1e-4)
    # Downside: only -0.02 is below 0; mean of squares over all 4 sessions = 1e-4.
    assert R.downside_risk(r) == pytest.approx(0.01 * math.sqrt(252))
    assert R.sortino(r) == pytest.approx(0.005 * 252 / (0.01 * math.sqrt(252)))
    assert R.sortino(r) == pytest.approx(7.9373, abs=1e-4)


def test_sharpe_and_sortino_with_a_risk_free_rate():
    r = pd.Series([0.01, -0.02, 0.03, 0.0], index=pd.date_range("2021-01-04", periods=4))
    rf = 0.05
    rfd = 1.05 ** (1 / 252) - 1
    ex = [x - rfd for x in r]
    mean = sum(ex) / 4
    sd = math.sqrt(sum((x - 0.005) ** 2 for x in r) / 3)
    assert R.sharpe(r, rf) == pytest.approx(mean / sd * math.sqrt(252))
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in ex) / 4)
    assert R.sortino(r, rf) == pytest.approx(mean * 252 / (down * math.sqrt(252)))


# --------------------------------------------------------------------------- XIRR, MWR
def test_xirr_one_year_ten_percent():
    assert R.xirr(["2021-01-01", "2022-01-01"], [-1000, 1100]) == pytest.approx(0.10, abs=1e-12)


def test_xirr_two_years_of_flows():
    # -1000 now, -1000 after 365 days, +2310 after 730 days: 1000*1.21 + 1000*1.1 = 2310.
    r = R.xirr(["2021-01-01", "2022-01-01", "2023-01-01"], [-1000, -1000, 2310])
    assert r == pytest.approx(0.10, abs=1e-12)


def test_xirr_two_flows_not_a_whole_year():
    # 731 days (2020 is a leap year): (1210 / 1000) ** (365 / 731) - 1
    r = R.xirr(["2020-01-01", "2022-01-01"], [-1000, 1210])
    assert r == pytest.approx(1.21 ** (365 / 731) - 1, rel=1e-12)


def test_xirr_losses_short_spans_and_order():
    assert R.xirr(["2021-01-01", "2022-01-01"], [-1000, 500]) == pytest.approx(-0.5)
    assert R.xirr(["2021-01-01", "2021-01-11"], [-100, 101]) == pytest.approx(1.01 ** 36.5 - 1)
    # dates need not be sorted
    assert R.xirr(["2022-01-01", "2021-01-01"], [1100, -1000]) == pytest.approx(0.10)


def test_xirr_undefined_cases_are_nan():
    assert math.isnan(R.xirr(["2021-01-01", "2022-01-01"], [-1000, -100]))  # no sign change
    assert math.isnan(R.xirr(["2021-01-01", "2021-01-01"], [-1000, 1100]))  # one date
    assert math.isnan(R.xirr([], []))
    assert math.isnan(R.xirr(["2021-01-01"], [5.0]))


def test_xirr_with_two_sign_changes_takes_the_rate_nearest_zero():
    # -1000 + 2300 v - 1320 v^2 = 0 with v = 1 / (1 + r), whole years of 365 days:
    # 1320 v^2 - 2300 v + 1000 = 0 has v = 1/1.1 and 1/1.2: r = 10% and 20%.
    r = R.xirr(["2021-01-01", "2022-01-01", "2023-01-01"], [-1000, 2300, -1320])
    assert r == pytest.approx(0.10, abs=1e-12)


def test_xirr_fast_path_equals_the_scan_on_random_flows():
    # Flows that change sign once (deposits, then withdrawals and a final value):
    # xirr takes one bracketed solve; the general scan must find the same rate.
    rng = np.random.default_rng(15)
    checked = 0
    for _ in range(150):
        n = int(rng.integers(2, 40))
        days = np.sort(rng.choice(int(rng.integers(n, 40 * 365)), n, replace=False))
        dates = np.datetime64("2000-01-03", "D") + days.astype("timedelta64[D]")
        k = int(rng.integers(1, n))  # deposits first, then money back
        amounts = np.concatenate([-rng.uniform(10, 5000, k),
                                  rng.uniform(0, 3, n - k) * rng.uniform(10, 5000, n - k)])
        years = (days - days[0]) / R.DAYS_PER_YEAR
        a = amounts / np.abs(amounts).max()
        hi = min(60.0, 600.0 / years.max())
        fast = R.xirr(dates, amounts)
        scan = R._xirr_scan(years, a, hi)
        assert fast == pytest.approx(scan, rel=1e-9, abs=1e-12, nan_ok=True)
        # the same rate from dates as strings (the pandas route)
        assert R.xirr([str(d) for d in dates], amounts) == pytest.approx(fast, rel=1e-12,
                                                                          nan_ok=True)
        checked += math.isfinite(fast)
    assert checked > 100  # most cases have a rate in range, not only NaN on both sides


def test_mwr_equals_annualised_twr_with_one_deposit_at_the_start():
    daily = pd.DataFrame({
        "date": pd.to_datetime(["2020-01-01", "2020-07-01", "2021-01-01"]),
        "value": [1000.0, 1050.0, 1100.0],
        "net_flow": [1000.0, 0.0, 0.0],
        "twr_index": [1.0, 1.05, 1.1],
    })
    # 366 days from the deposit to the final value.
    assert R.mwr(daily) == pytest.approx(1.1 ** (365 / 366) - 1, rel=1e-12)


def test_mwr_with_a_withdrawal():
    # -1000 on day 0, +550 withdrawn after 365 days, 605 left after 730 days: 10% a year.
    daily = pd.DataFrame({
        "date": pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"]),
        "value": [1000.0, 550.0, 605.0],
        "net_flow": [1000.0, -550.0, 0.0],
    })
    assert R.mwr(daily) == pytest.approx(0.10, abs=1e-12)


# --------------------------------------------------------------------------- calendar tables
def test_annual_and_monthly_tables_chain_link():
    idx = pd.Series([1.1, 1.21, 1.089, 1.1979],
                    index=pd.to_datetime(["2020-12-30", "2020-12-31", "2021-01-04",
                                          "2021-02-01"]))
    rets = R.daily_returns(idx)
    years = R.annual_returns(rets)
    assert years.to_dict() == pytest.approx({2020: 0.21, 2021: -0.01})
    months = R.monthly_returns(rets)
    assert months.loc[2020, 12] == pytest.approx(0.21)
    assert months.loc[2021, 1] == pytest.approx(-0.1)
    assert months.loc[2021, 2] == pytest.approx(0.1)
    assert math.isnan(months.loc[2021, 3])
    assert list(months.columns) == list(range(1, 13))


# --------------------------------------------------------------------------- benchmark
def test_price_index_uses_the_close_before_the_first_session_as_base():
    prices = pd.Series([100.0, 110.0, 121.0, 99.0],
                       index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04",
                                             "2024-01-05"]))
    dates = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    idx = R.price_index(prices, dates)
    # base 100 (the day before); 2024-01-03 has no price: carried forward.
    assert idx.tolist() == pytest.approx([1.10, 1.10, 1.21])


def test_price_index_without_an_earlier_price_starts_at_one():
    prices = pd.Series([50.0, 55.0], index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    idx = R.price_index(prices, pd.to_datetime(["2024-01-02", "2024-01-03"]))
    assert idx.tolist() == pytest.approx([1.0, 1.1])
