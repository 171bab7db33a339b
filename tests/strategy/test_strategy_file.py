"""Strategy files that are valid: what they parse into."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from backtest.domain.pie import Pie
from backtest.domain.strategy import (
    AccountSettings,
    AddSlice,
    Order,
    RebalancePolicy,
    RebalanceRequest,
    RemoveSlice,
    SetTargets,
)
from backtest.errors import StrategyError
from backtest.io.strategy_file import load_strategy, parse_strategy

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
EXAMPLES = sorted(SPEC.glob("*.yaml")) + sorted((ROOT / "strategies").glob("*.yaml"))
D = dt.date


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def targets(pie: Pie) -> dict[str, float]:
    return {s.name: s.target for s in pie.slices}


MINIMAL = textwrap.dedent("""\
    name: T
    data: {prices: p.parquet}
    portfolio:
      slices: {CCC: 20, Core: {target: 80, slices: {AAA: 50, BBB: 50}}}
    """)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_file_parses(path: Path) -> None:
    strategy = load_strategy(path)
    assert strategy.name
    assert strategy.source == path
    assert strategy.portfolio.tickers()


def test_examples_include_the_spec_and_strategy_files() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"basic.yaml", "nested.yaml", "factor_pie.yaml", "nested_stocks.yaml",
            "retirement_drawdown.yaml"} <= names


def test_basic_example() -> None:
    s = load_strategy(SPEC / "basic.yaml")
    assert s.name == "Basic two-slice pie"
    assert s.data.prices == SPEC / "data" / "tiny_prices.parquet"
    assert s.data.halts == SPEC / "data" / "tiny_halts.csv"
    assert s.data.start is None and s.data.end is None
    assert targets(s.portfolio) == {"AAA": 60.0, "BBB": 40.0}
    assert [sl.ticker for sl in s.portfolio.slices] == ["AAA", "BBB"]
    assert s.account == AccountSettings(window="morning")
    weekly = s.cashflows[1]
    assert (weekly.kind, weekly.amount, weekly.every, weekly.start, weekly.end, weekly.date) == (
        "deposit", 100.0, "week", D(2024, 3, 6), None, None)
    withdrawal = s.cashflows[2]
    assert (withdrawal.kind, withdrawal.amount, withdrawal.date) == (
        "withdrawal", 300.0, D(2024, 3, 20))
    assert s.events == () and s.rebalance == RebalancePolicy()


def test_nested_example() -> None:
    s = load_strategy(SPEC / "nested.yaml")
    assert (s.data.start, s.data.end) == (D(2024, 3, 1), D(2024, 3, 28))
    assert s.account.window == "afternoon"
    assert s.account.cash_minimum == 50.0 and isinstance(s.account.cash_minimum, float)
    assert s.account.auto_invest is True
    ccc, core = s.portfolio.slices
    assert (ccc.name, ccc.target, ccc.ticker, ccc.pie) == ("CCC", 20.0, "CCC", None)
    assert core.name == "Core" and core.target == 80.0 and core.ticker is None
    assert targets(core.pie) == {"AAA": 50.0, "BBB": 50.0}
    assert s.portfolio.find("Core/BBB").target == 50.0
    biweekly = s.cashflows[1]
    assert (biweekly.every, biweekly.start, biweekly.amount) == ("2weeks", D(2024, 3, 11), 250.0)
    assert s.cashflows[2].kind == "withdrawal" and s.cashflows[2].date == D(2024, 3, 13)
    assert s.events == (
        Order(D(2024, 3, 5), "CCC", "buy", 300.0),
        SetTargets(D(2024, 3, 7), "Core", (("AAA", 70.0), ("BBB", 30.0))),
        RebalanceRequest(D(2024, 3, 12), "portfolio"),
        RemoveSlice(D(2024, 3, 19), "Core/BBB", (("AAA", 100.0),)),
        Order(D(2024, 3, 21), "Core", "sell", 500.0),
        Order(D(2024, 3, 25), "CCC", "buy", 100000.0),
    )
    assert [e.date for e in s.events] == sorted(e.date for e in s.events)


def test_nested_stocks_strategy() -> None:
    s = load_strategy(ROOT / "strategies" / "nested_stocks.yaml")
    assert len(s.tickers()) == 20
    assert targets(s.portfolio) == {"Tech": 40.0, "FinanceEnergy": 25.0, "Defensive": 35.0}
    tech, fin, defensive = (sl.pie for sl in s.portfolio.slices)
    assert tech.tickers() == ["AAPL", "AMD", "MSFT"]
    assert fin.tickers() == ["BAC", "JPM", "CVX", "XOM", "RRC"]
    assert len(defensive.slices) == 12
    for pie in (tech, fin, defensive):
        assert abs(sum(targets(pie).values()) - 100) <= 0.001
    assert s.account.window == "afternoon"
    assert s.data.prices == ROOT / "strategies" / ".." / "data" / "sample" / "sp500_stocks.parquet"


def test_factor_and_retirement_strategies() -> None:
    factor = load_strategy(ROOT / "strategies" / "factor_pie.yaml")
    assert sorted(factor.tickers()) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert [(c.kind, c.amount, c.every) for c in factor.cashflows] == [
        ("deposit", 10000.0, None), ("deposit", 500.0, "month")]
    retire = load_strategy(ROOT / "strategies" / "retirement_drawdown.yaml")
    monthly = retire.cashflows[1]
    # $1,667 a month from the deposit day: 12 x 1,667 = 20,004 = 4.0% of $500,000,
    # raised 2.5% a year, with no end (the comment of the file says so).
    assert (monthly.kind, monthly.amount, monthly.every) == ("withdrawal", 1667.0, "month")
    assert monthly.start == D(2015, 1, 2) and monthly.end is None
    assert monthly.indexed == 0.025
    assert retire.account.cash_minimum == 0
    assert retire.account.window == "morning"
    assert retire.data.halts is not None and retire.data.halts.name == "us_market_wide.csv"


def test_defaults_when_optional_sections_are_absent(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, MINIMAL))
    assert s.account == AccountSettings()
    assert s.rebalance == RebalancePolicy()
    assert s.cashflows == () and s.events == ()
    assert s.data.halts is None


def test_null_optional_sections_mean_defaults(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, MINIMAL + "account:\ncashflows:\nevents:\nrebalance:\n"))
    assert s.account == AccountSettings() and s.cashflows == () and s.events == ()


def test_numbers_are_stored_as_floats(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, MINIMAL + "cashflows: [{deposit: 7, date: 2024-01-02}]\n"))
    assert type(s.portfolio.slices[0].target) is float
    assert type(s.cashflows[0].amount) is float
    assert s.account.share_decimals == 5 and type(s.account.share_decimals) is int


def test_all_account_settings(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        account:
          window: both
          window_minutes: 15
          auto_invest: false
          cash_minimum: 100.5
          min_auto_invest: 0
          min_trade: 2
          share_decimals: 0
          allocation: proportional
        rebalance: {every: quarter, drift_band: 2.5}
        """)
    s = load_strategy(write(tmp_path, text))
    assert s.account == AccountSettings("both", 15, False, 100.5, 0.0, 2.0, 0, "proportional")
    assert s.rebalance == RebalancePolicy("quarter", 2.5)


