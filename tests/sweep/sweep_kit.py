"""The spec's basic example run on its own with overrides: what a sweep's variant must equal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.engine.result import run
from backtest.engine.simulation import Simulation
from backtest.io.inputs import market_for
from backtest.io.strategy_file import parse_strategy, read_yaml
from backtest.sweep.variants import set_path

BASIC = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "basic.yaml"


def single_daily(overrides: dict) -> pd.DataFrame:
    """The daily table of the overridden basic example, run directly (no sweep)."""
    doc = read_yaml(BASIC)
    for k, v in overrides.items():
        doc = set_path(doc, k, v)
    strategy = parse_strategy(doc, source=BASIC, base_dir=BASIC.parent)
    market, _ = market_for(strategy)
    return run(Simulation(strategy, market)).daily
