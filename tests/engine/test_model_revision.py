"""The revised trading model (issue 13), one hand-worked scenario per rule.

Prices are round numbers and every expected figure is worked out in the
comment above its assertion, as in test_window_rules.py.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from engine_kit import day, market, simulate, strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.domain.halts import Halt
from backtest.errors import StrategyError
from backtest.io.market_builder import build_market
from backtest.io.prices import load_prices

NAN = math.nan


def trades_on(result, i):
    t = result.trades
    return t[t["date"] == day(i)].reset_index(drop=True)


def shares_of(result, i):
    """Shares per slice path held at the close of session i."""
    h = result.holdings
    h = h[h["date"] <= day(i)]
    return h.groupby("slice")["shares"].last().to_dict()


def drift_on(result, i):
    d = result.drift
    d = d[d["date"] == day(i)]
    return dict(zip(d["slice"].astype(str), d["actual"], strict=True))


def kinds_on(result, i):
    e = result.events
    return e[e["date"] == day(i)]["kind"].tolist()


THREE = """
account: {window: afternoon}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 25, C: 25}}
"""


# ---- removals change the pie at once -------------------------------------------------
def test_a_removal_and_a_same_day_edit_of_its_pie():
    # Day 0: 1000 at 10: A 50, B 25, C 25 shares. Day 1: C leaves the pie at once
    # (targets A 50 / B 50), then set_targets makes them A 60 / B 40 (no KeyError).
    # The window sells C's 25 shares for 250 and puts it into the root by the deposit
    # rule: T = 750 + 250 = 1000, A 500 of 600 (ratio 0.833), B 250 of 400 (0.625):
    # both reach L = 1, A gets 100 (10 shares), B 150 (15 shares): A 60, B 40.
    s = strategy(THREE + """
events:
  - {date: 2024-01-09, remove_slice: C, targets: {A: 50, B: 50}}
  - {date: 2024-01-09, set_targets: {pie: portfolio, slices: {A: 60, B: 40}}}
""")
    r = simulate(s, market({t: [10.0] * 3 for t in "ABC"}))
    assert shares_of(r, 1) == {"A": 60, "B": 40, "C": 0}
    assert kinds_on(r, 1) == ["target_edit", "removal"]
    assert r.daily["value"].tolist() == pytest.approx([1000.0] * 3)


def test_a_weekend_removal_then_mondays_edit():
    # Sessions are weekdays from Monday 2024-01-08; the removal dated Saturday the 13th
    # moves to Monday the 15th (session 5), where set_targets (dated the 15th) follows
    # it: the same arithmetic as above, on session 5: A 60, B 40.
    s = strategy(THREE + """
events:
  - {date: 2024-01-13, remove_slice: C, targets: {A: 50, B: 50}}
  - {date: 2024-01-15, set_targets: {pie: portfolio, slices: {A: 60, B: 40}}}
""")
    r = simulate(s, market({t: [10.0] * 7 for t in "ABC"}))
    assert shares_of(r, 4) == {"A": 50, "B": 25, "C": 25}
    assert shares_of(r, 5) == {"A": 60, "B": 40, "C": 0}


def test_a_removal_waits_on_a_halt_while_an_edit_and_a_deposit_follow_the_new_pie():
    # Day 1: C leaves the pie (A 50 / B 50) but C is halted over the afternoon window
    # on days 1 and 2, so its 25 shares (250) wait, belonging to no pie: the account is
    # still worth 1000, and the drift table has only A (500/750) and B (250/750).
    # Day 2: set_targets A 40 / B 60 and a deposit of 500: auto-invest by the new
    # targets, T = 750 + 500 = 1250: A 500 of 500 (ratio 1), B 250 of 750: B gets all
    # 500 (50 shares, B 75). Were C still in the pie, C would take a share of it.
    # Day 3: C trades: 250 into the root, T = 1500: A 500 of 600, B 750 of 900, both at
    # 0.833: A gets 100 (10 shares), B 150 (15 shares): A 60, B 90.
    halts = tuple(Halt(dt.date(2024, 1, d), 14 * 60, None, "C", "LULD") for d in (9, 10))
    s = strategy(THREE + """
