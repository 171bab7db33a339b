"""The Python API: backtest.load / run / compare, Run's tables and summary.

The spec's examples (tests/fixtures/spec_examples, worked out independently
in EXPECTED.md) anchor the numbers; the CLI's files on the same strategy
must be exactly what the API returns.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import backtest
from backtest.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "fixtures" / "spec_examples"
TABLES = ("daily", "trades", "allocations", "holdings", "drift", "events")


@pytest.fixture(scope="module", params=["basic", "nested"])
def example(request, tmp_path_factory) -> tuple[str, backtest.Run, Path]:
    """(name, the API's run, the folder `backtest run --no-report` wrote)."""
    name = request.param
    out = tmp_path_factory.mktemp(name) / "out"
    result = CliRunner().invoke(cli, ["run", str(EXAMPLES / f"{name}.yaml"), "--out", str(out),
                                      "--no-report"])
    assert result.exit_code == 0, result.output
    return name, backtest.run(EXAMPLES / f"{name}.yaml"), out


def test_run_equals_the_cli_files(example):
    _, run, out = example
    for table in TABLES:
        written = pd.read_parquet(out / f"{table}.parquet")
        mine = getattr(run, table).reset_index()
        pd.testing.assert_frame_equal(mine, written, check_dtype=False,
                                      check_categorical=False, obj=table)
    lots = pd.read_parquet(out / "lots.parquet")
    pd.testing.assert_frame_equal(run.lots.reset_index(drop=True), lots, check_dtype=False)


def test_summary_equals_summary_json(example):
    _, run, out = example
    assert run.summary() == json.loads((out / "summary.json").read_text())


def test_numbers_are_the_worked_examples(example):
    name, run, _ = example
    exp = pd.read_csv(EXAMPLES / "expected" / name / "daily.csv", parse_dates=["date"])
    np.testing.assert_allclose(run.daily["value"].to_numpy(), exp["value"], atol=0.02)
    summary = json.loads((EXAMPLES / "expected" / name / "summary.json").read_text())
    assert run.summary()["final_value"] == pytest.approx(summary["final_value"], abs=0.02)
    assert run.summary()["total_deposits"] == pytest.approx(summary["total_deposits"])


def test_tables_are_indexed_by_date(example):
    _, run, _ = example
    for table in (*TABLES, "lots"):
        frame = getattr(run, table)
        assert isinstance(frame.index, pd.DatetimeIndex), table
        assert frame.index.name == "date"
    assert run.daily.index.is_monotonic_increasing


def test_returns_chain_to_the_twr_index(example):
    _, run, _ = example
    r = run.returns()
    # The index is 1.0 before the first session, so chaining (1 + r) gives it back.
    np.testing.assert_allclose((1 + r).cumprod().to_numpy(), run.daily["twr_index"].to_numpy(),
                               rtol=1e-12)
    assert r.index.equals(run.daily.index)


def test_weights_of_each_pie_sum_to_one(example):
    name, run, _ = example
    w = run.weights()
    assert isinstance(w.index, pd.DatetimeIndex) and len(w) == len(run.daily)
    top = [c for c in w.columns if "/" not in c]
    last = w.iloc[-1]
    assert last[top].sum() == pytest.approx(1.0)
    if name == "basic":
        assert set(w.columns) == {"AAA", "BBB"}


def test_with_overrides_equals_the_edited_file(tmp_path: Path):
    # The same change made by hand in a copy of the file must give the same run.
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    text = (EXAMPLES / "basic.yaml").read_text()
    edited = text.replace("  window: morning\n", "  window: afternoon\n  cash_minimum: 50\n")
    assert edited != text
    (tmp_path / "edited.yaml").write_text(edited)
    by_hand = backtest.run(tmp_path / "edited.yaml")
    strategy = backtest.load(EXAMPLES / "basic.yaml")
    changed = strategy.with_overrides({"account.window": "afternoon",
                                       "account.cash_minimum": 50})
    assert changed.definition.account.cash_minimum == 50
    assert strategy.definition.account.cash_minimum == 0  # the original is unchanged
    run = backtest.run(changed)
    pd.testing.assert_frame_equal(run.daily, by_hand.daily)
    assert run.summary()["final_value"] == by_hand.summary()["final_value"]
    assert run.summary()["final_value"] != backtest.run(strategy).summary()["final_value"]
    # keywords with __ for the dot, and a mapping: the same run
    kw = backtest.run(EXAMPLES / "basic.yaml", account__window="afternoon",
                      account__cash_minimum=50)
    assert kw.summary() == run.summary()


def test_bad_overrides_name_the_key():
    strategy = backtest.load(EXAMPLES / "basic.yaml")
    with pytest.raises(backtest.KeyPathError, match="no key 'nope'"):
        strategy.with_overrides({"account.nope.deeper": 1})
    with pytest.raises(backtest.StrategyError, match="account.window"):
        strategy.with_overrides({"account.window": "evening"})


def test_load_errors_are_one_line(tmp_path: Path):
    with pytest.raises(backtest.BacktestError, match="no such file"):
        backtest.load(tmp_path / "missing.yaml")


def test_report_writes_the_run_folder(tmp_path: Path):
    run = backtest.run(EXAMPLES / "basic.yaml")
    out = run.report(tmp_path / "r", charts=False)
    assert json.loads((out / "summary.json").read_text()) == run.summary()
    assert (out / "daily.parquet").exists() and not (out / "report.html").exists()


def test_compare_takes_strategy_objects(tmp_path: Path):
    base = backtest.load(EXAMPLES / "basic.yaml").with_overrides({"account.window": "afternoon"})
    table = backtest.compare(base, {"account.cash_minimum": [0, 50]}, out=tmp_path / "c",
                             workers=1, report=False)
    assert table["error"].isna().all()
    for minimum in (0, 50):
        row = table[table["account.cash_minimum"] == minimum].iloc[0]
        alone = backtest.run(base, {"account.cash_minimum": minimum}).summary()
        assert row["final_value"] == pytest.approx(alone["final_value"], abs=1e-9)


def test_compare_keeps_whole_runs_when_asked(tmp_path: Path):
    base = backtest.load(EXAMPLES / "basic.yaml")
    table = backtest.compare(base, {"account.cash_minimum": [0, 50]}, out=tmp_path / "c",
                             workers=1, report=False, keep_runs=True)
    for digest in table["hash"]:
        folder = tmp_path / "c" / "variants" / digest
        assert (folder / "trades.parquet").is_file() and (folder / "lots.parquet").is_file()
        assert not (folder / "report.html").exists()


def test_import_backtest_is_cheap():
    code = ("import sys, backtest; print(backtest.__version__); "
            "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('pandas', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = backtest.nothing  # type: ignore[attr-defined]
