"""Caveats where the number is read: each warning once, on one line; compare across
periods ranks by CAGR; `backtest report DIR` keeps the run's benchmark and risk-free."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from backtest.cli import cli as main
from backtest.io.caveats import benchmark_kind

NO_OPEN = "the prices have no open column"


def _prices(path: Path, opens: bool, days: int = 300, start: str = "2015-01-02") -> Path:
    dates = pd.bdate_range(start, periods=days).date
    rng = np.random.default_rng(1)
    frames = []
    for k, t in enumerate(("AAA", "BBB")):
        close = (20.0 + 10 * k) * np.cumprod(1 + rng.normal(0.0004, 0.01, days))
        f = pd.DataFrame({"date": dates, "ticker": t, "close": close})
        if opens:
            f["open"] = close * 0.999
        frames.append(f)
    # the benchmark's own file: an index level, as data/sample's SP500
    pd.concat(frames).to_parquet(path, index=False)
    return path


def _strategy(folder: Path, name: str, window: str, prices: str, start: str | None = None
              ) -> Path:
    doc = {"name": name, "data": {"prices": prices, **({"start": start} if start else {})},
           "account": {"window": window},
           "cashflows": [{"deposit": 10000, "date": "2015-01-02"},
                         {"withdrawal": 100, "every": "month", "start": "2015-02-02"}],
           "portfolio": {"slices": {"AAA": 50, "BBB": 50}}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def invoke(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def lines_with(text: str, fragment: str) -> list[str]:
    return [line for line in text.splitlines() if fragment in line]


@pytest.mark.parametrize("window", ["morning", "both"])
def test_validate_and_run_warn_once_when_a_morning_window_has_no_opens(tmp_path, window):
    _prices(tmp_path / "p.parquet", opens=False)
    s = _strategy(tmp_path, "s", window, "p.parquet")
    for args in (("validate", s), ("run", s, "--out", tmp_path / "out", "--no-report")):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert len(lines_with(result.stderr, NO_OPEN)) == 1, result.stderr
        assert lines_with(result.stderr, NO_OPEN)[0].startswith("warning: ")


def test_no_warning_with_opens_or_an_afternoon_window(tmp_path):
    _prices(tmp_path / "p.parquet", opens=False)
    _prices(tmp_path / "o.parquet", opens=True)
    for s in (_strategy(tmp_path, "a", "afternoon", "p.parquet"),
              _strategy(tmp_path, "m", "morning", "o.parquet")):
        result = invoke("validate", s)
        assert result.exit_code == 0 and NO_OPEN not in result.stderr


def test_compare_of_windows_without_opens_warns_once(tmp_path):
    _prices(tmp_path / "p.parquet", opens=False)
    s = _strategy(tmp_path, "s", "afternoon", "p.parquet")
    result = invoke("compare", s, "--vary", "account.window=morning,afternoon", "--out",
                    tmp_path / "cmp", "--no-report", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    assert len(lines_with(result.stderr, NO_OPEN)) == 1, result.stderr


def test_compare_across_periods_ranks_by_cagr_and_says_so(tmp_path):
    _prices(tmp_path / "o.parquet", opens=True)
    a = _strategy(tmp_path, "a", "morning", "o.parquet")
    b = _strategy(tmp_path, "b", "morning", "o.parquet", start="2015-06-01")
    result = invoke("compare", a, b, "--out", tmp_path / "cmp", "--no-report",
                    "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    said = lines_with(result.stderr, "cover different periods")
    assert said and said[0].startswith("warning: the variants cover different periods "
                                       "(2015-01-02 to 2016-02-25; 2015-06-01 to 2016-02-25)")
    assert len(said) == 1 and "ranked by CAGR" in said[0]
    assert "by cagr" in result.stdout
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert list(table["cagr"]) == sorted(table["cagr"], reverse=True)
    for col in ("after_tax_value", "estimated_tax", "tax_drag", "withdrawal_rate"):
        assert col in table.columns
    # after-tax value = final value - estimated tax (analytics/tax.py)
    assert np.allclose(table["after_tax_value"], table["final_value"] - table["estimated_tax"])
    # one file with a varied start is ranked the same way
    varied = invoke("compare", a, "--vary", "data.start=2015-01-02,2015-06-01", "--out",
                    tmp_path / "cmp3", "--no-report", "--workers", "1", "-q")
    assert len(lines_with(varied.stderr, "cover different periods")) == 1
    assert "by cagr" in varied.stdout
    # an explicit --sort is kept, and nothing is said about it
    again = invoke("compare", a, b, "--out", tmp_path / "cmp2", "--no-report",
                   "--workers", "1", "-q", "--sort", "twr")
    assert "cover different periods" not in again.stderr and "by twr" in again.stdout


def test_the_benchmark_kind_is_named():
    assert benchmark_kind("SP500").startswith("price index")
    assert benchmark_kind("US-MARKET (total return, monthly)").startswith("total return")


def test_report_dir_keeps_the_runs_risk_free_rate_until_an_option_changes_it(tmp_path):
    _prices(tmp_path / "o.parquet", opens=True)
    s = _strategy(tmp_path, "s", "morning", "o.parquet")
    out = tmp_path / "run"
    assert invoke("run", s, "--out", out, "--risk-free", "0.03").exit_code == 0
    first = json.loads((out / "summary.json").read_text())
    assert first["risk_free"] == 0.03
    rebuilt = invoke("report", out)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads((out / "summary.json").read_text()) == first  # untouched
    assert "risk-free 3%" in (out / "report.html").read_text()
    # --risk-free 0: summary.json now says what a run at 0 says (an independent run).
    assert invoke("report", out, "--risk-free", "0").exit_code == 0
    after = json.loads((out / "summary.json").read_text())
    assert invoke("run", s, "--out", tmp_path / "zero", "--no-report",
                  "--risk-free", "0").exit_code == 0
    zero = json.loads((tmp_path / "zero" / "summary.json").read_text())
    assert after["risk_free"] == 0.0
    assert after["sharpe"] == pytest.approx(zero["sharpe"], rel=1e-12)
    assert after["sortino"] == pytest.approx(zero["sortino"], rel=1e-12)
    assert after["sharpe"] != first["sharpe"]


def test_a_depleted_runs_report_leads_with_the_depletion(tmp_path):
    # 10,000 with 1,000 a week withdrawn: the money runs out within 10 weeks.
    _prices(tmp_path / "o.parquet", opens=True)
    doc = {"name": "gone", "data": {"prices": "o.parquet"},
           "cashflows": [{"deposit": 10000, "date": "2015-01-02"},
                         {"withdrawal": 1000, "every": "week", "start": "2015-01-05"}],
           "portfolio": {"slices": {"AAA": 100}}}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    result = invoke("run", tmp_path / "g.yaml", "--out", tmp_path / "g")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert summary["depleted_on"] is not None
    top = result.stdout.splitlines()[:3]  # the depletion is said before any return
    assert any(summary["depleted_on"] in line for line in top), result.stdout
    html = (tmp_path / "g" / "report.html").read_text()
    assert "Money ran out on" in html
    assert html.index("Money ran out on") < html.index("Final value")


def test_the_bundled_stock_samples_carry_the_survivorship_note():
    from backtest.io.caveats import sample_note

    assert "hindsight" in sample_note("data/sample/sp500_stocks.parquet")
    assert "survivorship" in sample_note(Path("x/data/sample/stocks_dividends.parquet"))
    # the index funds and the factor ETFs were not picked by how they fared; a user's
    # file of the same name outside a sample folder is the user's own
    assert sample_note("data/sample/index_funds.parquet") is None
    assert sample_note("my/sp500_stocks.parquet") is None


def test_a_run_on_a_stock_sample_says_so_in_summary_and_report(tmp_path):
    import backtest

    root = Path(__file__).resolve().parents[2]
    run = backtest.run(root / "strategies" / "dividend_stocks.yaml")
    note = run.summary()["data_note"]
    assert "survivorship" in note
    run.report(tmp_path / "r")
    assert "survivorship" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "data_note" not in backtest.run(root / "strategies" / "factor_pie.yaml").summary()
