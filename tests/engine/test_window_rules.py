"""One hand-worked scenario per trading rule (trading-model.md).

Each test builds a tiny market whose numbers are easy to follow and states
the arithmetic in a comment; the assertions are those hand-worked numbers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from engine_kit import day, market, simulate, strategy

from backtest.domain.halts import Halt

FLAT = {"A": [10.0] * 4, "B": [10.0] * 4}


def trades_on(result, i):
    t = result.trades
    return t[t["date"] == day(i)].reset_index(drop=True)


def kinds(result):
    return result.events["kind"].tolist()


def test_a_buy_under_min_trade_is_skipped_and_its_money_stays_cash():
    # 100 into A 99.5 / B 0.5: A gets 99.50 -> 9.95 shares; B's 0.50 < min_trade 1: cash.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 99.5, B: 0.5}}
""")
    r = simulate(s, market(FLAT))
    assert r.trades[["ticker", "shares"]].values.tolist() == [["A", 9.95]]
    assert r.daily["cash"].iloc[-1] == pytest.approx(0.5)


def test_auto_invest_waits_until_the_excess_reaches_min_auto_invest():
    # Day 0: 20 arrives, 20 < 25: stays cash. Day 1: 10 more, 30 >= 25: 15 + 15 at 10.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 20, date: 2024-01-08}, {deposit: 10, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
""")
    r = simulate(s, market(FLAT))
    assert len(trades_on(r, 0)) == 0
    assert r.daily["cash"].iloc[0] == pytest.approx(20)
    assert trades_on(r, 1)["shares"].tolist() == [1.5, 1.5]
    assert r.daily["cash"].iloc[1] == pytest.approx(0)


def test_cash_minimum_stays_uninvested():
    # 1000 with cash_minimum 100: 900 invested, 450 each at 10 = 45 shares.
    s = strategy("""
account: {window: afternoon, cash_minimum: 100}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
""")
    r = simulate(s, market(FLAT))
    assert r.trades["shares"].tolist() == [45, 45]
    assert r.daily["cash"].iloc[-1] == pytest.approx(100)


def test_buys_round_shares_down_and_sells_round_up():
    # Buy 100 at 3: 33.333333 -> 33.33333 shares for 99.99999; cash 0.00001.
    # Sell order 50 at 3: 16.666667 -> 16.66667 shares (up) for 50.00001.
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 100}}
events:
  - {date: 2024-01-08, order: {slice: A, side: buy, amount: 100}}
  - {date: 2024-01-09, order: {slice: A, side: sell, amount: 50}}
""")
    r = simulate(s, market({"A": [3.0, 3.0, 3.0]}))
    t = r.trades
    assert t["side"].tolist() == ["buy", "sell"]
    assert t["shares"].tolist() == [33.33333, 16.66667]
    assert t["amount"].iloc[1] == pytest.approx(50.00001)
    assert r.daily["cash"].iloc[0] == pytest.approx(0.00001)
    assert r.daily["cash"].iloc[1] == pytest.approx(50.00002)


def test_share_decimals_sets_the_grid():
    # share_decimals 2: 100 at 3 -> 33.33 shares for 99.99.
    s = strategy("""
account: {window: afternoon, share_decimals: 2}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [3.0, 3.0]}))
    assert r.trades["shares"].tolist() == [33.33]


def test_buy_orders_that_exceed_cash_are_scaled_down_together():
    # Cash 100; buy A 150 and B 50 (total 200) -> factor 0.5: A 75, B 25 at 10.
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events:
  - {date: 2024-01-08, order: {slice: A, side: buy, amount: 150}}
  - {date: 2024-01-08, order: {slice: B, side: buy, amount: 50}}
""")
    r = simulate(s, market(FLAT))
    assert r.trades[["ticker", "shares"]].values.tolist() == [["A", 7.5], ["B", 2.5]]
    ev = r.events
    assert ev["kind"].tolist() == ["scaled"]
    assert "0.5" in ev["detail"].iloc[0]