cashflows: [{deposit: 1000, date: 2024-01-08}, {deposit: 500, date: 2024-01-10}]
events:
  - {date: 2024-01-09, remove_slice: C, targets: {A: 50, B: 50}}
  - {date: 2024-01-10, set_targets: {pie: portfolio, slices: {A: 40, B: 60}}}
""")
    r = simulate(s, market({t: [10.0] * 4 for t in "ABC"}, halts=halts))
    assert r.daily["value"].tolist() == pytest.approx([1000, 1000, 1500, 1500])
    assert drift_on(r, 1) == pytest.approx({"A": 500 / 750, "B": 250 / 750})
    assert shares_of(r, 2) == {"A": 50, "B": 75, "C": 25}
    assert shares_of(r, 3) == {"A": 60, "B": 90, "C": 0}
    assert kinds_on(r, 1) == ["halt_deferred"]
    assert kinds_on(r, 3) == ["removal"]


def test_leaving_holdings_get_their_dividends_and_are_outside_withdrawals():
    # C (25 shares) leaves on day 1 and waits on a halt; on day 2 it pays 1.00 a share:
    # 25 to cash. A withdrawal of 100 that day: cash 25 pays first and 75 is sold from
    # the pie (A 500, B 250: T = 675, A's excess 500 - 337.5 = 162.5 > 75, so all of it
    # from A: 7.5 shares); C's leaving shares are not touched. auto_invest is off.
    halts = tuple(Halt(dt.date(2024, 1, d), 14 * 60, None, "C", "LULD") for d in (9, 10))
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 100, date: 2024-01-10}
portfolio: {slices: {A: 50, B: 25, C: 25}}
events:
  - {date: 2024-01-08, order: {slice: portfolio, side: buy, amount: 1000}}
  - {date: 2024-01-09, remove_slice: C, targets: {A: 50, B: 50}}
""")
    r = simulate(s, market({t: [10.0] * 3 for t in "ABC"},
                           dividends={"C": [0.0, 0.0, 1.0]}, halts=halts))
    assert r.total_dividends == pytest.approx(25.0)
    assert shares_of(r, 2) == {"A": 42.5, "B": 25, "C": 25}
    assert r.daily["cash"].iloc[2] == pytest.approx(0.0)


def test_an_order_listed_before_the_same_day_add_slice_of_its_slice():
    # The order names C, which the add_slice listed after it creates that same day:
    # the window runs after the day's edits, so it buys C for 300 at 10 = 30 shares.
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 100}}
events:
  - {date: 2024-01-08, order: {slice: C, side: buy, amount: 300}}
  - {date: 2024-01-08, add_slice: {pie: portfolio, slices: {A: 70, C: 30}}}
""")
    r = simulate(s, market({"A": [10.0] * 2, "C": [10.0] * 2}))
    assert r.trades[["ticker", "side", "shares"]].values.tolist() == [["C", "buy", 30]]
    assert r.daily["cash"].iloc[0] == pytest.approx(700)


def test_an_order_on_a_slice_removed_the_same_day_is_rejected_at_its_window():
    # Listed before the removal it passes validation (the file is read in order), but
    # at the window C has left the pie: the order is rejected with an event and the
    # removal sells C's 25 shares into A and B (as in the first test: A 60, B 40 at
    # targets 60/40 -> here 50/50: T = 1000, A 500 of 500, B 250 of 500: B gets 250).
    s = strategy(THREE + """
events:
  - {date: 2024-01-09, order: {slice: C, side: sell, amount: all}}
  - {date: 2024-01-09, remove_slice: C, targets: {A: 50, B: 50}}
""")
    r = simulate(s, market({t: [10.0] * 2 for t in "ABC"}))
    assert kinds_on(r, 1) == ["rejected", "removal"]
    assert shares_of(r, 1) == {"A": 50, "B": 50, "C": 0}


def test_validation_refuses_an_order_after_the_removal_of_its_slice():
    with pytest.raises(StrategyError, match=r"events\[1\].order.slice.*removed on 2024-01-09"):
        strategy(THREE + """
events:
  - {date: 2024-01-09, remove_slice: C, targets: {A: 50, B: 50}}
  - {date: 2024-01-09, order: {slice: C, side: sell, amount: all}}
""")
    with pytest.raises(StrategyError, match=r"'D' is not in the portfolio"):
        strategy(THREE + """
