"""Paths run together in engine batches give what each path's own run gives.

The reference is built the pre-batch way, independently of `simulate_paths`: the
path's market from `path_market` (`paths.prices_from_ratios`), one
`Simulation` stepped alone (`_run_alone`), valued by `result.value_series`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.analytics.returns import twr_index
from backtest.engine import batch
from backtest.engine.result import value_series
from backtest.engine.simulation import Simulation
from backtest.montecarlo.api import prepare
from backtest.montecarlo.runner import Batch, Payload, path_bytes, path_market, run_batch

FIRST = dt.date(2010, 1, 4)


def _setup(tmp_path: Path, cashflows: list, **extra) -> Payload:
    days = 300
    rng = np.random.default_rng(11)
    closes = np.cumprod(1 + rng.normal(0.0004, 0.015, size=(days, 4)), axis=0) * [30, 60, 15, 90]
    dates = pd.bdate_range(FIRST, periods=days).date
    rows = []
    for k, t in enumerate(("AAA", "BBB", "CCC", "DDD")):
        frame = pd.DataFrame({"date": dates, "ticker": t, "close": closes[:, k],
                              "open": closes[:, k] * (1 + rng.normal(0, 0.004, days))})
        frame["dividend"] = np.where(np.arange(days) % 63 == 20 + k, 0.3, 0.0)
        rows.append(frame)
    prices = tmp_path / "prices.parquet"
    pd.concat(rows, ignore_index=True).to_parquet(prices, index=False)
    doc = {"name": "batches", "data": {"prices": str(prices)}, "cashflows": cashflows,
           "portfolio": {"slices": {"AAA": 40, "Rest": {"target": 60, "slices": {
               "BBB": 30, "CCC": 30, "DDD": 40}}}}, **extra}
    path = tmp_path / "strategy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    setup = prepare(path, years=2)
    return Payload(setup.history, setup.plan, 3, "block-bootstrap", 21)


def _reference(payload: Payload, path: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    market, _ = path_market(payload, path)
    sim = Simulation(payload.plan.strategy, market)
    sim._run_alone()
    value, _ = value_series(sim)
    rejected = sum(e.kind == "rejected" for e in sim.ledger.events)
    return value, twr_index(value, sim.deposits, sim.payouts), float(sim.withdrawals.sum()), \
        rejected


CASES = {
    "deposits": ([{"deposit": 10000, "date": "2010-01-04"},
                  {"deposit": 300, "every": "month", "start": "2010-02-01"}], {}),
    "afternoon": ([{"deposit": 10000, "date": "2010-01-04"},
                   {"deposit": 300, "every": "month", "start": "2010-02-01"}],
                  {"account": {"window": "afternoon"}}),  # no opens read: none built
    "withdrawals": ([{"deposit": 20000, "date": "2010-01-04"},
                     {"withdrawal": 900, "every": "month", "start": "2010-02-01"}],
                    {"account": {"window": "both"}, "rebalance": {"every": "quarter"}}),
}


@pytest.mark.parametrize("case", CASES)
def test_paths_in_batches_equal_each_path_alone(tmp_path, case):
    flows, extra = CASES[case]
    payload = _setup(tmp_path, flows, **extra)
    paths = tuple(range(12))
    saved = batch.FAST_MIN
    batch.FAST_MIN = 2  # the array form runs even in the small engine batches below
    try:
        whole = run_batch(Batch(payload, paths))
        # A budget of three paths: the worker's job runs as four engine batches.
        small = run_batch(Batch(replace(payload, memory=3 * path_bytes(payload)), paths))
    finally:
        batch.FAST_MIN = saved
    for a, b in zip(whole, small, strict=True):
        assert a.path == b.path
        assert np.array_equal(a.value, b.value)
        assert (a.twr, a.withdrawals_paid, a.rejected) == (b.twr, b.withdrawals_paid, b.rejected)
        assert a.mwr == b.mwr or (math.isnan(a.mwr) and math.isnan(b.mwr))
    for result in whole:
        value, index, paid, rejected = _reference(payload, result.path)
        assert np.array_equal(result.value, value)
        assert result.twr == float(index[-1]) - 1.0
        assert (result.withdrawals_paid, result.rejected) == (paid, rejected)
    if case == "withdrawals":
        assert any(r.rejected for r in whole)  # some paths run dry: the slow path is exercised


@pytest.mark.parametrize("case", ["deposits", "withdrawals"])
def test_rate_zero_is_the_plan_without_withdrawals(tmp_path, case):
    from backtest.montecarlo.plan import rate_plan, with_withdrawals

    payload = _setup(tmp_path, CASES[case][0], **CASES[case][1])
    zero = rate_plan(payload.plan, 0.0, 0.025, "month")
    assert not [f for f in zero.strategy.cashflows if f.kind == "withdrawal"]
    assert zero.scheduled_withdrawals == 0
    # the same accounts as a schedule of $0 withdrawals, which the engine runs step by step
    flat = with_withdrawals(payload.plan, (replace(
        next(f for f in rate_plan(payload.plan, 0.01, 0.025, "month").strategy.cashflows
             if f.kind == "withdrawal"), amount=0.0),))
    a = run_batch(Batch(replace(payload, plan=zero), tuple(range(10))))
    b = run_batch(Batch(replace(payload, plan=flat), tuple(range(10))))
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.value, y.value) and (x.success, x.rejected) == (y.success, 0)


@pytest.mark.parametrize("case", CASES)
def test_rate_search_paths_value_the_last_close_only(tmp_path, case):
    # measures=False (the withdrawal-rate search) values only the last close: the
    # same number as the path's own run, alone and step by step (`_reference`)
    payload = replace(_setup(tmp_path, *CASES[case][:1], **CASES[case][1]), measures=False)
    saved = batch.FAST_MIN
    batch.FAST_MIN = 2
    try:
        quick = run_batch(Batch(payload, tuple(range(12))))
    finally:
        batch.FAST_MIN = saved
    full = run_batch(Batch(replace(payload, measures=True), tuple(range(12))))
    for q, f in zip(quick, full, strict=True):
        value, _, paid, rejected = _reference(payload, q.path)
        assert q.final_value == float(value[-1]) == f.final_value
        assert (q.withdrawals_paid, q.rejected) == (paid, rejected)
        assert (q.success, q.first_failure_session) == (f.success, f.first_failure_session)
        assert len(q.value) == 0 and math.isnan(q.twr)
