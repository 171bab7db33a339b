"""Hypothesis properties of whole runs over random pies, flows and prices."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from engine_kit import market, simulate, strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

N_DAYS = 12


@st.composite
def scenarios(draw):
    n_tickers = draw(st.integers(2, 4))
    tickers = [f"T{i}" for i in range(n_tickers)]
    rets = draw(st.lists(st.lists(st.floats(-0.15, 0.15), min_size=N_DAYS, max_size=N_DAYS),
                         min_size=n_tickers, max_size=n_tickers))
    start = draw(st.lists(st.floats(1, 200), min_size=n_tickers, max_size=n_tickers))
    closes = {t: list(s0 * np.cumprod(1 + np.array(r)))
              for t, s0, r in zip(tickers, start, rets, strict=True)}
    gaps = draw(st.lists(st.floats(-0.03, 0.03), min_size=N_DAYS, max_size=N_DAYS))
    opens = {t: list(np.array(c) * (1 + np.array(gaps))) for t, c in closes.items()}
    weights = draw(st.lists(st.integers(1, 9), min_size=n_tickers, max_size=n_tickers))
    pct = [round(100 * w / sum(weights), 3) for w in weights]
    pct[-1] = round(100 - sum(pct[:-1]), 3)
    nested = draw(st.booleans()) and n_tickers >= 3
    if nested:
        inner = {t: p for t, p in zip(tickers[1:], [50] * (n_tickers - 1), strict=True)}
        inner_pct = [round(100 / (n_tickers - 1), 3)] * (n_tickers - 1)
        inner_pct[-1] = round(100 - sum(inner_pct[:-1]), 3)
        inner = dict(zip(tickers[1:], inner_pct, strict=True))
        pie = f"{{slices: {{{tickers[0]}: 40, Sub: {{target: 60, slices: {inner}}}}}}}"
    else:
        pie = f"{{slices: {dict(zip(tickers, pct, strict=True))}}}"
    flows = ["{deposit: 1000, date: 2024-01-08}"]
    for i in range(1, N_DAYS):
        kind = draw(st.sampled_from(["none", "none", "deposit", "withdrawal"]))
        if kind != "none":
            amount = draw(st.floats(1, 800))
            d = pd.bdate_range("2024-01-08", periods=N_DAYS)[i].date()
            flows.append(f"{{{kind}: {amount:.2f}, date: {d}}}")
    window = draw(st.sampled_from(["morning", "afternoon", "both"]))
    alloc = draw(st.sampled_from(["waterfill", "proportional"]))
    cash_min = draw(st.sampled_from([0, 50]))
    every = draw(st.sampled_from(["never", "month"]))
    text = f"""
account: {{window: {window}, allocation: {alloc}, cash_minimum: {cash_min}}}
cashflows: [{", ".join(flows)}]
rebalance: {{every: {every}}}
portfolio: {pie}
"""
    divs = {tickers[0]: [0.0] * 5 + [0.4] + [0.0] * (N_DAYS - 6)}
    return text, closes, opens, divs


def _run(case):
    text, closes, opens, divs = case
    return simulate(strategy(text), market(closes, opens=opens, dividends=divs,
                                           start="2024-01-08"))


PROPS = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(scenarios())
def test_money_is_conserved_at_every_close(case):
    """cash + holdings x close == deposits + dividends - withdrawals + market gains.

    Rebuilt independently from the ledger: cash from flows, dividends and the
    netted trades; market gains from the shares held times the price moves.
    """
    r = _run(case)
    text, closes, opens, divs = case
    d = r.daily
    days = d["date"]
    trades = r.trades
    tickers = list(closes)
    shares = dict.fromkeys(tickers, 0.0)
    cash = 0.0
    for i, date in enumerate(days):
        held_before = dict(shares)
        cash += max(d["net_flow"].iloc[i], 0) if d["net_flow"].iloc[i] > 0 else 0
        cash += sum(held_before[t] * divs.get(t, [0] * N_DAYS)[i] for t in tickers)
        for _, tr in trades[trades["date"] == date].iterrows():
            sign = 1 if tr["side"] == "buy" else -1
            shares[tr["ticker"]] += sign * tr["shares"]
            cash -= sign * tr["amount"]
        if d["net_flow"].iloc[i] < 0:
            cash += d["net_flow"].iloc[i]
        value = cash + sum(shares[t] * closes[t][i] for t in tickers)
        assert abs(value - d["value"].iloc[i]) < 0.01, (i, value, d["value"].iloc[i])
        assert abs(cash - d["cash"].iloc[i]) < 0.01
        assert cash >= -1e-9
        assert all(s >= -1e-9 for s in shares.values())


@PROPS
@given(scenarios())
def test_holdings_never_go_negative_and_the_ledgers_agree(case):
    r = _run(case)
    assert (r.holdings["shares"] >= 0).all()
    assert (r.daily["cash"] >= 0).all()
    # Allocations (per slice) net to the trades (per ticker) in every window.
    a = r.allocations.groupby(["date", "ticker"])["shares"].sum().round(5)
    t = r.trades.assign(s=np.where(r.trades["side"] == "buy", 1, -1) * r.trades["shares"])
    t = t.groupby(["date", "ticker"])["s"].sum().round(5)
    a = a[a != 0]
    pd.testing.assert_series_equal(a.sort_index(), t.sort_index(), check_names=False,
                                   atol=2e-5)


@PROPS
@given(scenarios())
def test_same_inputs_give_byte_identical_outputs(case):
    first, second = _run(case), _run(case)
    for name in ("daily", "trades", "allocations", "holdings", "drift", "events"):
        a, b = io.BytesIO(), io.BytesIO()
        getattr(first, name).to_parquet(a)
        getattr(second, name).to_parquet(b)
        assert a.getvalue() == b.getvalue(), name


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.5, 2.0), min_size=3, max_size=3),
       st.lists(st.integers(1, 9), min_size=3, max_size=3))
def test_a_rebalanced_pie_is_at_its_targets_after_the_window(moves, weights):
    pct = [round(100 * w / sum(weights), 2) for w in weights]
    pct[-1] = round(100 - sum(pct[:-1]), 2)
    s = strategy(f"""
