"""The error catalogue: one broken strategy per rule, each a one-line StrategyError
naming the file, the key path and the problem."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from backtest.errors import StrategyError
from backtest.io.strategy_file import load_strategy

D = dt.date

BASE = {
    "name": "Test",
    "data": {"prices": "p.parquet", "start": D(2024, 1, 2), "end": D(2024, 12, 31)},
    "account": {"window": "morning"},
    "cashflows": [
        {"deposit": 1000, "date": D(2024, 1, 2)},
        {"deposit": 100, "every": "month", "start": D(2024, 2, 1)},
    ],
    "rebalance": {"every": "never"},
    "portfolio": {"slices": {"CCC": 20, "Core": {"target": 80,
                                                "slices": {"AAA": 50, "BBB": 50}}}},
    "events": [{"date": D(2024, 3, 1), "order": {"slice": "CCC", "side": "buy",
                                                 "amount": 100}}],
}


def put(*path_and_value: object) -> Callable[[dict], None]:
    """Set the value at a key path (the last argument is the value)."""
    *path, value = path_and_value

    def mutate(doc: dict) -> None:
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return mutate


def drop(*path: object) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        node = doc
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]
    return mutate


def events(*items: dict) -> Callable[[dict], None]:
    return put("events", list(items))


def deep_pie(levels: int) -> dict:
    """`levels` pies in a chain, the root included."""
    pie: dict = {"X": 100}
    for _ in range(levels - 1):
        pie = {"P": {"target": 100, "slices": pie}}
    return pie


E1 = D(2024, 3, 1)
E2 = D(2024, 4, 1)
ORDER = {"slice": "CCC", "side": "buy", "amount": 100}
TOP = "name: T\ndata: {prices: p.parquet}\nportfolio:\n  slices: {X: 100}\n"

# (id, mutation of BASE or raw YAML text, expected where, message fragment)
CASES: list[tuple[str, Callable[[dict], None] | str, str | None, str]] = [
    # --- the file itself
    ("syntax-error", "name: x\n  bad: indent\n", "line 2", "YAML syntax error"),
    # the flow mapping runs on into line 3, where "p portfolio" cannot be a key
    ("unclosed-flow", "name: T\ndata: {prices: p\nportfolio: 1\n", "line 3",
     "YAML syntax error: expected ',' or '}', but got ':' (column 10)"),
    ("empty-file", "", None, "the file is empty"),
    ("only-comments", "# nothing here\n", None, "the file is empty"),
    ("list-document", "- a\n- b\n", None, "must be a YAML mapping"),
    ("scalar-document", "just some text\n", None, "got the string 'just some text'"),
    ("two-documents", TOP + "---\n" + TOP, "line 5", "expected a single document"),
    ("python-tag", "name: !!python/object/apply:os.system [ls]\n", "line 1",
     "could not determine a constructor"),
    ("control-char", "name: \x01\n", None, "not valid YAML"),
    ("bad-int-tag", "name: !!int abc\n", None, "a YAML value cannot be read"),
    ("duplicate-top-key", TOP + "name: U\n", None, "duplicate key 'name' (lines 1 and 5)"),
    ("duplicate-slice", "name: T\ndata: {prices: p}\nportfolio:\n  slices:\n"
                        "    AAA: 50\n    AAA: 50\n", "portfolio.slices",
     "duplicate key 'AAA' (lines 5 and 6)"),
    ("duplicate-in-event", TOP + "events:\n  - {date: 2024-01-02, date: 2024-01-03,"
                                 " rebalance: portfolio}\n", "events[0]", "duplicate key 'date'"),
    # --- unknown and missing keys
    ("unknown-top", put("nmae", "x"), "nmae", "did you mean 'name'"),
    ("unknown-top-far", put("zzzz", 1), "zzzz", "known keys: name, data"),
    ("unknown-data", put("data", "price", "x"), "data.price", "did you mean 'prices'"),
    ("unknown-account", put("account", "windw", "morning"), "account.windw",
     "did you mean 'window'"),
    ("unknown-cashflow", put("cashflows", 0, "amount", 5), "cashflows[0].amount",
     "unknown key"),
    ("unknown-rebalance", put("rebalance", "drift", 5), "rebalance.drift",
     "did you mean 'drift_band'"),
    ("unknown-portfolio", put("portfolio", "slice", {}), "portfolio.slice",
     "did you mean 'slices'"),
    ("unknown-subpie", put("portfolio", "slices", "Core", "targt", 1),
     "portfolio.slices.Core.targt", "did you mean 'target'"),
    ("unknown-event", events({"date": E1, "rebalance": "Core", "note": "x"}),
     "events[0].note", "unknown key"),
    ("unknown-order", events({"date": E1, "order": {**ORDER, "amt": 1}}),
     "events[0].order.amt", "did you mean 'amount'"),
    ("non-string-key", put("account", 5, 1), "account", "key the number 5 is not a known key"),
    ("missing-name", drop("name"), "name", "required key is missing"),
    ("missing-data", drop("data"), "data", "required key is missing"),
    ("missing-prices", drop("data", "prices"), "data.prices", "required key is missing"),
    ("missing-portfolio", drop("portfolio"), "portfolio", "required key is missing"),
    ("missing-slices", drop("portfolio", "slices"), "portfolio.slices",
     "required key is missing"),
    ("subpie-missing-target", drop("portfolio", "slices", "Core", "target"),
     "portfolio.slices.Core.target", "required key is missing"),
    # --- wrong types
    ("name-empty", put("name", "  "), "name", "non-empty string"),
    ("name-bool", "name: yes\ndata: {prices: p}\nportfolio: {slices: {X: 100}}\n", "name",
     "got true (a boolean)"),
    ("data-not-mapping", put("data", "p.parquet"), "data", "must be a mapping"),
    ("prices-number", put("data", "prices", 5), "data.prices", "non-empty string"),
    ("portfolio-list", put("portfolio", ["AAA"]), "portfolio", "got a list"),
    ("cashflows-mapping", put("cashflows", {"deposit": 5}), "cashflows", "must be a list"),
    ("cashflow-item-scalar", put("cashflows", [5]), "cashflows[0]", "must be a mapping"),
    ("events-scalar", put("events", "none"), "events", "must be a list"),
    ("account-list", put("account", []), "account", "must be a mapping"),
    # --- targets and pies
    ("target-bool", put("portfolio", "slices", "CCC", True), "portfolio.slices.CCC",
     "got true (a boolean)"),
    ("target-string", put("portfolio", "slices", "CCC", "20%"), "portfolio.slices.CCC",
     "must be a target percent"),
    ("target-null", put("portfolio", "slices", "CCC", None), "portfolio.slices.CCC",
     "got nothing (null)"),
    ("target-zero", put("portfolio", "slices", "CCC", 0), "portfolio.slices.CCC",
     "must be greater than 0"),
    ("target-negative", put("portfolio", "slices", "Core", "slices", "AAA", -50),
     "portfolio.slices.Core.slices.AAA", "greater than 0, got -50"),
    ("subpie-target-string", put("portfolio", "slices", "Core", "target", "80"),
     "portfolio.slices.Core.target", "must be a number, got the string '80'"),
    ("target-inf", put("portfolio", "slices", "CCC", float("inf")), "portfolio.slices.CCC",
     "finite"),
    ("root-sum", put("portfolio", "slices", "CCC", 25), "portfolio.slices",
     "targets sum to 105, not 100"),
    ("deep-sum", put("portfolio", "slices", "Core", "slices", "BBB", 49.5),
     "portfolio.slices.Core.slices", "targets sum to 99.5"),
    ("sum-just-outside", put("portfolio", "slices", "Core", "slices",
                             {"AAA": 33.333, "BBB": 33.333, "DDD": 33.332}),
     "portfolio.slices.Core.slices", "targets sum to 99.998"),
    ("empty-pie", put("portfolio", "slices", "Core", "slices", {}),
     "portfolio.slices.Core.slices", "at least one slice"),
    ("empty-root", put("portfolio", "slices", {}), "portfolio.slices", "at least one slice"),
    ("slices-list", put("portfolio", "slices", ["AAA", "BBB"]), "portfolio.slices",
     "must be a mapping of slice names"),
    ("slash-in-name", put("portfolio", "slices", {"A/B": 100}), "portfolio.slices.A/B",
     "must not contain '/'"),
    ("empty-name", put("portfolio", "slices", {"": 100}), "portfolio.slices",
     "slice name is empty"),
    ("reserved-name", put("portfolio", "slices", {"portfolio": 100}),
     "portfolio.slices.portfolio", "reserved for the root"),
    ("bool-ticker", "name: T\ndata: {prices: p}\nportfolio: {slices: {ON: 100}}\n",
     "portfolio.slices", "quote it"),
    ("too-deep", put("portfolio", "slices", deep_pie(33)),
     "portfolio" + ".slices.P" * 32 + ".slices", "nested more than 32 levels"),
    # --- dates
    ("impossible-date", TOP + "cashflows: [{deposit: 5, date: 2023-02-30}]\n",
     "cashflows[0].date", "'2023-02-30' is not a valid date"),
    ("impossible-quoted-date", put("data", "start", "2023-02-30"), "data.start",
     "'2023-02-30' is not a valid date"),
    ("word-date", put("data", "end", "soon"), "data.end",
     "must be a date (YYYY-MM-DD), got the string 'soon'"),
    ("number-date", put("cashflows", 0, "date", 20240102), "cashflows[0].date",
     "must be a date"),
    ("datetime", put("data", "start", dt.datetime(2024, 1, 2, 9, 30)), "data.start",
     "without a time"),
    ("data-end-before-start", put("data", "end", D(2023, 12, 31)), "data.end",
     "2023-12-31 is before start 2024-01-02"),
    ("cashflow-end-before-start", put("cashflows", 1, "end", D(2024, 1, 31)),
     "cashflows[1].end", "is before start 2024-02-01"),
    ("event-bad-date", events({"date": "2024-13-01", "rebalance": "Core"}), "events[0].date",
     "not a valid date"),
    # --- cash flows
    ("unknown-frequency", put("cashflows", 1, "every", "fortnight"), "cashflows[1].every",
     "must be one of week, 2weeks, month, quarter, year"),
    ("date-and-every", put("cashflows", 0, "every", "week"), "cashflows[0]",
     "exactly one timing (date, every); found date, every"),
    ("no-timing", drop("cashflows", 0, "date"), "cashflows[0]", "found none"),
    ("recurring-no-start", drop("cashflows", 1, "start"), "cashflows[1].start",
     "required for a recurring item"),
    ("one-off-with-end", put("cashflows", 0, "end", D(2024, 5, 1)), "cashflows[0].end",
     "only goes with every"),
    ("deposit-zero", put("cashflows", 0, "deposit", 0), "cashflows[0].deposit",
     "must be greater than 0"),
    ("withdrawal-negative", put("cashflows", 0, {"withdrawal": -5, "date": E1}),
     "cashflows[0].withdrawal", "greater than 0, got -5"),
    ("deposit-and-withdrawal", put("cashflows", 0, "withdrawal", 5), "cashflows[0]",
     "exactly one amount (deposit, withdrawal); found deposit, withdrawal"),
    ("no-amount", put("cashflows", 0, {"date": E1}), "cashflows[0]", "exactly one amount"),
    ("amount-string", put("cashflows", 0, "deposit", "1,000"), "cashflows[0].deposit",
     "must be a number, got the string '1,000'"),
    ("amount-bool", put("cashflows", 0, "deposit", True), "cashflows[0].deposit",
     "must be a number, got true"),
    # --- account
    ("window-unknown", put("account", "window", "evening"), "account.window",
     "must be one of morning, afternoon, both"),
    ("allocation-unknown", put("account", "allocation", "equal"), "account.allocation",
     "must be one of waterfill, proportional"),
    ("window-minutes-zero", put("account", "window_minutes", 0), "account.window_minutes",
     "must be 1 or more"),
    ("window-minutes-float", put("account", "window_minutes", 30.5), "account.window_minutes",
     "must be a whole number"),
    ("window-minutes-bool", put("account", "window_minutes", True), "account.window_minutes",
     "must be a whole number"),
    ("share-decimals-11", put("account", "share_decimals", 11), "account.share_decimals",
     "must be from 0 to 10, got 11"),
    ("share-decimals-negative", put("account", "share_decimals", -1),
     "account.share_decimals", "from 0 to 10"),
    ("cash-minimum-negative", put("account", "cash_minimum", -5), "account.cash_minimum",
     "must be 0 or more, got -5"),
    ("min-auto-invest-negative", put("account", "min_auto_invest", -1),
     "account.min_auto_invest", "0 or more"),
    ("min-trade-negative", put("account", "min_trade", -0.5), "account.min_trade",
     "0 or more, got -0.5"),
    ("auto-invest-string", put("account", "auto_invest", "yes"), "account.auto_invest",
     "must be true or false, got the string 'yes'"),
    ("auto-invest-number", put("account", "auto_invest", 1), "account.auto_invest",
     "must be true or false"),
    # --- rebalance policy
    ("rebalance-every", put("rebalance", "every", "week"), "rebalance.every",
     "must be one of never, month, quarter, year"),
    ("drift-band-zero", put("rebalance", "drift_band", 0), "rebalance.drift_band",
     "greater than 0"),
    ("drift-band-string", put("rebalance", "drift_band", "5%"), "rebalance.drift_band",
     "must be a number"),
    # --- events: shape
    ("two-requests", events({"date": E1, "rebalance": "Core", "order": ORDER}), "events[0]",
     "exactly one request (set_targets, remove_slice, add_slice, order, rebalance); "
     "found order, rebalance"),
    ("no-request", events({"date": E1}), "events[0]", "found none"),
    ("event-no-date", events({"rebalance": "Core"}), "events[0].date", "required key"),
    ("targets-with-order", events({"date": E1, "order": ORDER, "targets": {"CCC": 100}}),
     "events[0].targets", "only goes with remove_slice, not order"),
    ("remove-without-targets", events({"date": E1, "remove_slice": "CCC"}),
     "events[0].targets", "required with remove_slice"),
    # --- events: orders
    ("order-missing-slice", events({"date": E1, "order": {**ORDER, "slice": "Core/ZZZ"}}),
     "events[0].order.slice", "'Core/ZZZ' is not in the portfolio on 2024-03-01"),
    ("order-all-buy", events({"date": E1, "order": {**ORDER, "amount": "all"}}),
     "events[0].order.amount", "'all' is only for a sell"),
    ("order-side", events({"date": E1, "order": {**ORDER, "side": "short"}}),
     "events[0].order.side", "must be one of buy, sell"),
    ("order-amount-negative", events({"date": E1, "order": {**ORDER, "amount": -5}}),
     "events[0].order.amount", "greater than 0"),
    ("order-amount-word", events({"date": E1, "order": {**ORDER, "amount": "half"}}),
     "events[0].order.amount", "must be a number, got the string 'half'"),
    ("order-missing-amount", events({"date": E1, "order": {"slice": "CCC", "side": "buy"}}),
     "events[0].order.amount", "required key is missing"),
    ("order-slice-number", events({"date": E1, "order": {**ORDER, "slice": 5}}),
     "events[0].order.slice", "must be a slice path"),
    ("order-after-removal", events(
        {"date": E2, "order": {**ORDER, "slice": "Core/BBB"}},
        {"date": E1, "remove_slice": "Core/BBB", "targets": {"AAA": 100}}),
     "events[0].order.slice", "it was removed on 2024-03-01"),
    ("order-before-add", events(
        {"date": E2, "add_slice": {"pie": "Core", "slices": {"AAA": 40, "BBB": 40, "N": 20}}},
        {"date": E1, "order": {**ORDER, "slice": "Core/N"}}),
     "events[1].order.slice", "'Core/N' is not in the portfolio on 2024-03-01"),
    # --- events: set_targets
    ("set-targets-missing-pie", events(
        {"date": E1, "set_targets": {"pie": "Nope", "slices": {"A": 100}}}),
     "events[0].set_targets.pie", "'Nope' is not in the portfolio"),
    ("set-targets-security", events(
        {"date": E1, "set_targets": {"pie": "CCC", "slices": {"A": 100}}}),
     "events[0].set_targets.pie", "'CCC' is a security, not a pie"),
    ("set-targets-missing-slice", events(
        {"date": E1, "set_targets": {"pie": "Core", "slices": {"AAA": 100}}}),
     "events[0].set_targets.slices", "must name exactly the slices of pie 'Core' (AAA, BBB); "
                                     "missing BBB"),
    ("set-targets-extra-slice", events(
        {"date": E1, "set_targets": {"pie": "portfolio",
                                     "slices": {"CCC": 20, "Core": 70, "New": 10}}}),
     "events[0].set_targets.slices", "not in it New"),
    ("set-targets-sum", events(
        {"date": E1, "set_targets": {"pie": "Core", "slices": {"AAA": 60, "BBB": 30}}}),
     "events[0].set_targets.slices", "targets sum to 90"),
    ("set-targets-zero", events(
        {"date": E1, "set_targets": {"pie": "Core", "slices": {"AAA": 100, "BBB": 0}}}),
     "events[0].set_targets.slices.BBB", "greater than 0"),
    ("set-targets-missing-key", events({"date": E1, "set_targets": {"pie": "Core"}}),
     "events[0].set_targets.slices", "required key is missing"),
    # --- events: add_slice
    ("add-no-new", events(
        {"date": E1, "add_slice": {"pie": "Core", "slices": {"AAA": 40, "BBB": 60}}}),
     "events[0].add_slice.slices", "adds no new slice to pie 'Core'"),
    ("add-missing-existing", events(
        {"date": E1, "add_slice": {"pie": "Core", "slices": {"AAA": 50, "NEW": 50}}}),
     "events[0].add_slice.slices", "missing BBB"),
    ("add-sum", events(
        {"date": E1, "add_slice": {"pie": "Core",
                                   "slices": {"AAA": 50, "BBB": 50, "NEW": 10}}}),
     "events[0].add_slice.slices", "targets sum to 110"),
    ("add-to-security", events(
        {"date": E1, "add_slice": {"pie": "Core/AAA", "slices": {"X": 100}}}),
     "events[0].add_slice.pie", "'Core/AAA' is a security, not a pie"),
    ("add-to-missing-pie", events(
        {"date": E1, "add_slice": {"pie": "Gone", "slices": {"X": 100}}}),
     "events[0].add_slice.pie", "not in the portfolio"),
    ("add-subpie-bad-sum", events(
        {"date": E1, "add_slice": {"pie": "portfolio", "slices": {
            "CCC": 10, "Core": 80, "New": {"target": 10, "slices": {"X": 60, "Y": 30}}}}}),
     "events[0].add_slice.slices.New.slices", "targets sum to 90"),
    ("add-existing-as-mapping", events(
        {"date": E1, "add_slice": {"pie": "portfolio", "slices": {
            "CCC": 10, "Core": {"target": 80, "slices": {"AAA": 100}}, "N": 10}}}),
     "events[0].add_slice.slices.Core", "must be a number"),
    ("add-new-target-string", events(
        {"date": E1, "add_slice": {"pie": "Core",
                                   "slices": {"AAA": 40, "BBB": 40, "N": "20"}}}),
     "events[0].add_slice.slices.N", "must be a number"),
    # --- events: remove_slice
    ("remove-missing", events({"date": E1, "remove_slice": "Core/ZZZ",
                               "targets": {"AAA": 50, "BBB": 50}}),
     "events[0].remove_slice", "'Core/ZZZ' is not in the portfolio on 2024-03-01"),
    ("remove-root", events({"date": E1, "remove_slice": "portfolio", "targets": {"X": 100}}),
     "events[0].remove_slice", "cannot remove the root pie 'portfolio'"),
    ("remove-last-slice", events(
        {"date": E1, "remove_slice": "Core/BBB", "targets": {"AAA": 100}},
        {"date": E2, "remove_slice": "Core/AAA", "targets": {}}),
     "events[1].remove_slice", "'Core/AAA' is the last slice of pie 'Core'"),
    ("remove-targets-names", events(
        {"date": E1, "remove_slice": "Core/BBB", "targets": {"BBB": 100}}),
     "events[0].targets", "must name exactly the slices of pie 'Core' (AAA); missing AAA; "
                          "not in it BBB"),
    ("remove-targets-sum", events(
        {"date": E1, "remove_slice": "CCC", "targets": {"Core": 90}}),
     "events[0].targets", "targets sum to 90"),
    ("remove-twice", events(
        {"date": E1, "remove_slice": "CCC", "targets": {"Core": 100}},
        {"date": E1, "remove_slice": "CCC", "targets": {"Core": 100}}),
     "events[1].remove_slice", "it was removed on 2024-03-01"),
    # --- events: rebalance
    ("rebalance-security", events({"date": E1, "rebalance": "CCC"}), "events[0].rebalance",
     "'CCC' is a security, not a pie"),
    ("rebalance-missing", events({"date": E1, "rebalance": "Growth"}), "events[0].rebalance",
     "'Growth' is not in the portfolio"),
    ("rebalance-empty-path", events({"date": E1, "rebalance": ""}), "events[0].rebalance",
     "must be a slice path"),
]


@pytest.mark.parametrize(("broken", "where", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_error_catalogue(tmp_path: Path, broken, where: str | None, fragment: str) -> None:
    path = tmp_path / "broken.yaml"
    if isinstance(broken, str):
        path.write_text(broken, encoding="utf-8")
    else:
        doc = copy.deepcopy(BASE)
        broken(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(StrategyError) as err:
        load_strategy(path)
    exc = err.value
    assert exc.where == where
    assert fragment in exc.message
    line = exc.line()
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    if where is not None:
        assert line.startswith(f"{path}: {where}: ")


def test_catalogue_is_large_and_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


def test_base_document_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(BASE, sort_keys=False), encoding="utf-8")
    assert load_strategy(path).name == "Test"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StrategyError) as err:
        load_strategy(tmp_path / "nope.yaml")
    assert err.value.line() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match="is a folder"):
        load_strategy(tmp_path)


def test_binary_file_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "prices.parquet"
    path.write_bytes(b"PAR1\x15\x04\x15\xff\xfe\x00\x80\x81")
    with pytest.raises(StrategyError, match="not a text"):
        load_strategy(path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root (CI runs as root), so the read itself is refused.
    path = tmp_path / "locked.yaml"
    path.write_text(TOP)

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(StrategyError, match="cannot read the file: Permission denied"):
        load_strategy(path)


def test_a_long_value_is_cut_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(TOP.replace("name: T", "name: T\naccount: {window: '" + "x\\n" * 500 + "'}"))
    with pytest.raises(StrategyError) as err:
        load_strategy(path)
    assert err.value.where == "account.window"
    assert len(err.value.line()) < len(str(path)) + 150
    assert "\n" not in err.value.line()
