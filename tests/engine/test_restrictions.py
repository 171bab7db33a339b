"""Halts and missing prices reach the window as one `Restrictions` value."""

from __future__ import annotations

import datetime as dt

import numpy as np

from backtest.domain.halts import Halt
from backtest.engine.restrictions import Restrictions
from backtest.engine.simulation import Simulation
from tests.engine.engine_kit import day, market, simulate, strategy


def test_restrictions_of_columns_and_reasons():
    r = Restrictions.of(3, {2: "C halted (LULD 14:00-close)"})
    assert r.halted.tolist() == [False, False, True]
    assert r.any
    assert r.reason(2) == "C halted (LULD 14:00-close)" and r.reason(0) == ""
    none = Restrictions.none(3)
    assert not none.any and not none.halted.any() and none.reason(1) == ""


def test_window_prices_build_one_value_from_halts_and_missing_prices():
    # B has no price on day 1, C is halted from 14:00 to the close: both restricted
    # in the afternoon window (15:00), A is not; a halt on a column without a price
    # is said as the halt.
    halts = (Halt(dt.date(2024, 1, 9), 14 * 60, None, "C", "LULD"),
             Halt(dt.date(2024, 1, 9), 14 * 60, 15 * 60 + 30, "D", "LULD"))
    mkt = market({"A": [10.0] * 2, "B": [10.0, np.nan], "C": [10.0] * 2,
                  "D": [10.0, np.nan]}, halts=halts)
    sim = Simulation(strategy("account: {window: afternoon}\n"
                              "portfolio: {slices: {A: 25, B: 25, C: 25, D: 25}}"), mkt)
    prices = sim._window_prices(1, "afternoon", list(halts))
    r = prices.restrictions
    assert r.halted.tolist() == [False, True, True, True]
    assert [r.reason(c) for c in range(4)] == [
        "", "B has no price", "C halted (LULD 14:00-close)", "D halted (LULD 14:00-15:30)"]


def test_a_deferred_rebalance_names_every_restricted_leg():
    # Day 0: 1000 into A/B (50 shares each at 10). Day 1: B has no price and A is
    # halted; a rebalance to A 20 / B 80 needs both legs: deferred with both reasons,
    # in column order, then it trades on day 2 (A sells 30 shares, B buys 30).
    halt = (Halt(dt.date(2024, 1, 9), 14 * 60, None, "A", "LULD"),)
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events:
  - {date: 2024-01-09, set_targets: {pie: portfolio, slices: {A: 20, B: 80}}}
  - {date: 2024-01-09, rebalance: portfolio}
""")
    r = simulate(s, market({"A": [10.0] * 3, "B": [10.0, np.nan, 10.0]}, halts=halt))
    e = r.events[r.events["date"] == day(1)]
    deferred = e[e["kind"] == "halt_deferred"]["detail"].tolist()
    assert len(deferred) == 1
    assert deferred[0].endswith(": A halted (LULD 14:00-close); B has no price")
    h = r.holdings[r.holdings["date"] == day(2)].set_index("slice")["shares"].to_dict()
    assert h == {"A": 20.0, "B": 80.0}
