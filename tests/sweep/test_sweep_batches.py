"""Variants run in engine batches: every comparison column equals the variant's own run.

The expected numbers are not the sweep's: each variant's document is run on
its own through `backtest run`'s chain (`app.execute`, a batch of one), and
its summary.json values are what the table row must hold, exactly (the same
operations give the same bits). The grids are big enough for jobs of at least
8 accounts, so the engine takes its array form for the common sessions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest import app
from backtest.engine import batch as batch_module
from backtest.io.inputs import market_for
from backtest.io.strategy_file import parse_strategy
from backtest.sweep import SerialExecutor, compare, plan
from backtest.sweep.comparison import EXTRA_METRICS, METRICS, PLAN_METRICS
from backtest.sweep.jobs import make_jobs
from backtest.sweep.runner import Task

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples"
BASIC_GRID = {"account.window": ["morning", "afternoon"],
              "account.cash_minimum": [0, 50],
              "rebalance.every": ["never", "month"],
              "account.allocation": ["waterfill", "proportional"],
              "cashflows.1.deposit": [100, 250]}  # 32 variants
NESTED_GRID = {"account.window": ["morning", "afternoon"],
               "account.cash_minimum": [0, 50, 200],
               "cashflows.2.withdrawal": [400, 9000]}  # 12; 9000 is more than the account


def single(variant) -> tuple[dict, pd.DataFrame]:
    """The variant's document run on its own: its summary.json and drift table."""
    doc = variant.document
    strategy = parse_strategy(doc, source=variant.source, base_dir=variant.source.parent)
    market, _ = market_for(strategy)
    done = app.execute(strategy, market, risk_free=0.0)
    return json.loads(json.dumps(done.summary)), done.result.drift  # as written to disk


def same(a, b) -> bool:
    missing = [x is None or (isinstance(x, float) and math.isnan(x)) for x in (a, b)]
    if any(missing):
        return all(missing)
    return a == b


@pytest.fixture(scope="module")
def batch_sizes():
    """The sizes of the engine batches the sweeps ran (spied at the engine's entry)."""
    sizes: list[int] = []
    real = batch_module.run_batch
    mp = pytest.MonkeyPatch()

    def spy(sims, *args, **kwargs):
        sizes.append(len(sims))
        return real(sims, *args, **kwargs)

    mp.setattr(batch_module, "run_batch", spy)
    yield sizes
    mp.undo()


@pytest.mark.parametrize(("stem", "grid"), [("basic", BASIC_GRID), ("nested", NESTED_GRID)])
def test_every_column_equals_the_variants_own_run(stem, grid, batch_sizes, tmp_path) -> None:
    path = SPEC / f"{stem}.yaml"
    batch_sizes.clear()
    table = compare(path, grid, tmp_path / "cmp", SerialExecutor(), report=False)
    n = math.prod(len(v) for v in grid.values())
    assert max(batch_sizes) >= 8 and sum(batch_sizes) >= n  # batches in array form
    assert table["error"].isna().all()
    by_hash = {v.hash: v for v in plan(path, grid)}
    checked = 0
    for _, row in table.iterrows():
        if row["hash"] not in by_hash:  # the file as written, run as the baseline
            continue
        summary, drift = single(by_hash[row["hash"]])
        for col in (*METRICS, *PLAN_METRICS, "depleted_on", *EXTRA_METRICS):
            if col == "mean_abs_drift":
                # by hand from the run's own drift table: mean |actual - target|
                d = np.abs(drift["actual"].to_numpy(float) - drift["target"].to_numpy(float))
                want = float(np.mean(d[~np.isnan(d)]))
                assert row[col] == pytest.approx(want, rel=1e-12), col
                continue
            assert same(row[col], summary.get(col)), (col, row[col], summary.get(col))
        checked += 1
    assert checked == n


def test_a_rejected_withdrawal_is_in_the_table(tmp_path) -> None:
    """9000 exceeds the nested account: rejected (no payout), as in its own run."""
    table = compare(SPEC / "nested.yaml", NESTED_GRID, tmp_path / "cmp", SerialExecutor(),
                    report=False)
    big = table[table["cashflows.2.withdrawal"] == 9000]
    small = table[table["cashflows.2.withdrawal"] == 400]
    assert (big["total_withdrawals"] == 0).all()
    assert (small["total_withdrawals"] == 400).all()


def test_jobs_group_variants_by_market_and_keep_batches_big() -> None:
    def task(i: int, data: str) -> Task:
        return Task(hash=str(i), name=str(i), source="s.yaml",
                    document={"data": {"prices": data}, "portfolio": {"slices": {"A": 100}}})

    tasks = [task(i, "a.parquet") for i in range(20)] + [task(i, "b.parquet")
                                                          for i in range(20, 23)]
    jobs = make_jobs(tasks, workers=2)
    # 20 on one market: two jobs of 10 (>= 8 each, even); 3 on another: spread over 2
    assert [len(j) for j in jobs] == [10, 10, 2, 1]
    assert all(len({t.document["data"]["prices"] for t in j.tasks}) == 1 for j in jobs)
    assert [t.hash for j in jobs for t in j.tasks] == [t.hash for t in tasks]  # order kept


def test_a_batch_that_raises_runs_again_one_account_at_a_time(tmp_path, monkeypatch) -> None:
    """An engine error in a batch must not fail its neighbours: each account reruns alone
    and only the one that fails on its own is reported."""
    from backtest.engine.simulation import Simulation

    grid = {"account.window": ["morning", "afternoon"], "account.cash_minimum": [0, 50]}
    clean = compare(SPEC / "basic.yaml", grid, tmp_path / "clean", SerialExecutor(),
                    report=False)

    real_batch = batch_module.run_batch

    def broken(sims, *args, **kwargs):
        if len(sims) > 1:
            raise RuntimeError("a batch-only engine bug")
        return real_batch(sims, *args, **kwargs)

    real_run = Simulation.run_to_end

    def alone(self):  # the afternoon, cash_minimum 50 account fails on its own too
        if self.settings.cash_minimum == 50 and self.settings.window == "afternoon":
            raise RuntimeError("this account's own bug")
        return real_run(self)

    monkeypatch.setattr(batch_module, "run_batch", broken)
    monkeypatch.setattr(Simulation, "run_to_end", alone)
    table = compare(SPEC / "basic.yaml", grid, tmp_path / "broken", SerialExecutor(),
                    report=False)
    bad = table[table["error"].notna()]
    assert len(bad) == 1 and "this account's own bug" in bad["error"].iloc[0]
    good = table[table["error"].isna()].set_index("hash")
    want = clean.set_index("hash").loc[good.index]
    assert (good["final_value"] == want["final_value"]).all()
    assert (good["after_tax_value"] == want["after_tax_value"]).all()