def test_relative_paths_resolve_against_the_file_folder(tmp_path: Path) -> None:
    sub = tmp_path / "strategies"
    sub.mkdir()
    text = MINIMAL.replace("{prices: p.parquet}",
                           "{prices: ../data/p.parquet, halts: /abs/halts.csv}")
    s = load_strategy(write(sub, text))
    assert s.data.prices == sub / ".." / "data" / "p.parquet"
    assert s.data.halts == Path("/abs/halts.csv")


def test_parse_strategy_uses_base_dir() -> None:
    doc = {"name": "T", "data": {"prices": "p.parquet"}, "portfolio": {"slices": {"X": 100}}}
    s = parse_strategy(doc, source=Path("x/s.yaml"), base_dir=Path("/base"))
    assert s.data.prices == Path("/base/p.parquet")
    assert s.source == Path("x/s.yaml")


def test_quoted_iso_dates_are_dates(tmp_path: Path) -> None:
    s = load_strategy(write(tmp_path, MINIMAL.replace(
        "{prices: p.parquet}", "{prices: p.parquet, start: '2024-01-02', end: \"2024-02-29\"}")))
    assert (s.data.start, s.data.end) == (D(2024, 1, 2), D(2024, 2, 29))


def test_events_are_sorted_stably_by_date(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        events:
          - {date: 2024-05-01, rebalance: Core}
          - {date: 2024-02-01, order: {slice: CCC, side: buy, amount: 10}}
          - {date: 2024-05-01, rebalance: portfolio}
          - {date: 2024-02-01, order: {slice: Core, side: sell, amount: all}}
        """)
    s = load_strategy(write(tmp_path, text))
    assert s.events == (
        Order(D(2024, 2, 1), "CCC", "buy", 10.0),
        Order(D(2024, 2, 1), "Core", "sell", None),
        RebalanceRequest(D(2024, 5, 1), "Core"),
        RebalanceRequest(D(2024, 5, 1), "portfolio"),
    )


def test_added_slices_can_be_used_later_even_if_listed_first(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        events:
          - {date: 2024-06-03, order: {slice: Core/New/XXX, side: buy, amount: 50}}
          - {date: 2024-06-03, rebalance: Core/New}
          - date: 2024-04-01
            add_slice:
              pie: Core
              slices: {BBB: 40, AAA: 40, New: {target: 20, slices: {XXX: 70, YYY: 30}}}
          - {date: 2024-04-02, add_slice: {pie: portfolio, slices: {CCC: 10, Core: 80, ZZZ: 10}}}
          - {date: 2024-04-03, set_targets: {pie: Core/New, slices: {XXX: 50, YYY: 50}}}
        """)
    s = load_strategy(write(tmp_path, text))
    add = s.events[0]
    assert isinstance(add, AddSlice) and add.pie == "Core"
    # the pie's order: existing slices first, then the new ones
    assert add.targets == (("AAA", 40.0), ("BBB", 40.0), ("New", 20.0))
    (name, sub), = add.new
    assert name == "New" and targets(sub) == {"XXX": 70.0, "YYY": 30.0}
    assert s.events[1].new == (("ZZZ", None),) and s.events[1].pie == "portfolio"
    assert s.events[2] == SetTargets(D(2024, 4, 3), "Core/New", (("XXX", 50.0), ("YYY", 50.0)))
    assert s.events[3] == Order(D(2024, 6, 3), "Core/New/XXX", "buy", 50.0)
    assert s.events[4] == RebalanceRequest(D(2024, 6, 3), "Core/New")
    assert s.tickers() == ["CCC", "AAA", "BBB", "XXX", "YYY", "ZZZ"]


