"""Sweeps: run many variants of a strategy (a grid of settings, or several files) and compare.

    from backtest.sweep import compare, LocalExecutor, DaskExecutor
    table = compare("strategies/factor_pie.yaml",
                    {"account.window": ["morning", "afternoon"], "account.cash_minimum": [0, 500]},
                    out="reports/factor-compare", executor=LocalExecutor(2))

See `backtest.sweep.sweep.compare` for the options; `backtest compare --help`
for the command line.
"""

from backtest.sweep.executors import DaskExecutor, Executor, LocalExecutor, SerialExecutor
from backtest.sweep.sweep import Failure, compare, plan, run_variants
from backtest.sweep.variants import KeyPathError, Variant, build_variants, set_path

__all__ = ["DaskExecutor", "Executor", "Failure", "KeyPathError", "LocalExecutor",
           "SerialExecutor", "Variant", "build_variants", "compare", "plan", "run_variants",
           "set_path"]