events:
  - {date: 2024-01-09, order: {slice: D, side: buy, amount: 10}}
  - {date: 2024-01-10, add_slice: {pie: portfolio, slices: {A: 40, B: 20, C: 20, D: 20}}}
""")


def test_a_slice_added_back_under_a_removed_name_starts_empty():
    # Day 1: C (25 shares) is removed and added back the same day (A 40, B 40, C 20);
    # C is halted, so the old shares wait outside the pie and the new C holds nothing.
    # Day 2: the 250 of the old C goes into the root: A 500 of 400 (over), B 250 of
    # 400 (0.625), new C 0 of 200: C rises to 0.625 (125), then B and C together by
    # 125 / 600 to L = 0.8333: B +83.33333, C +166.66667 -> 8.33333 and 16.66666
    # shares. Netted per ticker: C sells 25 - 16.66666 = 8.33334, B buys 8.33333.
    s = strategy(THREE + """
events:
  - {date: 2024-01-09, remove_slice: C, targets: {A: 50, B: 50}}
  - {date: 2024-01-09, add_slice: {pie: portfolio, slices: {A: 40, B: 40, C: 20}}}
""")
    halt = (Halt(dt.date(2024, 1, 9), 14 * 60, None, "C", "LULD"),)
    r = simulate(s, market({t: [10.0] * 3 for t in "ABC"}, halts=halt))
    assert len(trades_on(r, 1)) == 0
    assert trades_on(r, 2)[["ticker", "side", "shares"]].values.tolist() == \
        [["B", "buy", 8.33333], ["C", "sell", 8.33334]]
    assert r.daily["value"].iloc[2] == pytest.approx(1000, abs=1e-4)

def test_removing_a_pie_and_then_its_parent_sends_the_proceeds_to_the_nearest_pie_left():
    # Root: X 50, Outer 50 {Y 50, Inner 50 {Z 100}}; 1000 at 10: X 50, Y 25, Z 25 shares.
    # Day 1: Outer/Inner is removed (Outer: Y 100), then Outer itself (root: X 100):
    # both sales wait for the window, where Inner's parent Outer is gone, so both go to
    # the root: X gets 250 + 250 = 500 (50 shares): X 100 shares.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio:
  slices:
    X: 50
    Outer: {target: 50, slices: {Y: 50, Inner: {target: 50, slices: {Z: 100}}}}
events:
  - {date: 2024-01-09, remove_slice: Outer/Inner, targets: {Y: 100}}
  - {date: 2024-01-09, remove_slice: Outer, targets: {X: 100}}
""")
    r = simulate(s, market({t: [10.0] * 2 for t in "XYZ"}))
    assert shares_of(r, 1) == {"X": 100, "Outer/Y": 0, "Outer/Inner/Z": 0}


# ---- thresholds within $0.000001 -----------------------------------------------------
def test_deposits_of_17_04_and_7_96_reach_the_auto_invest_threshold_exactly():
    # cash_minimum 100: 100, then 17.04, then 7.96: in floats 100 + 17.04 + 7.96 is
    # 124.99999999999999, i.e. excess 24.99999999999999 against min_auto_invest 25. It
    # is 25 within $0.000001: invested on day 2, 12.50 each at 10 = 1.25 shares.
    s = strategy("""
account: {window: afternoon, cash_minimum: 100}
cashflows:
  - {deposit: 100, date: 2024-01-08}
  - {deposit: 17.04, date: 2024-01-09}
  - {deposit: 7.96, date: 2024-01-10}
portfolio: {slices: {A: 50, B: 50}}
""")
    assert 100 + 17.04 + 7.96 < 125
    r = simulate(s, market({"A": [10.0] * 3, "B": [10.0] * 3}))
    assert trades_on(r, 2)["shares"].tolist() == [1.25, 1.25]
    assert r.daily["cash"].iloc[2] == pytest.approx(100)


