"""The array form of the portfolio's rebalance (`batch_rebalance`) is the window's.

From any holdings, cash and prices, `rebalance_rows` over many accounts must
leave each account the units, cash and fills that `Window._rebalance` leaves
on the same book alone; and a batch of monthly rebalancing accounts must run
every session in array form (not only in principle) and equal its singles.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from engine_kit import market, strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_batch import _assert_same, array_form_from

from backtest.domain.strategy import RebalanceRequest
from backtest.engine.batch import Batch
from backtest.engine.batch_rebalance import rebalance_rows
from backtest.engine.restrictions import Restrictions
from backtest.engine.result import run, tabulate
from backtest.engine.simulation import Simulation
from backtest.engine.window import Window, WindowPrices

PIES = {
    "flat": "{slices: {A: 50, B: 50}}",
    "nested": "{slices: {A: 40, Sub: {target: 60, slices: {B: 30, C: 45, D: 25}}}}",
    "wide": "{slices: {A: 10, B: 10, C: 10, D: 10, E: 10, F: 10, G: 10, H: 10, I: 10, "
            "J: 10}}",
}
TICKERS = "ABCDEFGHIJ"


def _accounts(pie: str, decimals: int, min_trade: float, k: int) -> list[Simulation]:
    s = strategy(f"account: {{share_decimals: {decimals}, min_trade: {min_trade}}}\n"
                 f"portfolio: {pie}")
    m = market({t: [10.0, 10.0] for t in TICKERS})
    return [Simulation(s, m) for _ in range(k)]


def _array_form(sims: list[Simulation], units: np.ndarray, cash: np.ndarray,
                fill: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, list]]:
    b = Batch(sims)
    b.units[:] = units
    b.cash[:] = cash
    book = sims[0].book
    lay = book.layout()
    leaf_pos = np.flatnonzero(lay.leaf >= 0)
    fills: dict[int, list] = {}
    rebalance_rows(b, np.arange(len(sims)), fill, lay, leaf_pos, lay.leaf[leaf_pos],
                   book.leaf_columns, fills)
    return b.units.copy(), b.cash.copy(), fills


def _window(sim: Simulation, units: np.ndarray, cash: float, px: np.ndarray):
    sim.book.units[:] = units
    win = Window(sim.book, cash, WindowPrices(px, px, Restrictions.none(len(px))), sim.settings)
    win._rebalance(RebalanceRequest(dt.date(2024, 1, 8), ""))
    return sim.book.units.copy(), win.cash, win.out.fills


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(sorted(PIES)), decimals=st.sampled_from([0, 2, 5]),
       min_trade=st.sampled_from([0.5, 1, 20]), k=st.integers(1, 5), data=st.data())
def test_the_array_rebalance_equals_the_window_from_any_state(shape, decimals, min_trade,
                                                              k, data):
    sims = _accounts(PIES[shape], decimals, min_trade, k)
    n_leaves = len(sims[0].book.units)
    units = np.array(data.draw(st.lists(st.lists(
        st.one_of(st.just(0), st.integers(0, 10 ** (decimals + 4))),
        min_size=n_leaves, max_size=n_leaves), min_size=k, max_size=k)), dtype=np.int64)
    cash = np.array(data.draw(st.lists(st.one_of(st.just(0.0), st.floats(0, 5000)),
                                       min_size=k, max_size=k)))
    fill = np.array(data.draw(st.lists(st.lists(st.floats(0.5, 900), min_size=len(TICKERS),
                                                max_size=len(TICKERS)),
                                       min_size=k, max_size=k)))
    got_units, got_cash, got_fills = _array_form(sims, units, cash, fill)
    for a in range(k):
        alone = _accounts(PIES[shape], decimals, min_trade, 1)[0]
        want_units, want_cash, want_fills = _window(alone, units[a], float(cash[a]), fill[a])
        assert np.array_equal(got_units[a], want_units)
        assert got_cash[a] == want_cash
        assert got_fills.get(a, []) == want_fills


def test_a_buy_past_the_cash_goes_one_by_one_as_in_the_window():
    # Whole shares; A holds 2 at $1, B nothing; no cash. Targets 50/50 of $2: sell
    # $1 of A (1 share, $1.00 raised), buy $1 of B at 1/(1 - 5e-7) = $1.0000005:
    # 0.9999995 shares, which the grid tolerance rounds to 1 share costing
    # $1.0000005 > the $1.00 of cash. So the buys go one by one within the cash:
    # 1 share would cost more than $1.00, so B gets 0 and the $1.00 stays cash.
    sims = _accounts(PIES["flat"], 0, 0.5, 2)
    px = np.full(len(TICKERS), 1.0)
    px[1] = 1 / (1 - 5e-7)
    units = np.array([[2, 0], [2, 0]], dtype=np.int64)
    got_units, got_cash, fills = _array_form(sims, units, np.zeros(2), np.stack([px, px]))
    assert got_units.tolist() == [[1, 0], [1, 0]]
    assert got_cash.tolist() == [1.0, 1.0]
    assert fills[0] == [(0, 0, -1, -1.0, "rebalance")]
    want_units, want_cash, want_fills = _window(_accounts(PIES["flat"], 0, 0.5, 1)[0],
                                                units[0], 0.0, px)
    assert (want_units.tolist(), want_cash, want_fills) == ([1, 0], 1.0, fills[0])


def test_a_buy_beyond_the_share_grid_raises_as_in_the_window():
    # A holds 2^60 grid units, B none: the rebalance buys B 2^59 units, past the
    # 2^53 that float64 counts exactly; both forms refuse rather than miscount.
    units = np.array([[2 ** 60, 0]], dtype=np.int64)
    px = np.full(len(TICKERS), 1.0)
    with pytest.raises(OverflowError):
        _array_form(_accounts(PIES["flat"], 5, 0.5, 1), units, np.zeros(1), px[None])
    with pytest.raises(OverflowError):
        _window(_accounts(PIES["flat"], 5, 0.5, 1)[0], units[0], 0.0, px)


def test_monthly_rebalancing_accounts_run_every_session_in_array_form(monkeypatch):
    # 45 sessions from Monday 2024-01-08 cross into February and March; deposits on
    # the first of each month meet the periodic rebalance; session 14 closes early.
    n = 45
    rng = np.random.default_rng(3)
    closes = {t: list(50 * np.cumprod(1 + rng.normal(0, 0.02, n))) for t in "ABCD"}
    close_time = [16 * 60] * n
    close_time[14] = 13 * 60
    m = market(closes, close_time=close_time)
    texts = [f"""
