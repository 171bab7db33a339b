"""The comparison page: baseline deltas, the measures that differ first, the note of
the ones that do not, human headers and the --baseline option."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sweep_kit import single_daily

from backtest.analytics import returns as R
from backtest.analytics.drawdowns import max_drawdown
from backtest.cli.compare import compare as compare_cli
from backtest.sweep import SerialExecutor, compare

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "tests" / "fixtures" / "spec_examples" / "basic.yaml"
GRID = {"account.window": ["morning", "afternoon"]}


def single(overrides: dict) -> dict:
    """One variant run on its own, without the sweep."""
    daily = single_daily(overrides)
    rets = R.daily_returns(daily)
    return {"final_value": float(daily["value"].iloc[-1]), "cagr": R.cagr(rets),
            "max_drawdown": max_drawdown(R._dated_index(daily, "twr_index")).depth}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "cmp"
    table = compare(BASIC, GRID, out, SerialExecutor(), baseline={"account.window": "afternoon"})
    return out, table


def test_baseline_deltas_equal_single_run_differences(swept):
    _out, table = swept
    assert table["baseline"].sum() == 1
    morning = table[table["account.window"] == "morning"].iloc[0]
    a, b = single({"account.window": "morning"}), single({"account.window": "afternoon"})
    assert morning["vs_baseline_final_value"] == pytest.approx(
        a["final_value"] - b["final_value"], abs=1e-9)
    assert morning["vs_baseline_cagr"] == pytest.approx(a["cagr"] - b["cagr"], abs=1e-12)
    assert morning["vs_baseline_max_drawdown"] == pytest.approx(
        a["max_drawdown"] - b["max_drawdown"], abs=1e-12)
    base = table[table["baseline"]].iloc[0]
    assert base["vs_baseline_final_value"] == 0.0


def test_page_puts_differences_first_and_folds_the_same_columns(swept):
    out, table = swept
    html = (out / "comparison.html").read_text(encoding="utf-8")
    head = html[html.index("<thead>"):html.index("</thead>")]
    # identical in both variants: deposits (the same cash flows) -> the note
    assert "The same in every variant:" in html and "Deposits $" in html
    assert "Deposits" not in head
    # human headers, with units; the varied key once, as the row label's header
    assert "CAGR, a year" in head and "vs baseline" in head and "cagr" not in head
    assert "window" in head and "account.window=morning" not in head
    assert 'class="baseline"' in html and "Baseline: <strong>afternoon</strong>" in html
    # no link to a summary.json; no report.html kept -> no link at all
    assert "summary.json" not in html
    for name in ("comparison_vs_baseline.png", "comparison_final.png"):
        assert (out / name).is_file()
    # measures in page order: CAGR comes before the final value when both differ
    if table["cagr"].nunique() > 1 and table["final_value"].nunique() > 1:
        assert head.index("CAGR, a year") < head.index("Final value")


def test_file_as_written_is_the_default_baseline(tmp_path):
    # basic.yaml trades in the morning: that grid variant is the file as written
    table = compare(BASIC, GRID, tmp_path / "cmp", SerialExecutor(), report=False)
    assert len(table) == 2
    assert list(table.loc[table["baseline"], "account.window"]) == ["morning"]


def test_a_baseline_that_is_not_in_the_grid_is_one_error_line(tmp_path):
    result = CliRunner().invoke(compare_cli, [str(BASIC), "--vary",
                                              "account.window=morning,afternoon",
                                              "--baseline", "account.window=close",
                                              "--out", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --baseline account.window=close: no variant has these values"]
    assert not (tmp_path / "c").exists()


def test_csv_copies_of_each_variant(tmp_path):
    out = tmp_path / "c"
    result = CliRunner().invoke(compare_cli, [str(BASIC), "--vary",
                                              "account.window=morning,afternoon", "--out",
                                              str(out), "--workers", "1", "--no-report",
                                              "--csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    for h in table["hash"]:
        daily = pd.read_csv(out / "variants" / h / "daily.csv")
        assert list(daily.columns[:2]) == ["date", "value"] and len(daily) == 20


def test_bar_charts_keep_the_first_rows_and_the_baseline() -> None:
    from backtest.sweep import comparison as C

    n = C.MAX_BARS
    assert C._first_rows(3, 1) == [0, 1, 2]
    assert C._first_rows(n + 10, 2) == list(range(n))
    assert C._first_rows(n + 10, n + 5) == [*range(n), n + 5]  # the baseline's bar added
    assert C._bars_note(3, 3) == ""
    assert C._bars_note(n, n + 10, baseline=True) == (
        f"the first {n} of {n + 10} in the table's order, and the baseline")
