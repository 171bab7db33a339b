"""performance_summary and money_summary: known answers and edge cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from backtest.analytics.metrics import PERFORMANCE_KEYS, money_summary, performance_summary

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "expected"


def _expected(name: str, table: str) -> pd.DataFrame:
    df = pd.read_csv(EXPECTED / name / f"{table}.csv")
    df["date"] = pd.to_datetime(df["date"])
    return df


def _summary(name: str) -> dict:
    return json.loads((EXPECTED / name / "summary.json").read_text())


def _daily(dates, values, flows, index=None) -> pd.DataFrame:
    d = pd.DataFrame({"date": pd.to_datetime(dates), "value": values, "cash": 0.0,
                      "invested": values, "net_flow": flows})
    if index is not None:
        d["twr_index"] = index
    return d


# The examples' TWR when each withdrawal is taken at the start of its session:
# the previous contract's expected summaries (an independent implementation).
FLOWS_AT_START_TWR = {"basic": -0.10485849917737744, "nested": -0.12128998150529224}


@pytest.mark.parametrize("name", ["basic", "nested"])
def test_twr_of_the_shared_examples(name):
    daily = _expected(name, "daily")
    want = _summary(name)["twr"]
    # The CSV's index is rounded to 6 decimals ...
    assert performance_summary(daily)["twr"] == pytest.approx(want, abs=1e-6)
    # ... while a table without the index has no window values to split a
    # withdrawal's session at, so it is derived with the flows at the start.
    derived = performance_summary(daily.drop(columns="twr_index"))["twr"]
    assert derived == pytest.approx(FLOWS_AT_START_TWR[name], abs=1e-8)


def test_basic_example_measures_by_hand():
    daily = _expected("basic", "daily")
    s = performance_summary(daily)
    idx = daily["twr_index"].tolist()
    n = len(idx)  # 20 sessions, 20 returns
    assert s["sessions"] == 20 and s["start"] == "2024-03-01" and s["end"] == "2024-03-28"
    assert s["cagr"] == pytest.approx(idx[-1] ** (252 / n) - 1)
    # Peak 1.004199 on the first session, trough 0.880412 on 2024-03-25, never recovered.
    assert s["max_drawdown"] == pytest.approx(0.880412 / 1.004199 - 1)
    assert s["max_drawdown_peak"] == "2024-03-01"
    assert s["max_drawdown_trough"] == "2024-03-25"
    assert s["max_drawdown_recovery"] is None
    assert s["calmar"] == pytest.approx(s["cagr"] / abs(s["max_drawdown"]))
    assert s["best_year"] == s["worst_year"] == 2024
    assert s["best_year_return"] == pytest.approx(idx[-1] - 1)
    # MWR: the dated flows and the final value discount to zero at that rate.
    flows = [(-f, d) for f, d in zip(daily["net_flow"], daily["date"], strict=True) if f]
    flows.append((daily["value"].iloc[-1], daily["date"].iloc[-1]))
    t0 = daily["date"].iloc[0]
    npv = sum(a / (1 + s["mwr"]) ** ((d - t0).days / 365) for a, d in flows)
    assert abs(npv) < 1e-6
    assert -1 < s["mwr"] < 0  # lost money over four weeks


def test_single_session():
    s = performance_summary(_daily(["2024-03-01"], [1010.0], [1000.0], [1.01]))
    assert s["twr"] == pytest.approx(0.01)
    # +1% in one session is not +1,133% a year (1.01 ** 252 - 1): annual rates need at
    # least three weeks (issue 14), else None ("n/a")
    assert s["cagr"] is None
    assert s["mwr"] is None  # all flows on one date
    assert s["volatility"] is None and s["sharpe"] is None and s["sortino"] is None
    assert s["max_drawdown"] == 0.0 and s["calmar"] is None
    json.dumps(s, allow_nan=False)


def test_empty_frame_gives_none_everywhere():
    empty = _daily([], [], [], [])
    s = performance_summary(empty)
    assert set(PERFORMANCE_KEYS) <= set(s)
    assert s["sessions"] == 0
    assert all(v is None for k, v in s.items() if k != "sessions")


def test_zero_value_days_and_no_flows():
    # Nothing in the account for two sessions, then a deposit that gains 10%.
    d = _daily(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
               [0.0, 0.0, 1000.0, 1100.0], [0.0, 0.0, 1000.0, 0.0])
    s = performance_summary(d)  # index derived by the spec's formula: 1, 1, 1, 1.1
    assert s["twr"] == pytest.approx(0.1)
    assert s["max_drawdown"] == 0.0
    # XIRR over one day would be 1.1 ** 365 - 1; under three weeks it is None ("n/a")
    assert s["mwr"] is None and s["cagr"] is None
    json.dumps(s, allow_nan=False)

    no_flows = _daily(["2024-01-02", "2024-01-03"], [100.0, 110.0], [0.0, 0.0], [1.0, 1.1])
    s = performance_summary(no_flows)
    assert s["mwr"] is None  # only the final value: no sign change
    assert s["twr"] == pytest.approx(0.1)


def test_values_are_json_safe_and_plain_python():
    s = performance_summary(_expected("nested", "daily"), risk_free=0.02)
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s
    for v in s.values():
        assert v is None or type(v) in (int, float, str)
        if isinstance(v, float):
            assert math.isfinite(v)


def test_risk_free_lowers_sharpe():
    daily = _expected("nested", "daily")
    assert performance_summary(daily, risk_free=0.05)["sharpe"] < \
        performance_summary(daily)["sharpe"]


def test_money_summary_of_the_basic_example():
    daily = _expected("basic", "daily")
    trades = _expected("basic", "trades")
    events = _expected("basic", "events")
    summ = _summary("basic")
    m = money_summary(daily, trades, events, summ["total_dividends"],
                      total_deposits=summ["total_deposits"],
                      total_withdrawals=summ["total_withdrawals"])
    assert m["final_value"] == pytest.approx(988.063798)
    assert m["gain"] == pytest.approx(988.063798 - 1400 + 300)  # -111.936202
    assert m["total_dividends"] == pytest.approx(11.0517)
    assert m["trades"] == 10
    assert m["halt_deferrals"] == 1 and m["rejections"] == 0
    # Largest cash share: 2024-03-06, the halted day with 100.0002 in cash.
    assert m["max_cash_share"] == pytest.approx(100.0002 / 1087.006397)
    shares = daily["cash"] / daily["value"]
    assert m["avg_cash_share"] == pytest.approx(sum(shares) / 20)


def test_money_summary_without_totals_nets_same_day_flows():
    daily = _expected("basic", "daily")
    no_rows = pd.DataFrame({"kind": pd.Series([], dtype=str)})
    m = money_summary(daily, no_rows, no_rows, None, total_deposits=None,
                      total_withdrawals=None)
    # 2024-03-20 nets the weekly 100 deposit and the 300 withdrawal into -200.
    assert m["total_deposits"] == pytest.approx(1300.0)
    assert m["total_withdrawals"] == pytest.approx(200.0)
    assert m["gain"] == pytest.approx(988.063798 - 1100)
    assert m["trades"] == 0 and m["total_dividends"] is None


def test_money_summary_refuses_a_subset_of_the_run():
    # Without the events the halt deferrals would silently read 0 (issue 16).
    daily = _expected("basic", "daily")
    with pytest.raises(TypeError):
        money_summary(daily, _expected("basic", "trades"))  # type: ignore[call-arg]


def test_money_summary_cash_share_skips_zero_value_days():
    d = _daily(["2024-01-02", "2024-01-03"], [0.0, 200.0], [0.0, 200.0])
    d["cash"] = [0.0, 50.0]
    none = pd.DataFrame({"kind": pd.Series([], dtype=str)})
    m = money_summary(d, none, none, None, total_deposits=None, total_withdrawals=None)
    assert m["avg_cash_share"] == pytest.approx(0.25)
    assert m["max_cash_share"] == pytest.approx(0.25)
