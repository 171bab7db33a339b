"""`backtest compare` end to end with click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from backtest.cli.compare import compare

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
BASIC = SPEC / "basic.yaml"


def invoke(*args: str):
    return CliRunner().invoke(compare, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for f in fragments:
        assert f in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_help_has_an_example() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "--vary" in result.output


def test_a_grid_runs_and_prints_the_top_variants(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(BASIC, "--vary", "account.window=morning,afternoon",
                    "--vary", "account.cash_minimum=0,50", "--out", out, "--workers", "1",
                    "--no-report")
    assert result.exit_code == 0, result.output
    assert "top 4 of 4 by twr" in result.stdout
    assert "account.window=morning account.cash_minimum=0" in result.stdout
    assert "$988.06" in result.stdout  # the shared example's expected final value
    assert f"wrote {out}/" in result.stdout
    assert (out / "comparison.csv").is_file() and not (out / "comparison.html").exists()
    again = invoke(BASIC, "--vary", "account.window=morning,afternoon",
                   "--vary", "account.cash_minimum=0,50", "--out", out, "--workers", "1",
                   "--no-report")
    assert again.exit_code == 0
    assert "4 variants already finished (skipped), 0 to run" in again.stderr


def test_an_unknown_list_index_stops_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(BASIC, "--vary", "cashflows.7.deposit=100,200", "--out", out)
    assert_one_line_error(result, "cashflows.7.deposit", "out of range")
    assert not out.exists()


def test_an_invalid_variant_names_its_values_and_the_key(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(BASIC, "--vary", "account.window=morning,noon",
                    "--vary", "account.cash_minimum=0,50", "--out", out)
    assert_one_line_error(result, "variant account.window=noon account.cash_minimum=0",
                          "account.window")
    assert not out.exists()


def test_bad_options_exit_2(tmp_path: Path) -> None:
    assert_one_line_error(invoke(BASIC, "--vary", "account.window", "--out", tmp_path / "a"),
                          "KEY=V1,V2")
    assert_one_line_error(invoke(BASIC, "--sort", "luck", "--out", tmp_path / "b"), "luck")
    assert_one_line_error(invoke(tmp_path / "missing.yaml", "--out", tmp_path / "c"),
                          "no such file")


def test_a_failed_variant_exits_1_and_the_others_finish(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(BASIC, "--vary", "data.start=2024-03-01,2031-01-02", "--out", out,
                    "--workers", "1", "--no-report")
    assert result.exit_code == 1, result.output
    assert "failed: data.start=2031-01-02" in result.stderr
    # the file as written (no data.start) is the baseline: a third variant
    assert "1 of 3 variants failed" in result.stderr
    table = pd.read_csv(out / "comparison.csv")
    assert table["error"].notna().sum() == 1 and table["final_value"].notna().sum() == 2


def test_whole_files_are_named_by_stem(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(SPEC / "basic.yaml", SPEC / "nested.yaml", "--out", out, "--workers", "1")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert sorted(table["variant"]) == ["basic", "nested"]
    assert (out / "comparison.html").is_file()


def test_an_unreachable_dask_scheduler_is_one_line_and_exit_2(tmp_path):
    from backtest.cli import cli

    basic = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "basic.yaml"
    result = CliRunner().invoke(cli, ["compare", str(basic), "--vary",
                                      "account.window=morning,afternoon", "--out",
                                      str(tmp_path / "out"), "--scheduler",
                                      "tcp://127.0.0.1:9", "-q"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Dask scheduler" in lines[0]


def test_keep_runs_folders_take_a_report_and_compact_ones_say_why_not(tmp_path) -> None:
    from backtest.cli import cli

    out = tmp_path / "cmp"
    result = invoke(BASIC, "--vary", "account.window=morning,afternoon", "--out", out,
                    "--workers", "1", "--no-report")
    assert result.exit_code == 0, result.output
    folder = next((out / "variants").iterdir())
    before = sorted(p.name for p in folder.iterdir())
    refused = CliRunner().invoke(cli, ["report", str(folder)])
    assert_one_line_error(refused, "compare variant kept compact", "--keep-runs")
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written
    result = invoke(BASIC, "--vary", "account.window=morning,afternoon", "--out", out,
                    "--workers", "1", "--no-report", "--keep-runs")
    assert result.exit_code == 0, result.output
    assert (folder / "trades.parquet").is_file()
    rebuilt = CliRunner().invoke(cli, ["report", str(folder)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (folder / "report.html").is_file()
