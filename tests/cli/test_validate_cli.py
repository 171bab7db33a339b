"""`backtest validate` end to end with click's CliRunner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from backtest.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
STRATEGIES = sorted((ROOT / "strategies").glob("*.yaml"))


def run(*args: str):
    return CliRunner().invoke(cli, ["validate", *args])


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    """A writable copy of the spec examples (strategy files and their data)."""
    dest = tmp_path / "spec"
    shutil.copytree(SPEC, dest, ignore=shutil.ignore_patterns("expected"))
    return dest


def assert_one_line_error(result, path: Path | str, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "backtest validate strategies/factor_pie.yaml" in result.output


def test_valid_spec_example_with_its_data() -> None:
    path = SPEC / "nested.yaml"
    result = run(str(path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{path}: ok: Nested pie with every kind of request" in out
    assert "tickers: 3 (CCC AAA BBB)" in out
    assert "cashflows: 3, events: 6" in out
    # the weekdays 2024-03-01..28: 1 + 5 + 5 + 5 + 4
    assert "sessions: 20 from 2024-03-01 to 2024-03-28" in out
    # tiny_halts.csv: the market halt of 03-06 and the CCC halt of 03-13 (CCC is held)
    assert "halts: 2 in the run's sessions" in out
    assert result.stderr == ""


def test_halts_on_tickers_not_held_are_not_counted() -> None:
    result = run(str(SPEC / "basic.yaml"))
    assert result.exit_code == 0, result.output
    assert "halts: 1 in the run's sessions" in result.stdout


@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.name)
def test_bundled_strategies_validate_on_the_sample_data(path: Path) -> None:
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert "sessions:" in result.stdout
    assert "halts:" in result.stdout


def test_factor_pie_summary() -> None:
    result = run(str(ROOT / "strategies" / "factor_pie.yaml"))
    assert result.exit_code == 0, result.output
    assert "tickers: 5 (USMV MTUM QUAL VLUE SIZE)" in result.stdout
    assert "from 2015-01-02 to 2022-12-28" in result.stdout  # the sample data's last day


def test_no_data_checks_only_the_file(spec_copy: Path) -> None:
    (spec_copy / "data" / "tiny_prices.parquet").unlink()
    path = spec_copy / "basic.yaml"
    assert run("--no-data", str(path)).exit_code == 0
    assert_one_line_error(run(str(path)), spec_copy / "data" / "tiny_prices.parquet",
                          "not found")


@pytest.mark.parametrize(("old", "new", "where"), [
    ("AAA: 60", "AAA: 70", "portfolio.slices: targets sum to 110"),
    ("window: morning", "window: evening", "account.window: must be one of"),
    ("every: week", "every: fortnight", "cashflows[1].every"),
    ("date: 2024-03-20", "date: 2024-02-30", "cashflows[2].date: '2024-02-30' is not a valid"),
    ("name: Basic", "nmae: Basic", "nmae: unknown key (did you mean 'name'?)"),
    ("BBB: 40", "BBB: 40\n    AAA: 1", "portfolio.slices: duplicate key 'AAA'"),
    ("portfolio:\n", "portfolio: [\n", "line "),
])
def test_broken_copies_fail_with_one_line(spec_copy: Path, old: str, new: str,
                                          where: str) -> None:
    path = spec_copy / "basic.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = run(str(path))
    assert_one_line_error(result, path, where)


def test_broken_event_in_nested_copy(spec_copy: Path) -> None:
    path = spec_copy / "nested.yaml"
    path.write_text(path.read_text().replace("slice: Core, side: sell", "slice: Core/BBB, side: "
                                                                        "sell"))
    # Core/BBB was removed on 2024-03-19, before the 03-21 order
    assert_one_line_error(run(str(path)), path,
                          "events[4].order.slice: 'Core/BBB' is not in the portfolio on "
                          "2024-03-21 (it was removed on 2024-03-19)")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert_one_line_error(run(str(path)), path, "no such file")


def test_data_error_is_one_line(spec_copy: Path) -> None:
    path = spec_copy / "basic.yaml"
    path.write_text(path.read_text().replace("AAA: 60\n    BBB: 40", "AAA: 60\n    ZZZ: 40"))
    result = run(str(path))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert "ZZZ" in result.stderr
    assert "Traceback" not in result.output


def test_dates_outside_the_sessions_are_warned_about(spec_copy: Path) -> None:
    path = spec_copy / "basic.yaml"
    path.write_text(path.read_text() + "events:\n  - {date: 2025-01-02, rebalance: portfolio}\n")
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert ("warning: RebalanceRequest on 2025-01-02 is outside the sessions "
            "2024-03-01..2024-03-28 and never happens") in result.stderr


def test_conversion_failures_do_not_show_a_traceback(monkeypatch, tmp_path: Path) -> None:
    from backtest.io import inputs as module

    def explode(path):
        raise ValueError("could not convert\nsomething")

    monkeypatch.setattr(module, "load_strategy", explode)
    path = tmp_path / "s.yaml"
    assert_one_line_error(run(str(path)), path,
                          "cannot read the strategy: could not convert something")


def test_bugs_are_not_hidden(monkeypatch, tmp_path: Path) -> None:
    from backtest.io import inputs as module

    def bug(path):
        raise KeyError("a bug, not bad input")

    monkeypatch.setattr(module, "load_strategy", bug)
    result = run(str(tmp_path / "s.yaml"))
    assert isinstance(result.exception, KeyError)
