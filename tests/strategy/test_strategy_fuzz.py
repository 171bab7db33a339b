"""Fuzzing the parser: any document either parses or raises StrategyError,
never another exception, and the error is always one line."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.domain.strategy import Strategy
from backtest.errors import StrategyError
from backtest.io.strategy_checks import Checker
from backtest.io.strategy_file import load_yaml, parse_strategy

SOURCE = Path("fuzz.yaml")

KNOWN_KEYS = [
    "name", "data", "prices", "halts", "start", "end", "account", "window", "window_minutes",
    "auto_invest", "cash_minimum", "min_auto_invest", "min_trade", "share_decimals",
    "allocation", "cashflows", "deposit", "withdrawal", "date", "every", "rebalance",
    "drift_band", "portfolio", "slices", "target", "events", "set_targets", "pie",
    "remove_slice", "targets", "add_slice", "order", "slice", "side", "amount",
    "AAA", "BBB", "CCC", "Core", "portfolio", "all", "buy", "sell", "month",
]

scalars = (
    st.none() | st.booleans() | st.integers(-10**30, 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
    | st.sampled_from(KNOWN_KEYS + ["", "2023-02-30", "2024-01-02", "Core/AAA", "a/b", "1e3"])
    | st.text(max_size=12)
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8) | st.integers(-3, 3) | st.booleans()
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)

VALID = {
    "name": "Valid",
    "data": {"prices": "p.parquet", "halts": "h.csv", "start": dt.date(2024, 1, 2),
             "end": dt.date(2024, 12, 31)},
    "account": {"window": "both", "window_minutes": 30, "auto_invest": True,
                "cash_minimum": 0, "min_auto_invest": 25, "min_trade": 1,
                "share_decimals": 5, "allocation": "waterfill"},
    "cashflows": [{"deposit": 1000, "date": dt.date(2024, 1, 2)},
                  {"withdrawal": 50, "every": "month", "start": dt.date(2024, 2, 1),
                   "end": dt.date(2024, 6, 1)}],
    "rebalance": {"every": "quarter", "drift_band": 5},
    "portfolio": {"slices": {"CCC": 20, "Core": {"target": 80,
                                                "slices": {"AAA": 50, "BBB": 50}}}},
    "events": [
        {"date": dt.date(2024, 3, 1), "order": {"slice": "CCC", "side": "sell", "amount": "all"}},
        {"date": dt.date(2024, 3, 2), "set_targets": {"pie": "Core",
                                                      "slices": {"AAA": 70, "BBB": 30}}},
        {"date": dt.date(2024, 3, 3), "add_slice": {"pie": "Core", "slices": {
            "AAA": 40, "BBB": 40, "New": {"target": 20, "slices": {"X": 100}}}}},
        {"date": dt.date(2024, 3, 4), "remove_slice": "Core/BBB",
         "targets": {"AAA": 50, "New": 50}},
        {"date": dt.date(2024, 3, 5), "rebalance": "Core/New"},
    ],
}


def paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into a document (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = paths(VALID)


def parse_or_strategy_error(doc: object) -> None:
    try:
        result = parse_strategy(doc, source=SOURCE, base_dir=Path("."))
    except StrategyError as exc:
        line = exc.line()
        assert "\n" not in line and line.startswith("fuzz.yaml")
    else:
        assert isinstance(result, Strategy)


def test_valid_document_parses() -> None:
    s = parse_strategy(copy.deepcopy(VALID), source=SOURCE, base_dir=Path("."))
    assert len(s.events) == 5


@settings(max_examples=300, deadline=None)
@given(values)
def test_arbitrary_documents(doc: object) -> None:
    parse_or_strategy_error(doc)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(VALID)), values, max_size=7))
def test_arbitrary_sections(doc: dict) -> None:
    parse_or_strategy_error(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.booleans(), values),
                min_size=1, max_size=3))
def test_mutations_of_a_valid_strategy(mutations: list) -> None:
    doc = copy.deepcopy(VALID)
    for path, delete, value in mutations:
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            if delete:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape under this path
    parse_or_strategy_error(doc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    try:
        doc = load_yaml(text, Checker(SOURCE))
    except StrategyError as exc:
        assert "\n" not in exc.line()
        return
    parse_or_strategy_error(doc)


VALID_TEXT = """\
name: T
data: {prices: p.parquet, start: 2024-01-02}
cashflows:
  - {deposit: 100, every: 2weeks, start: 2024-01-05}
portfolio:
  slices:
    CCC: 20
    Core: {target: 80, slices: {AAA: 50, BBB: 50}}
events:
  - {date: 2024-03-01, remove_slice: Core/BBB, targets: {AAA: 100}}
"""


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID_TEXT) - 1),
                          st.sampled_from(["", ":", " ", "\n", "-", "{", "}", "[", "'",
                                           "&a", "*a", "!!", "0", "x", "/"])),
                min_size=1, max_size=4))
def test_edits_of_valid_text(edits: list) -> None:
    text = VALID_TEXT
    for pos, insert in edits:
        pos = min(pos, len(text) - 1)
        text = text[:pos] + insert + text[pos + 1:]
    try:
        doc = load_yaml(text, Checker(SOURCE))
    except StrategyError:
        return
    parse_or_strategy_error(doc)


def test_alias_bomb_is_rejected_quickly() -> None:
    # 31 levels of pies (within the depth limit), each level's two slices
    # aliasing the level below: 2**31 slices if walked naively
    lines = ["- &l0 {X: 100}"]
    for i in range(1, 31):
        lines.append(f"- &l{i} {{A: {{target: 50, slices: *l{i - 1}}}, "
                     f"B: {{target: 50, slices: *l{i - 1}}}}}")
    levels = load_yaml("\n".join(lines) + "\n", Checker(SOURCE))
    bomb = {"name": "T", "data": {"prices": "p"}, "portfolio": {"slices": levels[-1]}}
    try:
        parse_strategy(bomb, source=SOURCE, base_dir=Path("."))
    except StrategyError as exc:
        assert "more than 10000 slices" in exc.message
    else:  # pragma: no cover
        raise AssertionError("an alias bomb must not parse")


def test_recursive_alias_is_rejected() -> None:
    text = ("name: T\ndata: {prices: p}\n"
            "portfolio:\n  slices: &s {A: {target: 100, slices: *s}}\n")
    doc = load_yaml(text, Checker(SOURCE))
    try:
        parse_strategy(doc, source=SOURCE, base_dir=Path("."))
    except StrategyError as exc:
        assert "nested more than 32 levels" in exc.message
    else:  # pragma: no cover
        raise AssertionError("a self-referencing pie must not parse")
