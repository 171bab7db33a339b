"""build_market: dense arrays without forward fill, default range, errors, halts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.domain.halts import Halt
from backtest.errors import DataError
from backtest.io.halts import load_halts
from backtest.io.market_builder import build_market
from backtest.io.prices import load_prices

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests/fixtures/spec_examples/data"
D = pd.Timestamp


def _frame() -> pd.DataFrame:
    """AAA trades four days; LATE is listed on the third (2024-01-04)."""
    rows = [
        ("2024-01-02", "AAA", 10.0, 10.1, 0.0),
        ("2024-01-03", "AAA", 10.1, 10.2, 0.0),
        ("2024-01-04", "AAA", 10.2, 10.3, 0.5),
        ("2024-01-05", "AAA", 10.3, 10.4, 0.0),
        ("2024-01-04", "LATE", 50.0, 51.0, 0.0),
        ("2024-01-05", "LATE", 51.0, 52.0, 0.0),
        ("2024-01-03", "OTHER", 1.0, 1.0, 0.0),
    ]
    df = pd.DataFrame(rows, columns=["date", "ticker", "open", "close", "dividend"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def _halt(date: str, scope: str = "market") -> Halt:
    return Halt(date=dt.date.fromisoformat(date), start=574, end=589, scope=scope, level="1")


def test_late_listing_is_nan_not_forward_filled():
    m, _ = build_market(_frame(), ["AAA", "LATE"], start=dt.date(2024, 1, 2), end=None)
    assert m.tickers == ("AAA", "LATE")
    assert m.sessions.dtype == np.dtype("datetime64[D]")
    assert [str(d) for d in m.sessions] == ["2024-01-02", "2024-01-03", "2024-01-04",
                                             "2024-01-05"]
    late = m.close[:, 1]
    assert np.isnan(late[:2]).all() and late[2:].tolist() == [51.0, 52.0]
    assert m.close_mask[:, 1].tolist() == [False, False, True, True]
    assert m.dividend[:, 0].tolist() == [0.0, 0.0, 0.5, 0.0]
    assert m.dividend[:, 1].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert m.open[2, 0] == 10.2 and m.close.dtype == np.float64


def test_default_start_is_first_date_all_tickers_have_a_close():
    m, _ = build_market(_frame(), ["AAA", "LATE"], start=None, end=None)
    assert str(m.sessions[0]) == "2024-01-04"
    assert str(m.sessions[-1]) == "2024-01-05"


def test_start_tickers_choose_the_default_start():
    m, w = build_market(_frame(), ["AAA", "LATE"], start=None, end=None, start_tickers=["AAA"])
    assert str(m.sessions[0]) == "2024-01-02"
    assert any("LATE" in x and "no close price on the first session" in x for x in w)


def test_sessions_are_every_data_date_of_any_ticker():
    df = _frame()
    df = df[~((df.ticker == "AAA") & (df.date == D("2024-01-03")))]  # only OTHER trades on 01-03
    m, _ = build_market(df, ["AAA"], start=dt.date(2024, 1, 2), end=None)
    assert len(m.sessions) == 4 and np.isnan(m.close[1, 0])


def test_missing_ticker_is_named():
    with pytest.raises(DataError, match="ticker NOPE not in the price data") as info:
        build_market(_frame(), ["AAA", "NOPE"], start=None, end=None, source="p.parquet")
    assert info.value.source == "p.parquet"


def test_start_and_end_outside_data():
    with pytest.raises(DataError, match="start 2023-12-01 is outside the price data") as info:
        build_market(_frame(), ["AAA"], start=dt.date(2023, 12, 1), end=None)
    assert info.value.where == "data.start"
    with pytest.raises(DataError, match="end 2024-02-01 is outside"):
        build_market(_frame(), ["AAA"], start=None, end=dt.date(2024, 2, 1))


def test_end_before_start():
    with pytest.raises(DataError, match="end 2024-01-03 is before start 2024-01-04"):
        build_market(_frame(), ["AAA"], start=dt.date(2024, 1, 4), end=dt.date(2024, 1, 3))


def test_no_sessions_in_range():
    df = _frame()
    df = df[df.date != D("2024-01-03")]
    with pytest.raises(DataError, match="no sessions between"):
        build_market(df, ["AAA"], start=dt.date(2024, 1, 3), end=dt.date(2024, 1, 3))


def test_no_open_column():
    df = _frame().drop(columns=["open", "dividend"])
    m, _ = build_market(df, ["AAA"], start=None, end=None)
    assert m.has_open is False and np.isnan(m.open).all() and (m.dividend == 0).all()


def test_has_open_comes_from_load_prices_attrs(tmp_path):
    path = tmp_path / "p.parquet"
    _frame().drop(columns="open").to_parquet(path)
    m, _ = build_market(load_prices(path), ["AAA"], start=None, end=None)
    assert m.has_open is False
    _frame().to_parquet(path)
    m, _ = build_market(load_prices(path), ["AAA"], start=None, end=None)
    assert m.has_open is True


def test_wide_form_equals_long_form(tmp_path):
    df = _frame()
    long_path, wide_path = tmp_path / "long.parquet", tmp_path / "wide.parquet"
    df[["date", "ticker", "close"]].to_parquet(long_path)
    df.pivot(index="date", columns="ticker", values="close").reset_index().to_parquet(wide_path)
    a, _ = build_market(load_prices(long_path), ["LATE", "AAA"], start=None, end=None)
    b, _ = build_market(load_prices(wide_path), ["LATE", "AAA"], start=None, end=None)
    assert (a.sessions == b.sessions).all() and a.tickers == b.tickers
    np.testing.assert_array_equal(a.close, b.close)
    np.testing.assert_array_equal(a.dividend, b.dividend)
    assert a.has_open == b.has_open is False


def test_early_close_and_regular_day():
    dates = ["2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]
    df = pd.DataFrame({"date": pd.to_datetime(dates), "ticker": "SPY", "close": 600.0})
    m, w = build_market(df, ["SPY"], start=None, end=None)
    assert m.close_time.tolist() == [960, 960, 780, 960]
    assert w == []


def test_non_nyse_date_warns():
    dates = ["2024-11-27", "2024-11-28", "2024-11-29"]  # Thanksgiving in the data
    df = pd.DataFrame({"date": pd.to_datetime(dates), "ticker": "SPY", "close": 600.0})
    m, w = build_market(df, ["SPY"], start=None, end=None)
    assert len(m.sessions) == 3 and m.close_time.tolist() == [960, 960, 780]
    assert any("not NYSE sessions" in x and "2024-11-28" in x for x in w)


def test_missing_nyse_session_warns():
    df = _frame()
    df = df[df.date != D("2024-01-03")]
    _, w = build_market(df, ["AAA"], start=None, end=None)
    assert any("missing from the data" in x and "2024-01-03" in x for x in w)


def test_halts_kept_only_on_run_sessions():
    halts = (
        _halt("2024-01-03"),               # kept
        _halt("2024-01-06"),               # Saturday inside range? no: after the last session
        _halt("2023-06-01"),               # before the run: dropped silently
        _halt("2024-01-04", scope="AAA"),  # kept
        _halt("2024-01-04", scope="ZZZ"),  # ticker not in the run: dropped
    )
    df = _frame()
    df = df[df.date != D("2024-01-03")]
    m, w = build_market(df, ["AAA"], start=None, end=None, halts=halts + (_halt("2024-01-03"),))
    # 2024-01-03 is not a session of this run (removed from the data)
    assert [(h.date.isoformat(), h.scope) for h in m.halts] == [("2024-01-04", "AAA")]
    assert sum("not on a session of the run" in x for x in w) == 2
    m2, _ = build_market(_frame(), ["AAA"], start=None, end=None, halts=halts)
    assert [(h.date.isoformat(), h.scope) for h in m2.halts] == [
        ("2024-01-03", "market"), ("2024-01-04", "AAA")]


def test_spec_example_data_builds():
    prices = load_prices(FIX / "tiny_prices.parquet")
    halts = load_halts(FIX / "tiny_halts.csv")
    m, w = build_market(prices, ["AAA", "BBB"], start=None, end=None, halts=halts)
    assert len(m.sessions) == 20 and m.has_open and w == []
    assert [h.date.isoformat() for h in m.halts] == ["2024-03-06"]  # CCC halt not in the run
    assert m.dividend[m.sessions.tolist().index(dt.date(2024, 3, 13)), 1] == 0.5


def test_sample_data_builds_over_33_years():
    prices = load_prices(ROOT / "data/sample/sp500_stocks.parquet")
    m, w = build_market(prices, sorted(prices.ticker.unique()), start=None, end=None)
    assert m.close.shape == (8313, 20) and not np.isnan(m.close).any()
    assert str(m.sessions[0]) == "1990-01-02" and str(m.sessions[-1]) == "2022-12-28"
    assert (m.close_time == 780).sum() > 30 and w == []


def test_500_tickers_30_years_build_dense_arrays():
    """The W2 scale (speed is measured in bench/, not here)."""
    s, n = 7560, 500
    dates = pd.bdate_range("1994-01-03", periods=s)
    names = np.array([f"T{i:03d}" for i in range(n)], dtype=object)
    df = pd.DataFrame({"date": np.repeat(dates.values, n), "ticker": np.tile(names, s),
                       "open": 1.0, "close": 2.0, "dividend": 0.0})
    df["ticker"] = df["ticker"].astype(str)
    build_market(df, list(names[:5]), start=None, end=None)  # warm the calendar cache
    m, _ = build_market(df, list(names), start=None, end=None)
    assert m.close.shape == (s, n)
    assert (m.close == 2.0).all() and (m.open == 1.0).all()
