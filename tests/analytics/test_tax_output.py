"""The run's files: lots.parquet, realized.parquet and the tax keys of summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backtest.domain.strategy import TaxSettings
from backtest.engine.result import run
from backtest.engine.simulation import Simulation
from backtest.engine.summary import summarize
from backtest.io.inputs import load_inputs
from backtest.io.run_output import write_tables

NESTED = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "nested.yaml"
TAX_KEYS = ["tax_lot_method", "short_term_rate", "long_term_rate", "realized_short_term",
            "realized_long_term", "realized_gain", "unrealized_gain", "estimated_tax",
            "tax_drag", "after_tax_value", "liquidation_tax", "tax_loss_carryforward",
            "tax_by_year", "dividends_by_year"]


@pytest.fixture(scope="module")
def result():
    inputs = load_inputs(NESTED)
    return run(Simulation(inputs.strategy, inputs.market))


@pytest.mark.parametrize("settings", [None, TaxSettings("hifo", 0.5, 0.2)])
def test_the_run_writes_the_lot_tables_and_the_tax_keys(result, settings, tmp_path):
    summary = summarize(result, tax=settings)
    write_tables(result, summary, tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert [k for k in s if k in TAX_KEYS] == TAX_KEYS
    want = settings or TaxSettings()
    assert (s["tax_lot_method"], s["short_term_rate"], s["long_term_rate"]) == (
        want.lot_method, want.short_term_rate, want.long_term_rate)
    lots = pd.read_parquet(tmp_path / "lots.parquet")
    realized = pd.read_parquet(tmp_path / "realized.parquet")
    assert list(lots.columns) == ["slice", "ticker", "open_date", "shares", "cost_per_share",
                                  "cost", "close_price", "value", "unrealized_gain", "term"]
    assert list(realized.columns) == ["slice", "ticker", "open_date", "close_date", "shares",
                                      "proceeds", "cost", "gain", "term", "reason"]
    # the tables agree with the summary (same lot method)
    assert realized["gain"].sum() == pytest.approx(s["realized_gain"], abs=1e-6)
    assert lots["unrealized_gain"].sum() == pytest.approx(s["unrealized_gain"], abs=1e-6)
    assert lots["value"].sum() == pytest.approx(float(result.daily["invested"].iloc[-1]))
    # one month of trading: every sale is short-term, a single year of netting
    assert s["realized_long_term"] == 0.0 and s["realized_short_term"] != 0.0
    assert s["estimated_tax"] == pytest.approx(want.short_term_rate
                                               * max(0.0, s["realized_short_term"]))
    assert s["tax_drag"] == pytest.approx(s["estimated_tax"] / s["final_value"])
    assert sum(s["dividends_by_year"].values()) == pytest.approx(s["total_dividends"])
