"""Measures of a withdrawal plan: when the money ran out, how much it asked for.

`depleted_on`: the first session on which a withdrawal could not be paid in
full (the engine rejects a withdrawal larger than the account).
`withdrawal_rate`: withdrawals paid in the first year (the sessions before
the first session's anniversary) over the starting balance (the deposits of
the first session), the figure a "4% rule" reader compares with.
`schedule_coverage`: recurring withdrawals whose `end` stops them before the
horizon, as "withdrawals: 62 of 360 months", so that a success never hides a
plan that stopped paying.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from backtest.domain.strategy import Cashflow
from backtest.engine.ledger import EventKind
from backtest.engine.schedule import add_months, cashflow_sessions

UNITS = {"week": "weeks", "2weeks": "fortnights", "month": "months", "quarter": "quarters",
         "year": "years"}


def is_rejected_withdrawal(kind: str, detail: str) -> bool:
    return kind == EventKind.REJECTED and str(detail).startswith("withdrawal")


def depleted_on(events: pd.DataFrame) -> dt.date | None:
    """The date of the first rejected withdrawal, or None when every one was paid."""
    if events is None or not len(events):
        return None
    hit = [d for d, k, det in zip(events["date"], events["kind"], events["detail"], strict=True)
           if is_rejected_withdrawal(str(k), str(det))]
    return pd.Timestamp(min(hit)).date() if hit else None


def first_year_mask(dates: np.ndarray) -> np.ndarray:
    """Sessions before the first session's first anniversary."""
    days = np.asarray(dates, dtype="datetime64[D]")
    if not len(days):
        return np.zeros(0, dtype=bool)
    anniversary = add_months(days[0].astype(object), 12)
    return days < np.datetime64(anniversary, "D")


def withdrawal_rate(dates: np.ndarray, deposits: np.ndarray,
                    withdrawals: np.ndarray) -> float | None:
    """First-year withdrawals over the first session's deposits (None without either)."""
    deposits = np.asarray(deposits, dtype=float)
    withdrawals = np.asarray(withdrawals, dtype=float)
    if not len(deposits) or deposits[0] <= 0:
        return None
    paid = float(withdrawals[first_year_mask(dates)].sum())
    return paid / float(deposits[0]) if paid > 0 else 0.0


def schedule_coverage(flows: Iterable[Cashflow], sessions: np.ndarray) -> list[str]:
    """"withdrawals: 62 of 360 months" for every recurring withdrawal that ends early."""
    out = []
    if not len(sessions):
        return out
    last = np.asarray(sessions, dtype="datetime64[D]")[-1].astype(object)
    for flow in flows:
        if flow.kind != "withdrawal" or flow.every is None or flow.end is None \
                or flow.end >= last:
            continue
        paid = len(cashflow_sessions(flow, sessions))
        whole = len(cashflow_sessions(replace(flow, end=None), sessions))
        if paid < whole:
            out.append(f"withdrawals: {paid} of {whole} {UNITS[flow.every]} "
                       f"(the schedule ends on {flow.end})")
    return out
