"""The netting rule, the tax keys of summary.json and dividends per year, by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtest.analytics.lots import realized_frame, replay_fills
from backtest.analytics.tax import (
    dividends_from_cash,
    estimate_tax,
    net_year,
    realized_by_year,
    tax_summary,
    tax_tables,
)

D = dt.date


def fills(*rows) -> pd.DataFrame:
    out = [(pd.Timestamp(d), "morning", p, p.split("/")[-1], sh, px, sh * px,
            "auto_invest" if sh > 0 else "rebalance") for d, p, sh, px in rows]
    return pd.DataFrame(out, columns=["date", "window", "slice", "ticker", "shares", "price",
                                      "amount", "reason"])


def test_net_year_offsets_a_net_loss_against_the_other_term():
    assert net_year(1000, -300) == (700, 0)
    assert net_year(-500, 200) == (-300, 0)
    assert net_year(-100, 400) == (0, 300)
    assert net_year(-100, -50) == (-100, -50)
    assert net_year(100, 50) == (100, 50)


def test_netting_per_year_with_carryforward_by_hand():
    years = estimate_tax({2020: (1000.0, -300.0),   # ST 700 net -> 168
                          2021: (-500.0, 200.0),    # ST loss 300 left -> carried
                          2022: (100.0, 1000.0),    # ST 100-300=-200 offsets LT: 800 -> 120
                          2023: (-100.0, -50.0),    # both carried
                          2024: (0.0, 30.0)},       # LT 30-50=-20; ST -100: nothing to offset
                         short_term_rate=0.24, long_term_rate=0.15)
    assert [y.year for y in years] == [2020, 2021, 2022, 2023, 2024]
    assert [round(y.estimated_tax, 9) for y in years] == [168.0, 0.0, 120.0, 0.0, 0.0]
    assert [(y.net_short, y.net_long) for y in years] == [
        (700.0, 0.0), (-300.0, 0.0), (0.0, 800.0), (-100.0, -50.0), (-100.0, -20.0)]
    assert [(y.carry_short, y.carry_long) for y in years] == [
        (0.0, 0.0), (-300.0, 0.0), (0.0, 0.0), (-100.0, -50.0), (-100.0, -20.0)]


def test_years_without_sales_pass_the_carryforward_on():
    years = estimate_tax({2020: (-100.0, 0.0), 2022: (0.0, 300.0)}, years=[2020, 2021, 2022])
    assert [(y.year, y.carry_short) for y in years] == [(2020, -100.0), (2021, -100.0),
                                                        (2022, 0.0)]
    assert years[-1].estimated_tax == pytest.approx(0.15 * 200)


def test_realized_by_year_splits_terms_and_years():
    book = replay_fills(fills((D(2021, 1, 4), "A", 2.0, 50.0), (D(2022, 6, 1), "A", 1.0, 80.0),
                              (D(2022, 6, 1), "A", -1.0, 70.0),   # ST loss -10 (lot at 80)
                              (D(2022, 6, 2), "A", -1.0, 70.0),   # LT gain +20
                              (D(2023, 1, 3), "A", -1.0, 40.0)))  # LT loss -10
    assert realized_by_year(realized_frame(book.closed)) == {2022: (-10.0, 20.0),
                                                             2023: (0.0, -10.0)}


def test_tax_tables_of_buys_only():
    tables = tax_tables(fills((D(2021, 1, 4), "A", 1.0, 1.0)))
    assert len(tables.lots) == 1 and tables.realized.empty


def _account():
    """A hand-kept account over two years: deposits, a dividend, buys and sells."""
    f = fills((D(2023, 1, 3), "A", 10.0, 50.0),      # -500 cash
              (D(2023, 1, 3), "B", 20.0, 20.0),      # -400
              (D(2023, 6, 1), "A", -4.0, 60.0),      # +240: ST gain 40
              (D(2024, 2, 1), "A", -6.0, 45.0),      # +270: LT loss -30
              (D(2024, 2, 1), "B", 5.0, 22.0))       # -110
    dates = pd.to_datetime(["2023-01-03", "2023-06-01", "2023-09-01", "2024-02-01",
                            "2024-12-31"])
    net_flow = np.array([1000.0, 0.0, 0.0, 0.0, -100.0])
    dividend = np.array([0.0, 0.0, 12.5, 0.0, 7.5])
    traded = np.array([900.0, -240.0, 0.0, -160.0, 0.0])
    cash = np.cumsum(net_flow + dividend - traded)
    invested = np.array([900.0, 6 * 60 + 20 * 20, 6 * 55 + 20 * 21, 25 * 22, 25 * 24.0])
    daily = pd.DataFrame({"date": dates, "value": cash + invested, "cash": cash,
                          "invested": invested, "net_flow": net_flow})
    return f, daily, dividend


def test_dividends_rebuilt_from_cash():
    f, daily, dividend = _account()
    assert dividends_from_cash(daily, f).tolist() == dividend.tolist()


def test_tax_summary_keys_and_values_by_hand():
    f, daily, dividend = _account()
    s = tax_summary(f, daily, short_term_rate=0.3, long_term_rate=0.1)
    assert s["realized_short_term"] == pytest.approx(40.0)
    assert s["realized_long_term"] == pytest.approx(-30.0)
    # B: 25 shares at 24 at the end; cost 400 + 110
    assert s["unrealized_gain"] == pytest.approx(600.0 - 510.0)
    # 2023: ST 40 -> 12.0; 2024: LT -30, nothing to offset -> carried
    assert s["tax_by_year"]["2023"]["estimated_tax"] == pytest.approx(12.0)
    assert s["tax_by_year"]["2024"]["estimated_tax"] == 0.0
    assert s["tax_by_year"]["2024"]["loss_carryforward"] == pytest.approx(-30.0)
    assert s["estimated_tax"] == pytest.approx(12.0)
    final = float(daily["value"].iloc[-1])
    assert s["tax_drag"] == pytest.approx(12.0 / final)
    assert s["after_tax_value"] == pytest.approx(final - 12.0)
    assert s["tax_loss_carryforward"] == pytest.approx(-30.0)
    assert s["dividends_by_year"] == {"2023": 12.5, "2024": 7.5}
    # the identity: final - deposits + withdrawals - dividends == realized + unrealized
    lhs = final - 1000.0 + 100.0 - dividend.sum()
    assert lhs == pytest.approx(s["realized_gain"] + s["unrealized_gain"], abs=1e-9)
    # an explicit dividend series wins over the rebuilt one
    s2 = tax_summary(f, daily, dividends=np.array([1.0, 0, 0, 0, 2.0]))
    assert s2["dividends_by_year"] == {"2023": 1.0, "2024": 2.0}


def test_liquidation_tax_uses_the_terms_at_the_end_and_the_carryforward():
    f, daily, _ = _account()
    tables = tax_tables(f, end=D(2024, 12, 31), close={"A": 40.0, "B": 24.0})
    s = tax_summary(f, daily, tables=tables, short_term_rate=0.3, long_term_rate=0.1)
    lots = tables.lots
    assert lots[["slice", "shares", "term"]].values.tolist() == [
        ["B", 20.0, "long"], ["B", 5.0, "short"]]
    # LT unrealized 20 x 4 = 80, less the 30 carried -> 50 x 0.1; ST 5 x 2 = 10 x 0.3
    assert s["liquidation_tax"] == pytest.approx(5.0 + 3.0)
    assert lots["unrealized_gain"].sum() == pytest.approx(s["unrealized_gain"])


def test_lot_methods_change_the_realized_mix():
    f = fills((D(2022, 1, 3), "A", 1.0, 40.0), (D(2024, 1, 2), "A", 1.0, 120.0),
              (D(2024, 6, 3), "A", -1.0, 100.0))
    daily = pd.DataFrame({"date": pd.to_datetime(["2022-01-03", "2024-01-02", "2024-06-03"]),
                          "value": [100.0, 100.0, 160.0], "cash": [60.0, 0.0, 60.0],
                          "invested": [40.0, 100.0, 100.0], "net_flow": [100.0, 60.0, 0.0]})
    by = {m: tax_summary(f, daily, lot_method=m) for m in ("brokerage", "fifo", "hifo")}
    assert by["brokerage"]["realized_short_term"] == pytest.approx(-20.0)
    assert by["hifo"]["realized_short_term"] == pytest.approx(-20.0)
    assert by["fifo"]["realized_long_term"] == pytest.approx(60.0)
    assert by["fifo"]["estimated_tax"] == pytest.approx(9.0)
    assert by["brokerage"]["estimated_tax"] == 0.0
    for s in by.values():
        assert s["realized_gain"] + s["unrealized_gain"] == pytest.approx(40.0)


def test_an_empty_run():
    empty = fills()
    daily = pd.DataFrame({"date": pd.to_datetime(["2024-01-02"]), "value": [0.0],
                          "cash": [0.0], "invested": [0.0], "net_flow": [0.0]})
    s = tax_summary(empty, daily)
    assert (s["estimated_tax"], s["unrealized_gain"], s["tax_drag"]) == (0.0, 0.0, None)
    assert s["dividends_by_year"] == {"2024": 0.0}