account: {{window: afternoon}}
cashflows: [{{deposit: 10000, date: 2024-01-08}}]
portfolio: {{slices: {{A: {pct[0]}, B: {pct[1]}, C: {pct[2]}}}}}
events: [{{date: 2024-01-09, rebalance: portfolio}}]
""")
    closes = {t: [20.0, 20.0 * m] for t, m in zip("ABC", moves, strict=True)}
    r = simulate(s, market(closes))
    drift = r.drift[r.drift["date"] == r.daily["date"].iloc[1]]
    # Off by at most a skipped buy under min_trade ($1) plus one share-grid step
    # (1e-5 shares at up to $40) per slice, relative to the pie's value.
    invested = r.daily["invested"].iloc[1]
    np.testing.assert_allclose(drift["actual"], drift["target"], rtol=0,
                               atol=(1.0 + 3 * 1e-5 * 40) / invested)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=3, max_size=3),
       st.lists(st.floats(30, 5000), min_size=1, max_size=5))
def test_a_portfolio_at_its_targets_stays_there_under_deposits(weights, deposits):
    pct = [round(100 * w / sum(weights), 2) for w in weights]
    pct[-1] = round(100 - sum(pct[:-1]), 2)
    days = pd.bdate_range("2024-01-08", periods=len(deposits) + 1)
    flows = ", ".join(f"{{deposit: {a:.2f}, date: {d.date()}}}"
                      for a, d in zip([1000.0, *deposits], days, strict=False))
    s = strategy(f"""
account: {{window: afternoon}}
cashflows: [{flows}]
portfolio: {{slices: {{A: {pct[0]}, B: {pct[1]}, C: {pct[2]}}}}}
""")
    closes = {t: [7.0] * len(days) for t in "ABC"}
    r = simulate(s, market(closes))
    np.testing.assert_allclose(r.drift["actual"], r.drift["target"], atol=1e-5)


def test_large_levels_take_the_segment_path_with_the_same_result(monkeypatch):
    """A 40-slice pie under two sub-pies, run with every level on the per-pie rules
    and again with every level on the segment rules: identical ledgers."""
    import backtest.engine.book as book

    names = [f"T{i:02d}" for i in range(40)]
    rng = np.random.default_rng(3)
    closes = {t: list(20 * np.cumprod(1 + rng.normal(0, 0.02, 30))) for t in names}
    inner = lambda ts: "{" + ", ".join(f"{t}: 5" for t in ts) + "}"  # noqa: E731
    s = strategy(f"""
account: {{window: afternoon}}
cashflows: [{{deposit: 10000, date: 2024-01-08}}, {{deposit: 700, every: week, start: 2024-01-15}},
            {{withdrawal: 900, every: week, start: 2024-01-18}}]
portfolio: {{slices: {{A: {{target: 60, slices: {inner(names[:20])}}},
                       B: {{target: 40, slices: {inner(names[20:])}}}}}}}
""")
    results = []
    for small in (10**9, 0):
        monkeypatch.setattr(book, "SMALL", small)
        results.append(simulate(s, market(closes)))
    a, b = results
    for name in ("trades", "allocations"):
        x, y = getattr(a, name), getattr(b, name)
        assert x[["date", "ticker"]].equals(y[["date", "ticker"]]), name
        np.testing.assert_allclose(x["shares"], y["shares"], atol=1e-5)
    np.testing.assert_allclose(a.daily["value"], b.daily["value"], atol=1e-6)
