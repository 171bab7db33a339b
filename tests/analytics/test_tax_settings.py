"""The strategy file's `tax:` section and the share grid read from fills."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_kit import strategy  # noqa: E402

from backtest.analytics.lots import grid_decimals  # noqa: E402
from backtest.domain.strategy import TaxSettings  # noqa: E402
from backtest.errors import StrategyError  # noqa: E402

PIE = "portfolio: {slices: {A: 100}}\n"


def test_defaults_without_a_tax_section():
    assert strategy(PIE).tax == TaxSettings("brokerage", 0.24, 0.15)
    assert strategy(PIE + "tax:\n").tax == TaxSettings()


def test_a_tax_section_is_read():
    s = strategy(PIE + "tax: {lot_method: hifo, short_term_rate: 0.37, long_term_rate: 0}")
    assert s.tax == TaxSettings("hifo", 0.37, 0.0)
    assert strategy(PIE + "tax: {long_term_rate: 1}").tax.long_term_rate == 1.0


@pytest.mark.parametrize("text, message", [
    ("tax: {lot_method: lifo}", "tax.lot_method: must be one of brokerage, fifo, hifo"),
    ("tax: {short_term_rate: 1.5}", "tax.short_term_rate: must be a fraction from 0 to 1"),
    ("tax: {long_term_rate: -0.1}", "tax.long_term_rate: must be 0 or more"),
    ("tax: {long_term_rate: '15%'}", "tax.long_term_rate: must be a number"),
    ("tax: {rate: 0.2}", "tax.rate: unknown key"),
    ("tax: [fifo]", "tax: must be a mapping"),
])
def test_bad_tax_sections_name_the_key(text, message):
    with pytest.raises(StrategyError, match=message.replace("(", r"\(")):
        strategy(PIE + text)


def test_grid_decimals():
    assert grid_decimals([1.0, 2.5, 0.25]) == 2
    assert grid_decimals([0.1 + 0.2, 3.0]) == 1
    assert grid_decimals([1.12345, -0.00001]) == 5
    assert grid_decimals([]) == 0