def test_a_buy_of_exactly_min_trade_trades():
    # 812.50 into A 11.2 / B 88.8 (empty pie, by target): A's share is 0.112 x 812.50 =
    # 91.00, computed as 90.99999999999999; min_trade is 91, so it trades: 9.1 shares at
    # 10. B gets 721.50: 72.15 shares.
    s = strategy("""
account: {window: afternoon, min_trade: 91}
cashflows: [{deposit: 812.5, date: 2024-01-08}]
portfolio: {slices: {A: 11.2, B: 88.8}}
""")
    assert 11.2 / 100 * 812.5 < 91  # the target fraction times the deposit, in floats
    r = simulate(s, market({"A": [10.0], "B": [10.0]}))
    assert r.trades[["ticker", "shares"]].values.tolist() == [["A", 9.1], ["B", 72.15]]


def test_a_withdrawal_of_the_whole_account_within_a_millionth_is_paid():
    # auto_invest off: cash 17.04 + 7.96 = 24.999999999999996; a withdrawal of 25 is the
    # whole account within $0.000001: paid, not rejected; the cash ends at 0.
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows:
  - {deposit: 17.04, date: 2024-01-08}
  - {deposit: 7.96, date: 2024-01-08}
  - {withdrawal: 25, date: 2024-01-09}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 2}))
    assert "rejected" not in r.events["kind"].tolist()
    assert r.total_withdrawals == 25
    assert r.daily["cash"].iloc[1] == 0


# ---- targets divided by their sum ------------------------------------------------------
def test_targets_summing_to_99_9995_invest_the_whole_deposit():
    # 1,000,000 at price 1 into A 33.3333, B 33.3333, C 33.3329 (sum 99.9995, within the
    # 0.001 tolerance): each gets 1e6 x t / 99.9995 = t x 10000.0500002..., so A and B
    # get 333334.666668 -> 333334.66666 shares (rounded down on the 1e-5 grid) and C
    # 333330.666668 -> 333330.66666; only that rounding (< 0.00003) stays cash, not the
    # $5 that t / 100 would leave.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 1000000, date: 2024-01-08}]
portfolio: {slices: {A: 33.3333, B: 33.3333, C: 33.3329}}
""")
    r = simulate(s, market({t: [1.0] for t in "ABC"}))
    got = dict(zip(r.trades["ticker"], r.trades["shares"], strict=True))
    assert got == pytest.approx({"A": 333334.66666, "B": 333334.66666, "C": 333330.66666},
                                abs=1.1e-5)
    assert r.daily["cash"].iloc[0] < 3e-5


def test_targets_summing_to_100_0009_do_not_depend_on_the_slice_order():
    # A 50.0009 / B 50 (sum 100.0009) into 100,009 at 1: A gets 100009 x 50.0009 / 100.0009
    # = 50004.5 and B 50004.5... exactly: A = 50.0009 x 1000 = 50000.9 x ... worked out:
    # 100009 / 100.0009 = 1000.081..., A = 50.0009 x 1000.081 = 50004.95, B = 50004.05
    # (to the cent). Listing B first gives each slice the same amount.
    total = 100009.0
    a = total * 50.0009 / 100.0009
    b = total * 50 / 100.0009
    assert a + b == pytest.approx(total)
    assert (round(a, 2), round(b, 2)) == (50004.95, 50004.05)
    out = []
    for pie in ("{A: 50.0009, B: 50}", "{B: 50, A: 50.0009}"):
        s = strategy(f"""
account: {{window: afternoon}}
cashflows: [{{deposit: 100009, date: 2024-01-08}}]
portfolio: {{slices: {pie}}}
""")
        r = simulate(s, market({"A": [1.0], "B": [1.0]}))
        out.append(dict(zip(r.trades["ticker"], r.trades["amount"], strict=True)))
    assert out[0] == pytest.approx({"A": 50004.95, "B": 50004.05}, abs=0.01)
    assert out[0] == pytest.approx(out[1], abs=1e-5)


# ---- NaN closes ------------------------------------------------------------------------
def test_a_nan_close_row_is_no_price_that_day(tmp_path):
    # Long-form data where B's row of 2024-01-09 has a NaN close (data joined on dates):
    # loaded, not refused; that day B has no price, so it is halted with a missing_price
    # event and the buy order of B waits (halt_deferred) for the next day, 100 at 10.
    rows = [("2024-01-08", "A", 10.0), ("2024-01-08", "B", 10.0),
            ("2024-01-09", "A", 10.0), ("2024-01-09", "B", NAN),
            ("2024-01-10", "A", 10.0), ("2024-01-10", "B", 10.0)]
    frame = pd.DataFrame(rows, columns=["date", "ticker", "close"])
    frame["date"] = pd.to_datetime(frame["date"])
    path = tmp_path / "prices.parquet"
    frame.to_parquet(path)
    prices = load_prices(path)
    mkt, _ = build_market(prices, ["A", "B"])
    assert np.isnan(mkt.close[1, 1]) and len(mkt.sessions) == 3
    s = strategy("""