def test_removed_slice_can_be_added_back(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        events:
          - {date: 2024-03-01, remove_slice: Core/BBB, targets: {AAA: 100}}
          - {date: 2024-04-01, add_slice: {pie: Core, slices: {AAA: 60, BBB: 40}}}
          - {date: 2024-04-02, order: {slice: Core/BBB, side: buy, amount: 5}}
        """)
    s = load_strategy(write(tmp_path, text))
    assert s.events[0] == RemoveSlice(D(2024, 3, 1), "Core/BBB", (("AAA", 100.0),))
    assert s.events[1].new == (("BBB", None),)
    assert s.events[2].path == "Core/BBB"


def test_remove_a_whole_sub_pie_and_portfolio_prefix(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        events:
          - {date: 2024-03-01, order: {slice: portfolio/Core/AAA, side: sell, amount: 1.5}}
          - {date: 2024-03-02, remove_slice: portfolio/Core, targets: {CCC: 100}}
          - {date: 2024-03-03, order: {slice: portfolio, side: buy, amount: 100}}
        """)
    s = load_strategy(write(tmp_path, text))
    assert s.events[0].path == "Core/AAA"
    assert s.events[1] == RemoveSlice(D(2024, 3, 2), "Core", (("CCC", 100.0),))
    assert s.events[2].path == "portfolio"


def test_a_removed_slice_cannot_be_ordered_later(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        events:
          - {date: 2024-05-01, order: {slice: Core/AAA, side: buy, amount: 5}}
          - {date: 2024-03-01, remove_slice: Core, targets: {CCC: 100}}
        """)
    with pytest.raises(StrategyError) as err:
        load_strategy(write(tmp_path, text))
    assert err.value.where == "events[0].order.slice"
    assert "removed on 2024-03-01" in err.value.message


def test_strategy_error_line_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("AAA: 50", "AAA: 40"))
    with pytest.raises(StrategyError) as err:
        load_strategy(path)
    assert err.value.line() == (
        f"{path}: portfolio.slices.Core.slices: targets sum to 90, not 100 (within 0.001)")


def test_str_path_is_accepted(tmp_path: Path) -> None:
    assert load_strategy(str(write(tmp_path, MINIMAL))).name == "T"
