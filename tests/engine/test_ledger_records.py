"""The ledger's typed records: event kinds and fill reasons are enums whose
values are the tables' strings, fills are `Fill` records, and holdings change
only through the book's methods."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from backtest.engine.book import Book
from backtest.engine.ledger import EventKind, Fill, Ledger, Reason
from backtest.engine.result import REASONS
from backtest.engine.simulation import Simulation
from backtest.io.inputs import load_inputs
from tests.engine.engine_kit import market, simulate, strategy

ROOT = Path(__file__).resolve().parents[2] / "backtest"
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples"
# The modules that write or compare event kinds.
WRITERS = sorted((ROOT / "engine").glob("*.py")) + [
    ROOT / "analytics" / "withdrawals.py", ROOT / "montecarlo" / "runner.py"]
KIND_STRINGS = {k.value for k in EventKind}


def _string_kinds(path: Path) -> list[str]:
    """Places in `path` that write or compare an event kind as a bare string:
    `ledger.event(i, "x", ...)`, `events.append(("x", ...))`, `kind == "x"`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = node.args
            if node.func.attr == "event" and len(args) >= 2:
                arg = args[1]
            elif node.func.attr == "append" and args and isinstance(args[0], ast.Tuple):
                arg = args[0].elts[0]
            else:
                continue
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(f"{path.name}:{node.lineno} {arg.value}")
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and side.value in KIND_STRINGS and \
                        "kind" in ast.unparse(node):
                    found.append(f"{path.name}:{node.lineno} {side.value}")
    return found


def test_no_event_kind_is_written_or_compared_as_a_bare_string():
    assert [hit for p in WRITERS for hit in _string_kinds(p)] == []


def test_the_scan_finds_a_bare_string_kind(tmp_path):
    # the check above must be able to fail: a file with each pattern it looks for
    bad = tmp_path / "bad.py"
    bad.write_text('ledger.event(i, "rejected", "x")\nout.events.append(("scaled", "y"))\n'
                   'ok = e.kind == "removal"\n')
    assert len(_string_kinds(bad)) == 3


def test_a_misspelt_kind_fails_at_once():
    with pytest.raises(AttributeError):
        _ = EventKind.REJECTD  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        Ledger().event(0, "rejectd", "x")  # type: ignore[arg-type]


def test_the_enum_values_are_the_table_strings():
    # the strings of the events table (strategy-format.md) and of the fills' reasons
    kinds = {"rejected", "halt_deferred", "scaled", "removal", "target_edit", "window_skipped",
             "missing_price"}
    assert kinds == KIND_STRINGS
    assert REASONS == ("deposit", "withdrawal", "order", "removal", "rebalance",
                       "auto_invest", "dividend")
    assert EventKind.HALT_DEFERRED == "halt_deferred" and str(Reason.AUTO_INVEST) == "auto_invest"


@pytest.mark.parametrize("name", ["basic", "nested"])
def test_spec_examples_events_are_plain_strings_of_the_enum(name):
    inputs = load_inputs(EXAMPLES / f"{name}.yaml")
    sim = Simulation(inputs.strategy, inputs.market)
    from backtest.engine.result import tabulate

    sim.run_to_end()
    events = tabulate(sim).events
    kinds = events["kind"].tolist()
    # EXPECTED.md's events (basic: the market halt; nested: scaled, target edit,
    # deferred withdrawal, removal)
    assert set(kinds) == ({"halt_deferred"} if name == "basic"
                          else {"scaled", "target_edit", "halt_deferred", "removal"})
    assert all(type(k) is str for k in kinds)  # the table holds no enum objects
    assert all(isinstance(e.kind, EventKind) for e in sim.ledger.events)
    # fills are stored as plain tuples (untracked by the garbage collector) of Fill's
    # fields, the reason a Reason's string; records() gives them typed
    rows = [f for w in sim.ledger.windows for f in w.fills]
    assert rows and all(type(f) is tuple and type(f[4]) is str for f in rows)
    records = [f for w in sim.ledger.windows for f in w.records()]
    assert all(type(f) is Fill and isinstance(f.reason, Reason) for f in records)
    assert [tuple(f) for f in records] == rows


def test_every_kind_the_engine_emits_is_a_member():
    # One account that meets most kinds: an early close skips the window (day 1),
    # B has no price on day 2 (missing_price), a withdrawal larger than the account
    # is rejected (day 3), a slice removal (day 4).
    mkt = market({"A": [10.0] * 6, "B": [20.0, 20.0, np.nan, 20.0, 20.0, 20.0]},
                 close_time=[960, 600, 960, 960, 960, 960])
    strat = strategy("""
account: {window: afternoon}
cashflows: [{deposit: 1000, date: 2024-01-08}, {withdrawal: 5000, date: 2024-01-11}]
portfolio: {slices: {A: 50, B: 50}}
events:
  - {date: 2024-01-12, remove_slice: B, targets: {A: 100}}
""")
    r = simulate(strat, mkt)
    kinds = r.events["kind"].tolist()
    assert {"window_skipped", "missing_price", "rejected", "removal"} <= set(kinds)
    assert set(kinds) <= KIND_STRINGS


def test_book_methods_change_a_batch_row_in_place():
    # in a batch a book's units are a row view of the batch's holdings array
    book = Book(strategy("portfolio: {slices: {A: 50, B: 50}}").portfolio, {"A": 0, "B": 1})
    grid = np.zeros((2, 2), dtype=np.int64)
    book.units = grid[1, :2]
    book.add_units(np.array([0, 1, 0]), np.array([5, 7, 3]))  # leaf 0 twice: 5 + 3
    book.add_unit(1, -2)
    assert grid.tolist() == [[0, 0], [8, 5]]
    assert book.units.base is grid
