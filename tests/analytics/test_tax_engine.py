"""Lots through the real engine: realized + unrealized gain is the account's gain
less dividends, the open lots are the holdings, dividends per year add up."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_kit import market, strategy  # noqa: E402

from backtest.analytics.tax import (  # noqa: E402
    dividends_from_cash,
    run_tax_summary,
    run_tax_tables,
    tax_summary,
    tax_tables,
)
from backtest.engine.result import RunResult, run  # noqa: E402
from backtest.engine.simulation import Simulation  # noqa: E402
from backtest.io.inputs import load_inputs  # noqa: E402

NESTED = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "nested.yaml"
N = 30  # monthly sessions: 2.5 years, so lots turn long-term
DAYS = pd.bdate_range("2022-01-03", periods=N * 21)[::21].values.astype("datetime64[D]")


def last_close(sim: Simulation) -> dict[str, float]:
    return {t: float(sim._close_ffill[-1, i]) for i, t in enumerate(sim.market.tickers)}


def check_run(sim: Simulation, r: RunResult, method: str) -> dict:
    """The identities every run satisfies; returns the tax summary."""
    d = sim.settings.share_decimals
    end = pd.Timestamp(r.daily["date"].iloc[-1]).date()
    tables = tax_tables(r.fills, lot_method=method, share_decimals=d, end=end,
                        close=last_close(sim))
    s = tax_summary(r.fills, r.daily, lot_method=method, share_decimals=d, tables=tables,
                    dividends=sim.dividends)
    final = float(r.daily["value"].iloc[-1])
    gain = final - r.total_deposits + r.total_withdrawals - r.total_dividends
    # unrealized from the lots at the last close: independent of daily["invested"]
    unrealized = float(tables.lots["unrealized_gain"].sum()) if len(tables.lots) else 0.0
    realized = float(tables.realized["gain"].sum()) if len(tables.realized) else 0.0
    assert realized + unrealized == pytest.approx(gain, abs=0.005)
    assert s["realized_gain"] + s["unrealized_gain"] == pytest.approx(gain, abs=0.005)
    assert s["unrealized_gain"] == pytest.approx(unrealized, abs=0.005)
    # the open lots are the holdings, slice by slice
    held = dict(zip(sim.book.leaf_paths, sim.book.shares, strict=True))
    by_slice = tables.lots.groupby("slice")["shares"].sum().to_dict() if len(tables.lots) else {}
    for path, shares in held.items():
        assert by_slice.get(path, 0.0) == pytest.approx(shares, abs=1e-9)
    assert set(by_slice) <= {p for p, sh in held.items() if sh > 0}
    # each slice's sold shares are its realized shares
    sold = -r.fills.loc[r.fills["shares"] < 0].groupby("slice")["shares"].sum()
    closed = tables.realized.groupby("slice")["shares"].sum() if len(tables.realized) else {}
    for path, shares in sold.items():
        assert closed[path] == pytest.approx(shares, abs=1e-9)
    # dividends: rebuilt from cash == the engine's, and per year they add up
    assert np.allclose(dividends_from_cash(r.daily, r.fills), sim.dividends, atol=1e-6)
    assert sum(s["dividends_by_year"].values()) == pytest.approx(r.total_dividends)
    # from the RunResult alone (grid read from the fills, closes rebuilt from drift):
    # the same lots, valued at the same closes
    alone = run_tax_tables(r, lot_method=method)
    pd.testing.assert_frame_equal(alone.realized, tables.realized)
    cols = ["slice", "ticker", "open_date", "shares", "cost", "term"]
    pd.testing.assert_frame_equal(alone.lots[cols], tables.lots[cols])
    assert np.allclose(alone.lots["close_price"], tables.lots["close_price"], rtol=1e-9)
    s_alone = run_tax_summary(r, None, tables=alone)
    for k in ("realized_short_term", "realized_long_term", "estimated_tax"):
        assert s_alone[k] == pytest.approx(s[k], abs=1e-9)
    assert s_alone["unrealized_gain"] == pytest.approx(s["unrealized_gain"], abs=1e-9)
    return s


@st.composite
def scenarios(draw):
    tickers = ["T0", "T1", "T2"]
    rets = draw(st.lists(st.lists(st.floats(-0.2, 0.2), min_size=N, max_size=N),
                         min_size=3, max_size=3))
    start = draw(st.lists(st.floats(1, 200), min_size=3, max_size=3))
    closes = {t: list(s0 * np.cumprod(1 + np.array(r)))
              for t, s0, r in zip(tickers, start, rets, strict=True)}
    # T0 sits both at the root and in Sub: two slices, one ticker
    pie = draw(st.sampled_from([
        "{slices: {T0: 40, Sub: {target: 60, slices: {T0: 30, T1: 30, T2: 40}}}}",
        "{slices: {T0: 25, T1: 35, T2: 40}}",
    ]))
    flows = [f"{{deposit: 5000, date: {pd.Timestamp(DAYS[0]).date()}}}"]
    for i in range(1, N):
        kind = draw(st.sampled_from(["none", "none", "deposit", "withdrawal"]))
        if kind != "none":
            amount = draw(st.floats(10, 1500))
            flows.append(f"{{{kind}: {amount:.2f}, date: {pd.Timestamp(DAYS[i]).date()}}}")
    every = draw(st.sampled_from(["never", "quarter"]))
    alloc = draw(st.sampled_from(["waterfill", "proportional"]))
    text = f"""