account: {{window: {w}, cash_minimum: {cm}, min_trade: {mt}, share_decimals: {d}}}
cashflows: [{{deposit: {dep}, date: 2024-01-08}}, {{deposit: {dep / 10}, every: month,
             start: 2024-02-01}}]
rebalance: {{every: month{band}}}
portfolio: {{slices: {{A: 40, Sub: {{target: 60, slices: {{B: 30, C: 45, D: 25}}}}}}}}
""" for w, cm, mt, d, dep, band in [("afternoon", 0, 1, 5, 5000, ""),
                                    ("morning", 100, 20, 0, 12000, ", drift_band: 2"),
                                    ("both", 40, 0.5, 3, 700, ""),
                                    ("afternoon", 0, 1, 2, 9000, ", drift_band: 1")]]
    accounts = [(strategy(t), m) for t in texts]
    singles = [run(Simulation(s, mk)) for s, mk in accounts]
    assert (singles[0].allocations["reason"] == "rebalance").any()
    calls = []
    original = Simulation._advance
    monkeypatch.setattr(Simulation, "_advance",
                        lambda self, i: calls.append(i) or original(self, i))
    sims = [Simulation(s, mk) for s, mk in accounts]
    with array_form_from(1):
        Batch(sims).run()
    assert calls == []
    for sim, single in zip(sims, singles, strict=True):
        _assert_same(tabulate(sim), single)
