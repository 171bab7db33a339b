"""`python -m backtest` runs the CLI."""

from backtest.cli import main

main()
