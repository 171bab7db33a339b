"""Splits and dividends recovered from quoted and adjusted closes (io/corporate_actions.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.io.corporate_actions import actions, split_adjust

EXCERPT = Path(__file__).resolve().parents[1] / "fixtures" / "wiki_prices_excerpt.csv"


def test_hand_made_split_and_dividend():
    # Quoted closes 100, 102, 51 (2:1 split on day 2), 50 (ex-dividend $0.50 on day 3).
    # Adjusted close (to the last day): day 3 = 50; a dividend of 0.50 on a 50 close
    # multiplies earlier adjusted prices by 50/50.5; the split halves them.
    close = np.array([100.0, 102.0, 51.0, 50.0])
    k = 50.0 / 50.5
    adj = np.array([100.0 / 2 * k, 102.0 / 2 * k, 51.0 * k, 50.0])
    split, div = actions(close, adj)
    assert split.tolist() == [1.0, 1.0, 2.0, 1.0]
    assert div[:3].tolist() == [0.0, 0.0, 0.0]
    assert div[3] == pytest.approx(0.50, abs=1e-12)

    frame = pd.DataFrame({"date": pd.bdate_range("2024-01-01", periods=4),
                          "open": [99.0, 101.0, 50.0, 50.5], "close": close, "adj_close": adj})
    out = split_adjust(frame)
    # Before the split, prices are halved (in post-split shares); after it, unchanged.
    assert out["close"].tolist() == [50.0, 51.0, 51.0, 50.0]
    assert out["open"].tolist() == [49.5, 50.5, 50.0, 50.5]
    assert out["dividend"].tolist() == [0.0, 0.0, 0.0, 0.5]


def test_a_dividend_before_a_split_is_per_post_split_share():
    # $1.00 on a quoted close of 100 on day 1, then a 2:1 split on day 2:
    # a holder of 1 old share got $1, i.e. $0.50 per share of the end of the data.
    close = np.array([101.0, 100.0, 50.0])
    k = 100.0 / 101.0
    adj = np.array([101.0 * k / 2, 100.0 / 2, 50.0])
    frame = pd.DataFrame({"date": pd.bdate_range("2024-01-01", periods=3),
                          "open": close, "close": close, "adj_close": adj})
    out = split_adjust(frame)
    assert out["dividend"].tolist() == [0.0, 0.5, 0.0]
    assert out["close"].tolist() == [50.5, 50.0, 50.0]


def test_a_falling_factor_is_an_error_not_a_guess():
    close = np.array([10.0, 10.0])
    with pytest.raises(ValueError, match="neither a split nor a dividend"):
        actions(close, np.array([10.0, 9.0]))  # factor 0.9: not a dividend, not a split


def _excerpt(ticker: str) -> pd.DataFrame:
    raw = pd.read_csv(EXCERPT, comment="#")
    rows = raw[raw["Ticker"] == ticker]
    return pd.DataFrame({"date": pd.to_datetime(rows["Date"]).to_numpy(),
                         "open": rows["Open"].to_numpy(), "close": rows["Close"].to_numpy(),
                         "adj_close": rows["Adj Close"].to_numpy()})


def _events(ticker: str) -> tuple[dict[str, float], dict[str, float]]:
    """Splits and dividends of each stretch of the excerpt (stretches are cut where
    the excerpt skips more than a week, so no factor spans a gap)."""
    frame = _excerpt(ticker)
    stretch = (frame["date"].diff() > pd.Timedelta(days=7)).cumsum()
    splits, divs = {}, {}
    for _, part in frame.groupby(stretch):
        split, div = actions(part["close"].to_numpy(), part["adj_close"].to_numpy())
        days = part["date"].dt.strftime("%Y-%m-%d").to_numpy()
        splits |= {d: s for d, s in zip(days, split, strict=True) if s != 1.0}
        divs |= {d: v for d, v in zip(days, div, strict=True) if v != 0.0}
    return splits, divs


def test_aapl_splits_and_first_dividend_on_the_source_data():
    splits, divs = _events("AAPL")
    # Apple's 2-for-1 splits, ex-dates 2000-06-21 and 2005-02-28.
    assert splits == {"2000-06-21": 2.0, "2005-02-28": 2.0}
    # Apple's first dividend since 1995: $2.65 a share, ex-date 2012-08-09.
    assert list(divs) == ["2012-08-09"]
    assert divs["2012-08-09"] == pytest.approx(2.65, abs=5e-5)


def test_msft_split_first_dividend_and_special_dividend():
    splits, divs = _events("MSFT")
    # 2-for-1 split on 2003-02-18, then the first dividend ever, $0.08 a share
    # (post-split), ex-date 2003-02-19.
    assert splits == {"2003-02-18": 2.0}
    assert divs["2003-02-19"] == pytest.approx(0.08, abs=5e-5)
    # The $3.00 special dividend and the regular quarterly $0.08 share the
    # ex-date 2004-11-15: the factor holds both, $3.08.
    assert divs["2004-11-15"] == pytest.approx(3.00 + 0.08, abs=5e-5)
    assert len(divs) == 2


def test_ibm_quarterly_dividends_2012():
    splits, divs = _events("IBM")
    assert splits == {}
    # IBM declared $0.75 a quarter until April 2012, then $0.85 (ex-dates in
    # Feb, May, Aug, Nov).
    expected = {"2012-02-08": 0.75, "2012-05-08": 0.85, "2012-08-08": 0.85,
                "2012-11-07": 0.85, "2013-02-06": 0.85}
    assert list(divs) == list(expected)
    for day, amount in expected.items():
        assert divs[day] == pytest.approx(amount, abs=5e-5), day
