"""`backtest simulate` on the command line: the files it writes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from backtest.cli.simulate import simulate
from backtest.montecarlo.results import PATH_COLUMNS


@pytest.fixture
def strategy(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    days = 130
    dates = pd.bdate_range("2015-01-02", periods=days).date
    frames = []
    for k, t in enumerate(("AAA", "BBB")):
        close = np.cumprod(1 + rng.normal(0.0003, 0.01, days)) * (20 + 10 * k)
        frames.append(pd.DataFrame({"date": dates, "ticker": t, "close": close}))
    prices = tmp_path / "prices.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(prices, index=False)
    doc = {"name": "Small <script>alert(1)</script> plan", "data": {"prices": str(prices)},
           "cashflows": [{"deposit": 20000, "date": "2015-01-02"},
                         {"withdrawal": 300, "every": "month", "start": "2015-02-02"}],
           "portfolio": {"slices": {"AAA": 60, "BBB": 40}}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_small_run_writes_its_files(strategy, tmp_path):
    out = tmp_path / "mc"
    res = CliRunner().invoke(simulate, [str(strategy), "--paths", "8", "--years", "1",
                                        "--workers", "1", "--seed", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "success rate" in res.output and f"wrote {out}/" in res.output
    names = {p.name for p in out.iterdir()}
    assert names == {"simulation.parquet", "percentiles.parquet", "montecarlo.json", "fan.png",
                     "final_values.png", "montecarlo.html",
                     ".pie-backtest.json"}  # the manifest: a folder this tool wrote
    table = pd.read_parquet(out / "simulation.parquet")
    assert list(table.columns) == list(PATH_COLUMNS)
    assert list(table["path"]) == list(range(8)) and (table["seed"] == 5).all()
    pct = pd.read_parquet(out / "percentiles.parquet")
    assert len(pct) == 252
    assert {"date", "session", "p5", "p25", "p50", "p75", "p95", "real_p5", "real_p95"} <= set(pct)
    summary = json.loads((out / "montecarlo.json").read_text())
    assert summary["paths"] == 8 and summary["success_rate"] == table["success"].mean()
    html = (out / "montecarlo.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html and "data:image/png;base64," in html
    assert (out / "fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mc.")]  # atomic


def test_default_out_folder(strategy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(simulate, [str(strategy), "--paths", "2", "--years", "0.1",
                                        "--workers", "1", "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "reports" / "small-script-alert-1-script-plan-montecarlo"
            / "simulation.parquet").is_file()


@pytest.mark.parametrize("args", [
    ["--paths", "-3"], ["--paths", "0"], ["--block", "0"], ["--paths", "many"],
    ["--years", "0"], ["--method", "jackknife"], ["--workers", "0"],
    ["--from", "not-a-date"], ["--from", "1990-01-01"], ["--inflation", "-1.5"],
    ["--memory", "lots"], ["--memory", "0"], ["--memory", "-2GB"], ["--memory", "2XB"],
])
def test_bad_options_exit_2_with_one_line(strategy, tmp_path, args):
    out = tmp_path / "never"
    res = CliRunner().invoke(simulate, [str(strategy), "--out", str(out), "--workers", "1",
                                        *args])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert "Traceback" not in res.output and not out.exists()


def test_missing_strategy_file(tmp_path):
    res = CliRunner().invoke(simulate, [str(tmp_path / "nope.yaml"), "--paths", "2"])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1


def test_one_line_errors_also_under_a_group(strategy):
    import click

    group = click.Group()
    group.add_command(simulate)
    res = CliRunner().invoke(group, ["simulate", str(strategy), "--block", "0"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: Invalid value for '--block': 0 is not in the range x>=1."]
