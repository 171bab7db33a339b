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

from backtest.domain.strategy import Cashflow, PriceIndex

STEP_DAYS = {"week": 7, "2weeks": 14}
STEP_MONTHS = {"month": 1, "quarter": 3, "year": 12}
PER_YEAR = {"week": 52, "2weeks": 26, "month": 12, "quarter": 4, "year": 1}


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


def cashflow_dates(flow: Cashflow, sessions: np.ndarray) -> list[tuple[dt.date, int]]:
    """(scheduled date, session index) of every time `flow` happens."""
    if flow.date is not None:
        i = session_of(sessions, flow.date)
        return [] if i is None else [(flow.date, i)]
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
            out.append((d, i))
    return out


def cashflow_sessions(flow: Cashflow, sessions: np.ndarray) -> list[int]:
    """The sessions on which `flow` happens (a session may repeat)."""
    return [i for _, i in cashflow_dates(flow, sessions)]


def whole_years(start: dt.date, day: dt.date) -> int:
    """Anniversaries of `start` on or before `day` (0 in the first year)."""
    y = day.year - start.year
    if y > 0 and add_months(start, 12 * y) > day:
        y -= 1
    return max(y, 0)


def index_factor(flow: Cashflow, day: dt.date, cpi: PriceIndex | None = None) -> float:
    """How much `flow`'s amount has grown by `day`: raised on each anniversary of its
    start, by `(1 + rate) ** years` or by the CPI's level then over its level at the start."""
    if flow.indexed is None or flow.start is None:
        return 1.0
    years = whole_years(flow.start, day)
    if flow.indexed == "cpi":
        cpi = cpi or flow.cpi
        if cpi is None:
            raise ValueError("a cash flow indexed to the CPI needs its CPI series")
        if years == 0:
            return 1.0
        return cpi.level_on(add_months(flow.start, 12 * years)) / cpi.level_on(flow.start)
    return (1.0 + float(flow.indexed)) ** years


def cashflow_amounts(flow: Cashflow, sessions: np.ndarray, cpi: PriceIndex | None = None
                     ) -> list[tuple[int, float, float | None]]:
    """(session, dollars, fraction) of every occurrence of `flow`.

    A percent withdrawal has `fraction` (of the account's value when it is paid:
    the yearly percent over the year's occurrences) and no dollars yet.
    """
    out: list[tuple[int, float, float | None]] = []
    for d, i in cashflow_dates(flow, sessions):
        if flow.percent is not None:
            per = 1 if flow.every is None else PER_YEAR[flow.every]
            out.append((i, 0.0, flow.percent / per))
        else:
            out.append((i, flow.amount * index_factor(flow, d, cpi), None))
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


def cashflow_values(flow: Cashflow, sessions: np.ndarray) -> list[tuple[float, float | None]]:
    """(dollars, fraction) of every occurrence, in the order of `cashflow_sessions`."""
    return [(a, f) for _, a, f in cashflow_amounts(flow, sessions)]