account: {window: afternoon, auto_invest: false}
cashflows: [{deposit: 100, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events: [{date: 2024-01-09, order: {slice: B, side: buy, amount: 100}}]
""")
    r = simulate(s, mkt)
    assert kinds_on(r, 1) == ["missing_price", "halt_deferred"]
    assert trades_on(r, 2)[["ticker", "shares"]].values.tolist() == [["B", 10]]


# ---- rebalances and the order within a step --------------------------------------------
def test_a_rebalance_waits_only_for_legs_that_trade():
    # min_trade 20; A/B 50/50 hold 50 shares each (500 + 500). Day 1: A is 10.20, B has
    # no price (valued at its last close 10): A 510, B 500, each's target 505. B's leg
    # is a buy of 5 < 20, which trades nothing, so the rebalance runs now: A sells
    # 5 / 10.20 = 0.490196 -> 0.49020 shares (rounded up), 5.00004.
    s = strategy("""
account: {window: afternoon, auto_invest: false, min_trade: 20}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events:
  - {date: 2024-01-08, order: {slice: portfolio, side: buy, amount: 1000}}
  - {date: 2024-01-09, rebalance: portfolio}
""")
    r = simulate(s, market({"A": [10.0, 10.2], "B": [10.0, NAN]}))
    assert trades_on(r, 1)[["ticker", "side", "shares"]].values.tolist() == \
        [["A", "sell", 0.4902]]
    assert kinds_on(r, 1) == ["missing_price"]


def test_a_drift_rebalance_runs_before_a_user_rebalance_dated_the_next_day():
    # C 20 / Core 80 {A 50, B 50}, 1000 at 10: C 20, A 40, B 40 shares. Day 1 close: A is
    # 15: A 600, B 400, C 200; A's weight in Core is 0.6 (band 5 points): a rebalance of
    # the portfolio joins the queue at that close, before the rebalance of Core dated
    # day 2. Day 2 (same prices): the portfolio first: T = 1200, C 240 (+4 shares),
    # A 480 (-8), B 480 (+8); then Core is at target and trades nothing: three fills.
    # (Core first would sell 6.66667 A and buy 10 B, then move 2 B and 1.33333 A on.)
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 1000, date: 2024-01-08}]
rebalance: {drift_band: 5}
portfolio:
  slices:
    C: 20
    Core: {target: 80, slices: {A: 50, B: 50}}
events: [{date: 2024-01-10, rebalance: Core}]
""")
    r = simulate(s, market({"C": [10.0] * 3, "A": [10.0, 15.0, 15.0], "B": [10.0] * 3}))
    f = r.fills[r.fills["date"] == day(2)]
    assert sorted(zip(f["ticker"], f["shares"].round(5), strict=True)) == \
        [("A", -8.0), ("B", 8.0), ("C", 4.0)]



def test_a_periodic_rebalance_joins_at_the_start_of_its_session_before_dated_requests():
    # The same pie and numbers as above, with `rebalance: {every: month}` instead of a
    # band: A is 15 from Wednesday 2024-01-31 (session 17). On Thursday 2024-02-01
    # (session 18) the periodic rebalance of the portfolio joins at the start of the
    # session, before the rebalance of Core dated that day: C +4, A -8, B +8 shares
    # (three fills), and Core, then at target, trades nothing.
    s = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 1000, date: 2024-01-08}]
rebalance: {every: month}
portfolio:
  slices:
    C: 20
    Core: {target: 80, slices: {A: 50, B: 50}}
