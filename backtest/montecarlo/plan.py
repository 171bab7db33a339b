"""The strategy projected onto the synthetic future sessions (pure apart from the calendar).

Synthetic sessions are the NYSE sessions (exchange_calendars ``XNYS``: its
holidays, so about 252 sessions a year and a simulated "year" of 252
sessions is close to a calendar year) from the day after the history's last
session; when the calendar cannot cover the span, Monday-Friday business
days. Every session closes at the regular 16:00 (no early closes) and there
are no halts.

Cash flows are moved forward by the distance from the strategy's first
session in the data (``h0``) to the first synthetic session (``s0``):

* A **one-off** deposit or withdrawal dated on or before ``h0`` (the initial
  deposit: the engine moves earlier dates to the first session) happens on
  ``s0``. Other one-off items are dropped, with a warning: they belong to a
  historical date that the synthetic future does not have.
* A **recurring** schedule keeps its frequency and amount. Monthly,
  quarterly and yearly schedules are moved by the whole number of months
  from ``h0``'s month to ``s0``'s month (so the day of the month and the
  delay after the start are kept: $500 from the month after the initial
  deposit stays that way); weekly ones by whole weeks (their weekday is
  kept). A schedule that the move starts a few days before the first
  synthetic session although the history paid its first occurrence (a
  withdrawal from the history's first day) starts on that session instead.
  A schedule whose ``end`` is on or after the strategy's last session
  (it ran to the end of the data) runs to the end of every path; an earlier
  ``end`` is moved like the start, so the schedule lasts as long as it did.
* An **indexed** amount keeps rising once a year from its moved start; an
  item indexed to the CPI rises by the run's ``inflation`` rate instead (the
  future has no CPI), and a **percent** withdrawal stays a percent of the
  account.
* **Dated events** (set_targets, add_slice, remove_slice, orders, rebalance
  requests) are dropped with a warning. The account settings and the
  rebalancing policy (periodic and drift band) are kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from backtest.analytics.withdrawals import schedule_coverage
from backtest.domain.strategy import Cashflow, Strategy
from backtest.engine.schedule import (
    PER_YEAR,
    STEP_DAYS,
    STEP_MONTHS,
    add_months,
    cashflow_amounts,
    index_factor,
)

SESSIONS_PER_YEAR = 252
_CAL_LAST_YEAR = 2261  # pandas' nanosecond timestamps (and so exchange_calendars) end in 2262


@dataclass(frozen=True, eq=False)
class Plan:
    """What every path runs: the projected strategy on the synthetic sessions."""

    strategy: Strategy
    sessions: np.ndarray  # datetime64[D]
    scheduled_withdrawals: float  # dollars the plan asks to withdraw over a path
    withdrawal_sessions: np.ndarray  # session index of every scheduled withdrawal
    warnings: tuple[str, ...] = ()
    coverage: tuple[str, ...] = ()  # "withdrawals: 62 of 360 months" for early ends
    starting_balance: float = 0.0  # deposits on the first session


@functools.lru_cache(maxsize=8)
def _nyse_sessions(first_year: int, last_year: int) -> np.ndarray | None:
    """XNYS session days of whole years [first_year, last_year], or None if unavailable."""
    try:
        with warnings.catch_warnings():  # its pandas deprecation noise is not the user's
            warnings.simplefilter("ignore")
            import exchange_calendars as xc

            cal = xc.get_calendar("XNYS", start=f"{first_year}-01-01",
                                  end=f"{last_year}-12-31")
            days = cal.sessions.to_numpy().astype("datetime64[D]")
    except Exception:  # noqa: BLE001 (any calendar failure: plain business days)
        return None
    days.setflags(write=False)
    return days


def synthetic_sessions(after: dt.date, n: int) -> np.ndarray:
    """`n` session dates (datetime64[D]) from the day after `after` (see the module doc)."""
    first = after + dt.timedelta(days=1)
    span_end = first + dt.timedelta(days=int(n * 1.5) + 30)
    if n > 0 and span_end.year <= _CAL_LAST_YEAR:
        days = _nyse_sessions(first.year, span_end.year)
        if days is not None:
            days = days[days >= np.datetime64(first, "D")]
            if len(days) >= n:
                return days[:n].copy()
    start = np.busday_offset(np.datetime64(first, "D"), 0, roll="forward")
    return np.busday_offset(start, np.arange(n)).astype("datetime64[D]")


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year * 12 + b.month) - (a.year * 12 + a.month)


def _month_dates(flow: Cashflow, k: int, last: dt.date) -> list[dt.date]:
    """The original schedule's occurrences moved by `k` months, up to `last`."""
    assert flow.every is not None and flow.start is not None
    step = STEP_MONTHS[flow.every]
    out, j = [], 0
    while True:
        d = add_months(flow.start, k + step * j)
        if d > last:
            return out
        out.append(d)
        j += 1


