"""Pie Backtest: backtests and market replay for pie-based automated investing accounts."""

__version__ = "0.1.0"