events: [{date: 2024-02-01, rebalance: Core}]
""")
    n = 19
    r = simulate(s, market({"C": [10.0] * n, "A": [10.0] * 17 + [15.0] * 2,
                            "B": [10.0] * n}))
    assert day(18) == pd.Timestamp("2024-02-01")
    f = r.fills[r.fills["date"] == day(18)]
    assert sorted(zip(f["ticker"], f["shares"].round(5), strict=True)) == \
        [("A", -8.0), ("B", 8.0), ("C", 4.0)]

# ---- the exact TWR ---------------------------------------------------------------------
def test_the_twr_of_a_session_with_a_withdrawal_of_99_9_percent():
    # Day 0: 1000 buys A at 10 (100 shares): index 1. Day 1 (morning, open 11, close 12):
    # V_w = 100 x 11 = 1100; 1098.90 (99.9%) is withdrawn: 99.9 shares sold (grid
    # rounding up may sell 0.00001 more); 0.1 share is left, 1.20 at the close. Factor
    # 1100 / 1000 x 1.20 / (1100 - 1098.90) = 1.1 x 1.2 / 1.1 = 1.2: the stock's +20%.
    # With the withdrawal at the session's start the base would be 1000 - 1098.90 < 0.
    s = strategy("""
account: {window: morning}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 1098.9, date: 2024-01-09}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0, 12.0]}, opens={"A": [10.0, 11.0]}))
    assert r.daily["twr_index"].tolist() == pytest.approx([1.0, 1.2], abs=2e-4)


def test_replay_and_run_agree_on_the_exact_twr():
    from backtest.engine.simulation import Simulation
    from backtest.replay import iter_views

    s = strategy("""
account: {window: both}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 300, date: 2024-01-09}
portfolio: {slices: {A: 60, B: 40}}
""")
    mkt = market({"A": [10.0, 12.0, 11.0], "B": [10.0, 9.0, 9.5]},
                 opens={"A": [10.0, 11.0, 11.5], "B": [10.0, 9.5, 9.0]})
    r = simulate(s, mkt)
    views = list(iter_views(Simulation(s, mkt), 0, 2))
    assert [v.twr_index for v in views] == pytest.approx(r.daily["twr_index"].tolist(),
                                                         rel=1e-12)


# ---- dividends: cash | reinvest --------------------------------------------------------
DIVIDEND_PIE = """
account: {window: afternoon, auto_invest: false, dividends: %s}
cashflows: [{deposit: 1000, date: 2024-01-08}]
portfolio: {slices: {A: 50, B: 50}}
events: [{date: 2024-01-08, order: {slice: portfolio, side: buy, amount: 1000}}]
"""


def test_reinvested_dividends_go_back_into_the_slice_that_paid_them():
    # 50 shares each. Day 1: A pays 0.50 a share (25.00 >= min_trade 1), B 0.01 (0.50 <
    # 1). A's 25 buys 2.5 shares of A at 10, ignoring targets; B's 0.50 stays cash.
    s = strategy(DIVIDEND_PIE % "reinvest")
    r = simulate(s, market({"A": [10.0] * 2, "B": [10.0] * 2},
                           dividends={"A": [0.0, 0.5], "B": [0.0, 0.01]}))
    assert trades_on(r, 1)[["ticker", "side", "shares"]].values.tolist() == \
        [["A", "buy", 2.5]]
    a = r.allocations
    assert a[a["date"] == day(1)]["reason"].tolist() == ["dividend"]
    assert r.daily["cash"].iloc[1] == pytest.approx(0.5)


def test_dividends_to_cash_stay_cash_without_auto_invest():
    # The same dividends with `dividends: cash` (the default): 25.50 of cash, no trade.
    s = strategy(DIVIDEND_PIE % "cash")
    r = simulate(s, market({"A": [10.0] * 2, "B": [10.0] * 2},
                           dividends={"A": [0.0, 0.5], "B": [0.0, 0.01]}))
    assert len(trades_on(r, 1)) == 0
    assert r.daily["cash"].iloc[1] == pytest.approx(25.5)


def test_the_dividends_setting_is_checked():
    with pytest.raises(StrategyError, match=r"account.dividends: must be one of cash, reinvest"):
        strategy(DIVIDEND_PIE % "drip")


