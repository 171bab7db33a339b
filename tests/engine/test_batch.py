"""A batch of accounts gives each account exactly what its own run gives.

Accounts in a batch share the calendar, the tree and the dated events; each
draws its own prices, settings, deposit and withdrawal amounts and rebalance
policy. Every table of every account must be byte-identical to the account's
single run, and to the step-by-step loop (`Simulation._run_alone`, the window
run request by request on every session), so the array form of the common
session is the same arithmetic as the window.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np
import pandas as pd
from engine_kit import market, strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.engine import batch
from backtest.engine.batch import Batch, batch_values
from backtest.engine.result import RunResult, run, tabulate
from backtest.engine.simulation import Simulation

N_DAYS = 30
TICKERS = [f"T{i}" for i in range(10)]
TABLES = ("daily", "trades", "allocations", "holdings", "drift", "events", "fills")
# Starts whose 30 sessions cross a month; a quarter (March into April); a year.
STARTS = ("2024-01-08", "2024-03-11", "2023-12-11")


def _days(start: str) -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=N_DAYS)


def _prices(draw, start: str):
    rets = draw(st.lists(st.lists(st.floats(-0.12, 0.12), min_size=N_DAYS, max_size=N_DAYS),
                         min_size=10, max_size=10))
    first = draw(st.lists(st.floats(1, 300), min_size=10, max_size=10))
    closes = {t: list(s0 * np.cumprod(1 + np.array(r)))
              for t, s0, r in zip(TICKERS, first, rets, strict=True)}
    gaps = draw(st.lists(st.floats(-0.03, 0.03), min_size=N_DAYS, max_size=N_DAYS))
    opens = {t: list(np.array(c) * (1 + np.array(gaps))) for t, c in closes.items()}
    div_day = draw(st.integers(1, N_DAYS - 1))
    divs = {"T1": [0.0] * div_day + [draw(st.floats(0.01, 2.0))] + [0.0] * (N_DAYS - div_day - 1)}
    return market(closes, opens=opens, dividends=divs, start=start, close_time=_early(draw))


def _early(draw) -> list[int] | None:
    """Early closes shared by the batch's calendar (drawn once per batch)."""
    return draw(st.shared(st.one_of(
        st.none(),
        st.lists(st.sampled_from([16 * 60] * 5 + [13 * 60, 9 * 60]), min_size=N_DAYS,
                 max_size=N_DAYS)), key="early"))


def _account(draw, shared: str, start: str):
    window = draw(st.sampled_from(["morning", "afternoon", "both"]))
    alloc = draw(st.sampled_from(["waterfill", "waterfill", "proportional"]))
    settings_ = (f"window: {window}, allocation: {alloc}, "
                 f"cash_minimum: {draw(st.sampled_from([0, 40, 300]))}, "
                 f"min_auto_invest: {draw(st.sampled_from([1, 25, 200]))}, "
                 f"min_trade: {draw(st.sampled_from([0.5, 1, 20]))}, "
                 f"share_decimals: {draw(st.sampled_from([0, 3, 5]))}, "
                 f"auto_invest: {draw(st.sampled_from(['true', 'true', 'false']))}, "
                 f"dividends: {draw(st.sampled_from(['cash', 'reinvest']))}")
    days = _days(start)
    # A monthly deposit on the first session of each month lands on the day of a
    # periodic rebalance: the rebalance runs, then auto-invest.
    month_start = next(d for d in days[1:] if d.month != days[0].month).date()
    regular = draw(st.sampled_from([f"every: week, start: {days[2].date()}",
                                    f"every: month, start: {month_start}"]))
    flows = [f"{{deposit: {draw(st.floats(100, 20000)):.2f}, date: {days[0].date()}}}",
             f"{{deposit: {draw(st.floats(1, 900)):.2f}, {regular}}}"]
    if draw(st.booleans()):
        flows.append(f"{{withdrawal: {draw(st.floats(1, 3000)):.2f}, every: 2weeks, "
                     f"start: {days[9].date()}}}")
    every = draw(st.sampled_from(["never", "month", "month", "quarter", "year"]))
    band = draw(st.sampled_from(["", "", ", drift_band: 3"]))
    return f"""
account: {{{settings_}}}
cashflows: [{", ".join(flows)}]
rebalance: {{every: {every}{band}}}
{shared}
"""


