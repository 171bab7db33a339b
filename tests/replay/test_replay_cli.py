"""`backtest replay` end to end with click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backtest.cli import _Group, cli
from backtest.cli.replay import replay as replay_command
from backtest.engine.result import run
from backtest.engine.simulation import Simulation
from backtest.io.inputs import load_inputs

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
BASIC = str(SPEC / "basic.yaml")
NESTED = str(SPEC / "nested.yaml")


def group() -> click.Group:
    """The real CLI once `replay` is registered; else a group with the same error handling."""
    if "replay" in cli.commands:
        return cli
    return _Group(commands=[replay_command])


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(group(), ["replay", *args], input=input)


def sessions_in(text: str) -> list[str]:
    """Dates of the session headers in the text feed."""
    return [line.split()[0] for line in text.splitlines()
            if line[:4].isdigit() and line[4:5] == "-" and not line.startswith(" ")]


def test_help_has_an_example() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "backtest replay" in result.output


def test_basic_halt_then_auto_invest() -> None:
    result = invoke(BASIC, "--from", "2024-03-06", "--to", "2024-03-07")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert sessions_in(out) == ["2024-03-06", "2024-03-07"]
    day6, day7 = out.split("\n2024-03-07")
    assert "halt" in day6 and "level 1" in day6
    assert "no trades" in day6
    assert "BUY" not in day6 and "SELL" not in day6
    assert "$100.00" in day6  # the weekly deposit arrived and stays cash
    # expected/basic/trades.csv
    assert "AAA" in day7 and "5.93957 @ $9.84" in day7
    assert "BBB" in day7 and "2.12339 @ $19.57" in day7
    assert "auto-invest" in day7


def test_nested_withdrawal_deferred_by_halt_and_paid_next_day() -> None:
    result = invoke(NESTED, "--from", "2024-03-13", "--to", "2024-03-14")
    assert result.exit_code == 0, result.output
    day13, day14 = result.stdout.split("\n2024-03-14")
    assert "halt" in day13 and "withdrawal 400.00" in day13 and "CCC" in day13
    assert "paid" not in day13
    # expected/nested/trades.csv: three sells on 2024-03-14
    for ticker, shares, price in [("AAA", "16.44305", "9.16"), ("BBB", "7.29910", "20.78"),
                                  ("CCC", "0.96858", "47.99")]:
        line = next(ln for ln in day14.splitlines() if f"SELL {ticker}" in ln)
        assert f"{shares} @ ${price}" in line
    assert "withdrawal   $400.00 paid" in day14


def test_quiet_session_says_so() -> None:
    result = invoke(NESTED, "--from", "2024-03-15", "--to", "2024-03-15")
    assert result.exit_code == 0, result.output
    assert "no window activity" in result.stdout


@pytest.mark.parametrize("path", [BASIC, NESTED])
def test_jsonl_agrees_with_run(path: str) -> None:
    result = invoke(path, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    inputs = load_inputs(path)
    daily = run(Simulation(inputs.strategy, inputs.market)).daily
    assert len(rows) == len(daily)
    for obj, row in zip(rows, daily.itertuples(), strict=True):
        assert obj["date"] == row.date.date().isoformat()
        assert obj["value"] == pytest.approx(row.value, abs=1e-9)
    last, final = rows[-1], daily.iloc[-1]
    for key in ("value", "cash", "twr_index"):
        assert last[key] == pytest.approx(float(final[key]), abs=1e-9)
    for obj in rows:
        assert isinstance(obj["value"], float)
        for w in obj["windows"]:
            assert set(w) == {"window", "trades", "allocations"}
            for t in w["trades"]:
                assert list(t) == ["ticker", "side", "shares", "price", "amount"]


def test_jsonl_range_and_events() -> None:
    result = invoke(BASIC, "--from", "2024-03-06", "--to", "2024-03-07", "--format", "jsonl")
    day6, day7 = (json.loads(line) for line in result.stdout.splitlines())
    assert day6["windows"] == []
    assert [e["kind"] for e in day6["events"]] == ["halt_deferred"]
    assert day6["deposits"] == 100.0 and day6["net_flow"] == 100.0
    trades = day7["windows"][0]["trades"]
    assert [(t["ticker"], t["side"], t["shares"], t["price"]) for t in trades] == [
        ("AAA", "buy", pytest.approx(5.93957), 9.84), ("BBB", "buy", pytest.approx(2.12339), 19.57)]
    assert set(day7["largest_drift"]) == {"slice", "target", "actual"}


def test_step_stops_on_q() -> None:
    result = invoke(NESTED, "--step", input="\n\nq\n")
    assert result.exit_code == 0, result.output
    assert len(sessions_in(result.stdout)) == 3
    assert result.stderr.count("Enter") == 3
    assert "Enter" not in result.stdout  # prompts go to stderr


def test_step_stops_at_end_of_input() -> None:
    result = invoke(NESTED, "--step", "--format", "jsonl", input="\n")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_step_does_not_wait_after_the_last_session() -> None:
    result = invoke(NESTED, "--from", "2024-03-27", "--step", input="\n")
    assert result.exit_code == 0, result.output
    assert sessions_in(result.stdout) == ["2024-03-27", "2024-03-28"]
    assert result.stderr.count("Enter") == 1


def test_plain_when_piped_colour_when_forced() -> None:
    args = (NESTED, "--from", "2024-03-11", "--to", "2024-03-14")
    piped = invoke(*args)
    assert "\x1b[" not in piped.stdout
    assert "\x1b[" not in invoke(*args, "--no-color").stdout
    forced = invoke(*args, "--color")
    assert "\x1b[" in forced.stdout
    assert click.unstyle(forced.stdout) == piped.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["--from", "2023-12-29"], "--from: 2023-12-29 is outside the run's sessions"),
    (["--to", "2024-04-01"], "--to: 2024-04-01 is outside the run's sessions"),
    (["--from", "2024-03-14", "--to", "2024-03-13"], "is after"),
    (["--from", "14/03/2024"], "not a date"),
])
def test_bad_dates_are_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    result = invoke(NESTED, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.output