def test_sells_fund_the_buys_of_the_same_window():
    # Day 0: 100 -> 5 shares each. Day 1: sell A 30 (3 shares) and buy B 30 with
    # no cash but the sale: B gets 3 shares, nothing is scaled.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events:
  - {date: 2024-01-09, order: {slice: A, side: sell, amount: 30}}
  - {date: 2024-01-09, order: {slice: B, side: buy, amount: 30}}
""")
    r = simulate(s, market(FLAT))
    assert trades_on(r, 1)[["ticker", "side", "shares"]].values.tolist() == \
        [["A", "sell", 3.0], ["B", "buy", 3.0]]
    assert "scaled" not in kinds(r)


def test_selling_all_of_a_sub_pie_empties_it():
    # Day 0: 1000 -> A 500 (50 sh), Sub 500 -> B 25 sh, C 25 sh. Day 1: sell Sub all;
    # auto-invest off, so the 500 stays cash.
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, Sub: {target: 50, slices: {B: 50, C: 50}}}}
events:
  - {date: 2024-01-08, order: {slice: portfolio, side: buy, amount: 1000}}
  - {date: 2024-01-09, order: {slice: Sub, side: sell, amount: all}}
""")
    r = simulate(s, market({"A": [10.0] * 3, "B": [10.0] * 3, "C": [10.0] * 3}))
    assert trades_on(r, 0)["shares"].tolist() == [50, 25, 25]
    assert trades_on(r, 1)[["ticker", "side", "shares"]].values.tolist() == \
        [["B", "sell", 25.0], ["C", "sell", 25.0]]
    assert r.daily["cash"].iloc[1] == pytest.approx(500)


def test_removal_reinvests_in_the_parent_even_with_auto_invest_off():
    # Day 0 buys A 50 sh, B 25 sh, C 25 sh at 10. Day 1 B is 12: remove Sub/B with
    # C 100: sell 25 x 12 = 300 and put it into Sub (only C now): 30 shares of C at 10.
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, Sub: {target: 50, slices: {B: 50, C: 50}}}}
events:
  - {date: 2024-01-08, order: {slice: portfolio, side: buy, amount: 1000}}
  - {date: 2024-01-09, remove_slice: Sub/B, targets: {C: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 3, "B": [10.0, 12.0, 12.0], "C": [10.0] * 3}))
    assert trades_on(r, 1)[["ticker", "side", "shares"]].values.tolist() == \
        [["B", "sell", 25.0], ["C", "buy", 30.0]]
    assert kinds(r) == ["removal"]
    alloc = r.allocations
    assert set(alloc[alloc["date"] == day(1)]["reason"]) == {"removal"}
    assert "Sub/B" not in set(r.drift[r.drift["date"] == day(2)]["slice"])


def test_rebalance_trades_every_holding_to_its_target_and_leaves_cash_alone():
    # Day 0: 200 -> 10 sh each at 10. Day 1: A 15, B 5 -> 150 + 50 = 200; targets 100 each.
    # Sell A 50/15 = 3.333333 -> 3.33334 sh (50.0001); buy B 50/5 = 10 sh (50).
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 200, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events: [{date: 2024-01-09, rebalance: portfolio}]
""")
    r = simulate(s, market({"A": [10.0, 15.0, 15.0], "B": [10.0, 5.0, 5.0]}))
    t = trades_on(r, 1)
    assert t[["ticker", "side", "shares"]].values.tolist() == \
        [["A", "sell", 3.33334], ["B", "buy", 10.0]]
    assert r.daily["cash"].iloc[1] == pytest.approx(0.0001)
    drift = r.drift[r.drift["date"] == day(1)]
    np.testing.assert_allclose(drift["actual"], [0.5, 0.5], atol=1e-6)


def test_withdrawal_larger_than_the_account_is_rejected_whole():
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 200, date: 2024-01-08}, {withdrawal: 500, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
""")
    r = simulate(s, market(FLAT))
    assert kinds(r) == ["rejected"]
    assert r.total_withdrawals == 0
    assert len(trades_on(r, 1)) == 0
    assert r.daily["value"].iloc[1] == pytest.approx(200)


