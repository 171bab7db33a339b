"""Scale: big strategies and big data run (or load) in seconds; what is too big
fails with one clear line. Synthetic data in tmp_path, `--no-report` (the
report is not the point here)."""

from __future__ import annotations

import json
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from backtest.cli import cli
from backtest.io.inputs import load_inputs
from backtest.io.strategy_checks import MAX_DEPTH, MAX_SLICES


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def nyse(start: str, end: str) -> pd.DatetimeIndex:
    cal = xc.get_calendar("XNYS", start=start, end=end)
    days = pd.DatetimeIndex(cal.sessions_in_range(start, end))
    return days.tz_localize(None) if days.tz is not None else days


def long_prices(path: Path, days: pd.DatetimeIndex, tickers: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0002, 0.01, (len(days), len(tickers)))
    close = 20.0 * np.exp(np.cumsum(steps, axis=0))
    pd.DataFrame({"date": np.repeat(days.to_numpy(), len(tickers)),
                  "ticker": np.tile(np.array(tickers, dtype=object), len(days)),
                  "close": close.ravel()}).to_parquet(path, index=False)


def strategy(folder: Path, slices: dict, first: pd.Timestamp, **extra) -> Path:
    doc = {"name": "Scale", "data": {"prices": "p.parquet"},
           "cashflows": [{"deposit": 100_000, "date": str(first.date())},
                         {"deposit": 1000, "every": "month", "start": str(first.date())},
                         {"withdrawal": 500, "every": "quarter", "start": str(first.date())}],
           "portfolio": {"slices": slices}, **extra}
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def test_2000_slices_in_20_pies_run(tmp_path: Path) -> None:
    days = nyse("2023-01-03", "2023-12-29")  # 250 sessions
    tickers = [f"T{i:04d}" for i in range(2000)]
    long_prices(tmp_path / "p.parquet", days, tickers)
    pies = {f"P{j:02d}": {"target": 5, "slices": {t: 1 for t in tickers[j * 100:(j + 1) * 100]}}
            for j in range(20)}
    path = strategy(tmp_path, pies, days[0], rebalance={"every": "quarter"})
    out = tmp_path / "out"
    ok(invoke("run", path, "--out", out, "--no-report"))
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == 250
    held = pd.read_parquet(out / "holdings.parquet")
    assert held["ticker"].nunique() == 2000
    drift = pd.read_parquet(out / "drift.parquet")
    assert drift["slice"].nunique() == 2020  # 2,000 securities and their 20 pies
    summary = json.loads((out / "summary.json").read_text())
    assert np.isfinite(summary["final_value"]) and summary["final_value"] > 100_000
    last = daily.iloc[-1]
    assert last["value"] == pytest.approx(last["cash"] + last["invested"])


def test_10000_tickers_of_data_only_the_strategys_are_used(tmp_path: Path) -> None:
    days = nyse("2021-10-01", "2021-12-31")
    tickers = [f"X{i:05d}" for i in range(10_000)]
    long_prices(tmp_path / "p.parquet", days, tickers)
    path = strategy(tmp_path, {"X00001": 50, "X09999": 50}, days[0])
    inputs = load_inputs(path)
    assert inputs.market.tickers == ("X00001", "X09999")
    assert inputs.market.close.shape == (len(days), 2)
    ok(invoke("run", path, "--out", tmp_path / "out", "--no-report"))


def test_60_years_of_sessions_run(tmp_path: Path) -> None:
    days = nyse("1962-01-02", "2021-12-31")
    assert len(days) > 15_000
    long_prices(tmp_path / "p.parquet", days, ["AAA", "BBB", "CCC"], seed=3)
    path = strategy(tmp_path, {"AAA": 50, "Rest": {"target": 50, "slices": {"BBB": 70,
                                                                             "CCC": 30}}},
                    days[0], rebalance={"every": "year", "drift_band": 5})
    out = tmp_path / "out"
    ok(invoke("run", path, "--out", out, "--no-report"))
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == len(days)
    assert daily[["value", "cash", "invested", "twr_index"]].notna().all().all()
    assert np.isfinite(daily["value"]).all()


def flat_pie(n: int) -> dict:
    each = round(100 / n, 12)
    slices = {f"S{i:05d}": each for i in range(n)}
    return slices


def test_more_than_10000_slices_is_one_clear_line(tmp_path: Path) -> None:
    path = strategy(tmp_path, flat_pie(MAX_SLICES + 1), pd.Timestamp("2024-01-02"))
    one_line_error(invoke("run", path, "--out", tmp_path / "out"),
                   str(path), f"more than {MAX_SLICES} slices in one strategy")
    assert not (tmp_path / "out").exists()


def deep(levels: int) -> dict:
    pie: dict = {"AAA": 100}
    for _ in range(levels - 1):
        pie = {"P": {"target": 100, "slices": pie}}
    return pie


def test_32_levels_run_and_33_are_one_clear_line(tmp_path: Path) -> None:
    days = nyse("2024-01-02", "2024-02-28")
    long_prices(tmp_path / "p.parquet", days, ["AAA"])
    path = strategy(tmp_path, deep(MAX_DEPTH), days[0])
    ok(invoke("run", path, "--out", tmp_path / "ok", "--no-report"))
    path = strategy(tmp_path, deep(MAX_DEPTH + 1), days[0])
    one_line_error(invoke("run", path, "--out", tmp_path / "out"),
                   str(path), f"pies are nested more than {MAX_DEPTH} levels deep")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("amount", [1.0e18, 1.0e300])
def test_deposits_too_big_for_the_share_grid_are_one_clear_line(tmp_path: Path,
                                                                 amount: float) -> None:
    """Before this check, such a deposit silently bought nothing (int64 share units
    overflowed in the engine): a final value equal to the deposit and a TWR of 0."""
    days = nyse("2024-01-02", "2024-02-28")
    long_prices(tmp_path / "p.parquet", days, ["AAA", "BBB"])
    path = strategy(tmp_path, {"AAA": 50, "BBB": 50}, days[0])
    doc = yaml.safe_load(path.read_text())
    doc["cashflows"][0]["deposit"] = amount
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    one_line_error(invoke("run", path, "--out", tmp_path / "out"), str(path),
                   "cashflows: deposits of up to $", "share decimals can count")
    assert not (tmp_path / "out").exists()


def test_large_but_countable_deposits_still_run(tmp_path: Path) -> None:
    days = nyse("2024-01-02", "2024-02-28")
    long_prices(tmp_path / "p.parquet", days, ["AAA", "BBB"])
    path = strategy(tmp_path, {"AAA": 50, "BBB": 50}, days[0])
    doc = yaml.safe_load(path.read_text())
    doc["cashflows"][0]["deposit"] = 1.0e12
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ok(invoke("run", path, "--out", tmp_path / "out", "--no-report"))
    daily = pd.read_parquet(tmp_path / "out" / "daily.parquet")
    assert daily["invested"].iloc[0] > 0.99e12  # invested, not left as cash
