"""Withdrawal plans: percent of the account, indexed amounts, depletion (hand-worked)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_kit import date, market, sessions, simulate, strategy  # noqa: E402

from backtest.analytics import withdrawals as W  # noqa: E402
from backtest.domain.strategy import Cashflow, PriceIndex  # noqa: E402
from backtest.engine.schedule import cashflow_amounts  # noqa: E402
from backtest.engine.summary import summarize  # noqa: E402
from backtest.errors import StrategyError  # noqa: E402
from backtest.io.caveats import cpi_notes  # noqa: E402
from backtest.io.strategy_file import load_strategy  # noqa: E402
from backtest.report.plan_cards import plan_cards  # noqa: E402

D = dt.date


def shares_of(result) -> float:
    return float(result.holdings["shares"].iloc[-1])


def test_percent_withdrawal_is_taken_from_the_value_at_the_paying_window():
    # 52% a year, weekly: 1% of the account at each window that pays it.
    # Day 0: 1000 buys 100 A at 10. Day 1 (Tue): 1% of 100 x 10 = 10.00 -> 1 share sold.
    # Day 6: the morning window's price is the open, 15: 1% of 99 x 15 = 14.85 -> 0.99
    # share, 98.01 left (the close, 20, does not count). Day 11 at 20: 1% of 98.01 x 20
    # = 19.602 -> 0.9801 share, 97.0299 left.
    closes = [10.0] * 6 + [20.0] * 6
    opens = closes.copy()
    opens[6] = 15.0
    s = strategy("""
account: {window: morning}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 52%, every: week, start: 2024-01-09}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": closes}, opens={"A": opens}))
    paid = r.withdrawals[r.withdrawals > 0]
    assert paid.tolist() == pytest.approx([10.0, 14.85, 19.602], abs=1e-9)
    assert shares_of(r) == pytest.approx(97.0299, abs=1e-9)
    assert r.daily["cash"].iloc[-1] == pytest.approx(0.0, abs=1e-9)


def test_a_one_off_percent_withdrawal_takes_the_whole_percent():
    # 25% of 100 shares x 10 = 250 on day 2: 25 shares sold, 75 left.
    s = strategy("""
account: {window: afternoon}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 25%, date: 2024-01-10}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 4}))
    assert r.total_withdrawals == pytest.approx(250.0)
    assert shares_of(r) == pytest.approx(75.0)


def test_a_fixed_rate_compounds_exactly_on_every_anniversary():
    # 1000 a year from 2024-01-08, indexed 10%: 1000, 1100, 1210, 1331 (1000 x 1.1**k),
    # each paid on the first session on or after its date.
    flow = Cashflow("withdrawal", 1000.0, every="year", start=D(2024, 1, 8), indexed=0.1)
    days = sessions(1100)  # business days to 2028-03
    amounts = [a for _, a, _ in cashflow_amounts(flow, days)]
    assert amounts == [1000.0, 1000.0 * 1.1, 1000.0 * 1.1**2, 1000.0 * 1.1**3,
                       1000.0 * 1.1**4]
    assert amounts[2] == pytest.approx(1210.0, abs=1e-9)
    # Quarterly at 2%: four at 100, four at 102, four at 104.04: the rise is yearly.
    q = Cashflow("withdrawal", 100.0, every="quarter", start=D(2024, 1, 8), indexed=0.02)
    qa = [a for _, a, _ in cashflow_amounts(q, sessions(780))][:12]
    assert qa == pytest.approx([100.0] * 4 + [102.0] * 4 + [104.04] * 4, abs=1e-9)


def test_the_engine_pays_the_indexed_amounts():
    # 1000 a year at 10%: 1000 on 2024-01-08 and 1100 on 2025-01-08, flat prices.
    s = strategy("""
account: {window: afternoon}
cashflows:
  - {deposit: 10000, date: 2024-01-08}
  - {withdrawal: 1000, every: year, start: 2024-01-08, indexed: 0.1}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 270}))
    paid = r.withdrawals[r.withdrawals > 0]
    assert paid.tolist() == pytest.approx([1000.0, 1100.0])


def test_cpi_indexing_uses_the_level_at_each_anniversary(tmp_path: Path):
    # CPI 100 in Jan 2024, 103 in Jan 2025, 106.09 in Jan 2026: a 500 withdrawal from
    # 2024-01-15 is 500, then 500 x 103/100 = 515, then 500 x 106.09/100 = 530.45.
    pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-07-01", "2025-01-01",
                                          "2026-01-01"]),
                  "cpi": [100.0, 101.5, 103.0, 106.09]}).to_parquet(tmp_path / "cpi.parquet")
    (tmp_path / "s.yaml").write_text("""
name: cpi
data: {prices: prices.parquet, cpi: cpi.parquet}
cashflows:
  - {withdrawal: 500, every: year, start: 2024-01-15, indexed: cpi}
portfolio: {slices: {A: 100}}
""")
    s = load_strategy(tmp_path / "s.yaml")
    cpi = s.cashflows[0].cpi
    assert cpi == PriceIndex((D(2024, 1, 1), D(2024, 7, 1), D(2025, 1, 1), D(2026, 1, 1)),
                               (100.0, 101.5, 103.0, 106.09))
    amounts = [a for _, a, _ in cashflow_amounts(s.cashflows[0], sessions(600, "2024-01-15"))]
    assert amounts == pytest.approx([500.0, 515.0, 530.45], abs=1e-9)
    # A run past the series' last month (2026-01) by more than 45 days says so, once.
    notes = cpi_notes(s, market({"A": [10.0] * 600}, start="2024-01-15"))
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("the CPI series ends on 2026-01-01")


