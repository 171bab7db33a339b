"""Dated actions onto sessions: one-off dates and recurring schedules.

A dated action on a non-session day moves to the next session. Recurring
schedules repeat from `start` (its day of month, clamped to short months)
until `end` or the run's last session; occurrences before the run's first
session are not applied (the schedule was already running), while a one-off
date before it moves to the first session. Anything after the last session
does not happen.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

import numpy as np

from backtest.domain.strategy import Cashflow

STEP_DAYS = {"week": 7, "2weeks": 14}
STEP_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def add_months(start: dt.date, months: int) -> dt.date:
    """`start` moved by whole months, keeping its day (clamped to the month's end)."""
    total = start.year * 12 + start.month - 1 + months
    year, month = divmod(total, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day)


def occurrences(every: str, start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """The dates of a recurring schedule from `start` to `end` inclusive."""
    k = 0
    while True:
        if every in STEP_DAYS:
            d = start + dt.timedelta(days=STEP_DAYS[every] * k)
        else:
            d = add_months(start, STEP_MONTHS[every] * k)
        if d > end:
            return
        yield d
        k += 1


def session_of(sessions: np.ndarray, date: dt.date) -> int | None:
    """The index of the first session on or after `date`, or None past the end."""
    i = int(np.searchsorted(sessions, np.datetime64(date, "D"), side="left"))
    return i if i < len(sessions) else None


def cashflow_sessions(flow: Cashflow, sessions: np.ndarray) -> list[int]:
    """The sessions on which `flow` happens (a session may repeat)."""
    if flow.date is not None:
        i = session_of(sessions, flow.date)
        return [] if i is None else [i]
    assert flow.every is not None and flow.start is not None
    last = sessions[-1].astype(object)
    end = min(flow.end, last) if flow.end is not None else last
    first = sessions[0].astype(object)
    out = []
    for d in occurrences(flow.every, flow.start, end):
        if d < first:
            continue
        i = session_of(sessions, d)
        if i is not None:
            out.append(i)
    return out


def new_period_sessions(sessions: np.ndarray, every: str) -> np.ndarray:
    """Sessions that open a new calendar month/quarter/year (never the first)."""
    if every == "never" or len(sessions) < 2:
        return np.zeros(len(sessions), dtype=bool)
    months = sessions.astype("datetime64[M]").astype(np.int64)
    key = {"month": months, "quarter": months // 3, "year": months // 12}[every]
    out = np.zeros(len(sessions), dtype=bool)
    out[1:] = key[1:] != key[:-1]
    return out
