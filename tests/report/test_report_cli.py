"""`backtest report DIR` and benchmark loading."""

from __future__ import annotations

import click
import pandas as pd
import pytest
from click.testing import CliRunner
from test_report_build import make_run

from backtest.cli import _Group
from backtest.cli.report import report
from backtest.errors import BacktestError
from backtest.report.benchmark import load_benchmark


@click.group(cls=_Group)
def _cli() -> None:
    """A group like the project's, with the report command in it."""


_cli.add_command(report)


def _invoke(*args):
    return CliRunner().invoke(_cli, ["report", *map(str, args)])


def _prices(path, tickers=("SP500",)):
    dates = pd.date_range("2024-02-28", "2024-03-29", freq="B")
    rows = [(d, t, 100.0 + i) for t in tickers for i, d in enumerate(dates)]
    pd.DataFrame(rows, columns=["date", "ticker", "close"]).to_parquet(path)
    return path


def test_report_command_rebuilds_the_page(tmp_path):
    run = make_run(tmp_path, "basic")
    res = _invoke(run, "--band", "3", "--risk-free", "0.02")
    assert res.exit_code == 0, res.output
    assert "report.html" in res.output
    html = (run / "report.html").read_text()
    assert "±3.0 points" in html
    assert "risk-free 2%" in html


def test_report_command_with_a_benchmark_file_and_ticker(tmp_path):
    run = make_run(tmp_path, "basic")
    one = _prices(tmp_path / "sp.parquet")
    assert _invoke(run, "--benchmark", one).exit_code == 0
    assert "benchmark: SP500" in (run / "report.html").read_text()
    many = _prices(tmp_path / "many.parquet", ("SP500", "AGG"))
    res = _invoke(run, "--benchmark", "AGG", "--prices", many)
    assert res.exit_code == 0, res.output
    assert "benchmark: AGG" in (run / "report.html").read_text()
    assert _invoke(run, "--benchmark", f"{many}:AGG").exit_code == 0


def test_report_command_errors_are_one_line_and_exit_2(tmp_path):
    res = _invoke(tmp_path / "nope")
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "no such run folder" in res.output
    run = make_run(tmp_path, "basic")
    res = _invoke(run, "--benchmark", "NOSUCHTICKER")
    assert res.exit_code == 2 and "NOSUCHTICKER" in res.output
    assert _invoke(run, "--band", "-1").exit_code == 2
    assert _invoke(run, "--risk-free", "5").exit_code == 2


def test_help_has_an_example():
    res = CliRunner().invoke(_cli, ["report", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output


def test_load_benchmark_needs_a_ticker_when_the_file_has_several(tmp_path):
    many = _prices(tmp_path / "many.parquet", ("SP500", "AGG"))
    with pytest.raises(BacktestError, match="several tickers"):
        load_benchmark(str(many))
    s = load_benchmark(f"{many}:SP500")
    assert s.name == "SP500" and s.iloc[0] == 100.0 and s.index.is_monotonic_increasing
    wide = tmp_path / "wide.csv"
    pd.DataFrame({"date": ["2024-03-01", "2024-03-04"], "IDX": [10.0, 11.0]}).to_csv(wide,
                                                                                    index=False)
    s = load_benchmark(str(wide))
    assert s.name == "IDX" and s.tolist() == [10.0, 11.0]
    with pytest.raises(BacktestError, match="no ticker"):
        load_benchmark("ZZZ", prices=many)
