"""NYSE close times and session warnings from exchange_calendars."""

from __future__ import annotations

import datetime as dt

import numpy as np

from backtest.io.calendar import check_sessions, close_times


def _days(*dates: str) -> np.ndarray:
    return np.array(dates, dtype="datetime64[D]")


def test_early_close_day_after_thanksgiving():
    ct = close_times(_days("2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"))
    assert ct.tolist() == [960, 960, 780, 960]


def test_christmas_eve_and_old_dates_are_covered():
    # exchange_calendars' default covers only 20 years; 1997 must still be known.
    ct = close_times(_days("1997-12-23", "1997-12-24", "1997-12-26"))
    assert ct.tolist() == [960, 780, 780]


def test_non_session_date_warns_and_is_a_full_day():
    check = check_sessions(_days("2024-11-27", "2024-11-28", "2024-11-29"))  # 28th: Thanksgiving
    assert check.not_sessions == (dt.date(2024, 11, 28),)
    assert check.close_time.tolist() == [960, 960, 780]
    assert any("not NYSE sessions" in w and "2024-11-28" in w for w in check.warnings)


def test_missing_sessions_are_summarised():
    # one date a month for a year: about 240 NYSE sessions are missing
    days = np.arange("2023-01-03", "2023-12-29", 30, dtype="datetime64[D]")
    days = np.array([d for d in days if d.astype(object).weekday() < 5], dtype="datetime64[D]")
    check = check_sessions(days)
    missing = [w for w in check.warnings if "missing from the data" in w]
    assert len(missing) == 1
    assert len(check.missing) > 200
    assert "and" in missing[0] and "more" in missing[0] and len(missing[0]) < 300


def test_full_data_has_no_warnings():
    check = check_sessions(_days("2024-03-01", "2024-03-04", "2024-03-05"))
    assert check.warnings == [] and check.missing == () and check.not_sessions == ()


def test_empty_input():
    assert check_sessions(np.array([], dtype="datetime64[D]")).close_time.shape == (0,)
