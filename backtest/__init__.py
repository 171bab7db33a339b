"""Pie Backtest: backtests and market replay for pie-based automated investing accounts.

    import backtest
    strategy = backtest.load("strategies/factor_pie.yaml")   # validated, with its market
    run = backtest.run(strategy, {"account.cash_minimum": 500})
    run.summary()["cagr"]          # every measure of summary.json
    run.daily["value"]             # tables indexed by date
    table = backtest.compare(strategy, {"account.window": ["morning", "afternoon"]})
    mc = backtest.simulate(strategy, years=30, paths=200, seed=7)

The names are loaded on first use (module `__getattr__`), so importing the
package, and `backtest --help`, stay cheap: pandas is imported only when a
name that needs it is used. See docs/api.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "load": "backtest.api",
    "run": "backtest.api",
    "compare": "backtest.api",
    "simulate": "backtest.api",
    "Strategy": "backtest.api",
    "Run": "backtest.api",
    "BacktestError": "backtest.errors",
    "StrategyError": "backtest.errors",
    "DataError": "backtest.errors",
    "KeyPathError": "backtest.sweep.variants",
}

__all__ = ["BacktestError", "DataError", "KeyPathError", "Run", "Strategy", "StrategyError",
           "__version__", "compare", "load", "run", "simulate"]

if TYPE_CHECKING:
    from backtest.api import Run, Strategy, compare, load, run, simulate
    from backtest.errors import BacktestError, DataError, StrategyError
    from backtest.sweep.variants import KeyPathError


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backtest' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