def project_cashflows(flows: tuple[Cashflow, ...], h0: dt.date, h_last: dt.date,
                      sessions: np.ndarray, inflation: float = 0.025
                      ) -> tuple[tuple[Cashflow, ...], list[str]]:
    """The cash flows moved from the history's first session `h0` onto `sessions`."""
    s0 = sessions[0].astype(object)
    s_last = sessions[-1].astype(object)
    out: list[Cashflow] = []
    warnings: list[str] = []
    if any(f.indexed == "cpi" for f in flows):
        warnings.append(f"CPI-indexed amounts rise by --inflation ({inflation:.2%} a year) "
                        "on every path: the future has no CPI")
        flows = tuple(replace(f, indexed=float(inflation), cpi=None) if f.indexed == "cpi"
                      else f for f in flows)
    for flow in flows:
        what = (f"{flow.kind} of {flow.percent:.2%} a year" if flow.percent is not None
                else f"{flow.kind} of {flow.amount:,.2f}")
        if flow.date is not None:
            if flow.date <= h0:
                out.append(replace(flow, date=s0))
            else:
                warnings.append(f"one-off {what} on {flow.date} dropped: only one-off "
                                f"items on the first session ({h0}) are projected")
            continue
        assert flow.every is not None and flow.start is not None
        open_ended = flow.end is None or flow.end >= h_last
        if not open_ended:
            warnings.append(f"recurring {what} every {flow.every} ends as in the strategy: "
                            f"{flow.start} to {flow.end}, moved forward (remove its end to "
                            "keep it for the whole path)")
        if flow.every in STEP_DAYS:
            step = STEP_DAYS[flow.every]
            shift = dt.timedelta(days=step * math.ceil((s0 - h0).days / step))
            end = None if open_ended else flow.end + shift
            out.append(replace(flow, start=flow.start + shift, end=end))
            continue
        k = _months_between(h0, s0)
        start = add_months(flow.start, k)
        end = None if open_ended else add_months(flow.end, k)
        if flow.start >= h0 and start < s0 and (end is None or s0 <= end):
            # The history paid this occurrence (on or after its first session); moved, it
            # falls just before the first synthetic session: the schedule starts there
            # instead (as the first deposit does), on that session's day of the month.
            out.append(replace(flow, start=s0, end=end))
            continue
        if start.day == flow.start.day:
            out.append(replace(flow, start=start, end=end))
        else:
            # The moved start falls in a month too short for its day (the 29th-31st):
            # a recurring item would repeat the clamped day, so list the dates instead.
            last = s_last if end is None else min(end, s_last)
            moved = replace(flow, start=start)
            per = PER_YEAR[flow.every]
            out.extend(replace(flow, date=d, every=None, start=None, end=None, indexed=None,
                               amount=flow.amount * index_factor(moved, d, None),
                               percent=None if flow.percent is None else flow.percent / per)
                       for d in _month_dates(flow, k, last) if d >= s0)
    return tuple(out), warnings


def make_plan(strategy: Strategy, first_session: dt.date, last_session: dt.date,
              sessions: np.ndarray, inflation: float = 0.025) -> Plan:
    """Project `strategy` (whose run covered first..last_session) onto `sessions`."""
    flows, warnings = project_cashflows(strategy.cashflows, first_session, last_session,
                                        sessions, inflation)
    if strategy.events:
        kinds = sorted({type(e).__name__ for e in strategy.events})
        warnings.append(f"{len(strategy.events)} dated event(s) dropped ({', '.join(kinds)}): "
                        "the synthetic future has no historical dates")
    s0, s_last = sessions[0].astype(object), sessions[-1].astype(object)
    projected = replace(strategy, cashflows=flows, events=(),
                        data=replace(strategy.data, start=s0, end=s_last, halts=None))
    return plan_of(projected, sessions, tuple(warnings))


def plan_of(strategy: Strategy, sessions: np.ndarray, warnings: tuple[str, ...] = ()) -> Plan:
    """The `Plan` of a strategy whose cash flows are already on the synthetic sessions."""
    w_sessions: list[int] = []
    total = start = 0.0
    for flow in strategy.cashflows:
        amounts = cashflow_amounts(flow, sessions)
        if flow.kind == "withdrawal":
            w_sessions.extend(i for i, _, _ in amounts)
            total += sum(a for _, a, _ in amounts)
        else:
            start += sum(a for i, a, _ in amounts if i == 0)
    return Plan(strategy, sessions, total, np.array(sorted(w_sessions), dtype=np.int64),
                warnings, tuple(schedule_coverage(strategy.cashflows, sessions)), start)


def with_withdrawals(plan: Plan, flows: tuple[Cashflow, ...]) -> Plan:
    """`plan` with its withdrawals replaced by `flows` (deposits kept)."""
    kept = tuple(f for f in plan.strategy.cashflows if f.kind == "deposit")
    return plan_of(replace(plan.strategy, cashflows=kept + tuple(flows)), plan.sessions,
                   plan.warnings)


def withdrawal_frequency(plan: Plan) -> str:
    """The frequency of the plan's first recurring withdrawal (month without one)."""
    return next((f.every for f in plan.strategy.cashflows
                 if f.kind == "withdrawal" and f.every is not None), "month")


def rate_plan(plan: Plan, rate: float, inflation: float, every: str | None = None) -> Plan:
    """The plan withdrawing `rate` of its starting balance a year (split over the year's
    occurrences) from the first session to the end, raised by `inflation` every year.

    Rate 0 is the plan without withdrawals: a schedule of $0 withdrawals pays and
    sells nothing, so the account is the same, but each of its sessions would
    run the engine's step-by-step window instead of the array form."""
    every = every or withdrawal_frequency(plan)
    if rate == 0:
        return with_withdrawals(plan, ())
    s0 = plan.sessions[0].astype(object)
    amount = rate * plan.starting_balance / PER_YEAR[every]
    flow = Cashflow("withdrawal", amount, every=every, start=s0, indexed=float(inflation))
    return with_withdrawals(plan, (flow,))