def test_withdrawal_takes_cash_first_then_sells_the_overweight():
    # cash_minimum 30: 230 -> 100 + 100 invested, 30 cash. Day 1 A 12: values 120/100.
    # Withdraw 50: cash pays 30; 20 by the rule: T = 200, targets 100/100, only A over:
    # A gives 20 -> 20/12 = 1.666667 -> 1.66667 sh (20.00004). Cash 30 + 20.00004 - 50.
    s = strategy("""
account: {window: afternoon, cash_minimum: 30}
cashflows: [{deposit: 230, date: 2024-01-08}, {withdrawal: 50, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
""")
    r = simulate(s, market({"A": [10.0, 12.0, 12.0], "B": [10.0] * 3}))
    assert trades_on(r, 1)[["ticker", "side", "shares"]].values.tolist() == \
        [["A", "sell", 1.66667]]
    assert r.daily["cash"].iloc[1] == pytest.approx(0.00004)
    assert r.daily["net_flow"].iloc[1] == -50
    assert r.total_withdrawals == 50


def test_market_halt_over_the_window_defers_everything_to_the_next_window():
    # Morning window 09:30-10:00, halt 09:40-09:55: day 1's 100 waits; day 2 invests it at
    # the open (8): 50/8 = 6.25 sh each.
    halt = Halt(dt.date(2024, 1, 9), 580, 595, "market", "1")
    s = strategy("""
cashflows: [{deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
""")
    m = market({"A": [10.0] * 3, "B": [10.0] * 3},
               opens={"A": [10.0, 10.0, 8.0], "B": [10.0, 10.0, 8.0]}, halts=(halt,))
    r = simulate(s, m)
    assert kinds(r) == ["halt_deferred"]
    assert r.daily["cash"].iloc[1] == pytest.approx(100)
    assert trades_on(r, 2)["shares"].tolist() == [6.25, 6.25]


def test_with_both_windows_the_afternoon_trades_what_the_morning_could_not():
    # Same halt; window both: the afternoon of day 1 invests at the close (10): 5 sh each.
    halt = Halt(dt.date(2024, 1, 9), 580, 595, "market", "1")
    s = strategy("""
account: {window: both}
cashflows: [{deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
""")
    m = market({"A": [10.0] * 3, "B": [10.0] * 3},
               opens={"A": [9.0] * 3, "B": [9.0] * 3}, halts=(halt,))
    r = simulate(s, m)
    t = trades_on(r, 1)
    assert t["window"].tolist() == ["afternoon", "afternoon"]
    assert t["shares"].tolist() == [5.0, 5.0]


def test_both_windows_invest_in_the_morning_at_the_open():
    s = strategy("""
account: {window: both}
cashflows: [{deposit: 90, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
""")
    m = market({"A": [10.0] * 2, "B": [10.0] * 2}, opens={"A": [9.0] * 2, "B": [9.0] * 2})
    r = simulate(s, m)
    assert r.trades[["window", "shares", "price"]].values.tolist() == \
        [["morning", 5.0, 9.0], ["morning", 5.0, 9.0]]


def test_level_3_halts_the_rest_of_the_day():
    # A level 3 halt at 11:00-11:30 halts the rest of the day (its end is ignored):
    # the 15:00 window is deferred and day 1's deposit is invested on day 2.
    halt = Halt(dt.date(2024, 1, 9), 660, 690, "market", "3")
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 3}, halts=(halt,)))
    assert kinds(r) == ["halt_deferred"]
    assert len(trades_on(r, 1)) == 0
    assert trades_on(r, 2)["shares"].tolist() == [10.0]