def test_a_plan_that_runs_out_says_when():
    # 1000 at 10 buys 100 shares; 400 a week from day 1 (Tue): day 1 and day 6 are paid
    # (200 left); day 11 asks 400 > 200: rejected, so depleted_on is day 11's date.
    # First-year withdrawals 800 over the starting 1000: a rate of 80%.
    s = strategy("""
account: {window: afternoon}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 400, every: week, start: 2024-01-09}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0] * 12}))
    summary = summarize(r)
    assert summary["depleted_on"] == date(11).isoformat()
    assert summary["withdrawal_rate"] == pytest.approx(0.8)
    cards = plan_cards(summary)
    assert (cards[0]["label"], cards[0]["value"], cards[0]["cls"]) == (
        "Money ran out on", date(11).isoformat(), "neg")


def test_a_plan_that_lasts_has_no_depletion_date():
    s = strategy("""
account: {window: afternoon}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 100, every: week, start: 2024-01-09}
portfolio: {slices: {A: 100}}
""")
    summary = summarize(simulate(s, market({"A": [10.0] * 12})))
    assert summary["depleted_on"] is None
    assert summary["withdrawal_rate"] == pytest.approx(0.3)  # 3 x 100 / 1000


def test_a_schedule_that_ends_early_is_named():
    # Monthly on the 8th from 2024-01-08 over sessions to 2024-07-05: 6 occurrences
    # (Jan-Jun); ending 2024-03-31 it pays 3 of them.
    flows = (Cashflow("withdrawal", 10.0, every="month", start=D(2024, 1, 8),
                      end=D(2024, 3, 31)),
             Cashflow("withdrawal", 10.0, every="month", start=D(2024, 1, 8)))
    days = sessions(130)
    assert str(days[-1]) == "2024-07-05"
    assert W.schedule_coverage(flows, days) == [
        "withdrawals: 3 of 6 months (the schedule ends on 2024-03-31)"]


def test_withdrawal_rate_counts_only_the_first_year():
    # Deposits 1000 on day 0; 10 withdrawn on 2024-01-08 and 2025-01-07 (before the
    # anniversary 2025-01-08), 99 on 2025-01-08 (after it): (10 + 10) / 1000.
    days = np.array(["2024-01-08", "2025-01-07", "2025-01-08"], dtype="datetime64[D]")
    assert W.withdrawal_rate(days, [1000.0, 0, 0], [10.0, 10.0, 99.0]) == pytest.approx(0.02)
    assert W.withdrawal_rate(days, [0.0, 0, 0], [10.0, 0, 0]) is None


@pytest.mark.parametrize(("item", "fragment"), [
    ("{deposit: 4%, date: 2024-01-08}", "only for a withdrawal"),
    ("{withdrawal: 0%, date: 2024-01-08}", "more than 0%"),
    ("{withdrawal: 150%, every: year, start: 2024-01-08}", "at most 100%"),
    ("{withdrawal: 5x%, date: 2024-01-08}", "a percent such as 4%"),
    ("{withdrawal: 100, date: 2024-01-08, indexed: 0.02}", "only goes with every"),
    ("{withdrawal: 4%, every: month, start: 2024-01-08, indexed: 0.02}", "needs no indexing"),
    ("{withdrawal: 100, every: month, start: 2024-01-08, indexed: fast}", "yearly rate"),
])
def test_bad_plans_are_one_line_errors(item: str, fragment: str):
    with pytest.raises(StrategyError, match=fragment) as info:
        strategy(f"cashflows: [{item}]\nportfolio: {{slices: {{A: 100}}}}\n")
    assert "cashflows[0]" in str(info.value) and "\n" not in str(info.value)


def test_indexed_accepts_a_percent_and_cpi_needs_a_series(tmp_path: Path):
    s = strategy("cashflows: [{withdrawal: 100, every: month, start: 2024-01-08, "
                 "indexed: 2.5%}]\nportfolio: {slices: {A: 100}}\n")
    assert s.cashflows[0].indexed == pytest.approx(0.025)
    (tmp_path / "s.yaml").write_text(
        "name: x\ndata: {prices: p.parquet, cpi: missing.parquet}\n"
        "cashflows: [{withdrawal: 100, every: month, start: 2024-01-08, indexed: cpi}]\n"
        "portfolio: {slices: {A: 100}}\n")
    with pytest.raises(StrategyError, match="no such CPI file") as info:
        load_strategy(tmp_path / "s.yaml")
    assert "data.cpi" in str(info.value)


def test_a_percent_withdrawal_that_waits_for_a_halt_is_the_percent_of_the_next_window():
    # 1% of the account (52% a year, weekly) due on day 1, when A is halted through the
    # afternoon window: it waits. Day 2, A closes at 20: 1% of 100 x 20 = 20.00, one
    # share (not the 10.00 that day 1's value of 1,000 would have asked).
    from backtest.domain.halts import Halt

    halt = Halt(date(1), 900, 930, "A", "LULD")
    s = strategy("""
account: {window: afternoon}
cashflows:
  - {deposit: 1000, date: 2024-01-08}
  - {withdrawal: 52%, every: week, start: 2024-01-09}
portfolio: {slices: {A: 100}}
""")
    r = simulate(s, market({"A": [10.0, 10.0, 20.0, 20.0]}, halts=(halt,)))
    assert r.withdrawals.tolist() == pytest.approx([0.0, 0.0, 20.0, 0.0])
    assert shares_of(r) == pytest.approx(99.0)
    assert "halt_deferred" in r.events["kind"].tolist()
