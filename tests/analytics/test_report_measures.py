"""The report's tables (trailing and rolling returns, worst drawdowns, holdings,
contributions) against figures worked out by hand in the comments."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.analytics.drawdowns import drawdown_episodes, max_drawdown, worst_drawdowns
from backtest.analytics.lots import lots_frame, replay_fills
from backtest.analytics.periods import month_end_index, rolling_returns, trailing_returns
from backtest.analytics.positions import contributions, contributions_by_year, holdings_at_end


def _index(pairs: list[tuple[str, float]]) -> pd.Series:
    return pd.Series([v for _, v in pairs], index=pd.DatetimeIndex([d for d, _ in pairs]))


# ----------------------------------------------------------------- trailing returns
def test_trailing_returns_from_a_twr_index():
    idx = _index([("2015-01-02", 1.10), ("2019-06-28", 1.50), ("2021-06-30", 2.00),
                  ("2023-06-30", 2.40), ("2024-06-28", 2.50), ("2024-07-01", 3.00)])
    t = trailing_returns(idx).set_index("period")
    # end 2024-07-01 at 3.00
    # 1 year: base at the last session on/before 2023-07-01 = 2023-06-30 (2.40): 3/2.4 = 1.25
    assert t.loc["1 year", "total"] == pytest.approx(0.25)
    assert t.loc["1 year", "annualised"] == pytest.approx(0.25)
    # 3 years: base 2021-06-30 (2.00): 1.5 total; 1.5 ** (1/3) = 1.1447142426
    assert t.loc["3 years", "total"] == pytest.approx(0.5)
    assert t.loc["3 years", "annualised"] == pytest.approx(0.1447142426, abs=1e-9)
    # 5 years: base 2019-06-28 (1.50): 2.0 total; 2 ** 0.2 = 1.1486983550
    assert t.loc["5 years", "annualised"] == pytest.approx(0.1486983550, abs=1e-9)
    # 10 years: 2014-07-01 is 185 days before the first session: not covered
    assert "10 years" not in t.index
    # whole run: TWR 3.0 - 1 = 2.0; annualised = CAGR of 6 sessions = 3 ** (252/6) - 1
    assert t.loc["Whole run", "total"] == pytest.approx(2.0)
    assert t.loc["Whole run", "annualised"] == pytest.approx(3.0 ** 42 - 1, rel=1e-9)


def test_trailing_period_starting_just_before_the_run_uses_the_base():
    # 10 years back from 2024-07-01 is 2014-07-01, two days before the first
    # session (within the 7-day slack): base 1.0, so total 2.0 - 1 = 1.0
    idx = _index([("2014-07-03", 1.2), ("2024-07-01", 2.0)])
    t = trailing_returns(idx, years=(10,)).set_index("period")
    assert t.loc["10 years", "total"] == pytest.approx(1.0)
    assert t.loc["10 years", "annualised"] == pytest.approx(2 ** 0.1 - 1)


# ----------------------------------------------------------------- rolling returns
def test_rolling_twelve_month_returns():
    # one close at each month end, Jan 2020 .. Feb 2021: 1.1, 1.2, ..., 2.4
    ends = pd.date_range("2020-01-31", periods=14, freq="ME")
    idx = pd.Series([1.1 + 0.1 * i for i in range(14)], index=ends)
    me = month_end_index(idx)
    assert str(me.index[0]) == "2019-12" and me.iloc[0] == 1.0  # the base
    roll = rolling_returns(idx, 12)
    # Dec 2020 (2.2) over the base of Dec 2019 (1.0): +120%
    assert roll[pd.Period("2020-12")] == pytest.approx(1.2)
    # Jan 2021 (2.3) over Jan 2020 (1.1); Feb 2021 (2.4) over Feb 2020 (1.2)
    assert roll[pd.Period("2021-01")] == pytest.approx(2.3 / 1.1 - 1)
    assert roll[pd.Period("2021-02")] == pytest.approx(1.0)
    assert len(roll) == 3
    assert rolling_returns(idx.iloc[:11], 12).empty


# ----------------------------------------------------------------- drawdowns
HAND = [1.0, 1.2, 0.9, 1.1, 1.3, 1.04, 1.3, 1.4, 0.7, 0.84]


def test_five_worst_drawdowns_from_a_hand_made_index():
    idx = pd.Series(HAND, index=pd.date_range("2024-01-01", periods=10, freq="D"))
    ep = drawdown_episodes(idx)
    # three falls: 1.2 -> 0.9 (back at 1.3 on day 5), 1.3 -> 1.04 (back at 1.3 on
    # day 7), 1.4 -> 0.7 (not recovered by day 10)
    assert len(ep) == 3
    worst = worst_drawdowns(idx)
    assert list(worst["depth"]) == pytest.approx([-0.5, -0.25, -0.2])
    first = worst.iloc[0]
    assert first["peak"] == pd.Timestamp("2024-01-08")
    assert first["trough"] == pd.Timestamp("2024-01-09")
    assert pd.isna(first["recovery"]) and not first["recovered"]
    assert first["days"] == 2 and first["sessions"] == 2  # peak Jan 8 to the end, Jan 10
    second = worst.iloc[1]
    assert (second["peak"], second["trough"], second["recovery"]) == (
        pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-05"))
    assert second["days"] == 3 and second["days_to_trough"] == 1
    # the worst episode is the run's max drawdown
    md = max_drawdown(idx)
    assert md.depth == pytest.approx(first["depth"]) and md.peak == first["peak"]
    assert len(worst_drawdowns(idx, n=2)) == 2


def test_no_drawdown_when_the_index_only_rises():
    idx = pd.Series([1.0, 1.1, 1.2], index=pd.date_range("2024-01-01", periods=3))
    assert worst_drawdowns(idx).empty


# ----------------------------------------------------------------- holdings
def test_cost_basis_from_hand_worked_lots():
    fills = pd.DataFrame({
        "date": pd.to_datetime(["2023-01-03", "2023-02-01", "2023-03-01", "2023-01-03"]),
        "slice": ["A/X", "A/X", "A/X", "B/Y"], "ticker": ["X", "X", "X", "Y"],
        "shares": [10.0, 10.0, -5.0, 4.0], "price": [100.0, 120.0, 110.0, 50.0],
        "reason": ["", "", "rebalance", ""]})
    book = replay_fills(fills, "brokerage")
    lots = lots_frame(book.open_lots(), end=pd.Timestamp("2023-12-29").date(),
                      close={"X": 130.0, "Y": 40.0})
    h = holdings_at_end(lots, {"A/X": 0.9, "B/Y": 0.1}).set_index("slice")
    # The brokerage order sells the short-term loss first: at 110 the 120 lot
    # loses 10 a share, so 5 of it close. Left: 10 @ 100 (1000) + 5 @ 120 (600).
    assert h.loc["A/X", "shares"] == pytest.approx(15)
    assert h.loc["A/X", "cost_basis"] == pytest.approx(1600)
    assert h.loc["A/X", "value"] == pytest.approx(15 * 130)  # 1950
    assert h.loc["A/X", "unrealized_gain"] == pytest.approx(350)
    assert h.loc["A/X", "lots"] == 2
    assert h.loc["B/Y", "cost_basis"] == pytest.approx(200)  # 4 @ 50
    assert h.loc["B/Y", "unrealized_gain"] == pytest.approx(-40)  # 160 - 200
    assert h.loc["A/X", "weight"] == pytest.approx(1950 / 2110)
    assert h.loc["B/Y", "target"] == pytest.approx(0.1)
    # under FIFO the oldest lot (100) closes instead: 5 @ 100 + 10 @ 120 = 1700
    fifo = lots_frame(replay_fills(fills, "fifo").open_lots(), close={"X": 130.0, "Y": 40.0})
    assert holdings_at_end(fifo).set_index("slice").loc["A/X", "cost_basis"] == \
        pytest.approx(1700)


# ----------------------------------------------------------------- contributions
def test_contributions_split_growth_into_dividends_and_market():
    c = contributions(1500.0, deposits=1000.0, withdrawals=200.0, dividends=50.0)
    # growth = 1500 - 1000 + 200 = 700, of which dividends 50, market 650
    assert c["growth"] == pytest.approx(700) and c["market"] == pytest.approx(650)
    assert c["put_in_share"] == pytest.approx(1000 / 1500)


def test_contributions_by_year():
    daily = pd.DataFrame({"date": pd.to_datetime(["2020-12-30", "2020-12-31", "2021-01-04",
                                                  "2021-12-31"]),
                          "value": [100.0, 110.0, 160.0, 150.0],
                          "net_flow": [100.0, 0.0, 50.0, -20.0]})
    y = contributions_by_year(daily, {"2021": 3.0}).set_index("year")
    # 2020: 0 -> 110 with 100 put in: growth 10
    assert y.loc[2020, "growth"] == pytest.approx(10) and y.loc[2020, "start_value"] == 0
    # 2021: 110 -> 150 with 50 - 20 = 30 put in: growth 10
    assert y.loc[2021, "net_flow"] == pytest.approx(30)
    assert y.loc[2021, "growth"] == pytest.approx(10)
    assert y.loc[2021, "dividends"] == 3.0 and y.loc[2020, "dividends"] == 0.0


# ----------------------------------------------------------------- inflation
def test_real_values_in_first_session_dollars():
    from backtest.analytics.inflation import deflator, real_cagr, real_values

    cpi = pd.Series([100.0, 110.0, 121.0],
                    index=pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]))
    dates = pd.DatetimeIndex(["2024-01-15", "2024-02-15", "2024-03-15"])
    value = pd.Series([1000.0, 1100.0, 1331.0], index=dates)
    # price level: 100, 110, 121 -> deflator 1, 1.1, 1.21
    assert list(deflator(cpi, dates)) == pytest.approx([1.0, 1.1, 1.21])
    # 1331 / 1.21 = 1100 dollars of 2024-01-15
    assert list(real_values(value, cpi)) == pytest.approx([1000.0, 1000.0, 1100.0])
    # a TWR index 1.0 -> 1.21 with prices up 21%: no real growth
    idx = pd.Series([1.0, 1.1, 1.21], index=dates)
    assert real_cagr(idx, cpi) == pytest.approx(0.0, abs=1e-12)
    # not covered: the index starts after the run, or stops long before its end
    assert deflator(cpi[1:], dates) is None
    assert real_values(pd.Series([1.0], index=pd.DatetimeIndex(["2024-07-01"])),
                       cpi) is None