def test_a_level_1_halt_that_ends_before_the_window_does_not_defer_it():
    halt = Halt(dt.date(2024, 1, 9), 660, 675, "market", "1")
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 3}, halts=(halt,)))
    assert kinds(r) == []
    assert trades_on(r, 1)["shares"].tolist() == [10.0]


def test_an_early_close_skips_the_afternoon_window():
    # Day 1 closes at 13:00: the 15:00 window is skipped; the deposit is invested on day 2.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 3}, close_time=[960, 780, 960]))
    assert kinds(r) == ["window_skipped"]
    assert len(trades_on(r, 1)) == 0
    assert trades_on(r, 2)["shares"].tolist() == [10.0]


def test_a_ticker_halt_defers_requests_on_it_and_auto_invest_skips_it():
    # Day 0: 200 -> 10 sh each. Day 1: B halted all day; 100 arrives: at target, so A's
    # share 50 is invested (5 sh) and B's 50 stays cash; the order to buy B waits.
    # Day 2: the order buys B first (20 -> 2 sh), then auto-invest: cash 30 >= 25,
    # values A 150, B 120, T = 300, B's target 150 -> B gets all 30 (3 sh).
    halt = Halt(dt.date(2024, 1, 9), 540, 960, "B", "news")
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 200, date: 2024-01-08}, {deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
events: [{date: 2024-01-09, order: {slice: B, side: buy, amount: 20}}]
""")
    r = simulate(s, market(FLAT, halts=(halt,)))
    assert trades_on(r, 1)[["ticker", "shares"]].values.tolist() == [["A", 5.0]]
    assert r.daily["cash"].iloc[1] == pytest.approx(50)
    assert kinds(r) == ["halt_deferred"]
    assert trades_on(r, 2)[["ticker", "shares"]].values.tolist() == [["B", 5.0]]
    alloc = r.allocations[r.allocations["date"] == day(2)]
    assert alloc[["reason", "shares"]].values.tolist() == [["order", 2.0], ["auto_invest", 3.0]]


def test_a_missing_price_is_a_halt_and_the_log_says_so():
    # B has no price on day 1: its share of the 100 stays cash and the log says so;
    # B is valued at its last close (10) meanwhile.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 200, date: 2024-01-08}, {deposit: 100, date: 2024-01-09}]
portfolio: {slices: {A: 50, B: 50}}
""")
    m = market({"A": [10.0] * 3, "B": [10.0, np.nan, 10.0]})
    r = simulate(s, m)
    assert trades_on(r, 1)[["ticker", "shares"]].values.tolist() == [["A", 5.0]]
    assert "missing_price" in kinds(r)
    assert r.daily["value"].iloc[1] == pytest.approx(300)


def test_dividends_arrive_as_cash_and_are_not_flows():
    # 10 shares of A, 0.50 a share on day 1: 5.00 of cash; under 25, so it stays cash.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 3}, dividends={"A": [0, 0.5, 0]}))
    assert r.total_dividends == pytest.approx(5)
    assert r.daily["net_flow"].tolist() == [100, 0, 0]
    assert r.daily["cash"].iloc[1] == pytest.approx(5)
    assert r.daily["twr_index"].iloc[1] == pytest.approx(1.05)


def test_target_edits_and_added_slices_never_trade_by_themselves():
    # Day 1 adds C (targets 40/30/30): no trade. Day 2's 100: values A 50, B 50, C 0,
    # T = 200, target values 80/60/60, shortfalls 30/10/60 sum to exactly 100, so the
    # level is L = 1 and each slice gets its shortfall: 3, 1 and 6 shares at 10.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-08}, {deposit: 100, date: 2024-01-10}]
portfolio: {slices: {A: 50, B: 50}}
events:
  - {date: 2024-01-09, add_slice: {pie: portfolio, slices: {A: 40, B: 30, C: 30}}}
