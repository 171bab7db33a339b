"""The replay API: a view over the stepping API that agrees with `run` to the cent.

Numbers come from tests/fixtures/spec_examples/expected/ (an independent
implementation of the spec) and from `backtest.engine.result.run`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from backtest.engine.result import run
from backtest.engine.simulation import Simulation
from backtest.errors import BacktestError
from backtest.io.inputs import load_inputs
from backtest.replay import SessionView, format_text, replay, to_json

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
EXAMPLES = ["basic", "nested"]


def expected(name: str, table: str) -> pd.DataFrame:
    return pd.read_csv(SPEC / "expected" / name / f"{table}.csv", dtype={"date": str})


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_session_agrees_with_run(name: str) -> None:
    inputs = load_inputs(SPEC / f"{name}.yaml")
    daily = run(Simulation(inputs.strategy, inputs.market)).daily
    views = list(replay(inputs))
    assert len(views) == len(daily)  # sessions() visits the sessions run() skips
    for view, row in zip(views, daily.itertuples(), strict=True):
        assert view.date == row.date.date()
        assert view.value == pytest.approx(row.value, abs=1e-9)
        assert view.cash == pytest.approx(row.cash, abs=1e-9)
        assert view.net_flow == pytest.approx(row.net_flow, abs=1e-9)
        assert view.twr_index == pytest.approx(row.twr_index, abs=1e-9)


@pytest.mark.parametrize("name", EXAMPLES)
def test_values_match_the_independent_implementation(name: str) -> None:
    exp = expected(name, "daily")
    views = list(replay(SPEC / f"{name}.yaml"))
    assert [v.date.isoformat() for v in views] == list(exp["date"])
    for view, row in zip(views, exp.itertuples(), strict=True):
        assert view.value == pytest.approx(row.value, abs=0.02)
        assert view.cash == pytest.approx(row.cash, abs=0.02)
        assert view.twr_index == pytest.approx(row.twr_index, abs=1e-5)


@pytest.mark.parametrize("name", EXAMPLES)
def test_trades_match_the_expected_trades(name: str) -> None:
    exp = expected(name, "trades")
    got = [(v.date.isoformat(), t) for v in replay(SPEC / f"{name}.yaml") for t in v.trades]
    assert len(got) == len(exp)
    for (date, t), row in zip(got, exp.itertuples(), strict=True):
        assert (date, t["window"], t["ticker"], t["side"]) == (
            row.date, row.window, row.ticker, row.side)
        assert t["shares"] == pytest.approx(row.shares, abs=1e-4)
        assert t["price"] == pytest.approx(row.price, abs=1e-9)
        assert t["amount"] == pytest.approx(row.amount, abs=0.02)


def test_a_window_from_the_middle_starts_from_the_true_state() -> None:
    """The state on --from depends on everything before it (run silently)."""
    whole = {v.date: v for v in replay(SPEC / "nested.yaml")}
    part = list(replay(SPEC / "nested.yaml", "2024-03-13", dt.date(2024, 3, 14)))
    assert [v.date for v in part] == [dt.date(2024, 3, 13), dt.date(2024, 3, 14)]
    for v in part:
        assert v == whole[v.date]


def test_day_return_is_the_twr_step() -> None:
    views = list(replay(SPEC / "nested.yaml"))
    # 2024-03-14: the 400 withdrawal splits the session at the afternoon window
    # that pays it (exact TWR): the step is the expected index's, 0.965844 / 1.001057
    # (expected/nested/daily.csv), not 4672.616730 / (5257.557021 - 400).
    v14 = views[9]
    assert v14.net_flow == -400.0
    assert v14.day_return == pytest.approx(0.965844 / 1.001057 - 1, abs=2e-6)
    assert abs(v14.day_return - (4672.616730 / (5257.557021 - 400) - 1)) > 1e-3
    for prev, cur in zip(views, views[1:], strict=False):
        assert cur.twr_index == pytest.approx(prev.twr_index * (1 + cur.day_return), rel=1e-12)
    # First session: the deposit is the whole base.
    assert views[0].day_return == pytest.approx(5000.0 / 5000.0 - 1, abs=1e-9)


def test_nested_withdrawal_deferred_by_the_ccc_halt_then_paid() -> None:
    v13, v14 = replay(SPEC / "nested.yaml", "2024-03-13", "2024-03-14")
    assert [e["kind"] for e in v13.events] == ["halt_deferred"]
    assert "CCC" in v13.events[0]["detail"]
    assert v13.withdrawals == 0.0
    assert v14.withdrawals == 400.0
    sells = [(t["ticker"], t["side"], round(t["shares"], 5)) for t in v14.trades]
    assert sells == [("AAA", "sell", 16.44305), ("BBB", "sell", 7.2991),
                     ("CCC", "sell", 0.96858)]
    reasons = {a["reason"] for a in v14.allocations}
    assert reasons == {"withdrawal"}


def test_trades_are_netted_but_allocations_keep_each_reason() -> None:
    """2024-03-21: a 500 sell order of Core and auto-invest of 450 back into AAA."""
    (view,) = replay(SPEC / "nested.yaml", "2024-03-21", "2024-03-21")
    assert [(t["ticker"], t["side"]) for t in view.trades] == [("AAA", "sell")]
    assert view.trades[0]["shares"] == pytest.approx(5.82746, abs=1e-9)  # trades.csv
    by_reason = {a["reason"]: a["shares"] for a in view.allocations}
    assert by_reason == {"order": pytest.approx(-58.27506), "auto_invest": pytest.approx(52.4476)}
    assert sum(by_reason.values()) == pytest.approx(-view.trades[0]["shares"], abs=1e-9)


def test_holdings_weights_and_largest_drift() -> None:
    (view,) = replay(SPEC / "nested.yaml", "2024-03-13", "2024-03-13")
    assert set(view.holdings) == {"CCC", "Core/AAA", "Core/BBB"}
    # 2024-03-12 rebalance then 3.06979 AAA bought on 2024-03-13 (trades.csv).
    aaa = 196.81908 + 20.68255 + 81.53378 + 3.06979
    assert view.holdings["Core/AAA"] == pytest.approx(aaa, abs=1e-9)
    assert set(view.weights) == {"CCC", "Core", "Core/AAA", "Core/BBB"}
    assert view.weights["Core/AAA"][0] == pytest.approx(0.7)  # the 2024-03-07 target edit
    drift = view.largest_drift
    assert drift is not None
    gaps = {p: abs(a - t) for p, (t, a) in view.weights.items()}
    assert drift["slice"] == max(gaps, key=gaps.get)
    assert drift["target"] == view.weights[drift["slice"]][0]


def test_session_view_is_frozen() -> None:
    view = next(replay(SPEC / "basic.yaml"))
    assert isinstance(view, SessionView)
    with pytest.raises(AttributeError):
        view.value = 0.0  # type: ignore[misc]


def test_to_json_is_plain_json_with_stable_keys() -> None:
    views = list(replay(SPEC / "nested.yaml"))
    keys = None
    for v in views:
        obj = to_json(v)
        assert json.loads(json.dumps(obj, allow_nan=False)) == obj
        keys = keys or list(obj)
        assert list(obj) == keys
    assert keys[:9] == ["date", "value", "cash", "deposits", "dividends", "withdrawals",
                        "net_flow", "day_return", "twr_index"]
    assert {"windows", "events", "largest_drift"} <= set(keys)


def test_format_text_colour_only_on_request() -> None:
    view = next(replay(SPEC / "basic.yaml"))
    assert "\x1b[" not in format_text(view)
    assert "\x1b[" in format_text(view, color=True)


def test_non_session_days_snap_inward() -> None:
    # 2024-03-09/10 is a weekend: from -> Monday 03-11, to -> Friday 03-08.
    views = list(replay(SPEC / "basic.yaml", "2024-03-09", "2024-03-12"))
    assert [v.date.isoformat() for v in views] == ["2024-03-11", "2024-03-12"]
    views = list(replay(SPEC / "basic.yaml", "2024-03-07", "2024-03-10"))
    assert [v.date.isoformat() for v in views] == ["2024-03-07", "2024-03-08"]


@pytest.mark.parametrize(("start", "end", "fragment"), [
    ("2024-02-01", None, "outside the run's sessions"),
    (None, "2024-04-30", "outside the run's sessions"),
    ("2024-03-12", "2024-03-11", "after"),
    ("2024-03-09", "2024-03-10", "no session"),
    ("March 1", None, "not a date"),
])
def test_bad_dates_raise_before_iterating(start, end, fragment) -> None:
    with pytest.raises(BacktestError, match=fragment):
        replay(SPEC / "basic.yaml", start, end)


@pytest.mark.parametrize("name", ["factor_pie", "nested_stocks", "retirement_drawdown"])
def test_bundled_strategies_agree_with_run_after_a_silent_start(name: str) -> None:
    """Decades of silent stepping, then the last 120 sessions: equal to run's daily rows."""
    inputs = load_inputs(ROOT / "strategies" / f"{name}.yaml")
    daily = run(Simulation(inputs.strategy, inputs.market)).daily
    start = daily["date"].iloc[-120].date()
    views = list(replay(inputs, start))
    assert len(views) == 120
    for view, row in zip(views, daily.tail(120).itertuples(), strict=True):
        assert view.date == row.date.date()
        assert view.value == pytest.approx(row.value, abs=1e-9)
        assert view.cash == pytest.approx(row.cash, abs=1e-9)
        assert view.twr_index == pytest.approx(row.twr_index, rel=1e-9)


def test_march_2020_circuit_breakers_defer_the_morning_windows() -> None:
    views = list(replay(ROOT / "strategies" / "retirement_drawdown.yaml",
                        "2020-03-09", "2020-03-18"))
    halted = [v.date.isoformat() for v in views
              if any(e["kind"] == "halt_deferred" for e in v.events)]
    assert halted == ["2020-03-09", "2020-03-12", "2020-03-16"]
    for v in views:
        if v.date.isoformat() in halted:
            assert v.windows == () and v.trades == []
            assert "level 1" in format_text(v)