@st.composite
def batches(draw):
    start = draw(st.sampled_from(STARTS))
    days = _days(start)
    shape = draw(st.sampled_from(["nested", "flat", "wide", "deep"]))
    pie = {"nested": "{slices: {T0: 40, Sub: {target: 60, slices: {T1: 30, T2: 45, T3: 25}}}}",
           "deep": "{slices: {T0: 15, A: {target: 50, slices: {T1: 20, B: {target: 80, "
                   "slices: {T2: 50, T3: 25, T4: 25}}}}, C: {target: 35, slices: "
                   "{T5: 60, T6: 40}}}}",
           "flat": "{slices: {T0: 10, T1: 20, T2: 30, T3: 40}}",
           # ten slices: sums over more than eight terms (numpy's pairwise sums differ)
           "wide": "{slices: {T0: 10, T1: 10, T2: 10, T3: 10, T4: 10, T5: 10, T6: 10, "
                   "T7: 10, T8: 10, T9: 10}}"}[shape]
    removing = shape == "flat" and draw(st.booleans())
    events = []
    if draw(st.booleans()):
        d = days[draw(st.integers(1, N_DAYS - 1))].date()
        events.append(f"{{date: {d}, order: {{slice: T0, side: buy, amount: 500}}}}")
    if draw(st.booleans()):
        d = days[draw(st.integers(1, N_DAYS - 1))].date()
        events.append(f"{{date: {d}, rebalance: portfolio}}")
    if not removing and draw(st.booleans()):
        d = days[draw(st.integers(1, N_DAYS - 1))].date()
        sl = {"nested": "{pie: Sub, slices: {T1: 50, T2: 25, T3: 25}}",
              "flat": "{pie: portfolio, slices: {T0: 25, T1: 25, T2: 25, T3: 25}}",
              "deep": "{pie: A/B, slices: {T2: 10, T3: 10, T4: 80}}",
              "wide": "{pie: portfolio, slices: {T0: 19, T1: 9, T2: 9, T3: 9, T4: 9, "
                      "T5: 9, T6: 9, T7: 9, T8: 9, T9: 9}}"}[shape]
        events.append(f"{{date: {d}, set_targets: {sl}}}")
    if removing:  # a slice removed, then added back empty
        d1, d2 = sorted(draw(st.lists(st.integers(1, N_DAYS - 1), min_size=2, max_size=2,
                                      unique=True)))
        events.append(f"{{date: {days[d1].date()}, remove_slice: T3, "
                      "targets: {T0: 20, T1: 30, T2: 50}}")
        events.append(f"{{date: {days[d2].date()}, add_slice: {{pie: portfolio, "
                      "slices: {T0: 10, T1: 20, T2: 30, T3: 40}}}")
    shared = f"portfolio: {pie}\nevents: [{', '.join(events)}]"
    k = draw(st.integers(1, 4))
    return [(strategy(_account(draw, shared, start)), _prices(draw, start)) for _ in range(k)]


def _bytes(result: RunResult, name: str) -> bytes:
    buf = io.BytesIO()
    getattr(result, name).to_parquet(buf)
    return buf.getvalue()


def _assert_same(a: RunResult, b: RunResult) -> None:
    for name in TABLES:
        assert _bytes(a, name) == _bytes(b, name), name
    assert (a.total_deposits, a.total_withdrawals, a.total_dividends) == (
        b.total_deposits, b.total_withdrawals, b.total_dividends)


PROPS = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def array_form_from(accounts: int):
    """Run the common session in array form from this many accounts up."""
    saved = batch.FAST_MIN
    batch.FAST_MIN = accounts
    try:
        yield
    finally:
        batch.FAST_MIN = saved


@PROPS
@given(batches())
def test_every_account_of_a_batch_equals_its_single_run(accounts):
    """Singles step by step (a batch of one), the batch in array form."""
    singles = [run(Simulation(s, m)) for s, m in accounts]
    sims = [Simulation(s, m) for s, m in accounts]
    with array_form_from(1):
        Batch(sims).run()
    for sim, single in zip(sims, singles, strict=True):
        _assert_same(tabulate(sim), single)
    # The compact arrays (no tables) give the daily table's value and cash exactly.
    compact = [Simulation(s, m) for s, m in accounts]
    with array_form_from(1):
        state = Batch(compact, tables=False).run()
    ffill = np.stack([s._close_ffill for s in compact])
    value, cash = batch_values(compact, state, ffill)
    for k, single in enumerate(singles):
        assert np.array_equal(value[k], single.daily["value"].to_numpy())
        assert np.array_equal(cash[k], single.daily["cash"].to_numpy())


@PROPS
@given(batches())
def test_a_batch_of_one_equals_the_step_by_step_loop(accounts):
    """The array form on one account gives what `_run_alone` (the pre-batch loop) gives."""
    for s, m in accounts:
        alone = Simulation(s, m)
        alone._run_alone()
        with array_form_from(1):
            one = run(Simulation(s, m))
        _assert_same(tabulate(alone), one)