""")
    m = market({"A": [10.0] * 4, "B": [10.0] * 4, "C": [10.0] * 4})
    r = simulate(s, m)
    assert len(trades_on(r, 1)) == 0
    assert kinds(r) == ["target_edit"]
    assert trades_on(r, 2)[["ticker", "shares"]].values.tolist() == \
        [["A", 3.0], ["B", 1.0], ["C", 6.0]]


def test_set_targets_takes_effect_at_once_without_trading():
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events: [{date: 2024-01-09, set_targets: {pie: portfolio, slices: {A: 80, B: 20}}}]
""")
    r = simulate(s, market(FLAT))
    assert len(trades_on(r, 1)) == 0
    d = r.drift[(r.drift["date"] == day(1)) & (r.drift["slice"] == "A")]
    assert d[["target", "actual"]].values.tolist() == [[0.8, 0.5]]


def test_periodic_rebalance_runs_on_the_first_session_of_each_month():
    # Sessions 2024-01-29 .. 2024-02-02; A doubles on 01-30. Only 02-01 rebalances.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 100, date: 2024-01-29}]
rebalance: {every: month}
portfolio: {slices: {A: 50, B: 50}}
""")
    m = market({"A": [10.0, 20.0, 20.0, 20.0, 20.0], "B": [10.0] * 5}, start="2024-01-29")
    r = simulate(s, m)
    rb = r.allocations[r.allocations["reason"] == "rebalance"]
    assert set(rb["date"].dt.strftime("%Y-%m-%d")) == {"2024-02-01"}
    # 100 + 50 = 150 -> 75 each: sell A 25/20 = 1.25 sh, buy B 25/10 = 2.5 sh.
    assert rb[["slice", "shares"]].values.tolist() == [["A", -1.25], ["B", 2.5]]


def test_drift_band_queues_one_rebalance_for_the_next_window():
    # 10 sh each at 10. Day 1 A 12: 120/220 = 54.5% (inside 5 points). Day 2 A 13:
    # 130/230 = 56.5% (outside) -> rebalance in day 3's window at A 13, B 10:
    # 115 each: sell A 15/13 = 1.153846 -> 1.15385 sh; buy B 1.5 sh.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 200, date: 2024-01-08}]
rebalance: {every: never, drift_band: 5}
portfolio: {slices: {A: 50, B: 50}}
""")
    m = market({"A": [10.0, 12.0, 13.0, 13.0, 13.0], "B": [10.0] * 5})
    r = simulate(s, m)
    rb = r.allocations[r.allocations["reason"] == "rebalance"]
    assert rb["date"].unique().tolist() == [day(3)]
    assert rb[["slice", "shares"]].values.tolist() == [["A", -1.15385], ["B", 1.5]]


def test_proportional_allocation_differs_from_waterfill():
    # Values A 80, B 10, C 10 (targets 50/30/20) then 20 arrives (see the allocation
    # tests): waterfill gives B 14, C 6; proportional gives B 13, C 7. Prices 1.
    text = """
account: {{window: afternoon, allocation: {rule}, min_auto_invest: 1}}
cashflows: [{{deposit: 20, date: 2024-01-09}}]
portfolio: {{slices: {{A: 50, B: 30, C: 20}}}}
events:
  - {{date: 2024-01-08, order: {{slice: A, side: buy, amount: 80}}}}
  - {{date: 2024-01-08, order: {{slice: B, side: buy, amount: 10}}}}
  - {{date: 2024-01-08, order: {{slice: C, side: buy, amount: 10}}}}
cashflows_extra: null
"""
    m = market({"A": [1.0] * 3, "B": [1.0] * 3, "C": [1.0] * 3})
    for rule, expected in (("waterfill", [14.0, 6.0]), ("proportional", [13.0, 7.0])):
        s = strategy(text.replace("cashflows_extra: null\n", "").format(rule=rule)
                     .replace("cashflows: [{deposit: 20, date: 2024-01-09}]",
                              "cashflows: [{deposit: 100, date: 2024-01-08}, "
                              "{deposit: 20, date: 2024-01-09}]"))
        r = simulate(s, m)
        assert trades_on(r, 1)["shares"].tolist() == expected, rule