account: {{allocation: {alloc}}}
cashflows: [{", ".join(flows)}]
rebalance: {{every: {every}}}
portfolio: {pie}
"""
    divs = {"T1": [0.0, 0.0, 0.5] * (N // 3)}
    method = draw(st.sampled_from(["brokerage", "fifo", "hifo"]))
    return text, closes, divs, method


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_realized_plus_unrealized_is_the_gain_less_dividends(case):
    text, closes, divs, method = case
    sim = Simulation(strategy(text), market(closes, dividends=divs, days=DAYS))
    r = run(sim)
    check_run(sim, r, method)


def test_a_rebalanced_run_realizes_gains_and_long_term_lots_appear():
    """Quarterly rebalancing of a trending pair sells winners: gains are realized,
    some of them long-term, and the estimated tax is positive."""
    closes = {"UP": list(10 * 1.03 ** np.arange(N)), "FLAT": [20.0] * N}
    text = f"""
cashflows: [{{deposit: 10000, date: {pd.Timestamp(DAYS[0]).date()}}}]
rebalance: {{every: quarter}}
portfolio: {{slices: {{UP: 50, FLAT: 50}}}}
"""
    sim = Simulation(strategy(text), market(closes, days=DAYS))
    s = check_run(sim, run(sim), "brokerage")
    assert s["realized_short_term"] > 0 and s["realized_long_term"] > 0
    assert s["estimated_tax"] > 0 and 0 < s["tax_drag"] < 1
    # without rebalancing nothing is sold: no realized gain, no tax
    text = text.replace("quarter", "never")
    sim = Simulation(strategy(text), market(closes, days=DAYS))
    s2 = check_run(sim, run(sim), "brokerage")
    assert (s2["realized_gain"], s2["estimated_tax"]) == (0.0, 0.0)
    assert s2["unrealized_gain"] > s["unrealized_gain"]


@pytest.mark.parametrize("method", ["brokerage", "fifo", "hifo"])
def test_the_nested_spec_example(method):
    inputs = load_inputs(NESTED)
    sim = Simulation(inputs.strategy, inputs.market)
    r = run(sim)
    assert (r.fills["shares"] < 0).any()  # it sells: rebalance, removal, order
    s = check_run(sim, r, method)
    assert set(s["tax_by_year"]) == {"2024"}
    tables = tax_tables(r.fills, lot_method=method)
    assert set(tables.realized["reason"]) >= {"rebalance", "removal", "order"}
    assert (tables.realized["term"] == "short").all()
    assert "Core/BBB" not in set(tables.lots["slice"])  # removed: every lot closed
