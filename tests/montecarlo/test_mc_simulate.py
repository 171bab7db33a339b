"""Monte Carlo runs through the full engine: closed forms, failing plans, determinism."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.io.inputs import read_strategy
from backtest.montecarlo import simulate, write_outputs
from backtest.montecarlo.plan import make_plan, synthetic_sessions
from backtest.sweep.executors import LocalExecutor, SerialExecutor

FIRST = dt.date(2010, 1, 4)


def _prices(tmp_path: Path, closes: dict[str, np.ndarray], opens: bool = True,
            dividends: dict[str, np.ndarray] | None = None) -> Path:
    days = len(next(iter(closes.values())))
    dates = pd.bdate_range(FIRST, periods=days).date
    rows = []
    for t, c in closes.items():
        frame = pd.DataFrame({"date": dates, "ticker": t, "close": c})
        if opens:
            frame["open"] = c
        if dividends is not None:
            frame["dividend"] = dividends.get(t, np.zeros(days))
        rows.append(frame)
    path = tmp_path / "prices.parquet"
    pd.concat(rows, ignore_index=True).to_parquet(path, index=False)
    return path


def _strategy(tmp_path: Path, prices: Path, slices: dict, cashflows: list, **extra) -> Path:
    doc = {"name": extra.pop("name", "MC test"), "data": {"prices": str(prices)},
           "cashflows": cashflows, "portfolio": {"slices": slices}, **extra}
    path = tmp_path / "strategy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _random_prices(tmp_path: Path, days: int = 160, seed: int = 5) -> Path:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0004, 0.012, size=(days, 3))
    closes = np.cumprod(1 + r, axis=0) * [30.0, 60.0, 15.0]
    return _prices(tmp_path, {t: closes[:, k] for k, t in enumerate(("AAA", "BBB", "CCC"))},
                   dividends={"BBB": np.where(np.arange(days) % 60 == 30, 0.4, 0.0)})


@pytest.mark.parametrize("method", ["bootstrap", "block-bootstrap"])
@pytest.mark.parametrize("opens", [True, False])
def test_constant_growth_gives_the_closed_form_on_every_path(tmp_path, method, opens):
    days = 120
    closes = 100.0 * 1.001 ** np.arange(days)
    prices = _prices(tmp_path, {"ONE": closes}, opens=opens)
    deposit = 10_000.0
    path = _strategy(tmp_path, prices, {"ONE": 100},
                     [{"deposit": deposit, "date": FIRST.isoformat()}])
    mc = simulate(path, years=1, paths=4, seed=3, method=method, block=10,
                  executor=SerialExecutor(), inflation=0.0)
    n = 252
    last = closes[-1]
    # The deposit buys at session 0's fill price: its open (= its close here, and the
    # close when the data has no opens), last * 1.001; 5-decimal shares, rounded down.
    p0 = last * 1.001
    units = math.floor(deposit / p0 * 1e5 + 1e-9)
    cash = deposit - units / 1e5 * p0
    expected = units / 1e5 * last * 1.001 ** n + cash
    assert abs(expected - deposit * 1.001 ** (n - 1)) < 0.02
    np.testing.assert_allclose(mc.paths["final_value"], expected, atol=1e-6)
    np.testing.assert_allclose(mc.percentiles["p50"].iloc[-1], expected, atol=1e-6)
    np.testing.assert_allclose(mc.paths["twr"], expected / deposit - 1, atol=1e-9)
    assert (mc.paths["max_drawdown"] == 0).all()
    assert mc.paths["success"].all() and math.isnan(mc.success_rate)
    assert mc.paths["first_failure_year"].isna().all()


def test_a_plan_withdrawing_more_than_it_holds_fails_on_every_path(tmp_path):
    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, {"AAA": 50, "BBB": 50}, [
        {"deposit": 1000, "date": FIRST.isoformat()},
        {"withdrawal": 10_000, "every": "month", "start": "2010-02-01"},
    ])
    mc = simulate(path, years=2, paths=5, seed=1, executor=SerialExecutor())
    assert mc.success_rate == 0.0
    assert not mc.paths["success"].any()
    assert (mc.paths["first_failure_year"] == 1).all()
    assert (mc.paths["withdrawals_paid"] == 0).all()
    assert mc.scheduled_withdrawals == pytest.approx(10_000 * 24, rel=0.05)
    assert dict(mc.failure_years) == {1: 5}


def test_a_sustainable_plan_succeeds_and_counts_its_withdrawals(tmp_path):
    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, {"AAA": 50, "BBB": 50}, [
        {"deposit": 100_000, "date": FIRST.isoformat()},
        {"withdrawal": 100, "every": "month", "start": "2010-02-01"},
    ])
    mc = simulate(path, years=1, paths=3, seed=2, executor=SerialExecutor())
    assert mc.success_rate == 1.0
    np.testing.assert_allclose(mc.paths["withdrawals_paid"], mc.scheduled_withdrawals)
    assert mc.scheduled_withdrawals == 100 * 12


NESTED = {"AAA": 40, "Sub": {"target": 60, "slices": {"BBB": 50, "CCC": 50}}}


def test_same_seed_same_result_with_one_or_two_workers(tmp_path):
    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, NESTED, [
        {"deposit": 5000, "date": FIRST.isoformat()},
        {"deposit": 300, "every": "month", "start": "2010-02-01"},
        {"withdrawal": 200, "every": "quarter", "start": "2010-03-15"},
    ], rebalance={"every": "quarter"})
    serial = simulate(path, years=1, paths=9, seed=7, executor=SerialExecutor())
    with LocalExecutor(2) as pool:
        parallel = simulate(path, years=1, paths=9, seed=7, executor=pool)
    pd.testing.assert_frame_equal(serial.paths, parallel.paths, check_exact=True)
    pd.testing.assert_frame_equal(serial.percentiles, parallel.percentiles, check_exact=True)
    write_outputs(serial, tmp_path / "a")
    write_outputs(parallel, tmp_path / "b")
    assert (tmp_path / "a" / "simulation.parquet").read_bytes() == \
        (tmp_path / "b" / "simulation.parquet").read_bytes()
    assert list(serial.paths["path"]) == list(range(9))
    # another seed gives other paths; the paths differ from each other
    other = simulate(path, years=1, paths=9, seed=8, executor=SerialExecutor())
    assert not np.allclose(other.paths["final_value"], serial.paths["final_value"])
    assert serial.paths["final_value"].nunique() == 9


def test_percentiles_and_real_values(tmp_path):
    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, {"AAA": 100},
                     [{"deposit": 1000, "date": FIRST.isoformat()}])
    mc = simulate(path, years=1, paths=6, seed=4, executor=SerialExecutor(), inflation=0.03)
    p = mc.percentiles
    assert len(p) == 252 and list(p["session"]) == list(range(252))
    assert (p["p5"] <= p["p25"]).all() and (p["p25"] <= p["p50"]).all()
    assert (p["p75"] <= p["p95"]).all()
    np.testing.assert_allclose(p["p50"], np.percentile(mc.values, 50, axis=0))
    factor = 1.03 ** (np.arange(252) / 252)
    np.testing.assert_allclose(p["real_p50"], np.percentile(mc.values / factor, 50, axis=0))
    np.testing.assert_allclose(mc.paths["real_final_value"],
                               mc.paths["final_value"] / 1.03 ** (251 / 252))
    np.testing.assert_allclose(mc.paths["final_value"], mc.values[:, -1])
    # cagr is the TWR annualised over 252 sessions a year (one year here)
    np.testing.assert_allclose(mc.paths["cagr"], mc.paths["twr"], rtol=1e-9)
    assert mc.paths["mwr"].notna().all()


def test_history_window_from_to(tmp_path):
    prices = _random_prices(tmp_path, days=200)
    path = _strategy(tmp_path, prices, {"AAA": 100},
                     [{"deposit": 1000, "date": FIRST.isoformat()}])
    mc = simulate(path, years=0.5, paths=2, seed=4, executor=SerialExecutor(),
                  start="2010-03-01", end="2010-05-28")
    s = mc.settings
    assert s["history_start"] == "2010-03-01" and s["history_end"] == "2010-05-28"
    assert s["history_days"] == len(pd.bdate_range("2010-03-01", "2010-05-28")) - 1
    assert s["sessions"] == 126
    # the synthetic future starts after the data's last session, whatever the window
    assert s["start"] > str(pd.bdate_range(FIRST, periods=200)[-1].date())


def test_plan_projection(tmp_path):
    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, {"AAA": 50, "BBB": 50}, [
        {"deposit": 5000, "date": "2009-12-01"},          # before the first session: initial
        {"deposit": 700, "date": "2010-03-03"},           # a later one-off: dropped
        {"deposit": 300, "every": "month", "start": "2010-01-31"},
        {"withdrawal": 50, "every": "week", "start": "2010-01-06", "end": "2010-02-03"},
    ], events=[{"date": "2010-02-01", "rebalance": "portfolio"}])
    strategy = read_strategy(path)
    last = pd.bdate_range(FIRST, periods=160)[-1].date()
    sessions = synthetic_sessions(last, 252)
    assert sessions[0] > np.datetime64(last)
    assert len(np.unique(sessions)) == 252
    plan = make_plan(strategy, FIRST, last, sessions)
    flows = plan.strategy.cashflows
    assert flows[0].date == sessions[0].astype(object) and flows[0].amount == 5000
    assert not any(f.amount == 700 for f in flows)
    assert any("700.00" in w for w in plan.warnings)
    assert any("event" in w for w in plan.warnings)
    assert plan.strategy.events == ()
    monthly = [f for f in flows if f.amount == 300]
    # day 31 is kept: dates listed when the moved start lands in a short month
    days = {f.start.day if f.every else f.date.day for f in monthly}
    assert days <= {28, 29, 30, 31} and 31 in days
    weekly = [f for f in flows if f.kind == "withdrawal"]
    assert len(weekly) == 1 and weekly[0].every == "week"
    assert weekly[0].start.weekday() == dt.date(2010, 1, 6).weekday()
    assert (weekly[0].end - weekly[0].start).days == 28  # the schedule lasts as long
    assert plan.scheduled_withdrawals == pytest.approx(50 * len(plan.withdrawal_sessions))
    assert 4 <= len(plan.withdrawal_sessions) <= 5


def test_synthetic_sessions_are_nyse_like():
    s = synthetic_sessions(dt.date(2022, 12, 30), 252 * 3)
    years = pd.DatetimeIndex(s).year
    assert np.datetime64("2023-01-03") == s[0]  # Jan 2 2023 is a holiday
    assert 249 <= (years == 2024).sum() <= 253
    assert (pd.DatetimeIndex(s).day_of_week < 5).all()


def test_dask_cluster_gives_the_same_paths(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from backtest.engine import batch
    from backtest.montecarlo.api import job_sizes
    from backtest.sweep.executors import DaskExecutor

    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, {"AAA": 50, "CCC": 50}, [
        {"deposit": 3000, "date": FIRST.isoformat()},
        {"deposit": 100, "every": "month", "start": "2010-02-01"},
    ])
    # 40 paths: two jobs of 20 on two workers, each past the engine's array form
    assert job_sizes(40, 2) == [20, 20] and batch.FAST_MIN <= 20
    calls = []
    original = batch.Batch._fast

    def counted(self, *args):
        calls.append(len(args[1]))
        return original(self, *args)

    batch.Batch._fast = counted
    try:
        serial = simulate(path, years=0.5, paths=40, seed=12, executor=SerialExecutor(),
                          rate_paths=0)
    finally:
        batch.Batch._fast = original
    assert calls and max(calls) >= batch.FAST_MIN  # the array form ran
    with LocalExecutor(2) as pool:
        local = simulate(path, years=0.5, paths=40, seed=12, executor=pool, rate_paths=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        on_dask = simulate(path, years=0.5, paths=40, seed=12, executor=DaskExecutor(client),
                           rate_paths=0)
    for other in (local, on_dask):
        pd.testing.assert_frame_equal(serial.paths, other.paths, check_exact=True)
        pd.testing.assert_frame_equal(serial.percentiles, other.percentiles, check_exact=True)


def test_memory_budget_changes_nothing_but_the_engine_batches(tmp_path):
    from backtest.engine import batch
    from backtest.montecarlo.runner import Payload, path_bytes

    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, NESTED, [
        {"deposit": 5000, "date": FIRST.isoformat()},
        {"deposit": 300, "every": "month", "start": "2010-02-01"},
        {"withdrawal": 150, "every": "month", "start": "2010-03-15"},
    ])
    sizes = []
    original = batch.Batch.__init__

    def counted(self, sims, *args, **kwargs):
        sizes.append(len(sims))
        original(self, sims, *args, **kwargs)

    plain = simulate(path, years=0.5, paths=24, seed=3, executor=SerialExecutor(),
                     rate_paths=6, rate_steps=3)
    setup_bytes = path_bytes(Payload(*_payload_parts(path)))
    batch.Batch.__init__ = counted
    try:  # a budget of two paths' arrays: engine batches of 1 or 2 paths
        tiny = simulate(path, years=0.5, paths=24, seed=3, executor=SerialExecutor(),
                        rate_paths=6, rate_steps=3, memory=str(2 * setup_bytes + 1))
    finally:
        batch.Batch.__init__ = original
    assert sizes and max(sizes) <= 2
    pd.testing.assert_frame_equal(plain.paths, tiny.paths, check_exact=True)
    pd.testing.assert_frame_equal(plain.percentiles, tiny.percentiles, check_exact=True)
    rates = ("safe_withdrawal_rate", "perpetual_withdrawal_rate")
    assert [plain.settings[k] for k in rates] == [tiny.settings[k] for k in rates]


def _payload_parts(path: Path) -> tuple:
    from backtest.montecarlo.api import prepare

    setup = prepare(path, years=0.5)
    return setup.history, setup.plan, 3, "block-bootstrap", 21


def test_memory_sizes():
    from backtest.montecarlo.api import MonteCarloError, parse_memory

    assert parse_memory(None) == 1024**3  # the default: 1 GB a worker
    assert parse_memory("512MB") == 512 * 1024**2
    assert parse_memory("2GB") == parse_memory("2 gib") == 2 * 1024**3
    assert parse_memory("1.5k") == 1536
    assert parse_memory(4096) == parse_memory("4096") == 4096
    for bad in ("", "GB", "0", "-1", "1e9", "2 XB", "0.4"):
        with pytest.raises(MonteCarloError):
            parse_memory(bad)


def test_cagr_and_mwr_are_not_annualised_under_three_weeks(tmp_path):
    prices = _random_prices(tmp_path)
    path = _strategy(tmp_path, prices, {"AAA": 50, "CCC": 50}, [
        {"deposit": 3000, "date": FIRST.isoformat()},
        {"deposit": 100, "every": "week", "start": "2010-01-11"},
    ])
    # 10 sessions span two calendar weeks (< 21 days): no annual rate
    short = simulate(path, years=10 / 252, paths=3, seed=1, executor=SerialExecutor(),
                     rate_paths=0)
    assert short.paths["cagr"].isna().all() and short.paths["mwr"].isna().all()
    assert short.paths["twr"].notna().all()  # the period's own return stays
    # 20 sessions span four calendar weeks (>= 21 days): annualised
    longer = simulate(path, years=20 / 252, paths=3, seed=1, executor=SerialExecutor(),
                      rate_paths=0)
    assert longer.paths["cagr"].notna().all() and longer.paths["mwr"].notna().all()
    twr = longer.paths["twr"].to_numpy()
    np.testing.assert_allclose(longer.paths["cagr"], (1 + twr) ** (252 / 20) - 1)


@pytest.mark.parametrize("safe_at, perpetual_at", [(0.0371, 0.052), (0.2, 0.01), (0.1, None)])
def test_rate_search_in_rounds_finds_what_one_bisection_finds(safe_at, perpetual_at):
    from backtest.montecarlo import rates as RT

    start, steps, high = 1000.0, 7, 0.15

    def stats(r: float) -> RT.RateStats:  # success falls at safe_at, the median at perpetual_at
        median = start * (1.5 if perpetual_at is not None and r <= perpetual_at else 0.5)
        return RT.RateStats(1.0 if r <= safe_at else 0.5, median)

    rounds: list[list[float]] = []

    def evaluate(rates):
        rounds.append(list(rates))
        return [stats(r) for r in rates]

    found = RT.find_rates(evaluate, start=start, confidence=0.95, paths=10, steps=steps,
                          high=high, every="month")
    safe = RT.largest(lambda r: stats(r).success >= 0.95, high, steps)
    assert (found.safe, found.safe_at_least) == safe
    if perpetual_at is None or stats(0.0).median_real_final < start:
        assert found.perpetual is None
    else:
        perpetual = RT.largest(lambda r: stats(r).median_real_final >= start, high, steps)
        assert (found.perpetual, found.perpetual_at_least) == perpetual
    # the top and 0 first, then two halvings a round: at most 1 + ceil(7 / 2) rounds
    assert rounds[0] == [0.0, high] and len(rounds) <= 1 + 4
    assert found.evaluations == sum(len(r) for r in rounds)
