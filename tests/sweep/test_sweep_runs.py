"""Sweeps end to end: local pool vs Dask, numbers equal single runs, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sweep_kit import single_daily

from backtest.sweep import DaskExecutor, LocalExecutor, SerialExecutor, compare, runner
from backtest.sweep import sweep as sweep_module
from backtest.sweep.runner import Job, Task

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "spec_examples"
BASIC = SPEC / "basic.yaml"
GRID = {"account.window": ["morning", "afternoon"], "account.cash_minimum": [0, 50]}


@pytest.fixture(scope="module")
def local_table(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local") / "cmp"
    with LocalExecutor(2) as ex:
        return compare(BASIC, GRID, out, ex, report=False)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def single_run(overrides: dict) -> dict:
    """The same overridden strategy run directly, without the sweep."""
    daily = single_daily(overrides)
    return {"final_value": float(daily["value"].iloc[-1]),
            "twr": float(daily["twr_index"].iloc[-1]) - 1.0}


def test_local_table_has_a_row_per_variant_with_the_metrics(local_table) -> None:
    t = local_table
    assert len(t) == 4 and t["error"].isna().all()
    for col in ("variant", "hash", "account.window", "account.cash_minimum", "final_value",
                "total_deposits", "twr", "mwr", "cagr", "volatility", "sharpe", "sortino",
                "max_drawdown", "max_abs_drift", "mean_abs_drift", "trades",
                "halt_deferrals"):
        assert col in t.columns, col
    assert list(t["twr"]) == sorted(t["twr"], reverse=True)  # sorted by twr, descending
    assert set(zip(t["account.window"], t["account.cash_minimum"], strict=True)) == {
        ("morning", 0), ("morning", 50), ("afternoon", 0), ("afternoon", 50)}


def test_comparison_numbers_equal_single_runs(local_table) -> None:
    for _, row in local_table.iterrows():
        direct = single_run({"account.window": row["account.window"],
                             "account.cash_minimum": int(row["account.cash_minimum"])})
        assert row["final_value"] == direct["final_value"]
        assert row["twr"] == pytest.approx(direct["twr"], rel=1e-12, abs=1e-15)
    expected = json.loads((SPEC / "expected" / "basic" / "summary.json").read_text())
    base = local_table[(local_table["account.window"] == "morning")
                       & (local_table["account.cash_minimum"] == 0)].iloc[0]
    assert base["final_value"] == pytest.approx(expected["final_value"], abs=5e-8)
    assert base["twr"] == pytest.approx(expected["twr"], abs=1e-12)


def test_dask_cluster_gives_the_same_table(local_table, dask_client, tmp_path: Path) -> None:
    table = compare(BASIC, GRID, tmp_path / "cmp", DaskExecutor(dask_client), report=False)
    pd.testing.assert_frame_equal(table, local_table)
    assert len(list((tmp_path / "cmp" / "variants").iterdir())) == 4


def test_output_files(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    table = compare(BASIC, {"account.window": ["morning", "afternoon"]}, out,
                    SerialExecutor(), sort="max_abs_drift")
    assert list(table["max_abs_drift"]) == sorted(table["max_abs_drift"])  # ascending
    for name in ("comparison.parquet", "comparison.csv", "comparison.html",
                 "comparison_vs_baseline.png", "comparison_final.png", "comparison_drift.png"):
        assert (out / name).is_file(), name
    # the value-minus-baseline chart replaces the overlapping growth curves
    assert not (out / "comparison_growth.png").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "comparison.parquet"), table,
                                  check_dtype=False)
    assert len(pd.read_csv(out / "comparison.csv")) == 2
    html = (out / "comparison.html").read_text()
    assert "data:image/png;base64," in html and "afternoon" in html
    for digest in table["hash"]:
        folder = out / "variants" / digest
        # compact by default: what the comparison reads, no per-variant tables
        assert {p.name for p in folder.iterdir()} == {"summary.json", "daily.parquet",
                                                      "variant.json"}
        meta = json.loads((folder / "variant.json").read_text())
        assert meta["tables"] is False
        assert set(meta["cpu_seconds"]) == {"engine", "measures", "writing"}
    # no temporary leftovers (the manifest .pie-backtest.json marks the sweep folder)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".pie-backtest.json"]


class Counting:
    """A serial executor that records what it ran and can stop after `stop_after` results."""

    workers = 1

    def __init__(self, stop_after: int | None = None) -> None:
        self.ran: list[str] = []
        self.stop_after = stop_after

    def map_unordered(self, fn, items):
        for item, result in SerialExecutor().map_unordered(fn, items):
            self.ran.extend(t.hash for t in item.tasks)  # a job: a batch of variants
            yield item, result
            if self.stop_after is not None and len(self.ran) >= self.stop_after:
                raise KeyboardInterrupt

    def close(self) -> None:
        pass


def test_an_interrupted_sweep_resumes(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "cmp"
    monkeypatch.setattr(sweep_module, "make_jobs",  # one variant a job: stop between them
                        lambda tasks, workers: [Job((t,)) for t in tasks])
    first = Counting(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        compare(BASIC, GRID, out, first)
    assert len(first.ran) == 2
    assert sorted(p.name for p in (out / "variants").iterdir()) == sorted(first.ran)
    second = Counting()
    table = compare(BASIC, GRID, out, second)
    assert len(second.ran) == 2 and not set(second.ran) & set(first.ran)
    assert table["error"].isna().all() and len(table) == 4
    third = Counting()
    compare(BASIC, GRID, out, third)
    assert third.ran == []  # everything finished: nothing runs again


def test_a_failing_variant_is_reported_and_the_others_finish(tmp_path, monkeypatch) -> None:
    real = runner._finish

    def flaky(member, sim, engine):  # the failure comes after the batch ran
        if "account.cash_minimum=50" in member[0].name and "afternoon" in member[0].name:
            raise RuntimeError("boom in the engine")
        return real(member, sim, engine)

    monkeypatch.setattr(runner, "_finish", flaky)
    failures = []
    table = compare(BASIC, GRID, tmp_path / "cmp", SerialExecutor(), on_error=failures.append)
    assert len(failures) == 1 and "boom in the engine" in failures[0].message
    bad = table[table["error"].notna()]
    assert list(bad["variant"]) == ["account.window=afternoon account.cash_minimum=50"]
    assert bad.index[0] == 3  # failed rows sort last
    assert table["final_value"].notna().sum() == 3
    assert len(list((tmp_path / "cmp" / "variants").iterdir())) == 3


def test_an_engine_error_in_a_worker_process_is_reported(tmp_path: Path) -> None:
    # a start after the data's last date: parses, but building the market fails
    with LocalExecutor(2) as ex:
        table = compare(BASIC, {"data.start": ["2024-03-01", "2031-01-02"]},
                        tmp_path / "cmp", ex, report=False)
    row = table.set_index("data.start").loc["2031-01-02"]
    assert isinstance(row["error"], str) and "start" in row["error"]
    assert table["error"].notna().sum() == 1


def test_whole_files_mode(tmp_path: Path) -> None:
    table = compare([SPEC / "basic.yaml", SPEC / "nested.yaml"], None, tmp_path / "cmp",
                    SerialExecutor())
    assert set(table["variant"]) == {"basic", "nested"}
    assert "file" in table.columns
    for stem in ("basic", "nested"):
        expected = json.loads((SPEC / "expected" / stem / "summary.json").read_text())
        row = table.set_index("variant").loc[stem]
        assert row["final_value"] == pytest.approx(expected["final_value"], abs=5e-8)
        assert row["total_deposits"] == expected["total_deposits"]


BIG_GRID = {"account.window": ["morning", "afternoon"], "account.cash_minimum": [0, 50],
            "account.allocation": ["waterfill", "proportional"],
            "cashflows.1.deposit": [100, 250]}  # 16 variants: two jobs of 8 on 2 workers


def test_dask_and_local_pool_agree_on_batches_in_array_form(dask_client, tmp_path) -> None:
    from backtest.sweep.jobs import make_jobs

    assert [len(j) for j in make_jobs([Task(hash=str(i), name="", document={}, source="s")
                                       for i in range(16)], 2)] == [8, 8]
    with LocalExecutor(2) as ex:
        local = compare(BASIC, BIG_GRID, tmp_path / "local", ex, report=False)
    dask = compare(BASIC, BIG_GRID, tmp_path / "dask", DaskExecutor(dask_client), report=False)
    assert len(local) == 16 and local["error"].isna().all()
    pd.testing.assert_frame_equal(dask, local)


def test_keep_runs_writes_whole_run_folders_and_resumes_compact_ones(tmp_path) -> None:
    out = tmp_path / "cmp"
    grid = {"account.window": ["morning", "afternoon"]}
    compact = compare(BASIC, grid, out, SerialExecutor(), report=False)
    ran = Counting()
    kept = compare(BASIC, grid, out, ran, report=False, keep_runs=True)
    assert sorted(ran.ran) == sorted(compact["hash"])  # compact folders rerun for tables
    pd.testing.assert_frame_equal(kept, compact)
    for digest in kept["hash"]:
        folder = out / "variants" / digest
        names = {p.name for p in folder.iterdir()}
        assert {"summary.json", "daily.parquet", "trades.parquet", "drift.parquet",
                "allocations.parquet", "holdings.parquet", "events.parquet",
                "lots.parquet", "realized.parquet", "variant.json"} <= names
        assert "report.html" not in names
        assert json.loads((folder / "variant.json").read_text())["tables"] is True
    again = Counting()
    compare(BASIC, grid, out, again, report=False)  # whole folders are finished too
    assert again.ran == []


def test_variant_reports_imply_kept_runs(tmp_path) -> None:
    out = tmp_path / "cmp"
    table = compare(BASIC, {"account.window": ["morning"]}, out, SerialExecutor(),
                    variant_reports=True)
    folder = out / "variants" / table["hash"].iloc[0]
    assert (folder / "report.html").is_file() and (folder / "trades.parquet").is_file()
    assert 'href="variants/' in (out / "comparison.html").read_text()
