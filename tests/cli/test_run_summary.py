"""What `backtest run` prints: the text summary, --json, --quiet and --csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from backtest.cli.run import run
from backtest.cli.summary_text import summary_text

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "tests" / "fixtures" / "spec_examples" / "basic.yaml"
EXPECTED = ROOT / "tests" / "fixtures" / "spec_examples" / "expected" / "basic"


def invoke(*args):
    return CliRunner().invoke(run, [str(a) for a in args])


def test_text_names_the_benchmark_the_drift_and_the_after_tax_value(tmp_path):
    out = tmp_path / "r"
    bench = tmp_path / "bench.csv"
    # a benchmark that doubles over the run's 20 sessions (one close a session,
    # the base the session before): CAGR = 2 ** (252 / 20) - 1 = +620,828.6...%
    dates = pd.read_csv(EXPECTED / "daily.csv")["date"]
    closes = [1.0] + [2 ** ((i + 1) / 20) for i in range(20)]
    pd.DataFrame({"date": ["2024-02-29", *dates], "close": closes}).to_csv(bench, index=False)
    result = invoke(BASIC, "--out", out, "--no-report", "--benchmark", bench)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "final value   $988.06" in text  # the spec example's expected final value
    assert f"(benchmark close {2 ** 12.6 - 1:+,.2%}; closes as given" in text  # and its kind
    assert "after tax" in text and "largest drift" in text
    assert "\x1b[" not in text  # not a terminal: no colour
    assert "depleted" not in text


def test_depletion_line_when_the_summary_has_one():
    s = {"name": "x", "start": "2024-01-02", "end": "2030-01-02", "final_value": 0.0,
         "total_deposits": 100.0, "total_withdrawals": 150.0, "twr": 0.1, "cagr": 0.01,
         "mwr": 0.0, "max_drawdown": -0.2, "depleted_on": "2029-05-01"}
    text = summary_text(s, "out")
    assert "depleted on   2029-05-01" in text
    assert "depleted" not in summary_text({**s, "depleted_on": None}, "out")
    assert "\x1b[" in summary_text(s, "out", colour=True)


def test_json_prints_the_summary_and_quiet_prints_nothing(tmp_path):
    result = invoke(BASIC, "--out", tmp_path / "a", "--no-report", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc == json.loads((tmp_path / "a" / "summary.json").read_text())
    quiet = invoke(BASIC, "--out", tmp_path / "b", "--no-report", "--quiet")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    assert (tmp_path / "b" / "summary.json").is_file()


def test_csv_copies_beside_the_parquet_files(tmp_path):
    out = tmp_path / "r"
    result = invoke(BASIC, "--out", out, "--no-report", "--csv", "--quiet")
    assert result.exit_code == 0, result.output
    for name in ("daily", "trades", "drift", "events", "lots"):
        assert (out / f"{name}.csv").is_file(), name
    daily = pd.read_csv(out / "daily.csv")
    expected = pd.read_csv(EXPECTED / "daily.csv")
    assert list(daily["date"]) == list(expected["date"])
    assert abs(daily["value"].iloc[-1] - 988.063798) < 1e-6
