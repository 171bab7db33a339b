"""The report shows the taxable-account section from summary.json."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from backtest.cli import cli
from backtest.report.build import fmt_money

NESTED = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "nested.yaml"


def test_report_has_the_tax_section_with_the_summarys_numbers(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(NESTED), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    html = (out / "report.html").read_text()
    assert 'id="taxes"' in html
    for key in ("realized_short_term", "unrealized_gain", "after_tax_value"):
        assert fmt_money(summary[key]) in html, key
    # The nested example's one calendar year, with its dividends as income.
    assert "<td>2024</td>" in html
    assert fmt_money(summary["dividends_by_year"]["2024"]) in html


def test_run_shows_a_benchmark_from_the_strategys_own_prices(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(NESTED), "--out", str(out),
                                      "--benchmark", "CCC"])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "benchmark: CCC" in html


def test_run_with_an_unknown_benchmark_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(NESTED), "--out", str(out),
                                      "--benchmark", "NOPE"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "NOPE" in result.output
    assert not out.exists()
