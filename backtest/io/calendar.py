"""Closing times and session checks from the NYSE calendar (exchange_calendars XNYS).

The data's dates are the sessions; the calendar only tells when each one
closes (16:00 ET normally, 13:00 on early closes such as the day after
Thanksgiving) and lets the run warn about data dates that are not NYSE
sessions (treated as ordinary full days) and NYSE sessions missing from the
data. A date the calendar cannot cover is a regular full day.

exchange_calendars builds XNYS for the last 20 years by default, so the
calendar is built explicitly for the data's year range (clamped to what the
calendar class supports); construction is slow (~0.3 s) and cached per range.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings as _warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REGULAR_CLOSE = 16 * 60
NY = "America/New_York"
SHOW = 5  # dates listed in a summarised warning

# Years a pandas nanosecond timestamp (and so exchange_calendars) can hold.
_MIN_YEAR, _MAX_YEAR = 1678, 2261


@dataclass(frozen=True)
class SessionCheck:
    """Closing times of the given sessions and what the NYSE calendar says about them."""

    close_time: np.ndarray  # int64 minutes after midnight ET, one per session
    not_sessions: tuple[dt.date, ...] = ()  # data dates that are not NYSE sessions
    missing: tuple[dt.date, ...] = ()  # NYSE sessions in range absent from the data
    warnings: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=8)
def _xnys(first_year: int, last_year: int):
    """XNYS (session days, close minutes ET) for years [first_year, last_year], or None."""
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar as cls
        lo, hi = pd.Timestamp(f"{first_year}-01-01"), pd.Timestamp(f"{last_year}-12-31")
        bmin = cls.bound_min() if hasattr(cls, "bound_min") else None
        bmax = cls.bound_max() if hasattr(cls, "bound_max") else None
        if bmin is not None:
            lo = max(lo, pd.Timestamp(bmin).tz_localize(None).normalize())
        if bmax is not None:
            hi = min(hi, pd.Timestamp(bmax).tz_localize(None).normalize())
        if lo > hi:
            return None
        with _warnings.catch_warnings():  # its pandas deprecation noise is not the user's
            _warnings.simplefilter("ignore")
            cal = cls(start=lo, end=hi)
            days = cal.sessions.to_numpy().astype("datetime64[D]")
            closes = cal.schedule["close"].dt.tz_convert(NY)
            minutes = (closes.dt.hour * 60 + closes.dt.minute).to_numpy().astype(np.int64)
        if len(days) == 0:
            return None
        days.setflags(write=False)
        minutes.setflags(write=False)
        return days, minutes
    except Exception:
        return None


def _calendar_for(first: pd.Timestamp, last: pd.Timestamp):
    y0 = min(max(first.year, _MIN_YEAR), _MAX_YEAR)
    y1 = min(max(last.year, _MIN_YEAR), _MAX_YEAR)
    return _xnys(y0, y1)


def _as_days(sessions) -> np.ndarray:
    return np.asarray(sessions).astype("datetime64[D]")


def check_sessions(sessions) -> SessionCheck:
    """Close times and calendar warnings for a sorted array of session dates."""
    days = _as_days(sessions)
    n = len(days)
    close_time = np.full(n, REGULAR_CLOSE, dtype=np.int64)
    if n == 0:
        return SessionCheck(close_time)
    first, last = pd.Timestamp(days[0]), pd.Timestamp(days[-1])
    cal = _calendar_for(first, last)
    if cal is None:
        return SessionCheck(
            close_time,
            warnings=["NYSE calendar unavailable: every session is treated as a full day "
                      "closing at 16:00 ET"],
        )

    cal_days, cal_close = cal
    covered = (days >= cal_days[0]) & (days <= cal_days[-1])
    pos = np.searchsorted(cal_days, days)
    pos_c = np.minimum(pos, len(cal_days) - 1)
    is_session = (pos < len(cal_days)) & (cal_days[pos_c] == days)
    close_time[is_session] = cal_close[pos_c[is_session]]

    not_sessions = days[covered & ~is_session]
    in_range = (cal_days >= days[0]) & (cal_days <= days[-1])
    missing = np.setdiff1d(cal_days[in_range], days, assume_unique=True)

    warnings = []
    if len(not_sessions):
        warnings.append(
            f"{len(not_sessions)} data date(s) are not NYSE sessions and are treated as "
            f"full days: {_summary(not_sessions)}"
        )
    if len(missing):
        warnings.append(
            f"{len(missing)} NYSE session(s) between {_d(days[0])} and {_d(days[-1])} "
            f"are missing from the data: {_summary(missing)}"
        )
    return SessionCheck(
        close_time,
        not_sessions=tuple(d.astype(object) for d in not_sessions),
        missing=tuple(d.astype(object) for d in missing),
        warnings=warnings,
    )


def close_times(sessions) -> np.ndarray:
    """Closing time (minutes after midnight ET) of each session date."""
    return check_sessions(sessions).close_time


def _d(day: np.datetime64) -> str:
    return str(day.astype("datetime64[D]"))


def _summary(days: np.ndarray) -> str:
    shown = ", ".join(_d(d) for d in days[:SHOW])
    more = len(days) - SHOW
    return shown + (f" and {more} more" if more > 0 else "")