# ---- whatever the check accepts, the engine runs ---------------------------------------
@st.composite
def edit_scenarios(draw):
    """Random same-day and later edits, additions, removals, orders and rebalances on
    A, B, Sub {C, D}, tracked on a small model of the tree so the file is valid; halts
    and missing prices on days 1-3, none on days 4-5."""
    tree: dict[str, dict | None] = {"A": None, "B": None, "Sub": {"C": None, "D": None}}
    fresh = iter("EFGH")
    events = []

    def pies(node: dict, prefix: str = "") -> list[tuple[str, dict]]:
        out = [(prefix or "portfolio", node)]
        for name, sub in node.items():
            if sub is not None:
                out += pies(sub, f"{prefix}/{name}" if prefix else name)
        return out

    def paths(node: dict, prefix: str = "") -> list[str]:
        out = []
        for name, sub in node.items():
            p = f"{prefix}/{name}" if prefix else name
            out.append(p)
            if sub is not None:
                out += paths(sub, p)
        return out

    def equal(names) -> str:
        names = list(names)
        pct = [round(100 / len(names), 3)] * len(names)
        pct[-1] = round(100 - sum(pct[:-1]), 3)
        return "{" + ", ".join(f"{n}: {p}" for n, p in zip(names, pct, strict=True)) + "}"

    days = sorted(draw(st.lists(st.sampled_from([9, 10, 11, 13]), min_size=1, max_size=7)))
    for d in (f"2024-01-{x:02d}" for x in days):
        kind = draw(st.sampled_from(["remove", "set", "add", "order", "rebalance"]))
        if kind == "remove":
            choices = [(p, node) for p, node in pies(tree) if len(node) > 1]
            if not choices:
                continue
            pie, node = draw(st.sampled_from(choices))
            name = draw(st.sampled_from(sorted(node)))
            del node[name]
            path = name if pie == "portfolio" else f"{pie}/{name}"
            events.append(f"{{date: {d}, remove_slice: {path}, targets: {equal(node)}}}")
        elif kind == "set":
            pie, node = draw(st.sampled_from(pies(tree)))
            events.append(f"{{date: {d}, set_targets: {{pie: {pie}, slices: {equal(node)}}}}}")
        elif kind == "add":
            name = next(fresh, None)
            if name is None:
                continue
            pie, node = draw(st.sampled_from(pies(tree)))
            node[name] = None
            events.append(f"{{date: {d}, add_slice: {{pie: {pie}, slices: {equal(node)}}}}}")
        elif kind == "order":
            path = draw(st.sampled_from(["portfolio", *paths(tree)]))
            side = draw(st.sampled_from(["buy", "sell"]))
            amount = "all" if side == "sell" and draw(st.booleans()) else "150"
            events.append(f"{{date: {d}, order: {{slice: {path}, side: {side}, "
                          f"amount: {amount}}}}}")
        else:
            pie, _ = draw(st.sampled_from(pies(tree)))
            events.append(f"{{date: {d}, rebalance: {pie}}}")
    halts = []
    closes = {t: [10.0 + i for i in range(6)] for t in "ABCDEFGH"}
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(1, 3))
        t = draw(st.sampled_from("ABCDEFGH"))
        if draw(st.booleans()):
            closes[t][i] = NAN
        else:
            halts.append(Halt(dt.date(2024, 1, 8 + i), 9 * 60, None, t, "LULD"))
    text = f"""
account: {{window: morning}}
cashflows: [{{deposit: 1000, date: 2024-01-08}}, {{withdrawal: 100, date: 2024-01-10}}]
rebalance: {{drift_band: 2}}
portfolio: {{slices: {{A: 25, B: 25, Sub: {{target: 50, slices: {{C: 50, D: 50}}}}}}}}
events: [{", ".join(events)}]
"""
    return text, closes, tuple(halts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_scenarios())
def test_every_file_the_check_accepts_runs_and_removed_holdings_are_sold(case):
    text, closes, halts = case
    r = simulate(strategy(text), market(closes, halts=halts))
    d = r.daily
    assert np.allclose(d["cash"] + d["invested"], d["value"])
    assert (d["cash"] >= -1e-9).all() and np.isfinite(d["twr_index"]).all()
    # Days 4 and 5 have every price and no halt: every removal's sale has traded, so
    # only slices still in the pie hold shares at the end.
    live = set(r.drift[r.drift["date"] == day(5)]["slice"].astype(str))
    held = {s for s, n in shares_of(r, 5).items() if n > 0}
    assert held <= live
