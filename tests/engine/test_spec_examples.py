"""The shared examples (spec/examples) run unchanged and match EXPECTED."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.engine.result import run
from backtest.engine.simulation import Simulation
from backtest.engine.summary import summarize
from backtest.io.inputs import load_inputs

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples"


@pytest.fixture(scope="module", params=["basic", "nested"])
def case(request):
    inputs = load_inputs(EXAMPLES / f"{request.param}.yaml")
    result = run(Simulation(inputs.strategy, inputs.market))
    return request.param, result


def expected(name: str, table: str) -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "expected" / name / f"{table}.csv", parse_dates=["date"])


def test_trades_match_to_the_cent(case):
    name, result = case
    exp = expected(name, "trades")
    got = result.trades
    assert list(got.columns) == ["date", "window", "ticker", "side", "shares", "price", "amount"]
    assert len(got) == len(exp)
    key = ["date", "window", "ticker", "side"]
    assert got[key].astype(str).values.tolist() == exp[key].astype(str).values.tolist()
    np.testing.assert_allclose(got["shares"], exp["shares"], atol=1e-4)
    np.testing.assert_allclose(got["price"], exp["price"], atol=1e-9)
    np.testing.assert_allclose(got["amount"], exp["amount"], atol=0.02)


def test_daily_values_match_to_the_cent(case):
    name, result = case
    exp = expected(name, "daily")
    got = result.daily
    assert list(got.columns) == ["date", "value", "cash", "invested", "net_flow", "twr_index"]
    assert (got["date"].values == exp["date"].values).all()
    for col in ("value", "cash", "invested", "net_flow"):
        np.testing.assert_allclose(got[col], exp[col], atol=0.02, err_msg=col)
    np.testing.assert_allclose(got["twr_index"], exp["twr_index"], atol=1e-6)


def test_event_kinds_match(case):
    name, result = case
    exp = expected(name, "events")
    got = result.events
    assert got[["date", "kind"]].astype(str).values.tolist() == \
        exp[["date", "kind"]].astype(str).values.tolist()


def test_summary_totals_match(case):
    name, result = case
    exp = json.loads((EXAMPLES / "expected" / name / "summary.json").read_text())
    got = summarize(result)
    for key, value in exp.items():
        assert got[key] == pytest.approx(value, abs=0.01), key


def test_money_is_conserved_at_every_close(case):
    """cash + holdings == deposits + dividends - withdrawals + market gains (EXPECTED.md)."""
    _, result = case
    d = result.daily
    assert np.allclose(d["cash"] + d["invested"], d["value"], atol=1e-9)
    assert (d["cash"] >= 0).all()
